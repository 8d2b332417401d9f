import { LockTimeoutError, TransactionError } from '../../errors';
import type { LeaderFence } from '../../registry/registry-center';
import type { JobConfig } from '../job-config';
import type { JobContext } from '../job-context';
import { parseGenerationRecord, withGeneration } from '../sharding/generation-record';
import { tokenOf } from './sharding-service';
import type { ExecutionService } from './execution-service';
import type { ShardingService } from './sharding-service';

export interface FailoverClaim {
  item: number;
  fencingToken: number;
  sessionEpoch: number;
}

/** Tries of one item's failover claim when its transaction loses a race (see claimOne). */
const CLAIM_ATTEMPTS = 3;

/** Records reaped per transaction (two ops each, plus the fence). */
const REAP_PER_TXN = 50;

/**
 * Failover of in-flight items (ElasticJob's FailoverService, without its re-runs of completed work).
 *
 * - Leader: a running record whose writer is dead was in flight when its instance died (a completed
 *   run deletes its record). `reap()` deletes such records — so they never block the item — and, for a
 *   failover job, queues the item under `leader/failover/items/{n}` in the same fenced transaction. The
 *   cache names the candidates; fresh reads confirm each one (ExecutionService.confirmDead) and the delete
 *   is at the version just read, so a live run's record is never reaped.
 * - Idle instances claim queued items one at a time under the failover latch: one transaction deletes
 *   the queue entry, creates the running record and the ephemeral `sharding/{n}/failover` marker, and
 *   rewrites the generation record (generation + 1). The run's token is `2s + 1` over the record's stamp
 *   s, so it grows with this change of hands, and the item's next regular run is claimed over the
 *   rewritten record (stamp > s, token ≥ 2s + 2), so it grows again when the item goes back to its
 *   owner. The run replaces the missed fire; if the claimer dies too, its record is reaped and the item
 *   queued again.
 * - A regular run of the item (its new owner's next fire) removes a still-queued entry in its own claim
 *   transaction: one run covers the missed fire, never two.
 */
export class FailoverService {
  constructor(
    private readonly ctx: JobContext,
    private readonly execution: ExecutionService,
    private readonly sharding: ShardingService,
    private readonly config: () => JobConfig,
  ) {}

  /** Queued items, ascending (from the cache). */
  pendingItems(): number[] {
    return this.ctx
      .cache()
      .children(this.ctx.paths.failoverItems)
      .map(Number)
      .filter(n => Number.isInteger(n) && n >= 0)
      .sort((a, b) => a - b);
  }

  /** Leader only: reaps dead writers' running records; queues them for failover when the job says so. */
  async reap(fence: LeaderFence): Promise<number> {
    const candidates = this.execution.deadRecords();
    if (candidates.length === 0) {
      return 0;
    }
    // Never on the cache's word alone: it may be behind, or show a moment that never was.
    const dead = await this.execution.confirmDead(candidates);
    if (dead.length === 0) {
      return 0;
    }
    const { paths, registry } = this.ctx;
    const cache = this.ctx.cache();
    const config = this.config();
    const queue = config.failover && config.monitorExecution;
    if (queue && !cache.has(paths.failoverItems)) {
      await registry.persist(paths.failoverItems, '');
    }
    for (let i = 0; i < dead.length; i += REAP_PER_TXN) {
      const chunk = dead.slice(i, i + REAP_PER_TXN);
      await registry.executeInTransaction(tx => {
        fence.fence(tx);
        for (const record of chunk) {
          tx.delete(paths.itemRunning(record.item), record.version);
          if (
            queue &&
            record.item < config.shardingTotalCount &&
            !cache.has(paths.failoverItem(record.item))
          ) {
            tx.create(paths.failoverItem(record.item), record.owner);
          }
        }
      });
    }
    this.ctx.logger.info('dead running records reaped', {
      items: dead.map(d => d.item),
      why: dead.map(d => `${d.item}: ${d.owner} ${d.why}`),
      failover: queue,
    });
    return dead.length;
  }

  /**
   * Claims the lowest queued item that is not running, under the failover latch; `undefined` when there
   * is none (or the latch was busy for too long: another instance is claiming, and its claim will wake
   * us again through the queue's cache events).
   */
  async claim(latchTimeoutMs: number): Promise<FailoverClaim | undefined> {
    const { paths, registry } = this.ctx;
    try {
      return await registry.executeInLeader(
        paths.failoverLatch,
        async (signal, fence) => {
          const queued = (await registry.getChildrenKeys(paths.failoverItems))
            .map(Number)
            .filter(n => Number.isInteger(n) && n >= 0)
            .sort((a, b) => a - b);
          for (const item of queued) {
            if (signal.aborted) {
              return undefined;
            }
            const claim = await this.claimOne(item, fence);
            if (claim !== undefined) {
              return claim;
            }
          }
          return undefined;
        },
        { timeoutMs: latchTimeoutMs },
      );
    } catch (err) {
      if (err instanceof LockTimeoutError) {
        return undefined;
      }
      throw err;
    }
  }

  /**
   * One item's claim, tried again (a few times) when its transaction lost a race with a write that left
   * the item still claimable — the generation record rewritten by a resharding between our read and our
   * write: that loss said nothing about the item, and no later event would bring us back to it.
   */
  private async claimOne(item: number, fence: LeaderFence): Promise<FailoverClaim | undefined> {
    const { paths, registry } = this.ctx;
    const config = this.config();
    if (item >= config.shardingTotalCount || this.sharding.isItemDisabled(item)) {
      await registry.remove(paths.failoverItem(item)); // the item is gone or disabled: nothing to re-run
      return undefined;
    }
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      const result = await this.tryClaim(item, fence);
      if (result !== 'raced') {
        return result;
      }
      this.ctx.logger.debug('failover claim raced; trying again', { item, attempt });
    }
    return undefined;
  }

  private async tryClaim(
    item: number,
    fence: LeaderFence,
  ): Promise<FailoverClaim | undefined | 'raced'> {
    const { paths, registry } = this.ctx;
    const [queued, running, generationNode] = await Promise.all([
      registry.getStat(paths.failoverItem(item)),
      registry.isExisted(paths.itemRunning(item)),
      registry.getStat(paths.sharding),
    ]);
    if (queued === null || running || generationNode === null) {
      return undefined;
    }
    const record = parseGenerationRecord(generationNode.value);
    // The run's token is 2s + 1 over the record's stamp s (tokenOf): above every token claimed at s, and
    // below the next regular run's, which is claimed over the record this claim rewrites (stamp > s).
    const token = tokenOf(generationNode.stamp, true);
    const next = record.generation + 1;
    const sessionEpoch = registry.sessionEpoch;
    if (!this.execution.ownNodeOf(sessionEpoch)) {
      return undefined; // a new session before we registered on it (ExecutionService.ownNodeOf)
    }
    try {
      await registry.executeInTransaction(tx =>
        fence
          .fence(tx)
          // Our instance node, of this session (as a regular claim): a record written before we
          // re-registered on a new session is younger than no node of ours — the leader would reap it
          // as a dead writer's and hand the item on while we run it.
          .check(paths.instance(this.ctx.instanceId))
          .delete(paths.failoverItem(item), queued.version)
          .create(paths.itemRunning(item), this.ctx.instanceId)
          .create(paths.itemFailover(item), this.ctx.instanceId, 'EPHEMERAL')
          .setData(paths.sharding, withGeneration(record, next), generationNode.version),
      );
    } catch (err) {
      if (err instanceof TransactionError) {
        // Raced with a regular run (entry gone / record created: nothing left to claim), or with a
        // resharding (record rewritten): the next attempt re-reads and tells which.
        return 'raced';
      }
      throw err;
    }
    this.ctx.logger.info('failover item claimed', { item, fencingToken: token });
    return { item, fencingToken: token, sessionEpoch };
  }
}
