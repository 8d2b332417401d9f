import { TransactionError } from '../../errors';
import type { JobContext } from '../job-context';
import type { ShardingService } from './sharding-service';

export type Claim =
  | { status: 'claimed'; fencingToken: number; sessionEpoch: number }
  | { status: 'busy' }
  | { status: 'notOwner' }
  | { status: 'stale' };

const CLAIM_ATTEMPTS = 5;
/** How long a claim waits for the cache to catch up with a write it lost to (then the fire is skipped). */
const CATCH_UP_MS = 1000;

/**
 * `sharding/{n}/running` and `sharding/{n}/misfire` (ElasticJob's ExecutionService).
 *
 * An item starts only through `claim()`: one transaction that checks the assignment generation and the
 * item's owner node at the versions this instance saw, and creates the ephemeral running record. So an
 * item never starts on an instance that lost it, nor while another instance's running record exists, and
 * the fencing token handed to the execution is the generation the server held at that moment — it grows
 * with every change of hands. The record is ephemeral: it vanishes with its owner's session, so a dead
 * owner never blocks the item.
 */
export class ExecutionService {
  constructor(
    private readonly ctx: JobContext,
    private readonly sharding: ShardingService,
  ) {}

  isRunningAnywhere(item: number): boolean {
    return this.ctx.cache().has(this.ctx.paths.itemRunning(item));
  }

  async claim(item: number): Promise<Claim> {
    const { paths, registry } = this.ctx;
    const cache = this.ctx.cache();
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      const owner = cache.getData(paths.itemInstance(item));
      if (owner?.value !== this.ctx.instanceId) {
        return { status: 'notOwner' };
      }
      if (cache.has(paths.itemRunning(item))) {
        return { status: 'busy' };
      }
      const generation = this.sharding.generation();
      const sessionEpoch = registry.sessionEpoch;
      try {
        await registry.executeInTransaction(tx => {
          if (generation.version !== undefined) {
            tx.check(paths.sharding, generation.version);
          }
          tx.check(paths.itemInstance(item), owner.version).create(
            paths.itemRunning(item),
            this.ctx.instanceId,
            'EPHEMERAL',
          );
        });
        return { status: 'claimed', fencingToken: generation.value, sessionEpoch };
      } catch (err) {
        if (!(err instanceof TransactionError)) {
          throw err;
        }
        // Our view was stale (a resharding, another runner): wait for the cache to move, then re-judge.
        const seen = [generation.version, owner.version];
        await cache
          .waitFor(
            c =>
              c.has(paths.itemRunning(item)) ||
              c.getData(paths.sharding)?.version !== seen[0] ||
              c.getData(paths.itemInstance(item))?.version !== seen[1],
            { timeoutMs: CATCH_UP_MS },
          )
          .catch(() => undefined);
      }
    }
    return { status: 'stale' };
  }

  /**
   * Ends a claim. The record is deleted only while the session that created it lives: after a new session
   * the old record is already gone, and the node at that path may be another instance's.
   */
  async release(item: number, sessionEpoch: number): Promise<void> {
    if (this.ctx.registry.sessionEpoch !== sessionEpoch) {
      return;
    }
    await this.ctx.registry.remove(this.ctx.paths.itemRunning(item));
  }

  hasMisfire(item: number): boolean {
    return this.ctx.cache().has(this.ctx.paths.itemMisfire(item));
  }

  async markMisfire(item: number): Promise<void> {
    await this.ctx.registry.persist(this.ctx.paths.itemMisfire(item), '');
  }

  async clearMisfire(item: number): Promise<void> {
    await this.ctx.registry.remove(this.ctx.paths.itemMisfire(item));
  }
}
