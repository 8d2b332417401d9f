import type { Logger } from '../../logger';

/**
 * What a job handler gets for one item of one fire (re-exported by `define-job.ts`). Built by the executor;
 * the kinds only read it.
 */
export interface ShardingContext {
  readonly jobName: string;
  readonly taskId: string;
  readonly shardingItem: number;
  /** The item's entry of `shardingItemParameters`, '' when none. */
  readonly shardingParameter: string;
  readonly shardingTotalCount: number;
  readonly jobParameter: string;
  readonly instanceId: string;
  /** Strictly increases each time the item changes hands; hand it to downstream stores. */
  readonly fencingToken: number;
  /** Aborted when this execution must stop (ownership may be lost, timeout, forced stop). */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** 1-based retry attempt. */
  readonly attempt: number;
  /** True when this run is a failover run. */
  readonly failover: boolean;
  /** Throws OwnershipLostError when the item may no longer be ours; call before each side effect. */
  checkOwnership(): void;
}
