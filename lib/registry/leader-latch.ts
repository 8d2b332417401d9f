import { randomUUID } from 'node:crypto';
import { isRetryable, LeadershipLostError, LockTimeoutError } from '../errors';
import { abortReason, Deferred } from '../internal/async';
import { joinPath } from '../internal/paths';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  ExecuteInLeaderOptions,
  LeaderCallback,
  LeaderFence,
} from './registry-center';

const SEQUENCE_DIGITS = 10;

/** Latch nodes sort by their sequential suffix, not by name (the UUID prefix is random). */
function bySequence(a: string, b: string): number {
  const sa = a.slice(-SEQUENCE_DIGITS);
  const sb = b.slice(-SEQUENCE_DIGITS);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * The name of the node that holds the latch (the lowest sequence) among a latch's children, or undefined
 * when there is none. Pure; lets a reader judge from a cached children list who the holder is.
 */
export function latchHolder(children: readonly string[]): string | undefined {
  return [...children].sort(bySequence)[0];
}

/**
 * One acquisition of a blocking, fair (FIFO) latch built on the registry contract only, so it behaves the
 * same on every backend (Curator's LeaderLatch / InterProcessMutex, etcd's concurrency.Mutex):
 *
 * 1. create a *protected* ephemeral-sequential node `latchPath/_c_<uuid>-latch-NNNNNNNNNN`; after an
 *    ambiguous failure (timeout, connection loss) the UUID finds the node if it was created after all,
 *    so no orphan node can block the queue;
 * 2. the holder is the node with the lowest sequence; a waiter wakes when a node is removed or the
 *    connection state changes (no polling, no herd: every waiter re-checks with one children read);
 * 3. the callback gets an AbortSignal aborted on SUSPENDED, LOST, deletion of our node, or the caller's
 *    signal, and a fence that adds `check(ourNode)` to a transaction so a deposed holder's writes fail;
 * 4. our node is deleted in every path; if that delete fails while the session survives, it is retried
 *    on reconnection (see `removeGuaranteed`), so a stale node can never block the latch.
 *
 * Not guaranteed: the latch can be lost before the callback returns; the callback must watch its signal
 * and fence its writes.
 */
export class LatchAcquisition<T> {
  private readonly id = randomUUID();
  private ourPath: string | undefined;
  private wake = new Deferred<void>();
  private readonly onState = (state: ConnectionState): void => {
    this.wake.resolve();
    if (state === 'SUSPENDED' || state === 'LOST') {
      this.holderAbort?.abort(
        new LeadershipLostError(`latch ${this.latchPath} may be lost: ${state}`),
      );
    }
  };
  private holderAbort: AbortController | undefined;

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    private readonly latchPath: string,
    private readonly identity: string,
    private readonly removeGuaranteed: (path: string) => Promise<void>,
  ) {}

  async run(callback: LeaderCallback<T>, options: ExecuteInLeaderOptions): Promise<T> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const onAbort = (): void => {
      this.wake.resolve();
      this.holderAbort?.abort(abortReason(options.signal));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.registry.on('connectionStateChanged', this.onState);
    const unwatch = await this.registry.watch(this.latchPath, event => {
      if (event.type === 'removed') {
        this.wake.resolve();
        if (event.path === this.ourPath) {
          this.holderAbort?.abort(new LeadershipLostError(`latch node ${event.path} was deleted`));
        }
      }
    });
    try {
      await this.acquire(deadline, options);
      const fence: LeaderFence = {
        path: this.ourPath ?? '',
        fence: tx => tx.check(this.ourPath ?? this.latchPath),
      };
      const abort = new AbortController();
      this.holderAbort = abort;
      const state = this.registry.connectionState;
      if (state !== 'CONNECTED' && state !== 'RECONNECTED') {
        abort.abort(new LeadershipLostError(`latch ${this.latchPath} acquired while ${state}`));
      }
      return await callback(abort.signal, fence);
    } finally {
      this.holderAbort?.abort(new LeadershipLostError(`latch ${this.latchPath} released`));
      options.signal?.removeEventListener('abort', onAbort);
      this.registry.off('connectionStateChanged', this.onState);
      unwatch();
      if (this.ourPath !== undefined) {
        await this.removeGuaranteed(this.ourPath);
      }
    }
  }

  private async acquire(deadline: number, options: ExecuteInLeaderOptions): Promise<void> {
    for (;;) {
      if (options.signal?.aborted) {
        throw abortReason(options.signal);
      }
      this.wake = new Deferred<void>();
      const children = (await this.registry.getChildrenKeys(this.latchPath)).sort(bySequence);
      const mine = children.find(name => name.includes(this.id));
      if (mine === undefined) {
        // Not created yet, or gone with a lost session: (re)create and look again.
        await this.create(deadline);
        continue;
      }
      this.ourPath = joinPath(this.latchPath, mine);
      const index = children.indexOf(mine);
      if (index === 0) {
        return;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const holderName = children[0];
        const holder =
          holderName === undefined
            ? null
            : await this.registry.getDirectly(joinPath(this.latchPath, holderName));
        throw new LockTimeoutError(this.latchPath, options.timeoutMs ?? 0, holder);
      }
      await this.waitForWake(remaining);
    }
  }

  private async create(deadline: number): Promise<void> {
    try {
      this.ourPath = await this.registry.persistEphemeralSequential(
        joinPath(this.latchPath, `_c_${this.id}-latch-`),
        this.identity,
      );
    } catch (err) {
      // Ambiguous outcome: the next children read finds our node by its UUID if it was created.
      if (!isRetryable(err) || Date.now() >= deadline) {
        throw err;
      }
      await this.waitForWake(Math.min(250, deadline - Date.now()));
    }
  }

  private waitForWake(ms: number): Promise<void> {
    return new Promise<void>(resolve => {
      const timer = setTimeout(resolve, Math.min(ms, 2_147_483_647));
      void this.wake.promise.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
