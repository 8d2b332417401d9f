import { isRetryable, TransactionError } from '../../errors';
import { withTimeout } from '../../internal/async';
import { Backoff } from '../../internal/backoff';
import type { JobContext } from '../job-context';
import type { InstanceService } from './instance-service';
import { tokenOf, type ShardingService } from './sharding-service';

export type Claim =
  | { status: 'claimed'; fencingToken: number; sessionEpoch: number }
  | { status: 'busy' }
  | { status: 'notOwner' }
  | { status: 'stale' };

const CLAIM_ATTEMPTS = 5;
/** How long a claim waits for the cache to catch up with a write it lost to (then the fire is skipped). */
const CATCH_UP_MS = 1000;
/** Retries of a release or take-back while the writing session may live. */
const RELEASE_BACKOFF = { initialMs: 100, maxMs: 2000 };

/** A running record of this life of ours (see `idleOwnRecords`). */
export interface OwnRecord {
  item: number;
  stamp: bigint;
}

/** A running record whose writer's session is gone: reaped by the leader (FailoverService). */
export interface DeadRecord {
  item: number;
  owner: string;
  version: number;
  /** The record's stamp (its creation: records are never rewritten). */
  stamp: bigint;
  /** Why its writer is judged dead (InstanceService.recordWriterProblem), for the log. */
  why: string;
}

/**
 * `sharding/{n}/running` (ElasticJob's ExecutionService).
 *
 * An item starts only through `claim()`: one transaction that checks the assignment generation and the
 * item's owner node at the versions this instance saw, and creates the running record. So an item never
 * starts on an instance that lost it, nor while another running record exists, and the fencing token
 * handed to the execution is derived from the registry's own modification stamp of the generation record
 * the server held at that moment (`tokenOf`) — it grows with every change of hands, and no value written
 * into the record can make it go back. Without a record there is nothing to run.
 *
 * The record is persistent so that a crash leaves evidence of what was in flight (for failover), and it
 * is bound to its writer's liveness: the leader reaps a record whose writer's instance node is gone or
 * younger than the record (`deadRecords`). It is released by a transaction that checks our own instance
 * node, so a writer whose session expired (a resumed SIGSTOP, a partition) cannot delete the record of
 * whoever runs the item now.
 */
export class ExecutionService {
  constructor(
    private readonly ctx: JobContext,
    private readonly sharding: ShardingService,
    private readonly instances: InstanceService,
    /**
     * A claim found no node of ours on the session it would be sent on (see ownNodeOf): the runtime
     * registers (again) and resolves once our node of the current session is there. Asked for, never
     * waited for in silence: the registration that should have come may have been overtaken.
     */
    private readonly unbound: () => Promise<void> = () => Promise.resolve(),
  ) {}

  isRunningAnywhere(item: number): boolean {
    return this.ctx.cache().has(this.ctx.paths.itemRunning(item));
  }

  async claim(item: number): Promise<Claim> {
    const { paths, registry } = this.ctx;
    const cache = this.ctx.cache();
    let waitedForRegistration = false;
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      const owner = cache.getData(paths.itemInstance(item));
      if (owner?.value !== this.ctx.instanceId) {
        return { status: 'notOwner' };
      }
      if (cache.has(paths.itemRunning(item))) {
        return { status: 'busy' };
      }
      const generation = this.sharding.generation();
      if (generation.version === undefined || generation.stamp === undefined) {
        return { status: 'stale' }; // no assignment record: nothing can be ours to run
      }
      const { version: recordVersion, stamp } = generation;
      const pendingFailover = cache.getData(paths.failoverItem(item));
      const sessionEpoch = registry.sessionEpoch;
      if (!this.instances.boundTo(sessionEpoch)) {
        // A new session before we registered on it (see ownNodeOf): wait for that registration (once per
        // claim, up to a session timeout), then judge again. A trigger or fire is not lost to it.
        if (waitedForRegistration) {
          return { status: 'stale' };
        }
        waitedForRegistration = true;
        await withTimeout(this.unbound(), registry.sessionTimeoutMs, 'registration').catch(
          () => undefined,
        );
        continue;
      }
      try {
        await registry.executeInTransaction(tx => {
          tx.check(paths.sharding, recordVersion);
          // Our instance node, of this session: a claim made on a new session before we re-registered
          // would leave a record the leader takes for a dead writer's, reaped and failed over while we run.
          tx.check(paths.instance(this.ctx.instanceId));
          tx.check(paths.itemInstance(item), owner.version).create(
            paths.itemRunning(item),
            this.ctx.instanceId,
          );
          if (pendingFailover !== undefined) {
            // This run replaces the failover run the crash asked for: it must not add another one.
            tx.delete(paths.failoverItem(item), pendingFailover.version);
          }
        });
        return { status: 'claimed', fencingToken: tokenOf(stamp), sessionEpoch };
      } catch (err) {
        if (!(err instanceof TransactionError)) {
          // Ambiguous: the server may have applied the claim while its answer was lost (a cut
          // connection). A record of ours that no run of ours will release would block the item for
          // good: take it back, retried while this session lives (found by the interleaving tests).
          void this.takeBack(item, sessionEpoch);
          throw err;
        }
        // Our view was stale (a resharding, another runner): wait for the cache to move, then re-judge.
        const seen = [generation.version, owner.version, pendingFailover?.version];
        await cache
          .waitFor(
            c =>
              c.has(paths.itemRunning(item)) ||
              c.getData(paths.sharding)?.version !== seen[0] ||
              c.getData(paths.itemInstance(item))?.version !== seen[1] ||
              c.getData(paths.failoverItem(item))?.version !== seen[2],
            { timeoutMs: CATCH_UP_MS },
          )
          .catch(() => undefined);
      }
    }
    return { status: 'stale' };
  }

  /**
   * Ends a claim: deletes the running record (and the failover marker of a failover run) in one
   * transaction checked against our own instance node. Skipped after a new session (the old session's
   * claims are the leader's to reap); a failed check means the same, and is not an error.
   *
   * `last` (the item's last execution, JSON) is written to `sharding/{item}/last` by the same transaction:
   * created or set as the cache shows the node, with no extra round trip. Should the cache be behind and
   * that op be the one that fails, the release is retried with the other op, then without it: the running
   * record always goes, the `last` node is best effort.
   */
  async release(
    item: number,
    sessionEpoch: number,
    failover: boolean,
    last?: string,
  ): Promise<void> {
    const { registry, paths } = this.ctx;
    // Retried while the session that wrote the record may live: a record left behind by a live writer
    // would block the item for good (nobody reaps a live writer's record). Once the session is LOST (or
    // replaced, or the client closed) the record belongs to a dead writer: the leader reaps it.
    const backoff = new Backoff(RELEASE_BACKOFF);
    const writerMayLive = (): boolean => this.sessionMayLive(sessionEpoch);
    const lastPath = paths.itemLast(item);
    // 'create' / 'set' / undefined (no last op), flipped or dropped when the last op is the one that fails.
    let lastOp: 'create' | 'set' | undefined =
      last === undefined ? undefined : this.ctx.cache().has(lastPath) ? 'set' : 'create';
    const lastIndex = 2; // check instance, delete running, then the last op
    let flipped = false;
    while (writerMayLive()) {
      try {
        await registry.executeInTransaction(tx => {
          tx.check(paths.instance(this.ctx.instanceId)).delete(paths.itemRunning(item));
          if (last !== undefined && lastOp === 'create') {
            tx.create(lastPath, last);
          } else if (last !== undefined && lastOp === 'set') {
            tx.setData(lastPath, last);
          }
        });
        break;
      } catch (err) {
        if (
          err instanceof TransactionError &&
          lastOp !== undefined &&
          err.failedIndex === lastIndex
        ) {
          lastOp = flipped ? undefined : lastOp === 'create' ? 'set' : 'create';
          flipped = true;
          continue;
        }
        if (err instanceof TransactionError) {
          this.ctx.logger.warn('running record not released: our instance or the record is gone', {
            item,
            error: err,
          });
          return;
        }
        if (!isRetryable(err)) {
          throw err;
        }
        this.ctx.logger.debug('running record release retried', { item, error: err });
        await backoff.sleep();
      }
    }
    if (failover && writerMayLive()) {
      // The marker is ephemeral and informational (operators' view): removed on its own.
      await registry.remove(paths.itemFailover(item));
    }
  }

  /**
   * Our instance node was made on session `epoch`: a record claimed on it is then younger than a node that
   * lives exactly as long as the session. Before a new session's re-registration the node we see may be
   * the previous session's (the client gives a session up locally after T without contact; the server may
   * keep it a tick longer): a record claimed over it would turn into a dead writer's the moment that node
   * goes, and be reaped and failed over while its run goes on. Local state: read it right before sending.
   * When it says no, it asks the runtime to register (again): the registration that should have come may
   * have been overtaken by a newer session.
   */
  ownNodeOf(epoch: number): boolean {
    if (this.instances.boundTo(epoch)) {
      return true;
    }
    void this.unbound(); // never a silent wait: the runtime registers (again) on the current session
    return false;
  }

  /** The session that wrote a record may still live: the same epoch, neither LOST nor closed. */
  private sessionMayLive(sessionEpoch: number): boolean {
    const { registry } = this.ctx;
    return (
      registry.sessionEpoch === sessionEpoch &&
      registry.connectionState !== 'LOST' &&
      registry.connectionState !== 'CLOSED'
    );
  }

  /**
   * After a claim whose outcome is unknown: deletes the item's running record if it names us (no run of
   * ours holds the item while it is being claimed). Retried while the claiming session may live; after
   * that the record is a dead writer's, reaped by the leader. Never throws.
   */
  private async takeBack(item: number, sessionEpoch: number): Promise<void> {
    const { registry, paths, instanceId } = this.ctx;
    const backoff = new Backoff(RELEASE_BACKOFF);
    while (this.sessionMayLive(sessionEpoch)) {
      try {
        const record = await registry.getStat(paths.itemRunning(item));
        if (record === null || record.value !== instanceId) {
          return;
        }
        await registry.executeInTransaction(tx =>
          tx.check(paths.instance(instanceId)).delete(paths.itemRunning(item), record.version),
        );
        this.ctx.logger.info('running record of an unanswered claim taken back', { item });
        return;
      } catch (err) {
        if (err instanceof TransactionError || !isRetryable(err)) {
          this.ctx.logger.debug('running record of an unanswered claim not taken back', {
            item,
            error: err,
          });
          return;
        }
        await backoff.sleep();
      }
    }
  }

  /**
   * Running records written by this life of this instance (value our id, created after our instance node)
   * for items that `isActive` says neither run nor start here: a record nobody will release while we live.
   */
  idleOwnRecords(isActive: (item: number) => boolean): OwnRecord[] {
    const { paths, instanceId } = this.ctx;
    const cache = this.ctx.cache();
    const self = cache.getData(paths.instance(instanceId));
    if (self === undefined) {
      return [];
    }
    const out: OwnRecord[] = [];
    for (const name of cache.children(paths.sharding)) {
      const item = Number(name);
      const record = Number.isInteger(item) ? cache.getData(paths.itemRunning(item)) : undefined;
      if (
        record !== undefined &&
        record.value === instanceId &&
        record.stamp > self.stamp &&
        !isActive(item)
      ) {
        out.push({ item, stamp: record.stamp });
      }
    }
    return out;
  }

  /**
   * Deletes a record found by {@link idleOwnRecords} once a fresh read (not the cache, which may lag) shows
   * the same record, still ours, and `isActive` still says nothing holds the item; the delete checks our
   * instance node and the version just read. Resolves false when any of that changed. Throws registry errors.
   */
  async releaseIdleOwnRecord(
    item: number,
    stamp: bigint,
    isActive: (item: number) => boolean,
  ): Promise<boolean> {
    const { registry, paths, instanceId } = this.ctx;
    const path = paths.itemRunning(item);
    const stat = await registry.getStat(path);
    if (stat === null || stat.value !== instanceId || stat.stamp !== stamp || isActive(item)) {
      return false;
    }
    try {
      await registry.executeInTransaction(tx =>
        tx.check(paths.instance(instanceId)).delete(path, stat.version),
      );
      return true;
    } catch (err) {
      if (err instanceof TransactionError) {
        return false;
      }
      throw err;
    }
  }

  /** Running records (any item node, also beyond the count) whose writer is dead, judged from the cache. */
  deadRecords(): DeadRecord[] {
    const { paths } = this.ctx;
    const cache = this.ctx.cache();
    const out: DeadRecord[] = [];
    for (const name of cache.children(paths.sharding)) {
      const item = Number(name);
      const record = Number.isInteger(item) ? cache.getData(paths.itemRunning(item)) : undefined;
      const why =
        record === undefined
          ? undefined
          : this.instances.recordWriterProblem(record.value, record.stamp);
      if (record !== undefined && why !== undefined) {
        out.push({ item, owner: record.value, version: record.version, stamp: record.stamp, why });
      }
    }
    return out;
  }

  /**
   * The records of `candidates` (from {@link deadRecords}) that fresh reads confirm dead: the same record
   * (same stamp, same writer) is still there, and its writer's instance node, read now, says the writer is
   * dead too. Each comes back with the version just read, for a delete that can only hit that record.
   *
   * Why not the cache alone: it may show a state that never existed at one moment (the load after a
   * reconnect reads the tree in several batches: a record read after its writer registered, the writer's
   * node read before) or lag behind our own writes (a record we reaped, already replaced by a live
   * claimer's record at the same version 0). Reaping on the cache's word deleted live runs' records, and
   * the items ran twice (found by the topology chaos test on a 3-node ZooKeeper).
   *
   * Why the confirmation stays true until the delete: a writer found dead stays dead. Every claim checks
   * its writer's instance node in the claiming transaction, so a record is younger than that node, and a
   * node once gone never comes back (a later life is a new node, younger than the record); and only the
   * leader deletes a dead writer's record (its own release checks its instance node). Reads are at least as
   * new as the cache's view of the record (ZooKeeper: one session's view never goes back; etcd:
   * linearizable reads).
   */
  async confirmDead(candidates: readonly DeadRecord[]): Promise<DeadRecord[]> {
    const { registry, paths } = this.ctx;
    const fresh = await Promise.all(
      candidates.map(c =>
        Promise.all([
          registry.getStat(paths.itemRunning(c.item)),
          registry.getStat(paths.instance(c.owner)),
        ]),
      ),
    );
    const out: DeadRecord[] = [];
    candidates.forEach((c, i) => {
      const [record, writer] = fresh[i] ?? [null, null];
      if (record === null || record.stamp !== c.stamp || record.value !== c.owner) {
        return; // released, reaped or replaced since the cache saw it: not that record any more
      }
      const why = this.instances.recordWriterProblem(c.owner, record.stamp, writer);
      if (why === undefined) {
        this.ctx.logger.info('running record not reaped: its writer lives (the cache was behind)', {
          item: c.item,
          owner: c.owner,
          cacheSaid: c.why,
        });
        return;
      }
      out.push({ ...c, version: record.version, why });
    });
    return out;
  }
}
