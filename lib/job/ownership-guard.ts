import type { ConnectionState, CoordinatorRegistryCenter } from '../registry/registry-center';

/**
 * Self-fencing threshold, as a fraction of the session timeout / lease TTL: once the newest server contact
 * is older than this, the session may be about to expire at the server, so running items are aborted and
 * `ctx.checkOwnership()` throws. Half leaves the other half for the server's clock to differ from ours and
 * for the abort to be noticed by user code; heartbeats come every T/10 (ZooKeeper) or T/6 (etcd).
 */
export const SAFE_SESSION_FRACTION = 0.5;

/** How often a guard in doubt looks whether contact came back (local state only: no registry request). */
const DOUBT_RECHECK_MS = 50;

export interface OwnershipGuardHooks {
  /** Abort the running items: the session may be gone, or about to be. */
  fence(reason: string): void;
  /**
   * Contact came back within the session (a RECONNECTED, or a fresh heartbeat answer after a doubt):
   * work held back or fenced while in doubt may start again. Not called after LOST.
   */
  restored(): void;
}

/**
 * Whether this worker may still act as the owner of its items (what keeps one item from running on two
 * instances at once, also after a GC pause or SIGSTOP), from the registry's connection state and its
 * newest server contact:
 *
 * - SUSPENDED: nothing new starts; running items go on (the session may live) until the safe fraction of
 *   the timeout has passed since the newest contact, then `fence` aborts them — before the server can
 *   expire the session and hand their items to someone else.
 * - Connected, but the newest contact older than the safe fraction (heartbeat answers late: a loaded
 *   machine, a busy event loop, a slow server) — "in doubt": the same as SUSPENDED past its deadline
 *   (`fence`, nothing starts), although the driver has not (yet) reported SUSPENDED. A fresh answer ends
 *   the doubt with `restored`. The driver's own SUSPENDED rule may come later than this bound (ZooKeeper's
 *   at ⅔ of the timeout), so the guard does not wait for it.
 * - LOST: `fence` at once (the session is gone).
 * - `problem()` is judged by the wall clock at the moment of the call, so a process resumed from SIGSTOP
 *   (or a long GC pause) sees its stale contact before any timer of its own has run.
 */
export class OwnershipGuard {
  private stateConnected = true;
  private inDoubt = false;
  private timer: NodeJS.Timeout | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    private readonly hooks: OwnershipGuardHooks,
  ) {}

  /** Connected and not in doubt: new work may start. */
  get isConnected(): boolean {
    return this.stateConnected && !this.inDoubt;
  }

  /** Starts watching the contact of a registry that is connected now. */
  start(): void {
    const state = this.registry.connectionState;
    if (state === 'CONNECTED' || state === 'RECONNECTED') {
      this.watchContact();
    }
  }

  stateChanged(state: ConnectionState): void {
    this.stateConnected = state === 'CONNECTED' || state === 'RECONNECTED';
    this.clear();
    if (state === 'LOST') {
      this.hooks.fence('the registry session was lost');
    } else if (state === 'SUSPENDED') {
      const deadline = this.registry.lastContactAt + this.limitMs;
      this.timer = setTimeout(
        () => this.hooks.fence('the registry session may expire: no server contact for too long'),
        Math.max(0, deadline - Date.now()),
      );
    } else if (this.stateConnected) {
      this.watchContact();
    }
  }

  /** Why the items may no longer be ours right now, or `undefined`. */
  problem(): string | undefined {
    if (!this.stateConnected) {
      return 'the registry connection is suspended';
    }
    const silentMs = this.silentMs();
    if (silentMs > this.limitMs) {
      return `no registry contact for ${silentMs} ms (limit ${this.limitMs} ms)`;
    }
    return undefined;
  }

  close(): void {
    this.closed = true;
    this.clear();
  }

  private get limitMs(): number {
    return SAFE_SESSION_FRACTION * this.registry.sessionTimeoutMs;
  }

  private silentMs(): number {
    return Date.now() - this.registry.lastContactAt;
  }

  /** Re-armed at every point the newest contact would turn stale; enters doubt when it has. */
  private watchContact(): void {
    if (this.closed) {
      return;
    }
    const dueMs = this.limitMs - this.silentMs();
    if (dueMs > 0) {
      this.timer = setTimeout(() => this.watchContact(), dueMs + 1);
      return;
    }
    this.inDoubt = true;
    this.hooks.fence(`no registry contact for ${this.silentMs()} ms (limit ${this.limitMs} ms)`);
    this.recheck = setInterval(() => {
      if (this.silentMs() <= this.limitMs) {
        clearInterval(this.recheck);
        this.recheck = undefined;
        this.inDoubt = false;
        this.watchContact();
        this.hooks.restored();
      }
    }, DOUBT_RECHECK_MS);
  }

  private clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.recheck);
    this.recheck = undefined;
    this.inDoubt = false;
  }
}
