/**
 * The fencing pattern (docs/guarantees.md): every side effect of an item is guarded twice.
 *
 * 1. `ctx.checkOwnership()` right before the write: throws once the item may no longer be ours (the
 *    execution was aborted, the registry connection is suspended, or — judged by the wall clock at the
 *    moment of the call — the worker has not heard from the registry for half the session timeout, as
 *    after a SIGSTOP or a long GC pause).
 * 2. `ctx.fencingToken` handed to the store, which refuses a token lower than one it has seen for that
 *    item: a stale writer that passed its check just before losing the item still cannot overwrite the
 *    new owner's work.
 *
 *   npx tsx examples/fencing.ts        (embedded registry; prints what the store accepted and refused)
 */
import { createRegistryCenter, defineJob, startWorker, type ShardingContext } from '../lib';

/** A downstream store that keeps the highest fencing token per key (a DB row with a token column). */
class FencedStore {
  private readonly tokens = new Map<string, number>();
  readonly rows = new Map<string, string>();

  write(key: string, value: string, token: number): void {
    const seen = this.tokens.get(key) ?? -1;
    if (token < seen) {
      throw new Error(`stale writer for ${key}: token ${token} < ${seen}`);
    }
    this.tokens.set(key, token);
    this.rows.set(key, value);
  }
}

const store = new FencedStore();

async function syncItem(ctx: ShardingContext): Promise<void> {
  for (let step = 0; step < 3; step++) {
    ctx.checkOwnership(); // 1: never write once the item may have moved
    store.write(`item-${ctx.shardingItem}`, `${ctx.instanceId} step ${step}`, ctx.fencingToken); // 2
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

async function main(): Promise<void> {
  const registry = createRegistryCenter('memory://fencing-example');
  await registry.init();
  const job = defineJob({
    name: 'fenced-sync',
    cron: '* * * * * *',
    shardingTotalCount: 2,
    failover: true,
    execute: syncItem,
  });
  const worker = await startWorker({ registry, jobs: [job], instanceId: 'worker-a' });
  const done = new Promise<void>(resolve => {
    let runs = 0;
    worker.on('executed', e => {
      console.log(`executed item ${e.item} with fencing token ${e.fencingToken}`);
      if (++runs === 2) {
        resolve();
      }
    });
  });
  await done;
  await worker.stop({ timeoutMs: 5000 });
  await registry.close();
  // A writer holding an older token (a worker resumed after losing the item) is refused:
  try {
    store.write('item-0', 'stale', -1);
  } catch (err) {
    console.log(`refused: ${(err as Error).message}`);
  }
  console.log(`rows: ${JSON.stringify(Object.fromEntries(store.rows))}`);
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
