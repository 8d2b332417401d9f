/**
 * The web console mounted under /console in a Fastify application:
 *
 *   npx tsx examples/console-fastify.ts [registry-url]  # default memory://console-fastify; PORT=8080
 *   open http://127.0.0.1:8080/console/
 *   npx tsx examples/console-fastify.ts --smoke         # start, fetch the console under its prefix, stop, exit 0
 *
 * The console is a Node handler: inside a plugin registered at the prefix, every route hands the raw
 * request to it (`reply.hijack()`), and the plugin's content-type parser leaves bodies unread, for the
 * console to read them itself. Fastify passes full URLs, so the handler is told its prefix.
 */
import Fastify from 'fastify';
import { createConsoleHandler, createRegistryCenter, defineJob, startWorker } from '../lib';

const smoke = process.argv.includes('--smoke');
const url = process.argv.slice(2).find(a => !a.startsWith('--')) ?? 'memory://console-fastify';

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
    token: process.env.CONSOLE_TOKEN,
  });
  const app = Fastify();
  await app.register(
    (scope, _options, done) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', (_request, _payload, done) => done(null)); // left to the console
      scope.all('/', (request, reply) => {
        reply.hijack();
        consoleHandler(request.raw, reply.raw);
      });
      scope.all('/*', (request, reply) => {
        reply.hijack();
        consoleHandler(request.raw, reply.raw);
      });
      done();
    },
    { prefix: '/console' },
  );
  app.get('/', (_request, reply) => {
    void reply.type('text/plain').send('the application\n');
  });
  const base = await app.listen({
    port: smoke ? 0 : Number(process.env.PORT ?? 8080),
    host: '127.0.0.1',
  });
  console.log(`console-fastify: the console is at ${base}/console/`);

  const stop = async (): Promise<void> => {
    await consoleHandler.close();
    await app.close();
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
        `console-fastify: unexpected answers ${page.status} ${JSON.stringify(jobs)} ${trigger.status}`,
      );
    }
    await stop();
    console.log('console-fastify: smoke ok');
    return;
  }
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
