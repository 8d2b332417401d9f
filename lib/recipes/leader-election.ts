import { ClosedError, InvalidArgumentError, isRetryable, NotLeaderError } from '../errors';
import { abortReason, Deferred } from '../internal/async';
import { joinPath, validateNodePath } from '../internal/paths';
import { TypedEmitter } from '../internal/typed-emitter';
import type { CoordinatorRegistryCenter, LeaderFence } from '../registry/registry-center';
import type { TransactionBuilder } from '../registry/txn';
import { CandidateView, candidateInfo, type LeaderInfo } from './candidate-view';
import { LeaderLatch, latchNodes } from '../registry/leader-latch';
import { abortedSignal, reportError, whenUsable } from './recipe-support';

export type { LeaderInfo };

export interface LeaderElectionOptions {
  /** This candidate's id, unique among the candidates (e.g. pod name). */
  candidateId: string;
  /** What the leader publishes (e.g. its endpoint); read by everybody through `leader()`. Default ''. */
  value?: string;
}

/** One term of leadership: aborted when it ends; `fence(tx)` makes a write conditional on it. */
export interface LeaderTerm extends LeaderFence {
  readonly signal: AbortSignal;
}

export interface LeaderElectionEvents {
  /** This candidate became leader. */
  elected: [LeaderTerm];
  /** This candidate's term ended (resign, SUSPENDED, LOST, node deleted); carries the reason. */
  revoked: [Error];
  /** The leader seen by this object changed (`null`: nobody leads). Emitted from `campaign()`/`observe()` on. */
  leaderChanged: [LeaderInfo | null];
  /** A background failure with no caller (unreadable candidate data, a failed re-campaign). */
  error: [Error];
}

/**
 * Leader election over the registry contract (etcd's concurrency.Election, Curator's LeaderLatch):
 * candidates queue as ephemeral-sequential nodes `path/_c_<uuid>-candidate-N` holding
 * `{ candidateId, value }`; the lowest sequence leads.
 *
 * ```ts
 * const election = createLeaderElection(registry, '/elections/billing', { candidateId: 'pod-a', value: 'http://10.0.0.7:8080' });
 * election.on('elected', term => startLeading(term.signal));
 * election.on('leaderChanged', leader => console.log('leader is', leader?.candidateId));
 * const term = await election.campaign();          // resolves once elected
 * await registry.executeInTransaction(tx => election.fence(tx).setData('/billing/owner', 'pod-a'));
 * await election.resign();                          // hands over to the next candidate
 * await election.close();
 * ```
 *
 * Failure semantics:
 * - A term ends (`revoked`, its signal aborted with `LeadershipLostError`) on SUSPENDED, LOST or deletion
 *   of our node; the candidate then leaves the queue and, unless it resigned, re-campaigns by itself once
 *   the connection is usable again (at the back of the queue, as Curator's LeaderLatch does).
 * - A leader can be deposed before it notices (a paused process): `fence(tx)` checks the node of our last
 *   term, so a deposed leader's fenced write fails with `TransactionError`. Unfenced writes are not
 *   protected. `fence` throws `NotLeaderError` if this candidate was never elected.
 * - `campaign()` rejects with `NotLeaderError` when `resign()` comes first, with `ClosedError` on `close()`.
 * - `leaderChanged` coalesces: a leader that came and went between two reads may never be reported.
 */
export class LeaderElection extends TypedEmitter<LeaderElectionEvents> {
  private readonly nodeValue: string;
  private stop: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private term: LeaderTerm | undefined;
  private waiters: Deferred<LeaderTerm>[] = [];
  private closed = false;
  private view: CandidateView | undefined;
  private observing: Promise<void> | undefined;

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    readonly path: string,
    private readonly options: LeaderElectionOptions,
  ) {
    super();
    validateNodePath(path);
    if (typeof options.candidateId !== 'string' || options.candidateId === '') {
      throw new InvalidArgumentError('candidateId must be a non-empty string');
    }
    this.nodeValue = JSON.stringify({
      candidateId: options.candidateId,
      value: options.value ?? '',
    });
  }

  get candidateId(): string {
    return this.options.candidateId;
  }

  /** True while this candidate leads and its term's signal is not aborted. */
  get isLeader(): boolean {
    return this.term !== undefined && !this.term.signal.aborted;
  }

  /** The current term's signal; aborted whenever this candidate does not lead. */
  get signal(): AbortSignal {
    return this.term?.signal ?? abortedSignal(new NotLeaderError(`not leader of ${this.path}`));
  }

  /** Join the election (idempotent); resolves with the term once this candidate leads. */
  async campaign(): Promise<LeaderTerm> {
    this.ensureOpen();
    await this.observe();
    if (this.term !== undefined && this.isLeader) {
      return this.term;
    }
    const waiter = new Deferred<LeaderTerm>();
    this.waiters.push(waiter);
    if (this.loop === undefined) {
      const stop = new AbortController();
      this.stop = stop;
      this.loop = this.run(stop.signal).finally(() => {
        this.loop = undefined;
      });
    }
    return waiter.promise;
  }

  /** Leave the election; the next candidate takes over. Resolves once our node is deleted. */
  async resign(): Promise<void> {
    this.ensureOpen();
    await this.stopCampaign(new NotLeaderError(`${this.candidateId} resigned from ${this.path}`));
  }

  /** Who leads now, read directly from the registry; `null` when nobody does. */
  async leader(): Promise<LeaderInfo | null> {
    this.ensureOpen();
    for (;;) {
      const head = latchNodes(await this.registry.getChildrenKeys(this.path))[0];
      if (head === undefined) {
        return null;
      }
      const raw = await this.registry.getDirectly(joinPath(this.path, head));
      if (raw !== null) {
        return candidateInfo(joinPath(this.path, head), raw, err => this.report(err));
      }
      // The head left between the two reads: look again.
    }
  }

  /** Start emitting `leaderChanged` without campaigning (campaign() does this too). */
  async observe(): Promise<void> {
    this.ensureOpen();
    if (this.observing === undefined) {
      const view = new CandidateView(
        this.registry,
        this.path,
        leader => this.emit('leaderChanged', leader),
        err => this.report(err),
      );
      this.view = view;
      this.observing = view.start();
      this.observing.catch(() => {
        this.observing = undefined; // let a later call try again
      });
    }
    return this.observing;
  }

  /**
   * Add a check of our latest term's node to a transaction: it fails with `TransactionError` once that
   * term is over. Throws `NotLeaderError` if this candidate was never elected.
   */
  fence(tx: TransactionBuilder): TransactionBuilder {
    if (this.term === undefined) {
      throw new NotLeaderError(`${this.candidateId} was never leader of ${this.path}`, {
        path: this.path,
      });
    }
    return this.term.fence(tx);
  }

  /** Resign if campaigning, stop observing. Idempotent; later calls reject with `ClosedError`. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await this.stopCampaign(new ClosedError(`leader election ${this.path}`));
    this.view?.close();
  }

  private async run(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      const entry = new LeaderLatch(this.registry, this.path, {
        prefix: 'candidate-',
        value: this.nodeValue,
        onError: err => this.report(err),
      });
      let reason: Error = abortReason(stop);
      try {
        await entry.start();
        const term = await entry.acquire({ signal: stop });
        this.term = term;
        for (const waiter of this.waiters.splice(0)) {
          waiter.resolve(term);
        }
        this.emit('elected', term);
        reason = await firstAbort(term.signal, stop);
        this.emit('revoked', reason);
      } catch (err) {
        if (!stop.aborted && !isRetryable(err)) {
          await entry.close(reason);
          this.fail(err);
          return;
        }
      }
      await entry.close(reason);
      try {
        await whenUsable(this.registry, stop); // then re-campaign, at the back of the queue
      } catch {
        return; // resigned or closed
      }
    }
  }

  private async stopCampaign(reason: Error): Promise<void> {
    this.stop?.abort(reason);
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(reason);
    }
    await this.loop;
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.stop?.abort(error);
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(error);
    }
    if (this.registry.connectionState !== 'CLOSED') {
      this.report(error);
    }
  }

  private report(err: unknown): void {
    reportError(this, e => this.emit('error', e), err);
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new ClosedError(`leader election ${this.path}`);
    }
  }
}

/** Resolves with the reason of whichever signal aborts first. */
function firstAbort(a: AbortSignal, b: AbortSignal): Promise<Error> {
  if (a.aborted || b.aborted) {
    return Promise.resolve(abortReason(a.aborted ? a : b));
  }
  return new Promise<Error>(resolve => {
    const done = (signal: AbortSignal) => (): void => {
      a.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
      resolve(abortReason(signal));
    };
    const onA = done(a);
    const onB = done(b);
    a.addEventListener('abort', onA, { once: true });
    b.addEventListener('abort', onB, { once: true });
  });
}

/** Create a {@link LeaderElection} for `path` (a directory holding only this election's candidates). */
export function createLeaderElection(
  registry: CoordinatorRegistryCenter,
  path: string,
  options: LeaderElectionOptions,
): LeaderElection {
  return new LeaderElection(registry, path, options);
}
