/**
 * Scale benchmark: ONE worker with 1,000 jobs × 10 items, on the embedded registry, a real ZooKeeper and a
 * real etcd (started on loopback by the test harness), side by side in one run.
 *
 *   npm run bench:scale
 *   JOBS=200 IDLE_MS=5000 BACKENDS=memory,etcd npm run bench:scale
 *
 * Each backend runs in its own child process (this file with `--child <url>`), so RSS is that worker's
 * alone. Measured:
 * - start-up: `startWorker` resolving (configs written, caches loaded, instances registered), and
 *   settled: every job's 10 items assigned to the worker in its caches (target ≤ 10 s);
 * - RSS after settling (and the growth over the process before the worker);
 * - registry operations per second while idle for IDLE_MS (the jobs' cron never fires in the window):
 *   every call the job layer makes on the registry facade, counted by a Proxy (target zero: no polling),
 *   and, on the servers, the requests they received in the window (ZooKeeper `mntr` zk_packets_received;
 *   etcd's /metrics grpc_server_msg_received_total) — those include session pings / lease keep-alives.
 */
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineJob, type JobDefinition } from '../lib/job/define-job';
import { JobPaths } from '../lib/job/job-paths';
import { startWorker } from '../lib/job/worker';
import { createRegistryCenter } from '../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../lib/registry/registry-center';
import { EtcdServer } from '../test/harness/etcd-server';
import { uniqueNamespace } from '../test/harness/namespace';
import { spawnNode } from '../test/harness/process';
import { ZooKeeperServer } from '../test/harness/zookeeper-server';
import { fmt, table } from './stats';

const JOBS = Number(process.env.JOBS ?? 1000);
const ITEMS = 10;
const IDLE_MS = Number(process.env.IDLE_MS ?? 10_000);
const BACKENDS = (process.env.BACKENDS ?? 'memory,zookeeper,etcd').split(',');
/** Never fires during the run: the idle window measures what the worker does with nothing to do. */
const IDLE_CRON = '0 0 0 1 1 *';
const SETTLE_TIMEOUT_MS = 120_000;

/** Facade calls that are (or may be) registry requests. */
const COUNTED = new Set([
  'get',
  'getDirectly',
  'getStat',
  'isExisted',
  'persist',
  'update',
  'persistEphemeral',
  'persistSequential',
  'persistEphemeralSequential',
  'remove',
  'getChildrenKeys',
  'getNumChildren',
  'getRegistryCenterTime',
  'addCacheData',
  'evictCacheData',
  'watch',
  'executeInLeader',
  'executeInTransaction',
]);

/** The registry with every counted method call tallied in `counts` (by method name). */
function counting(
  target: CoordinatorRegistryCenter,
  counts: Map<string, number>,
): CoordinatorRegistryCenter {
  return new Proxy(target, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t) as unknown;
      if (typeof value !== 'function') {
        return value;
      }
      const fn = value as (...args: unknown[]) => unknown;
      if (typeof prop === 'string' && COUNTED.has(prop)) {
        return (...args: unknown[]) => {
          counts.set(prop, (counts.get(prop) ?? 0) + 1);
          return fn.apply(t, args);
        };
      }
      return fn.bind(t);
    },
  });
}

interface ChildResult {
  startMs: number;
  settledMs: number;
  rssMb: number;
  rssGrowthMb: number;
  heapMb: number;
  idleCalls: number;
  idleByMethod: Record<string, number>;
  startCalls: number;
  stopMs: number;
}

function jobs(): JobDefinition[] {
  return Array.from({ length: JOBS }, (_, i) =>
    defineJob({
      name: `scale-${i}`,
      cron: IDLE_CRON,
      shardingTotalCount: ITEMS,
      execute: () => undefined,
    }),
  );
}

async function child(url: string): Promise<void> {
  const print = (line: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };
  const definitions = jobs();
  const rssBefore = process.memoryUsage().rss;
  const counts = new Map<string, number>();
  const registry = counting(createRegistryCenter(url), counts);
  await registry.init();
  const t0 = performance.now();
  const worker = await startWorker({ registry, jobs: definitions, instanceId: 'scale-worker' });
  const startMs = performance.now() - t0;
  await Promise.all(
    definitions.map(job => {
      const paths = new JobPaths(job.name);
      const cache = registry.getRawCache(paths.root);
      if (cache === undefined) {
        throw new Error(`no cache for ${job.name}`);
      }
      return cache.waitFor(
        c =>
          !c.has(paths.shardingNecessary) &&
          Array.from({ length: ITEMS }, (_, item) => c.get(paths.itemInstance(item))).every(
            owner => owner === worker.instanceId,
          ),
        { timeoutMs: SETTLE_TIMEOUT_MS },
      );
    }),
  );
  const settledMs = performance.now() - t0;
  const startCalls = [...counts.values()].reduce((a, b) => a + b, 0);
  // Let stragglers (server collection after resharding, leader bookkeeping) finish before measuring idle.
  await sleep(1000);
  const mem = process.memoryUsage();
  counts.clear();
  print({ phase: 'idle-start' });
  await sleep(IDLE_MS);
  const idleByMethod = Object.fromEntries(counts);
  const idleCalls = [...counts.values()].reduce((a, b) => a + b, 0);
  print({ phase: 'idle-end' });
  const t1 = performance.now();
  await worker.stop({ timeoutMs: 0 });
  const stopMs = performance.now() - t1;
  await registry.close();
  const result: ChildResult = {
    startMs,
    settledMs,
    rssMb: mem.rss / 2 ** 20,
    rssGrowthMb: (mem.rss - rssBefore) / 2 ** 20,
    heapMb: mem.heapUsed / 2 ** 20,
    idleCalls,
    idleByMethod,
    startCalls,
    stopMs,
  };
  print({ phase: 'result', result });
}

/** Server-side request counter, read at the start and the end of the idle window. */
type ServerCounter = () => Promise<number>;

function zookeeperCounter(server: ZooKeeperServer): ServerCounter {
  return async () => {
    const mntr = await server.command('mntr');
    const match = /zk_packets_received\s+(\d+)/.exec(mntr);
    return match?.[1] === undefined ? NaN : Number(match[1]);
  };
}

function etcdCounter(server: EtcdServer): ServerCounter {
  return () =>
    new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port: server.clientPort, path: '/metrics' }, res => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          let total = 0;
          for (const line of body.split('\n')) {
            if (line.startsWith('grpc_server_msg_received_total{')) {
              total += Number(line.slice(line.lastIndexOf(' ') + 1));
            }
          }
          resolve(total);
        });
      }).on('error', reject);
    });
}

async function runBackend(
  url: string,
  counter: ServerCounter | undefined,
): Promise<{ result: ChildResult; serverPerSec: number }> {
  const proc = spawnNode(__filename, ['--child', url], {
    JOBS: String(JOBS),
    IDLE_MS: String(IDLE_MS),
  });
  const deadline = SETTLE_TIMEOUT_MS + IDLE_MS + 60_000;
  let serverStart = NaN;
  let serverPerSec = NaN;
  for (;;) {
    let line: string;
    try {
      line = await proc.lines.take(deadline, 'the scale child to report');
    } catch (err) {
      proc.kill('SIGKILL');
      throw new Error(`${String(err)}\n${proc.stderr()}`, { cause: err });
    }
    if (!line.startsWith('{')) {
      continue;
    }
    const msg = JSON.parse(line) as { phase: string; result?: ChildResult };
    if (msg.phase === 'idle-start' && counter !== undefined) {
      serverStart = await counter();
    } else if (msg.phase === 'idle-end' && counter !== undefined) {
      serverPerSec = ((await counter()) - serverStart) / (IDLE_MS / 1000);
    } else if (msg.phase === 'result' && msg.result !== undefined) {
      const code = await proc.exited;
      if (code !== 0) {
        throw new Error(`the scale child exited with ${String(code)}\n${proc.stderr()}`);
      }
      return { result: msg.result, serverPerSec };
    }
  }
}

async function main(): Promise<void> {
  const childIndex = process.argv.indexOf('--child');
  const childUrl = process.argv[childIndex + 1];
  if (childIndex >= 0 && childUrl !== undefined) {
    await child(childUrl);
    return;
  }
  const rows: string[][] = [
    [
      'backend',
      'startWorker',
      'all items assigned',
      'RSS',
      'RSS growth',
      'heap',
      'calls at start',
      'facade calls/s idle',
      'server msgs/s idle',
      'stop',
    ],
  ];
  const details: string[] = [];
  for (const name of BACKENDS) {
    let url: string;
    let counter: ServerCounter | undefined;
    let stop: () => Promise<void> = () => Promise.resolve();
    if (name === 'memory') {
      url = `memory://${uniqueNamespace('scale')}`;
    } else if (name === 'zookeeper') {
      const server = await ZooKeeperServer.start({ tickTimeMs: 500 });
      url = `zookeeper://${server.connectString}/${uniqueNamespace('scale')}?sessionTimeoutMs=6000`;
      counter = zookeeperCounter(server);
      stop = () => server.stop();
    } else if (name === 'etcd') {
      const server = await EtcdServer.start();
      url = `etcd://${server.endpoint}/${uniqueNamespace('scale')}?leaseTtlSeconds=6`;
      counter = etcdCounter(server);
      stop = () => server.stop();
    } else {
      throw new Error(`unknown backend ${name}`);
    }
    try {
      process.stderr.write(`${name}: starting one worker with ${JOBS} jobs × ${ITEMS} items…\n`);
      const { result: r, serverPerSec } = await runBackend(url, counter);
      rows.push([
        name,
        `${fmt(r.startMs / 1000, 2)} s`,
        `${fmt(r.settledMs / 1000, 2)} s`,
        `${fmt(r.rssMb, 0)} MB`,
        `${fmt(r.rssGrowthMb, 0)} MB`,
        `${fmt(r.heapMb, 0)} MB`,
        String(r.startCalls),
        fmt(r.idleCalls / (IDLE_MS / 1000), 1),
        counter === undefined ? '-' : fmt(serverPerSec, 1),
        `${fmt(r.stopMs / 1000, 2)} s`,
      ]);
      if (r.idleCalls > 0) {
        details.push(`${name}: idle facade calls by method ${JSON.stringify(r.idleByMethod)}`);
      }
    } finally {
      await stop();
    }
  }
  console.log(
    `\nOne worker, ${JOBS} jobs × ${ITEMS} items (target: all assigned ≤ 10 s, zero polling while idle for ${IDLE_MS / 1000} s)\n`,
  );
  console.log(table(rows));
  for (const line of details) {
    console.log(line);
  }
  console.log(
    '\nserver msgs/s include session pings (ZooKeeper, session 6 s) and lease keep-alives (etcd, TTL 6 s).',
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
