import { JobExecutionError } from '../../errors';
import type { ShardingContext } from './sharding-context';

/** Handlers of a dataflow job. */
export interface DataflowHandlers<T> {
  fetchData(ctx: ShardingContext): Promise<T[]> | T[];
  processData(ctx: ShardingContext, data: T[]): Promise<void> | void;
}

/**
 * Runs a dataflow job for one item, once.
 * - One pass (`streaming` false): fetch once; process the batch when it is non-empty.
 * - Streaming: fetch → process repeatedly until a fetch returns `[]`.
 * `ctx.checkOwnership()` is called before every fetch and every process, so an aborted signal or a lost item
 * stops the loop between batches by rejecting with OwnershipLostError (a batch in progress is not cut).
 * A fetch that does not return an array rejects with JobExecutionError; handler errors propagate as they are.
 */
export async function runDataflow<T>(
  ctx: ShardingContext,
  handlers: DataflowHandlers<T>,
  streaming: boolean,
): Promise<void> {
  do {
    ctx.checkOwnership();
    const data = await handlers.fetchData(ctx);
    if (!Array.isArray(data)) {
      throw new JobExecutionError(
        ctx.jobName,
        ctx.shardingItem,
        `fetchData must return an array, got ${data === null ? 'null' : typeof data}`,
      );
    }
    if (data.length === 0) {
      return;
    }
    ctx.checkOwnership();
    await handlers.processData(ctx, data);
  } while (streaming);
}
