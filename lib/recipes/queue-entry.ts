import { randomUUID } from 'node:crypto';
import { isRetryable, LeadershipLostError, LockTimeoutError } from '../errors';
import { abortReason, Deferred } from '../internal/async';
import { joinPath } from '../internal/paths';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  LeaderFence,
  RegistryEvent,
  Unsubscribe,
} from '../registry/registry-center';
import { isUsable } from './recipe-support';

const SEQUENCE_DIGITS = 10;
const QUEUE_NODE = /^_c_[0-9a-f-]{36}-.*\d{10}$/;
/** Back-off before re-reading after a retryable failure while the connection looks fine. */
const RETRY_MS = 500;

/** Queue nodes sort by their sequential suffix, not by name (the UUID prefix is random). */
export function bySequence(a: string, b: string): number {
  const sa = a.slice(-SEQUENCE_DIGITS);
  const sb = b.slice(-SEQUENCE_DIGITS);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The sorted queue nodes among the children of a recipe directory (anything else is ignored). */
export function queueNodes(children: string[]): string[] {
  return children.filter(name => QUEUE_NODE.test(name)).sort(bySequence);
}

/** What the holder of the head of a queue gets: a signal aborted when it may be lost, and a fence. */
export interface QueueHold extends LeaderFence {
  readonly signal: AbortSignal;
}

export interface AwaitHeadOptions {
  /** Give up with `LockTimeoutError` after this long (default: wait). */
  timeoutMs?: number;
  /** Stop waiting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * One participant's place in a fair (FIFO) queue of ephemeral-sequential nodes under `dir`: the shared
 * core of the distributed lock and the leader election (the algorithm of Curator's InterProcessMutex and
 * etcd's concurrency.Mutex, over the registry contract only).
 *
 * - The node is *protected*: `dir/_c_<uuid>-<prefix>NNNNNNNNNN`. After an ambiguous create (timeout,
 *   connection loss) the UUID finds it if it was created after all, so no orphan can block the queue.
 * - A waiter wakes only when its predecessor is removed (or the connection state changes): no herd. The
 *   directory watch is established before our node is created, so no removal can be missed.
 * - The head gets an AbortSignal aborted on SUSPENDED, LOST, or deletion of its node, and a fence that
 *   adds `check(ourNode)` to a transaction: a holder that lost its place cannot write through it.
 * - `leave()` deletes the node; when that fails while the session may still hold it, the delete is
 *   retried on the next RECONNECTED of the same session (after LOST the node is gone anyway).
 *
 * This is the same algorithm as `lib/registry/leader-latch.ts` (which serves `executeInLeader`); it is
 * separate because recipes need a caller-chosen node value (lock holder, candidate id) readable by every
 * observer, a hold that outlives one callback (acquire/release), and predecessor-only wake-ups.
 */
export class QueueEntry {
  private readonly id = randomUUID();
  private nodePath: string | undefined;
  private waitingOn: string | undefined;
  private removedSinceRead = new Set<string>();
  private wake = new Deferred<void>();
  private unwatch: Unsubscribe | undefined;
  private holder: AbortController | undefined;
  private pendingDelete: { path: string; epoch: number } | undefined;
  private readonly onState = (state: ConnectionState): void => {
    this.wake.resolve();
    if (state === 'SUSPENDED' || state === 'LOST') {
      this.holder?.abort(
        new LeadershipLostError(`${this.dir} may be lost: ${state}`, { path: this.dir }),
      );
    }
    if (state === 'LOST') {
      this.pendingDelete = undefined;
    }
    if (state === 'RECONNECTED' && this.pendingDelete !== undefined) {
      void this.retryDelete();
    }
  };
  private readonly onEvent = (event: RegistryEvent): void => {
    if (event.type !== 'removed') {
      return;
    }
    this.removedSinceRead.add(event.path);
    if (event.path === this.waitingOn) {
      this.wake.resolve();
    }
    if (event.path === this.nodePath) {
      this.wake.resolve();
      this.holder?.abort(
        new LeadershipLostError(`queue node ${event.path} was deleted`, { path: event.path }),
      );
    }
  };

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    readonly dir: string,
    private readonly prefix: string,
    private readonly value: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Path of our node once created. */
  get path(): string | undefined {
    return this.nodePath;
  }

  /** Watch the directory; call before `awaitHead`. */
  async open(): Promise<void> {
    this.registry.on('connectionStateChanged', this.onState);
    this.unwatch = await this.registry.watch(this.dir, this.onEvent);
  }

  /**
   * Create our node (again, after a LOST) and wait until it is the head. Retryable failures are retried
   * on the next connection state change. Rejects with `LockTimeoutError` naming the directory and the
   * current head's value, or with the signal's reason.
   */
  async awaitHead(options: AwaitHeadOptions = {}): Promise<QueueHold> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const onAbort = (): void => this.wake.resolve();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (options.signal?.aborted) {
          throw abortReason(options.signal);
        }
        this.wake = new Deferred<void>();
        this.waitingOn = undefined;
        this.removedSinceRead = new Set();
        let children: string[];
        try {
          children = queueNodes(await this.registry.getChildrenKeys(this.dir));
        } catch (err) {
          await this.afterFailure(err, deadline, options);
          continue;
        }
        const mine = children.find(name => name.includes(this.id));
        if (mine === undefined) {
          try {
            await this.create();
          } catch (err) {
            await this.afterFailure(err, deadline, options);
          }
          continue;
        }
        this.nodePath = joinPath(this.dir, mine);
        const index = children.indexOf(mine);
        if (index === 0) {
          return this.hold(this.nodePath);
        }
        const predecessor = joinPath(this.dir, children[index - 1] ?? '');
        if (this.removedSinceRead.has(predecessor)) {
          continue; // removed while our read was in flight
        }
        this.waitingOn = predecessor;
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          throw await this.timeoutError(children[0], options.timeoutMs ?? 0);
        }
        await this.waitForWake(remaining);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.waitingOn = undefined;
    }
  }

  /** Leave the queue: abort the hold, stop watching, delete our node (retried on reconnection). */
  async leave(reason: Error): Promise<void> {
    this.holder?.abort(reason);
    this.unwatch?.();
    this.unwatch = undefined;
    const path = this.nodePath;
    if (path === undefined) {
      this.registry.off('connectionStateChanged', this.onState);
      return;
    }
    const epoch = this.registry.sessionEpoch;
    try {
      await this.registry.remove(path);
      this.registry.off('connectionStateChanged', this.onState);
    } catch (err) {
      if (isRetryable(err) && this.registry.connectionState !== 'CLOSED') {
        // Keep listening: the next RECONNECTED of this session retries; LOST makes it moot.
        this.pendingDelete = { path, epoch };
      } else {
        this.registry.off('connectionStateChanged', this.onState);
        if (this.registry.connectionState !== 'CLOSED') {
          this.onError(err);
        }
      }
    }
  }

  private hold(path: string): QueueHold {
    const controller = new AbortController();
    this.holder = controller;
    const state = this.registry.connectionState;
    if (!isUsable(state)) {
      controller.abort(new LeadershipLostError(`${this.dir} acquired while ${state}`, { path }));
    }
    return { path, signal: controller.signal, fence: tx => tx.check(path) };
  }

  private async create(): Promise<void> {
    this.nodePath = await this.registry.persistEphemeralSequential(
      joinPath(this.dir, `_c_${this.id}-${this.prefix}`),
      this.value,
    );
  }

  /** A retryable failure waits for a state change (or a short back-off); anything else is thrown. */
  private async afterFailure(
    err: unknown,
    deadline: number,
    options: AwaitHeadOptions,
  ): Promise<void> {
    if (!isRetryable(err) || options.signal?.aborted) {
      throw err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new LockTimeoutError(this.dir, options.timeoutMs ?? 0, null);
    }
    await this.waitForWake(
      isUsable(this.registry.connectionState) ? Math.min(RETRY_MS, remaining) : remaining,
    );
  }

  private async timeoutError(
    head: string | undefined,
    timeoutMs: number,
  ): Promise<LockTimeoutError> {
    let holder: string | null = null;
    if (head !== undefined) {
      try {
        holder = await this.registry.getDirectly(joinPath(this.dir, head));
      } catch {
        holder = `${head} (holder value unreadable)`;
      }
    }
    return new LockTimeoutError(this.dir, timeoutMs, holder);
  }

  private async retryDelete(): Promise<void> {
    const pending = this.pendingDelete;
    if (pending === undefined) {
      return;
    }
    this.pendingDelete = undefined;
    if (pending.epoch !== this.registry.sessionEpoch) {
      this.registry.off('connectionStateChanged', this.onState); // a new session: the node is gone
      return;
    }
    try {
      await this.registry.remove(pending.path);
      this.registry.off('connectionStateChanged', this.onState);
    } catch (err) {
      if (isRetryable(err) && this.registry.connectionState !== 'CLOSED') {
        this.pendingDelete = pending;
      } else {
        this.registry.off('connectionStateChanged', this.onState);
        if (this.registry.connectionState !== 'CLOSED') {
          this.onError(err);
        }
      }
    }
  }

  private waitForWake(ms: number): Promise<void> {
    return new Promise<void>(resolve => {
      const timer = Number.isFinite(ms)
        ? setTimeout(resolve, Math.min(ms, 2_147_483_647))
        : undefined;
      void this.wake.promise.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
