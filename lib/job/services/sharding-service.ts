import { CorruptedDataError } from '../../errors';
import { latchHolder } from '../../registry/leader-latch';
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

/** The assignment generation: bumped by every resharding (and failover claim). */
export interface Generation {
  /** The generation number the record carries (0 when absent or unreadable): a label, not the token. */
  value: number;
  /** Version of `/{job}/sharding`, checked by execution starts; `undefined` while the node is absent. */
  version: number | undefined;
  /**
   * The registry's own modification stamp of `/{job}/sharding` (ZooKeeper mzxid, etcd mod_revision, memory
   * revision): every write to the node, by us or by anyone, raises it. The fencing token source.
   */
  stamp: bigint | undefined;
  /** True when the record exists but does not parse (someone wrote into it). */
  corrupt: boolean;
}

/** Who wrote `leader/sharding/processing`, judged against the current latch holder (see isPending). */
export type MarkerState = 'none' | 'current' | 'foreign';

/**
 * The fencing token of a run claimed at the generation record's stamp: `2 × stamp`. A failover run claimed
 * over the record at stamp s gets `2s + 1` (its claim rewrites the record, so the next regular run holds at
 * least `2(s + 1)`). The stamp is a counter the registry maintains itself and every write raises, so the
 * token never goes back whatever anyone writes into the record; ZooKeeper's zxid and etcd's revision stay
 * far below 2^52, so the doubled value is an exact JavaScript number.
 */
export function tokenOf(stamp: bigint, failover = false): number {
  return Number(stamp) * 2 + (failover ? 1 : 0);
}

/**
 * Resharding (ElasticJob's ShardingService), leader side and follower side.
 *
 * - Anyone may *request* resharding (`leader/sharding/necessary`); a joining instance does, and the
 *   leader does on membership, server and configuration changes.
 * - The leader computes the assignment from the live, enabled instances (sorted) with the job's strategy
 *   and writes only the differences, fenced by its latch node. A pass *consumes* the request in its first
 *   transaction (a delete at the version it read): a request made after that read fails the first
 *   transaction (nothing written; the pass starts over on the fresh view) and one made after the first
 *   transaction is a new node, served by exactly one more pass. Requests are coalesced, never lost, and
 *   never strand anything. The last transaction bumps the generation (`/{job}/sharding`'s value).
 * - Large changes (more than ~100 operations, e.g. 50 new items) are written in several fenced
 *   transactions; the first creates `leader/sharding/processing` (in the same transaction that consumes
 *   the request, so followers see no gap), naming the leader term (the latch node) that wrote it, and the
 *   last deletes it. A marker of any other term — a former leader that lost the latch while its session
 *   lived — blocks no one, and the current leader deletes it. A pass that fails half-way leaves its own
 *   marker; the next pass (the leader retries while its marker stands) finishes the differences.
 * - Followers never execute while a request or a current-term resharding is pending; they wait on the
 *   cache with a deadline (`waitSettled`), never by polling.
 */
export class ShardingService {
  constructor(
    private readonly ctx: JobContext,
    private readonly servers: ServerService,
    private readonly config: () => JobConfig,
    private readonly strategy: () => ShardingStrategyFunction,
  ) {}

  /** A request is open or the current leader term is writing a resharding: followers wait. */
  isPending(): boolean {
    return this.ctx.cache().has(this.ctx.paths.shardingNecessary) || this.marker() === 'current';
  }

  /** The path that makes the job pending now (for stall reports), or undefined when settled. */
  pendingPath(): string | undefined {
    const { paths } = this.ctx;
    if (this.ctx.cache().has(paths.shardingNecessary)) {
      return paths.shardingNecessary;
    }
    return this.marker() === 'current' ? paths.shardingProcessing : undefined;
  }

  /**
   * The processing marker against the current leader term: the term is the latch node with the lowest
   * sequence (the holder), which the job's cache mirrors. `foreign` means a marker of a former term.
   */
  marker(): MarkerState {
    const cache = this.ctx.cache();
    const marker = cache.get(this.ctx.paths.shardingProcessing);
    if (marker === null) {
      return 'none';
    }
    const holder = latchHolder(cache.children(this.ctx.paths.electionLatch));
    return holder !== undefined && marker === `${this.ctx.paths.electionLatch}/${holder}`
      ? 'current'
      : 'foreign';
  }

  /**
   * Leader only: whether a pass is due — a request, any processing marker (ours from a pass that failed
   * half-way, or a former term's, which we replace), an assignment that differs from the strategy's, or
   * a generation record that is unreadable or does not stand for the stored owners (rewritten).
   */
  needsPass(): boolean {
    const cache = this.ctx.cache();
    return (
      cache.has(this.ctx.paths.shardingNecessary) ||
      cache.has(this.ctx.paths.shardingProcessing) ||
      this.isOutOfDate() ||
      !this.isRecordSound()
    );
  }

  /**
   * The generation record reads, carries a digest and stands for the owners this cache holds. False
   * after someone wrote into it (garbage, an emptied or forged record): the leader's next pass rewrites it.
   */
  isRecordSound(): boolean {
    const record = parseGenerationRecord(this.ctx.cache().get(this.ctx.paths.sharding));
    return record.valid && record.digest !== undefined && this.isAssignmentComplete();
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
    const record = parseGenerationRecord(data?.value);
    return {
      value: record.generation,
      version: data?.version,
      stamp: data?.stamp,
      corrupt: data !== undefined && !record.valid,
    };
  }

  /** The error reporting an unreadable generation record, or undefined when it reads. */
  corruption(): CorruptedDataError | undefined {
    const data = this.ctx.cache().getData(this.ctx.paths.sharding);
    return data !== undefined && !parseGenerationRecord(data.value).valid
      ? new CorruptedDataError(
          this.ctx.paths.sharding,
          `not a generation record (expected "<generation>:<items>:<digest>"): ${JSON.stringify(data.value.slice(0, 80))}`,
        )
      : undefined;
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
    const marker = cache.getData(paths.shardingProcessing);
    if (marker !== undefined && marker.value !== fence.path) {
      // A former term's marker: it blocks no one, but it must not outlive our pass either.
      await this.ctx.registry.executeInTransaction(tx =>
        fence.fence(tx).delete(paths.shardingProcessing, marker.version),
      );
    }
    const ownMarker = marker !== undefined && marker.value === fence.path;
    const necessary = cache.getData(paths.shardingNecessary);
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
    const total = Math.max(1, chunks.length);
    // Every transaction of the pass rewrites the generation record (at the version the previous one left):
    // a claim checks the record's version, so none can start an item between two of our transactions
    // with the token of the assignment before the pass — an item moved by an earlier transaction would
    // otherwise change hands under an unchanged token.
    let recordVersion = generation.version;
    for (let i = 0; i < total; i++) {
      const first = i === 0;
      const last = i === total - 1;
      const expected = recordVersion;
      await this.ctx.registry.executeInTransaction(tx => {
        fence.fence(tx);
        if (first) {
          if (necessary !== undefined) {
            // Consumed here, at the version we read: a request made after our read fails this
            // transaction (nothing is written; the next pass sees it), one made after it is a new node.
            tx.delete(paths.shardingNecessary, necessary.version);
          }
          if (!last && !ownMarker) {
            tx.create(paths.shardingProcessing, fence.path, 'EPHEMERAL');
          }
        }
        // Before the items: a create of the record is also the create of their parent.
        if (expected === undefined) {
          tx.create(paths.sharding, record);
        } else {
          tx.setData(paths.sharding, record, expected);
        }
        for (const op of chunks[i] ?? []) {
          op.apply(tx);
        }
        if (last && (!first || ownMarker)) {
          tx.delete(paths.shardingProcessing);
        }
      });
      recordVersion = expected === undefined ? 0 : expected + 1;
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
