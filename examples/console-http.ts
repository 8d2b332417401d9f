/**
 * The web console mounted under /console in a plain node:http server, next to the application's own routes:
 *
 *   npx tsx examples/console-http.ts [registry-url]     # default memory://console-http; PORT=8080
 *   open http://127.0.0.1:8080/console/
 *   npx tsx examples/console-http.ts --smoke            # start, fetch the console under its prefix, stop, exit 0
 *
 * node:http passes full URLs, so the handler is told its prefix. Everything else stays the application's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConsoleHandler, createRegistryCenter, defineJob, startWorker } from '../lib';

const smoke = process.argv.includes('--smoke');
const url = process.argv.slice(2).find(a => !a.startsWith('--')) ?? 'memory://console-http';

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

  const consoleHandler = createConsoleHandler({
    registry,
    prefix: '/console',
    token: process.env.CONSOLE_TOKEN, // actions need `Authorization: Bearer <token>` when set
  });
  const server = createServer((req, res) => {
    if (req.url === '/console' || req.url?.startsWith('/console/') === true) {
      consoleHandler(req, res);
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('the application\n');
    }
  });
  await new Promise<void>(resolve =>
    server.listen(smoke ? 0 : Number(process.env.PORT ?? 8080), '127.0.0.1', resolve),
  );
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  console.log(`console-http: the console is at ${base}/console/`);

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
        `console-http: unexpected answers ${page.status} ${JSON.stringify(jobs)} ${trigger.status}`,
      );
    }
    await stop();
    console.log('console-http: smoke ok');
    return;
  }
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
