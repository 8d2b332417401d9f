/**
 * One worker, one sharded job, on the embedded registry (no server needed):
 *   npx tsx examples/jobs-quickstart.ts
 * The job has 3 items and fires every second; the worker owns all three, runs them for about three
 * seconds, then drains and stops. Prints one line per item run and ends with "quickstart: stopped cleanly".
 */
import { createRegistryCenter, defineJob, startWorker } from '../lib';

const job = defineJob({
  name: 'order-sync',
  cron: '* * * * * *', // six fields: every second
  shardingTotalCount: 3,
  shardingItemParameters: '0=Beijing,1=Shanghai,2=Guangzhou',
  async execute(ctx) {
    ctx.checkOwnership(); // before each side effect: throws OwnershipLostError if the item may not be ours
    console.log(
      `ran item ${ctx.shardingItem} (${ctx.shardingParameter}) on ${ctx.instanceId}, fencing token ${ctx.fencingToken}`,
    );
    await new Promise(resolve => setTimeout(resolve, 100)); // pretend to work
  },
});

async function main(): Promise<void> {
  const registry = createRegistryCenter('memory://quickstart');
  await registry.init();
  const worker = await startWorker({ registry, jobs: [job], instanceId: 'worker-a' });
  worker.on('sharded', e =>
    console.log(`${worker.instanceId} owns items [${e.items.join(', ')}] of ${e.job}`),
  );
  worker.on('failed', e => console.error(`item ${e.item} failed: ${e.error.message}`));
  worker.on('error', e => console.error(`background error in ${e.job}: ${e.error.message}`));
  try {
    await new Promise(resolve => setTimeout(resolve, 3_200));
  } finally {
    await worker.stop({ timeoutMs: 5_000 }); // drain: no new fires, running items finish
    await registry.close(); // the worker never closes the registry: its owner does
  }
  console.log('quickstart: stopped cleanly');
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
