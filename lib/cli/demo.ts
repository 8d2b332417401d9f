import { randomUUID } from 'node:crypto';
import { defineJob } from '../job/define-job';
import { JobPaths } from '../job/job-paths';
import { startWorker, type Worker } from '../job/worker';
import { startConsoleServer, type ConsoleServer } from '../console/console-server';
import { createMemoryHistory } from '../history/memory-history';
import { createRegistryCenter } from '../registry/create-registry-center';
import type { CoordinatorRegistryCenter, TreeCache } from '../registry/registry-center';

/** Where the demo writes its lines; the CLI passes stdout. */
export type Print = (line: string) => void;

const JOB = 'order-sync';
const COUNT = 6;
const PARAMETERS = '0=Beijing,1=Shanghai,2=Guangzhou,3=Shenzhen,4=Hangzhou,5=Chengdu';
const SETTLE_MS = 10_000;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Serve the web console on the embedded registry while the demo runs (the CLI does; default off). */
  console?: {
    /** Default 8899; 0 picks a free port. */
    port?: number;
    /** After the scenario, keep the workers and the console running until this resolves (Ctrl-C). */
    keepOpenUntil?: Promise<void>;
  };
}

/**
 * The quickstart on the embedded registry: three workers in one process share a sharded job; the
 * assignment table is printed, each worker runs its items, then one worker stops abruptly (its registry
 * session ends, as when a process crashes), the leader moves its items, and the rebalanced table is shown.
 * With `console`, the web console serves the same registry meanwhile and its URL is printed first.
 * Everything is stopped at the end; the process exits 0.
 */
export async function runDemo(print: Print, options: DemoOptions = {}): Promise<void> {
  const url = `memory://shardline-demo-${randomUUID().slice(0, 8)}`;
  const paths = new JobPaths(JOB);
  const job = defineJob({
    name: JOB,
    cron: '* * * * * *',
    shardingTotalCount: COUNT,
    shardingItemParameters: PARAMETERS,
    execute: ctx => {
      print(`  ${ctx.instanceId} ran item ${ctx.shardingItem} (${ctx.shardingParameter})`);
    },
  });
  const registries: CoordinatorRegistryCenter[] = [];
  const workers: Worker[] = [];
  const connect = async (): Promise<CoordinatorRegistryCenter> => {
    const registry = createRegistryCenter(url);
    registries.push(registry);
    await registry.init();
    return registry;
  };
  let consoleServer: ConsoleServer | undefined;
  // One ring for the three in-process workers, which the console reads: its History view shows every run.
  const history = createMemoryHistory();
  try {
    const observer = await connect();
    if (options.console !== undefined) {
      consoleServer = await startConsoleServer({
        registry: await connect(),
        history,
        port: options.console.port ?? 8899,
      });
      print(`Web console: ${consoleServer.url}`);
    }
    await observer.persist(paths.root, '');
    await observer.addCacheData(paths.root);
    const cache = observer.getRawCache(paths.root)!;

    print(`Embedded registry ${url}: job ${JOB}, ${COUNT} items, every second`);
    const names = ['worker-a', 'worker-b', 'worker-c'];
    const workerRegistries = new Map<string, CoordinatorRegistryCenter>();
    for (const instanceId of names) {
      const registry = await connect();
      workerRegistries.set(instanceId, registry);
      const worker = await startWorker({
        registry,
        jobs: [job],
        instanceId,
        history,
      });
      worker.on('error', () => undefined); // worker-b's abrupt end makes its own calls fail: expected here
      workers.push(worker);
    }
    await settled(cache, paths, names);
    printTable(print, cache, paths);
    await new Promise(resolve => setTimeout(resolve, 1200));

    print('worker-b stops abruptly (its registry session ends, as in a crash):');
    const crashed = workerRegistries.get('worker-b')!;
    await crashed.close();
    await settled(cache, paths, ['worker-a', 'worker-c']);
    print("The leader moved worker-b's items:");
    printTable(print, cache, paths);
    await new Promise(resolve => setTimeout(resolve, 1200));
    if (consoleServer !== undefined && options.console?.keepOpenUntil !== undefined) {
      print(`The workers and the console keep running at ${consoleServer.url} (Ctrl-C to stop)`);
      await options.console.keepOpenUntil;
    }
  } finally {
    await consoleServer?.close();
    await Promise.all(workers.map(w => w.stop({ timeoutMs: 2000 })));
    await Promise.all(registries.map(r => r.close()));
  }
  print('Done.');
}

async function settled(cache: TreeCache, paths: JobPaths, owners: string[]): Promise<void> {
  await cache.waitFor(
    c =>
      !c.has(paths.shardingNecessary) &&
      Array.from({ length: COUNT }, (_, item) => c.get(paths.itemInstance(item))).every(
        o => o !== null && owners.includes(o),
      ) &&
      owners.every(o => c.has(paths.instance(o))),
    { timeoutMs: SETTLE_MS },
  );
}

function printTable(print: Print, cache: TreeCache, paths: JobPaths): void {
  const byOwner = new Map<string, number[]>();
  for (let item = 0; item < COUNT; item++) {
    const owner = cache.get(paths.itemInstance(item)) ?? '(unassigned)';
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), item]);
  }
  print('  instance    items');
  for (const [owner, items] of [...byOwner].sort(([a], [b]) => (a < b ? -1 : 1))) {
    print(`  ${owner.padEnd(11)} ${items.join(', ')}`);
  }
}
