import type { ShardingContext } from './sharding-context';

/** The handler of a simple job. */
export type SimpleExecute = (ctx: ShardingContext) => Promise<void> | void;

/**
 * Runs a simple job's `execute` for one item, once. Checks ownership first (nothing starts on an aborted or
 * stale context); then settles exactly when the handler settles — it does not race the handler against
 * `ctx.signal`, so the item is never reported finished while user code may still run. Rejects with the
 * handler's own error (the executor wraps it).
 */
export async function runSimple(ctx: ShardingContext, execute: SimpleExecute): Promise<void> {
  ctx.checkOwnership();
  await execute(ctx);
}
