/**
 * Regenerates the console screenshots in docs/ (not a test):
 *
 *   npx tsx test/console/screenshots.ts
 *
 * Three workers in this process on the embedded registry run two jobs (one of them failing on purpose),
 * with a shared memory history the console reads; Debian's Chromium takes each main view at 1280×720.
 */
import { join } from 'node:path';
import { startConsoleServer } from '../../lib/console/console-server';
import { createMemoryHistory } from '../../lib/history/memory-history';
import { defineJob } from '../../lib/job/define-job';
import { startWorker, type Worker } from '../../lib/job/worker';
import { createOperations } from '../../lib/ops/operations-api';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import { HeadlessChromium } from './browser';

const DOCS = join(__dirname, '..', '..', 'docs');

async function main(): Promise<void> {
  const url = 'memory://screenshots';
  const history = createMemoryHistory({ capacity: 500 });
  const jobs = [
    defineJob({
      name: 'order-sync',
      cron: '*/2 * * * * *',
      shardingTotalCount: 6,
      shardingItemParameters: '0=Beijing,1=Shanghai,2=Guangzhou,3=Shenzhen,4=Hangzhou,5=Chengdu',
      failover: true,
      description: 'Copies new orders of each city to the warehouse',
      execute: () => new Promise(resolve => setTimeout(resolve, 150)),
    }),
    defineJob({
      name: 'invoice-export',
      cron: '*/3 * * * * *',
      shardingTotalCount: 2,
      execute: ctx => {
        if (ctx.shardingItem === 1) {
          throw new Error('SFTP upload refused: disk quota exceeded');
        }
      },
    }),
    defineJob({
      name: 'nightly-report',
      cron: '0 0 2 * * *',
      shardingTotalCount: 1,
      execute: () => {},
    }),
  ];
  const registries: CoordinatorRegistryCenter[] = [];
  const workers: Worker[] = [];
  for (const id of ['worker-a', 'worker-b', 'worker-c']) {
    const registry = createRegistryCenter(url);
    await registry.init();
    registries.push(registry);
    const worker = await startWorker({ registry, jobs, instanceId: id, history });
    worker.on('error', () => undefined);
    workers.push(worker);
  }
  const consoleRegistry = createRegistryCenter(url);
  await consoleRegistry.init();
  const server = await startConsoleServer({ registry: consoleRegistry, history, port: 0 });
  await createOperations(consoleRegistry).disable('order-sync', { item: 4 });
  await new Promise(resolve => setTimeout(resolve, 7000)); // let a few fires happen
  const chromium = await HeadlessChromium.launch();
  try {
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 720 } });
    const shoot = async (hash: string, file: string, ready: string): Promise<void> => {
      await page.goto(`${server.url}${hash}`);
      await page.locator(ready).first().waitFor();
      await page.screenshot({ path: join(DOCS, file) });
    };
    await shoot('#/', 'console-jobs.png', '#jobs');
    await shoot('#/jobs/order-sync', 'console-job.png', '#items');
    await shoot('#/instances', 'console-instances.png', '#instances');
    await shoot('#/history?job=invoice-export', 'console-history.png', '#history');
    await page.goto(`${server.url}#/jobs/order-sync/config`);
    await page.getByLabel('Cron').fill('*/2 * * * 13 *');
    await page.getByRole('button', { name: 'Save configuration' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.locator('#err-cron:not(:empty)').waitFor();
    await page.screenshot({ path: join(DOCS, 'console-config.png') });
  } finally {
    await chromium.close();
    await server.close();
    await Promise.all(workers.map(w => w.stop({ timeoutMs: 2000 })));
    await Promise.all([...registries, consoleRegistry].map(r => r.close()));
  }
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
