/**
 * Several worker processes share one sharded job through a real ZooKeeper or etcd:
 *
 *   npx tsx examples/jobs-multi-process.ts zookeeper://127.0.0.1:2181/shardline-example?sessionTimeoutMs=4000
 *   npx tsx examples/jobs-multi-process.ts etcd://127.0.0.1:2379/shardline-example?leaseTtlSeconds=3
 *   SHARDLINE_REGISTRY=zookeeper://… npx tsx examples/jobs-multi-process.ts [--workers 3]
 *
 * The parent forks N copies of this file in the `worker` role (each one process, one registry session,
 * one worker running the job), prints the assignment each time a process joins, SIGKILLs one of them,
 * prints the assignment once the registry has expired the dead session and the leader has moved its items
 * (ZooKeeper session timeout / etcd lease TTL, plus a moment), shows the fencing tokens of the moved items
 * growing, then sends SIGTERM to the survivors by PID (each drains and leaves), removes the job's nodes
 * and exits 0. The embedded `memory://` registry lives inside one process, so it cannot be used here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRegistryCenter, defineJob, startWorker, type TreeCache } from '../lib';

const JOB = 'multi-process-demo';
const ITEMS = 6;
const USAGE = [
  'usage: npx tsx examples/jobs-multi-process.ts <registry-url> [--workers N]',
  '   or: SHARDLINE_REGISTRY=<registry-url> npx tsx examples/jobs-multi-process.ts [--workers N]',
  '  e.g. zookeeper://127.0.0.1:2181/shardline-example?sessionTimeoutMs=4000',
  '       etcd://127.0.0.1:2379/shardline-example?leaseTtlSeconds=3',
].join('\n');

/** Every process defines the same job; the first one to start stores its configuration. */
const job = defineJob({
  name: JOB,
  cron: '* * * * * *',
  shardingTotalCount: ITEMS,
  shardingItemParameters: '0=a,1=b,2=c,3=d,4=e,5=f',
  overwrite: true, // re-runs of the example replace a configuration left by an older run
  async execute(ctx) {
    ctx.checkOwnership();
    await new Promise(resolve => setTimeout(resolve, 50)); // a real job would write with ctx.fencingToken
  },
});

/** Messages from a worker process to the parent (over the fork IPC channel). */
type WorkerMessage = { type: 'started' } | { type: 'executed'; item: number; fencingToken: number };

// ---------------------------------------------------------------------------------------------------
// worker role: `examples/jobs-multi-process.ts worker <instanceId> <registry-url>`

async function runWorker(instanceId: string, url: string): Promise<void> {
  const send = (message: WorkerMessage): void => {
    process.send?.(message);
  };
  const registry = createRegistryCenter(url);
  await registry.init();
  const worker = await startWorker({ registry, jobs: [job], instanceId });
  worker.on('executed', e =>
    send({ type: 'executed', item: e.item, fencingToken: e.fencingToken }),
  );
  worker.on('error', e => console.error(`[${instanceId}] ${e.job}: ${e.error.message}`));
  send({ type: 'started' });
  // SIGTERM (sent by the parent, by PID) drains; so does the parent going away.
  await new Promise<void>(resolve => {
    process.once('SIGTERM', resolve);
    process.once('disconnect', resolve);
  });
  await worker.stop({ timeoutMs: 5_000 });
  await registry.close();
  if (process.connected) {
    process.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------
// parent role

interface Child {
  id: string;
  proc: ChildProcess;
  alive: boolean;
  exited: Promise<number | null>;
}

/** item → { instanceId, fencingToken } of its latest run, as reported by the workers. */
const lastRun = new Map<number, { id: string; fencingToken: number }>();
const runWaiters = new Set<() => void>();

/** Resolves once `predicate` holds (re-checked after every reported run); rejects after `ms`. */
function untilRuns(what: string, ms: number, predicate: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (predicate()) {
        runWaiters.delete(check);
        clearTimeout(timer);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      runWaiters.delete(check);
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    runWaiters.add(check);
    check();
  });
}

function spawnWorker(id: string, url: string): Child {
  // fork() reuses this process's execArgv, so the TypeScript loader (tsx) comes along.
  const proc = fork(__filename, ['worker', id, url], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const child: Child = {
    id,
    proc,
    alive: true,
    exited: new Promise(resolve => proc.once('exit', code => resolve(code))),
  };
  proc.on('message', (message: WorkerMessage) => {
    if (message.type === 'executed') {
      lastRun.set(message.item, { id, fencingToken: message.fencingToken });
      runWaiters.forEach(check => check());
    }
  });
  proc.once('exit', () => {
    child.alive = false;
  });
  return child;
}

/**
 * The assignment as the registry holds it (read through a tree cache):
 * `/{job}/sharding/{n}/instance` is the owner the leader wrote for item n.
 */
function owners(cache: TreeCache): Map<string, number[]> {
  const byOwner = new Map<string, number[]>();
  for (let item = 0; item < ITEMS; item++) {
    const owner = cache.get(`/${JOB}/sharding/${item}/instance`) ?? '(unassigned)';
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), item]);
  }
  return byOwner;
}

/**
 * Settled on `ids`: no resharding pending, every item owned by one of them, and the items spread evenly
 * (AVG_ALLOCATION: counts differ by at most one). The cache applies a resharding's writes as the
 * registry reports them, which on ZooKeeper can be node by node, so a half-applied view is possible for
 * a moment; the even spread tells it apart from the final one.
 */
function settledOn(cache: TreeCache, ids: string[]): boolean {
  const byOwner = owners(cache);
  const counts = ids.map(id => byOwner.get(id)?.length ?? 0);
  return (
    !cache.has(`/${JOB}/leader/sharding/necessary`) &&
    [...byOwner.keys()].every(id => ids.includes(id)) &&
    ids.every(id => cache.has(`/${JOB}/instances/${id}`)) &&
    Math.max(...counts) - Math.min(...counts) <= 1
  );
}

function printAssignment(cache: TreeCache, children: Child[]): void {
  for (const [id, items] of [...owners(cache)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const pid = children.find(c => c.id === id)?.proc.pid;
    console.log(`  ${id.padEnd(10)} pid ${String(pid).padEnd(8)} items ${items.join(', ')}`);
  }
}

async function runParent(url: string, workers: number): Promise<void> {
  const registry = createRegistryCenter(url); // fails fast on a malformed URL or an unreachable server
  await registry.init();
  const children: Child[] = [];
  const watchdog = setTimeout(() => {
    console.error('jobs-multi-process: giving up after 120 s');
    children.forEach(c => c.alive && c.proc.kill('SIGKILL'));
    process.exit(1);
  }, 120_000);
  try {
    await registry.remove(`/${JOB}`); // start from a clean slate (an older run may have left the job)
    await registry.persist(`/${JOB}`, '');
    await registry.addCacheData(`/${JOB}`);
    const cache = registry.getRawCache(`/${JOB}`)!;
    const live = (): string[] => children.filter(c => c.alive).map(c => c.id);

    console.log(
      `registry ${url}: job ${JOB}, ${ITEMS} items, every second, ${workers} worker processes`,
    );
    for (let n = 1; n <= workers; n++) {
      const child = spawnWorker(`worker-${n}`, url);
      children.push(child);
      await cache.waitFor(c => settledOn(c, live()) && owners(c).has(child.id), {
        timeoutMs: 30_000,
      });
      console.log(`after ${child.id} joined:`);
      printAssignment(cache, children);
    }
    // Let every item run once under the final assignment, to compare fencing tokens afterwards.
    await untilRuns('every item to run on its owner', 15_000, () =>
      Array.from({ length: ITEMS }, (_, i) => i).every(
        i => lastRun.get(i)?.id === cache.get(`/${JOB}/sharding/${i}/instance`),
      ),
    );
    const before = new Map(lastRun);
    const victim = children[Math.floor(children.length / 2)]!;
    const moved = owners(cache).get(victim.id) ?? [];
    console.log(`SIGKILL ${victim.id} (pid ${victim.proc.pid}): it cannot leave cleanly`);
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await victim.exited;
    // The dead worker's session/lease expires at the registry; then the leader moves its items.
    await cache.waitFor(c => settledOn(c, live()), { timeoutMs: 60_000 });
    console.log(`rebalanced ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill:`);
    printAssignment(cache, children);
    await untilRuns('the moved items to run on their new owners', 15_000, () =>
      moved.every(i => lastRun.get(i)?.id !== victim.id),
    );
    for (const item of moved) {
      const was = before.get(item)!;
      const now = lastRun.get(item)!;
      console.log(
        `  item ${item}: ${was.id} → ${now.id}, fencing token ${was.fencingToken} → ${now.fencingToken}`,
      );
    }
  } finally {
    clearTimeout(watchdog);
    for (const c of children.filter(c => c.alive)) {
      process.kill(c.proc.pid!, 'SIGTERM'); // by PID; the worker drains, leaves and exits
    }
    for (const c of children) {
      const code = await c.exited;
      if (c.proc.signalCode !== 'SIGKILL') {
        console.log(`${c.id} stopped (exit code ${String(code)})`);
      }
    }
    await registry.remove(`/${JOB}`).catch(() => undefined); // leave the namespace as we found it
    await registry.close();
  }
  console.log('jobs-multi-process: done');
}

// ---------------------------------------------------------------------------------------------------

function parseArgs(argv: string[]): { url: string | undefined; workers: number } {
  let url: string | undefined = process.env.SHARDLINE_REGISTRY;
  let workers = 3;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--workers') {
      workers = Number(argv[++i]);
    } else if (arg === '--help' || arg === '-h') {
      url = undefined;
      break;
    } else {
      url = arg;
    }
  }
  if (!Number.isInteger(workers) || workers < 2 || workers > ITEMS) {
    throw new Error(`--workers must be an integer from 2 to ${ITEMS}`);
  }
  return { url, workers };
}

async function main(): Promise<void> {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'worker') {
    await runWorker(rest[0]!, rest[1]!);
    return;
  }
  const { url, workers } = parseArgs(process.argv.slice(2));
  if (url === undefined || url.startsWith('memory:')) {
    console.error(
      url === undefined ? USAGE : `memory:// lives in one process; use ZooKeeper or etcd\n${USAGE}`,
    );
    process.exitCode = 2;
    return;
  }
  await runParent(url, workers);
}

main().catch(err => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
