/**
 * The web console mounted under /console in an Express application:
 *
 *   npx tsx examples/console-express.ts [registry-url]  # default memory://console-express; PORT=8080
 *   open http://127.0.0.1:8080/console/
 *   npx tsx examples/console-express.ts --smoke         # start, fetch the console under its prefix, stop, exit 0
 *
 * Express strips the mount path itself (`app.use('/console', …)`), so no `prefix` is needed. Put your own
 * authentication middleware in front of it if the port is reachable from other machines.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createConsoleHandler, createRegistryCenter, defineJob, startWorker } from '../lib';

const smoke = process.argv.includes('--smoke');
const url = process.argv.slice(2).find(a => !a.startsWith('--')) ?? 'memory://console-express';

async function main(): Promise<void> {
  const registry = createRegistryCenter(url);
  await registry.init();
  const job = defineJob({
    name: 'order-sync',
    cron: '*/5 * * * * *',
    shardingTotalCount: 3,
    execute: () => undefined,
  });
  const worker = await startWorker({ registry, jobs: [job] });

  const consoleHandler = createConsoleHandler({ registry, token: process.env.CONSOLE_TOKEN });
  const app = express();
  app.use('/console', consoleHandler);
  app.get('/', (_req, res) => {
    res.type('text/plain').send('the application\n');
  });
  const server = app.listen(smoke ? 0 : Number(process.env.PORT ?? 8080), '127.0.0.1');
  await new Promise(resolve => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`console-express: the console is at ${base}/console/`);

  const stop = async (): Promise<void> => {
    await consoleHandler.close();
    server.closeAllConnections();
    await new Promise(resolve => server.close(resolve));
    await worker.stop();
    await registry.close();
  };
  if (smoke) {
    const page = await fetch(`${base}/console/`);
    const jobs = (await (await fetch(`${base}/console/api/overview`)).json()) as { job: string }[];
    const trigger = await fetch(`${base}/console/api/jobs/order-sync/trigger`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    if (!page.ok || !jobs.some(j => j.job === 'order-sync') || !trigger.ok) {
      throw new Error(
        `console-express: unexpected answers ${page.status} ${JSON.stringify(jobs)} ${trigger.status}`,
      );
    }
    await stop();
    console.log('console-express: smoke ok');
    return;
  }
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
