import type { LeaderFence } from '../../registry/registry-center';
import type { TransactionBuilder } from '../../registry/txn';
import type { JobConfig } from '../job-config';
import type { JobContext } from '../job-context';
import {
  assignmentDigest,
  formatGenerationRecord,
  parseGenerationRecord,
} from '../sharding/generation-record';
import { computeAssignment, type ShardingStrategyFunction } from '../sharding/sharding-strategy';
import type { ServerService } from './server-service';

/**
 * Item operations per transaction: etcd allows 128 ops (MAX_TXN_OPS, held on every backend); an item takes
 * one or two (a new item creates its item node and its owner node), and the fence plus the generation,
 * request and processing nodes take up to six more. Counted in operations, not items.
 */
const ITEM_OPS_PER_TXN = 100;

/** One item's share of a resharding transaction, with the number of operations it adds. */
interface ItemOp {
  ops: number;
  apply(tx: TransactionBuilder): void;
}

/** The assignment generation: bumped by every resharding (and failover claim); the fencing token source. */
export interface Generation {
  value: number;
  /** Version of `/{job}/sharding`, checked by execution starts; `undefined` while the node is absent. */
  version: number | undefined;
}

/**
 * Resharding (ElasticJob's ShardingService), leader side and follower side.
 *
 * - Anyone may *request* resharding (`leader/sharding/necessary`); a joining instance does, and the
 *   leader does on membership, server and configuration changes.
 * - The leader computes the assignment from the live, enabled instances (sorted) with the job's strategy
 *   and writes only the differences, fenced by its latch node; the last transaction bumps the generation
 *   (`/{job}/sharding`'s value) and deletes the request at the version it read, so a request made
 *   meanwhile survives and triggers another pass. Large changes (more than ~100 operations, e.g. 50 new
 *   items) are written in several fenced transactions under `leader/sharding/processing`.
 * - Followers never execute while a request or a resharding is pending; they wait on the cache with a
 *   deadline (`waitSettled`), never by polling.
 */
export class ShardingService {
  constructor(
    private readonly ctx: JobContext,
    private readonly servers: ServerService,
    private readonly config: () => JobConfig,
    private readonly strategy: () => ShardingStrategyFunction,
  ) {}

  isPending(): boolean {
    const cache = this.ctx.cache();
    return (
      cache.has(this.ctx.paths.shardingNecessary) || cache.has(this.ctx.paths.shardingProcessing)
    );
  }

  async requestResharding(): Promise<void> {
    await this.ctx.registry.persist(this.ctx.paths.shardingNecessary, '');
  }

  /** Resolves once no resharding is pending; rejects with OperationTimeoutError after `timeoutMs`. */
  waitSettled(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.ctx.cache().waitFor(() => !this.isPending(), { timeoutMs, signal });
  }

  generation(): Generation {
    const data = this.ctx.cache().getData(this.ctx.paths.sharding);
    return { value: parseGenerationRecord(data?.value).generation, version: data?.version };
  }

  /**
   * True when the owners this cache holds are the whole assignment the generation record stands for (see
   * generation-record.ts): false while a resharding transaction is only partly applied here.
   */
  isAssignmentComplete(): boolean {
    const record = parseGenerationRecord(this.ctx.cache().get(this.ctx.paths.sharding));
    if (record.digest === undefined || record.itemCount === undefined) {
      return true;
    }
    const owners = Array.from({ length: record.itemCount }, (_, item) => this.ownerOf(item));
    return assignmentDigest(owners) === record.digest;
  }

  ownerOf(item: number): string | null {
    return this.ctx.cache().get(this.ctx.paths.itemInstance(item));
  }

  /** Items assigned to this instance, ascending. */
  localItems(): number[] {
    const out: number[] = [];
    const count = this.config().shardingTotalCount;
    for (let item = 0; item < count; item++) {
      if (this.ownerOf(item) === this.ctx.instanceId) {
        out.push(item);
      }
    }
    return out;
  }

  isItemDisabled(item: number): boolean {
    return this.ctx.cache().has(this.ctx.paths.itemDisabled(item));
  }

  /** What the strategy assigns now: item → instanceId (absent when no instance is eligible). */
  computeOwners(): Map<number, string> {
    const config = this.config();
    const assignment = computeAssignment(
      this.strategy(),
      this.servers.eligibleInstances(),
      config.shardingTotalCount,
      this.ctx.jobName,
    );
    const owners = new Map<number, string>();
    for (const [instance, items] of assignment) {
      for (const item of items) {
        owners.set(item, instance);
      }
    }
    return owners;
  }

  /** True when the stored assignment differs from what the strategy produces now (reconcile). */
  isOutOfDate(): boolean {
    const owners = this.computeOwners();
    const count = this.config().shardingTotalCount;
    for (let item = 0; item < count; item++) {
      if ((owners.get(item) ?? null) !== this.ownerOf(item)) {
        return true;
      }
    }
    return this.staleItems().some(item => this.ctx.cache().has(this.ctx.paths.itemInstance(item)));
  }

  /**
   * Leader only: writes the assignment the strategy produces now. Returns the new generation. Throws
   * TransactionError when the cache was stale or leadership is gone (the caller retries on fresh events),
   * ConfigurationError when a custom strategy misbehaves.
   */
  async reshard(fence: LeaderFence): Promise<number> {
    const { paths } = this.ctx;
    const cache = this.ctx.cache();
    const owners = this.computeOwners();
    const count = this.config().shardingTotalCount;
    const itemOps: ItemOp[] = [];
    for (let item = 0; item < count; item++) {
      const want = owners.get(item);
      const current = cache.getData(paths.itemInstance(item));
      if (want === undefined) {
        if (current !== undefined) {
          itemOps.push({ ops: 1, apply: tx => tx.delete(paths.itemInstance(item)) });
        }
      } else if (current === undefined) {
        const needsItemNode = !cache.has(paths.item(item));
        itemOps.push({
          ops: needsItemNode ? 2 : 1,
          apply: tx => {
            if (needsItemNode) {
              tx.create(paths.item(item), '');
            }
            tx.create(paths.itemInstance(item), want);
          },
        });
      } else if (current.value !== want) {
        itemOps.push({
          ops: 1,
          apply: tx => tx.setData(paths.itemInstance(item), want, current.version),
        });
      }
    }
    for (const item of this.staleItems()) {
      // Items beyond the count: drop them, but leave a running record alone (it ends with its run).
      if (cache.has(paths.itemRunning(item))) {
        if (cache.has(paths.itemInstance(item))) {
          itemOps.push({ ops: 1, apply: tx => tx.delete(paths.itemInstance(item)) });
        }
      } else {
        itemOps.push({ ops: 1, apply: tx => tx.delete(paths.item(item)) });
      }
    }
    const generation = this.generation();
    const next = generation.value + 1;
    const record = formatGenerationRecord(
      next,
      Array.from({ length: count }, (_, item) => owners.get(item) ?? null),
    );
    const necessary = cache.getData(paths.shardingNecessary);
    const shardingExists = cache.has(paths.sharding);
    const chunks: ItemOp[][] = [];
    let chunkOps = 0;
    for (const op of itemOps) {
      const open = chunks[chunks.length - 1];
      if (open === undefined || chunkOps + op.ops > ITEM_OPS_PER_TXN) {
        chunks.push([op]);
        chunkOps = op.ops;
      } else {
        open.push(op);
        chunkOps += op.ops;
      }
    }
    const multi = chunks.length > 1;
    for (let i = 0; i < Math.max(1, chunks.length); i++) {
      const first = i === 0;
      const last = i === Math.max(1, chunks.length) - 1;
      await this.ctx.registry.executeInTransaction(tx => {
        fence.fence(tx);
        if (first && !shardingExists) {
          tx.create(paths.sharding, record);
        }
        if (first && multi) {
          tx.create(paths.shardingProcessing, this.ctx.instanceId, 'EPHEMERAL');
        }
        for (const op of chunks[i] ?? []) {
          op.apply(tx);
        }
        if (last) {
          if (shardingExists) {
            tx.setData(paths.sharding, record, generation.version);
          }
          if (necessary !== undefined) {
            tx.delete(paths.shardingNecessary, necessary.version);
          }
          if (multi) {
            tx.delete(paths.shardingProcessing);
          }
        }
      });
    }
    return next;
  }

  /** Item nodes at or beyond the configured count. */
  private staleItems(): number[] {
    const count = this.config().shardingTotalCount;
    return this.ctx
      .cache()
      .children(this.ctx.paths.sharding)
      .map(Number)
      .filter(item => Number.isInteger(item) && item >= count);
  }
}
