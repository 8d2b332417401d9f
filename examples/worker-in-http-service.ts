/**
 * A worker embedded in an ordinary HTTP service (node:http, no framework):
 *
 *   npx tsx examples/worker-in-http-service.ts [registry-url]      # default memory://http-service; PORT=8080
 *   curl localhost:8080/healthz
 *   curl -X POST localhost:8080/jobs/nightly-report/trigger
 *   npx tsx examples/worker-in-http-service.ts --smoke             # start, one request to itself, stop, exit 0
 *
 * - `GET /healthz` reports the registry connection and, per job, this worker's items, leadership and last
 *   run; 200 while the registry connection is usable and the worker runs jobs, else 503 (so a load
 *   balancer stops routing to an instance that cannot coordinate).
 * - `POST /jobs/:name/trigger` asks every live instance of the job to run it once now, through the
 *   operations API (`createOperations(registry).trigger`, what `shardline trigger` does); a busy instance
 *   runs once more right after its current run. 404 for a job the registry does not know.
 * - SIGTERM / SIGINT: stop accepting connections, drain the worker (no new fires; running items get 10 s,
 *   then their `ctx.signal` aborts), close the registry (our ephemeral nodes vanish at once), exit 0.
 *
 * `--smoke` listens on a free port, POSTs one trigger to itself, waits for the run it causes, prints
 * "worker-in-http-service: smoke ok", then stops through the same path as SIGTERM.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createOperations,
  createRegistryCenter,
  defineJob,
  startWorker,
  UnknownJobError,
  type Worker,
} from '../lib';

const smoke = process.argv.includes('--smoke');
const url = process.argv.slice(2).find(a => !a.startsWith('--')) ?? 'memory://http-service';
const port = smoke ? 0 : Number(process.env.PORT ?? 8080);

const jobs = [
  defineJob({
    name: 'cache-warmup',
    cron: '*/5 * * * * *',
    shardingTotalCount: 2,
    execute: ctx => ctx.logger.info('warming', { item: ctx.shardingItem }),
  }),
  defineJob({
    name: 'nightly-report', // no cron: a one-off job, runs only when triggered
    shardingTotalCount: 2,
    async execute(ctx) {
      for (let step = 0; step < 3; step++) {
        ctx.checkOwnership(); // before each side effect
        await new Promise(resolve => setTimeout(resolve, 20));
      }
    },
  }),
];

/** What /healthz shows per job, kept from the worker's events. */
interface JobHealth {
  leader: boolean;
  lastRun: { item: number; ok: boolean; at: string } | null;
  lastError: string | null;
}

async function main(): Promise<void> {
  const registry = createRegistryCenter(url);
  await registry.init();
  const worker = await startWorker({ registry, jobs });
  const ops = createOperations(registry);
  const health = new Map<string, JobHealth>(
    jobs.map(j => [j.name, { leader: false, lastRun: null, lastError: null }]),
  );
  const of = (job: string): JobHealth | undefined => health.get(job);
  worker.on('leader', e => {
    const h = of(e.job);
    if (h) {
      h.leader = e.isLeader;
    }
  });
  worker.on('executed', e => {
    const h = of(e.job);
    if (h) {
      h.lastRun = { item: e.item, ok: true, at: new Date().toISOString() };
    }
  });
  worker.on('failed', e => {
    const h = of(e.job);
    if (h) {
      h.lastRun = { item: e.item, ok: false, at: new Date().toISOString() };
      h.lastError = e.error.message;
    }
  });
  // Background failures (registry trouble, unreadable data) are reported here and never crash us.
  worker.on('error', e => {
    const h = of(e.job);
    if (h) {
      h.lastError = e.error.message;
    }
    console.error(`worker error (${e.job || 'worker'}): ${e.error.message}`);
  });

  const server = createServer((req, res) => {
    route(req, res).catch(err =>
      reply(res, 500, { error: err instanceof Error ? err.message : String(err) }),
    );
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/healthz') {
      const state = registry.connectionState;
      const ok = (state === 'CONNECTED' || state === 'RECONNECTED') && worker.jobs.length > 0;
      const perJob = Object.fromEntries(
        [...health].map(([name, h]) => [
          name,
          { running: worker.jobs.includes(name), items: worker.items(name), ...h },
        ]),
      );
      reply(res, ok ? 200 : 503, { instanceId: worker.instanceId, registry: state, jobs: perJob });
      return;
    }
    const trigger = /^\/jobs\/([A-Za-z0-9][A-Za-z0-9._-]*)\/trigger$/.exec(path);
    if (req.method === 'POST' && trigger !== null) {
      const job = trigger[1]!;
      try {
        // Writes the run-now request /{job}/trigger/{instanceId} for every live instance of the job.
        const { instances } = await ops.trigger(job);
        reply(res, 202, { job, instances });
      } catch (err) {
        if (!(err instanceof UnknownJobError)) {
          throw err;
        }
        reply(res, 404, { error: err.message });
      }
      return;
    }
    reply(res, 404, { error: 'not found' });
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await new Promise<void>(resolve => server.close(() => resolve())); // no new connections
      server.closeAllConnections();
      await worker.stop({ timeoutMs: 10_000 }); // drain
      await registry.close();
    })());
  process.once(
    'SIGTERM',
    () => void stop().then(() => console.log('worker-in-http-service: stopped')),
  );
  process.once(
    'SIGINT',
    () => void stop().then(() => console.log('worker-in-http-service: stopped')),
  );

  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  console.log(`worker ${worker.instanceId} serving http://127.0.0.1:${bound} (registry ${url})`);

  if (smoke) {
    await runSmoke(worker, bound);
    await stop();
    console.log('worker-in-http-service: stopped');
  }
}

/** One request to ourselves (trigger the one-off job), then wait for the run it causes. */
async function runSmoke(worker: Worker, port: number): Promise<void> {
  const ran = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the triggered run did not happen within 5 s')),
      5_000,
    );
    worker.on('executed', e => {
      if (e.job === 'nightly-report') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const res = await fetch(`http://127.0.0.1:${port}/jobs/nightly-report/trigger`, {
    method: 'POST',
  });
  console.log(`POST /jobs/nightly-report/trigger → ${res.status} ${(await res.text()).trim()}`);
  if (res.status !== 202) {
    throw new Error(`unexpected status ${res.status}`);
  }
  await ran;
  console.log('worker-in-http-service: smoke ok');
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

main().catch(err => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
