import { randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { isRetryable, LeadershipLostError, LockTimeoutError, NotLeaderError } from '../errors';
import { abortReason, Deferred } from '../internal/async';
import { joinPath } from '../internal/paths';
import { TypedEmitter } from '../internal/typed-emitter';
import { guaranteedDeletesOf } from './guaranteed-deletes';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  LeaderFence,
  RegistryEvent,
  Unsubscribe,
} from './registry-center';

const SEQUENCE_DIGITS = 10;
const LATCH_NODE = /^_c_[0-9a-f-]{36}-.*\d{10}$/;
/** Back-off before re-reading after a retryable failure while the connection looks fine. */
const RETRY_MS = 500;

/** Latch nodes sort by their sequential suffix, not by name (the UUID prefix is random). */
function bySequence(a: string, b: string): number {
  const sa = a.slice(-SEQUENCE_DIGITS);
  const sb = b.slice(-SEQUENCE_DIGITS);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The latch nodes among the children of a latch directory, in queue order (anything else is ignored). */
export function latchNodes(children: readonly string[]): string[] {
  return children.filter(name => LATCH_NODE.test(name)).sort(bySequence);
}

/**
 * The value of every latch node a registry client of process `pid` on `host` creates: `host@pid`. A new
 * life of an instance that judged its earlier life's process dead finds that life's latch nodes by it.
 */
export function latchIdentity(host: string, pid: number): string {
  return `${host}@${pid}`;
}

/**
 * The name of the node that holds the latch (the lowest sequence) among a latch's children, or undefined
 * when there is none. Pure; lets a reader judge from a cached children list who the holder is.
 */
export function latchHolder(children: readonly string[]): string | undefined {
  return latchNodes(children)[0];
}

/**
 * Every latch's decisions, published on `node:diagnostics_channel` {@link LATCH_TRACE_CHANNEL} (nothing
 * is built when nobody subscribes): tests prove the wake rule with it. `entry` is the latch's UUID.
 */
export type LatchTrace = { dir: string; entry: string } & LatchStep;
type LatchStep =
  | { kind: 'read' }
  | { kind: 'wait'; node: string; predecessor: string }
  | { kind: 'removed'; node: string | undefined; removed: string; woken: boolean }
  | { kind: 'head'; node: string };
export const LATCH_TRACE_CHANNEL = 'shardline:latch';
const trace = channel(LATCH_TRACE_CHANNEL);

/** What the head of the queue holds: a signal aborted when it may be lost, and a fence. */
export interface LatchHold extends LeaderFence {
  readonly signal: AbortSignal;
}

export interface LeaderLatchOptions {
  /** Value of our node, shown to waiters that time out (lock holder, candidate, `host@pid`). */
  value: string;
  /** Node name after the UUID: `_c_<uuid>-<prefix>NNNNNNNNNN` (default `latch-`). */
  prefix?: string;
  /** A failure with no caller: the delete of our node failed for good. */
  onError: (err: Error) => void;
}

export interface AcquireLatchOptions {
  /** Give up with `LockTimeoutError` after this long (default: wait). */
  timeoutMs?: number;
  /** Stop waiting with the signal's reason. */
  signal?: AbortSignal;
}

export interface LeaderLatchEvents {
  /** We became the head of the queue. */
  isLeader: [LatchHold];
  /** Our hold ended (SUSPENDED, LOST, our node deleted, revoked, closed); carries the reason. */
  notLeader: [Error];
}

/**
 * One participant's place in a fair (FIFO) latch: the one queue algorithm behind `executeInLeader`, the
 * distributed lock and the leader election (Curator's LeaderLatch / InterProcessMutex, etcd's
 * concurrency.Mutex), over the registry contract only, so it behaves the same on every backend.
 *
 * - Our node is *protected*, ephemeral-sequential: `dir/_c_<uuid>-<prefix>NNNNNNNNNN`. After an ambiguous
 *   create (timeout, connection loss) the UUID finds it if it was created after all: no orphan node.
 * - Our position is our index among the latch nodes; index 0 leads. A waiter waits on its immediate
 *   predecessor only: a removal wakes just the successor of the removed node (no herd); a middle waiter
 *   leaving re-links its successor to its own predecessor. The directory watch is established before our
 *   node is created, and a removal seen while a read is in flight is remembered, so none is missed.
 * - The hold's signal aborts (`'notLeader'`) on SUSPENDED, LOST, deletion of our node, `revoke()` or
 *   `close()`; `fence(tx)` adds `check(ourNode)`, so a holder that lost its place cannot write through it.
 * - `close()` deletes our node through the client's {@link guaranteedDeletesOf}.
 *
 * One latch object is one pass through the queue: `start()`, `acquire()`, `close()`, in that order.
 * Not guaranteed: leadership can end before the holder notices; it must watch its signal and fence writes.
 */
export class LeaderLatch extends TypedEmitter<LeaderLatchEvents> {
  private readonly id = randomUUID();
  private nodePath: string | undefined;
  private waitingOn: string | undefined;
  private removedSinceRead = new Set<string>();
  private wake = new Deferred<void>();
  private unwatch: Unsubscribe | undefined;
  private holder: AbortController | undefined;
  private closedBy: Error | undefined;
  private readonly onState = (state: ConnectionState): void => {
    this.wake.resolve();
    if (state === 'SUSPENDED' || state === 'LOST') {
      this.revoke(new LeadershipLostError(`${this.dir} may be lost: ${state}`, { path: this.dir }));
    }
  };
  private readonly onEvent = (event: RegistryEvent): void => {
    if (event.type !== 'removed') {
      return;
    }
    this.removedSinceRead.add(event.path);
    const woken = event.path === this.waitingOn || event.path === this.nodePath;
    this.publish({ kind: 'removed', node: this.nodePath, removed: event.path, woken });
    if (woken) {
      this.wake.resolve();
    }
    if (event.path === this.nodePath) {
      this.revoke(
        new LeadershipLostError(`latch node ${event.path} was deleted`, {
          path: event.path,
        }),
      );
    }
  };

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    readonly dir: string,
    private readonly options: LeaderLatchOptions,
  ) {
    super();
  }

  /** Path of our node once created. */
  get path(): string | undefined {
    return this.nodePath;
  }

  /** True while we are the head and our hold's signal is not aborted. */
  isLeader(): boolean {
    return this.holder !== undefined && !this.holder.signal.aborted;
  }

  /** The hold's signal; aborted whenever we do not (or may no longer) lead. */
  get signal(): AbortSignal {
    return (
      this.holder?.signal ?? AbortSignal.abort(new NotLeaderError(`not the head of ${this.dir}`))
    );
  }

  /** Listen to the connection and watch the directory; call before `acquire()`. */
  async start(): Promise<void> {
    this.registry.on('connectionStateChanged', this.onState);
    this.unwatch = await this.registry.watch(this.dir, this.onEvent);
  }

  /**
   * Create our node (again, after a LOST) and wait until it is the head. Retryable failures are retried
   * on the next connection state change. Rejects with `LockTimeoutError` naming the directory and the
   * current head's value, or with the signal's reason.
   */
  async acquire(options: AcquireLatchOptions = {}): Promise<LatchHold> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const onAbort = (): void => this.wake.resolve();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        if (this.closedBy !== undefined) {
          throw this.closedBy;
        }
        if (options.signal?.aborted) {
          throw abortReason(options.signal);
        }
        this.wake = new Deferred<void>();
        this.waitingOn = undefined;
        this.removedSinceRead = new Set();
        let children: string[];
        try {
          this.publish({ kind: 'read' });
          children = latchNodes(await this.registry.getChildrenKeys(this.dir));
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
        if (this.removedSinceRead.has(predecessor) || this.removedSinceRead.has(this.nodePath)) {
          continue; // removed while our read was in flight
        }
        this.waitingOn = predecessor;
        this.publish({ kind: 'wait', node: this.nodePath, predecessor });
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

  /** End the current hold (its signal aborts with `reason`) without leaving the queue. */
  revoke(reason: Error): void {
    this.holder?.abort(reason);
  }

  /** Leave the queue: end the hold, stop watching, delete our node (guaranteed). Idempotent. */
  async close(reason: Error): Promise<void> {
    if (this.closedBy !== undefined) {
      return;
    }
    this.closedBy = reason;
    this.revoke(reason);
    this.wake.resolve();
    this.registry.off('connectionStateChanged', this.onState);
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.nodePath !== undefined) {
      await guaranteedDeletesOf(this.registry).remove(this.nodePath, this.options.onError);
    }
  }

  private hold(path: string): LatchHold {
    const controller = new AbortController();
    this.holder = controller;
    controller.signal.addEventListener(
      'abort',
      () => this.emit('notLeader', abortReason(controller.signal)),
      { once: true },
    );
    this.publish({ kind: 'head', node: path });
    const held: LatchHold = { path, signal: controller.signal, fence: tx => tx.check(path) };
    this.emit('isLeader', held);
    const state = this.registry.connectionState;
    if (state !== 'CONNECTED' && state !== 'RECONNECTED') {
      this.revoke(new LeadershipLostError(`${this.dir} acquired while ${state}`, { path }));
    }
    return held;
  }

  private async create(): Promise<void> {
    const path = await this.registry.persistEphemeralSequential(
      joinPath(this.dir, `_c_${this.id}-${this.options.prefix ?? 'latch-'}`),
      this.options.value,
    );
    this.nodePath = path;
    if (this.closedBy !== undefined) {
      await guaranteedDeletesOf(this.registry).remove(path, this.options.onError);
    }
  }

  /** A retryable failure waits for a state change (or a short back-off); anything else is thrown. */
  private async afterFailure(
    err: unknown,
    deadline: number,
    options: AcquireLatchOptions,
  ): Promise<void> {
    if (!isRetryable(err) || options.signal?.aborted || this.closedBy !== undefined) {
      throw err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new LockTimeoutError(this.dir, options.timeoutMs ?? 0, null);
    }
    const state = this.registry.connectionState;
    const usable = state === 'CONNECTED' || state === 'RECONNECTED';
    await this.waitForWake(usable ? Math.min(RETRY_MS, remaining) : remaining);
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

  private publish(step: LatchStep): void {
    if (trace.hasSubscribers) {
      trace.publish({ dir: this.dir, entry: this.id, ...step } satisfies LatchTrace);
    }
  }
}
