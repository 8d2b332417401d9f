import type { ConnectionState, CoordinatorRegistryCenter } from '../registry/registry-center';

/**
 * Self-fencing threshold, as a fraction of the session timeout / lease TTL: once the newest server contact
 * is older than this, the session may be about to expire at the server, so running items are aborted and
 * `ctx.checkOwnership()` throws. Half leaves the other half for the server's clock to differ from ours and
 * for the abort to be noticed by user code; heartbeats come every T/10 (ZooKeeper) or T/3 (etcd).
 */
export const SAFE_SESSION_FRACTION = 0.5;

/**
 * Whether this worker may still act as the owner of its items (what keeps one item from running on two
 * instances at once, also after a GC pause or SIGSTOP), from the registry's
 * connection state and its newest server contact:
 *
 * - SUSPENDED: nothing new starts; running items go on (the session may live) until the safe fraction of
 *   the timeout has passed since the newest contact, then `onFence` aborts them — before the server can
 *   expire the session and hand their items to someone else.
 * - LOST: `onFence` at once (the session is gone).
 * - `problem()` is judged by the wall clock at the moment of the call, so a process resumed from SIGSTOP
 *   (or a long GC pause) sees its stale contact before any timer of its own has run.
 */
export class OwnershipGuard {
  private connected = true;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    private readonly onFence: (reason: string) => void,
  ) {}

  get isConnected(): boolean {
    return this.connected;
  }

  stateChanged(state: ConnectionState): void {
    this.connected = state === 'CONNECTED' || state === 'RECONNECTED';
    this.clear();
    if (state === 'LOST') {
      this.onFence('the registry session was lost');
    } else if (state === 'SUSPENDED') {
      const deadline =
        this.registry.lastContactAt + SAFE_SESSION_FRACTION * this.registry.sessionTimeoutMs;
      this.timer = setTimeout(
        () => this.onFence('the registry session may expire: no server contact for too long'),
        Math.max(0, deadline - Date.now()),
      );
    }
  }

  /** Why the items may no longer be ours right now, or `undefined`. */
  problem(): string | undefined {
    if (!this.connected) {
      return 'the registry connection is suspended';
    }
    const silentMs = Date.now() - this.registry.lastContactAt;
    const limit = SAFE_SESSION_FRACTION * this.registry.sessionTimeoutMs;
    if (silentMs > limit) {
      return `no registry contact for ${silentMs} ms (limit ${limit} ms)`;
    }
    return undefined;
  }

  close(): void {
    this.clear();
  }

  private clear(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}
