import { hostname } from 'node:os';
import { ClosedError, InvalidArgumentError, LeadershipLostError, NotLeaderError } from '../errors';
import { validateNodePath } from '../internal/paths';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import type { TransactionBuilder } from '../registry/txn';
import { LeaderLatch, type LatchHold } from '../registry/leader-latch';
import { abortedSignal, reportError } from './recipe-support';
import { TypedEmitter } from '../internal/typed-emitter';

export interface LockOptions {
  /** Default acquisition timeout in ms for `acquire()` / `withLock()` (default: wait indefinitely). */
  timeoutMs?: number;
  /** Value of our lock node, shown to waiters that time out (default `host@pid`). */
  holderId?: string;
}

export interface AcquireOptions {
  /** Overrides the lock's `timeoutMs` for this call. */
  timeoutMs?: number;
  /** Abort waiting (the pending `acquire()` rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface DistributedLockEvents {
  /** A background failure with no caller (a deferred delete of our lock node failed for good). */
  error: [Error];
}

/**
 * A distributed, fair (FIFO), non-reentrant mutex over the registry contract: one ephemeral-sequential
 * node per acquisition under `path`; the lowest sequence holds the lock; each waiter watches only its
 * predecessor. Works the same on memory, ZooKeeper and etcd.
 *
 * ```ts
 * const lock = createLock(registry, '/locks/invoices', { timeoutMs: 5_000 });
 * await lock.withLock(async signal => {
 *   // ... work; check signal.aborted before each side effect ...
 *   await registry.executeInTransaction(tx => lock.fence(tx).setData('/invoices/next', '42'));
 * });
 * await lock.close();
 * ```
 *
 * Failure semantics:
 * - `acquire()` rejects with `LockTimeoutError` (naming the path and the current holder's `holderId`)
 *   after `timeoutMs`, with `InvalidArgumentError` when this object already holds or is acquiring the
 *   lock (locks are NOT reentrant: use one lock object per critical section), and with `ClosedError`
 *   after `close()`. Different lock objects on one path exclude each other, also within one client.
 * - A lock can be lost while held: `signal` aborts (with `LeadershipLostError`) on SUSPENDED, LOST or
 *   deletion of our node. It is NOT re-acquired by itself: release and acquire again. The code inside is
 *   not stopped by force; writes made through `fence(tx)` fail with `TransactionError` once our node is
 *   gone, which is the only real protection against a paused process (GC, SIGSTOP) writing late.
 * - `release()` deletes our node; if that fails while the session may still hold it, the delete is retried
 *   when the connection comes back (and is moot after LOST), so a stale node cannot block the lock.
 */
export class DistributedLock extends TypedEmitter<DistributedLockEvents> {
  private entry: LeaderLatch | undefined;
  private current: LatchHold | undefined;
  private lastHold: LatchHold | undefined;
  private closed = false;
  private readonly closing = new AbortController();
  readonly holderId: string;

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    readonly path: string,
    private readonly options: LockOptions = {},
  ) {
    super();
    validateNodePath(path);
    this.holderId = options.holderId ?? `${hostname()}@${process.pid}`;
  }

  /** True while this object holds the lock and its signal is not aborted. */
  get isHeld(): boolean {
    return this.current !== undefined && !this.current.signal.aborted;
  }

  /** The current hold's signal; aborted whenever the lock is not (or may no longer be) held. */
  get signal(): AbortSignal {
    return (
      this.current?.signal ?? abortedSignal(new NotLeaderError(`lock ${this.path} is not held`))
    );
  }

  /** Path of our lock node while held (for diagnostics). */
  get nodePath(): string | undefined {
    return this.current?.path;
  }

  /** Acquire the lock; resolves with the hold's signal once we are first in line. */
  async acquire(options: AcquireOptions = {}): Promise<AbortSignal> {
    this.ensureOpen();
    if (this.entry !== undefined) {
      throw new InvalidArgumentError(
        `lock ${this.path} is already held or being acquired by this lock object (locks are not reentrant)`,
        { path: this.path },
      );
    }
    const entry = new LeaderLatch(this.registry, this.path, {
      prefix: 'lock-',
      value: this.holderId,
      onError: err => reportError(this, e => this.emit('error', e), err),
    });
    this.entry = entry;
    const signal =
      options.signal === undefined
        ? this.closing.signal
        : AbortSignal.any([options.signal, this.closing.signal]);
    try {
      await entry.start();
      const hold = await entry.acquire({
        timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
        signal,
      });
      this.current = hold;
      this.lastHold = hold;
      return hold.signal;
    } catch (err) {
      this.entry = undefined;
      await entry.close(new LeadershipLostError(`lock ${this.path} not acquired`));
      throw err;
    }
  }

  /** Release the lock (a no-op when not held). */
  async release(): Promise<void> {
    this.ensureOpen();
    await this.releaseHeld();
  }

  /**
   * Run `fn` while holding the lock and release it in every path (return, throw, lost lock). `fn`
   * gets the hold's signal; the lock may be lost before `fn` returns (see the class doc).
   */
  async withLock<T>(
    fn: (signal: AbortSignal) => Promise<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    const signal = await this.acquire(options);
    try {
      return await fn(signal);
    } finally {
      await this.releaseHeld();
    }
  }

  /**
   * Add a check of our lock node to a transaction: the transaction fails with `TransactionError` once
   * that node is gone (the lock was lost or released). Throws `NotLeaderError` before any acquisition.
   */
  fence(tx: TransactionBuilder): TransactionBuilder {
    const hold = this.current ?? this.lastHold;
    if (hold === undefined) {
      throw new NotLeaderError(`lock ${this.path} was never held by this lock object`, {
        path: this.path,
      });
    }
    return hold.fence(tx);
  }

  /** Release if held, abort a pending `acquire()` (it rejects with `ClosedError`). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.closing.abort(new ClosedError(`lock ${this.path}`));
    await this.releaseHeld();
  }

  private async releaseHeld(): Promise<void> {
    const entry = this.entry;
    if (entry === undefined || this.current === undefined) {
      return; // not held (a pending acquire cleans up after itself)
    }
    this.entry = undefined;
    this.current = undefined;
    await entry.close(new LeadershipLostError(`lock ${this.path} released`, { path: this.path }));
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new ClosedError(`lock ${this.path}`);
    }
  }
}

/** Create a {@link DistributedLock} on `path` (a directory that holds only this lock's nodes). */
export function createLock(
  registry: CoordinatorRegistryCenter,
  path: string,
  options: LockOptions = {},
): DistributedLock {
  return new DistributedLock(registry, path, options);
}
