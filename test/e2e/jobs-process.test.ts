import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJobConfig, serializeJobConfig, type JobConfig } from '../../lib/job/job-config';
import { JobPaths } from '../../lib/job/job-paths';
import { createOperations } from '../../lib/ops/operations-api';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, TreeCache } from '../../lib/registry/registry-center';
import { waitFor } from '../harness/events';
import { uniqueNamespace } from '../harness/namespace';
import {
  etcdServerBackend,
  zookeeperServerBackend,
  type ServerBackend,
} from '../harness/server-backends';
import { ms } from '../harness/timing';
import {
  awaitAssignment as awaitSettled,
  executions,
  expectedOwners,
  killTimes,
  overlappingExecutions,
  readLog,
  waitForLog,
  WorkerFleet,
  type LogLine,
} from '../harness/worker-process';

/**
 * Jobs on real worker processes (`shardline run` on the reporting fixture job) over a real ZooKeeper and a
 * real etcd: membership, graceful leave, crash, trigger, runtime configuration, corrupted configuration,
 * and — checked in every test from the processes' own start/end log — no item ever running on two
 * processes at once. Workers use a 2 s session timeout / 2 s lease TTL; every deadline derives from it.
 */

/** ZooKeeper session timeout and etcd lease TTL of every worker (etcd's minimum TTL is 2 s). */
const SESSION_MS = 2000;
/** Resharding after a join/leave/config change: the leader reacts on a watch. */
const SETTLE_MS = ms(5000);
/**
 * Crash → reassignment: the registry drops the session within SESSION_MS of the last keep-alive (ZooKeeper
 * checks expiry on its 500 ms tick, etcd on its lease checker), then the leader reshards.
 */
const CRASH_SLACK_MS = ms(2500);
/** A running every-second cron job has run an item within this long (a fire, plus process scheduling). */
const RUN_MS = ms(5000);

interface Backend {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  url(namespace: string): string;
}

/** The shared server backend, with this file's session timeout in its URLs. */
function withSession(backend: ServerBackend): Backend {
  return { ...backend, url: ns => backend.url(ns, SESSION_MS) };
}

function must<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new Error('expected a value');
  }
  return value;
}

function describeProcessScenarios(backend: Backend): void {
  describe(`jobs on worker processes over ${backend.name}`, function () {
    this.timeout(ms(60_000));

    let observer: CoordinatorRegistryCenter | undefined;
    let fleet: WorkerFleet | undefined;
    let dir: string | undefined;

    before(async function () {
      this.timeout(ms(40_000));
      await backend.start();
    });

    after(async () => {
      await backend.stop();
    });

    afterEach(async function () {
      await fleet?.killAll();
      if (this.currentTest?.state === 'failed' && fleet !== undefined) {
        for (const w of fleet.workers) {
          console.log(w.describe(25));
        }
      }
      fleet = undefined;
      await observer?.close();
      observer = undefined;
      if (dir !== undefined) {
        rmSync(dir, { recursive: true, force: true });
        dir = undefined;
      }
    });

    /** A fresh namespace, an observer client caching `/{job}`, and a fleet of workers for the job. */
    async function setUp(
      job: string,
      env: Record<string, string>,
    ): Promise<{
      fleet: WorkerFleet;
      registry: CoordinatorRegistryCenter;
      cache: TreeCache;
      paths: JobPaths;
      logFile: string;
    }> {
      const url = backend.url(uniqueNamespace('e2e'));
      const registry = createRegistryCenter(url);
      observer = registry;
      await registry.init();
      const paths = new JobPaths(job);
      await registry.addCacheData(paths.root);
      const cache = must(registry.getRawCache(paths.root));
      dir = mkdtempSync(join(tmpdir(), 'shardline-e2e-'));
      const logFile = join(dir, 'executions.jsonl');
      fleet = new WorkerFleet({
        registryUrl: url,
        job,
        cache,
        logFile,
        env: { FIXTURE_JOB: job, ...env },
      });
      return { fleet, registry, cache, paths, logFile };
    }

    function awaitAssignment(
      cache: TreeCache,
      paths: JobPaths,
      instances: readonly string[],
      count: number,
      timeoutMs = SETTLE_MS,
    ): Promise<number> {
      return awaitSettled(cache, paths, instances, count, timeoutMs);
    }

    /** Resolves once, for every item, `owner(item)` has run it to its end, starting after `since`. */
    function awaitRuns(
      logFile: string,
      items: readonly number[],
      owner: (item: number) => string,
      since: number,
      what: string,
      timeoutMs = RUN_MS,
    ): Promise<LogLine[]> {
      return waitForLog(
        logFile,
        lines =>
          items.every(item =>
            lines.some(
              l =>
                l.event === 'end' &&
                l.item === item &&
                l.instanceId === owner(item) &&
                l.t > since &&
                lines.some(
                  s => s.event === 'start' && s.pid === l.pid && s.item === item && s.t >= since,
                ),
            ),
          ),
        timeoutMs,
        what,
      );
    }

    /** From the processes' own log: no item ran on two processes at the same time. */
    function expectNoOverlap(logFile: string, f: WorkerFleet): void {
      const all = executions(readLog(logFile), killTimes(f.workers));
      expect(all.length, 'executions in the log').to.be.greaterThan(0);
      expect(overlappingExecutions(all)).to.deep.equal([]);
    }

    async function writeConfig(
      registry: CoordinatorRegistryCenter,
      paths: JobPaths,
      change: Partial<JobConfig>,
    ): Promise<void> {
      const raw = await registry.getDirectly(paths.config);
      const stored = parseJobConfig(paths.config, must(raw ?? undefined));
      await registry.update(paths.config, serializeJobConfig({ ...stored, ...change }));
    }

    const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

    it('(a, b, g) three processes share the items, a fourth rebalances them, a graceful leave hands its items over', async () => {
      const count = 6;
      const s = await setUp('members', {
        FIXTURE_CRON: '* * * * * *',
        FIXTURE_COUNT: String(count),
        ITEM_MS: '200',
      });
      await s.fleet.start('w1', 'w2', 'w3');
      const t1 = await awaitAssignment(s.cache, s.paths, ['w1', 'w2', 'w3'], count);
      let want = expectedOwners(['w1', 'w2', 'w3'], count);
      await awaitRuns(
        s.logFile,
        range(count),
        item => must(want[item]),
        t1,
        'every item to run on its owner',
      );

      const [w4] = await s.fleet.start('w4');
      const t2 = await awaitAssignment(s.cache, s.paths, ['w1', 'w2', 'w3', 'w4'], count);
      want = expectedOwners(['w1', 'w2', 'w3', 'w4'], count);
      expect(want.filter(o => o === 'w4').length).to.be.greaterThan(0);
      await awaitRuns(
        s.logFile,
        range(count),
        item => must(want[item]),
        t2,
        'every item to run on its new owner',
      );
      expect(must(w4).isRunning).to.equal(true);

      // (b) SIGTERM: the worker drains, leaves, and exits 0; its items move to the others.
      const leaver = must(s.fleet.workers.find(w => w.instanceId === 'w2'));
      const owned = range(count).filter(item => want[item] === 'w2');
      expect(owned.length).to.be.greaterThan(0);
      const tLeave = Date.now();
      leaver.sigterm();
      const t3 = await awaitAssignment(s.cache, s.paths, ['w1', 'w3', 'w4'], count);
      expect(s.cache.has(s.paths.instance('w2')), 'instance node of the leaver').to.equal(false);
      const code = await leaver.exited;
      expect(code, leaver.describe()).to.equal(0);
      want = expectedOwners(['w1', 'w3', 'w4'], count);
      await awaitRuns(
        s.logFile,
        owned,
        item => must(want[item]),
        t3,
        "the leaver's items to run elsewhere",
      );
      const lateStarts = readLog(s.logFile).filter(
        l => l.event === 'start' && l.instanceId === 'w2' && l.t > tLeave,
      );
      expect(lateStarts, 'starts on the leaver after SIGTERM').to.deep.equal([]);
      expectNoOverlap(s.logFile, s.fleet);
    });

    it('(c, g) SIGKILL of an idle worker: its items move once its session is gone, and run elsewhere', async () => {
      const count = 6;
      const s = await setUp('crash', {
        FIXTURE_CRON: '*/2 * * * * *',
        FIXTURE_COUNT: String(count),
        ITEM_MS: '100',
      });
      await s.fleet.start('w1', 'w2', 'w3');
      const t1 = await awaitAssignment(s.cache, s.paths, ['w1', 'w2', 'w3'], count);
      const before = expectedOwners(['w1', 'w2', 'w3'], count);
      await awaitRuns(
        s.logFile,
        range(count),
        item => must(before[item]),
        t1,
        'every item to run once',
      );
      const victim = must(s.fleet.workers.find(w => w.instanceId === 'w2'));
      const orphaned = range(count).filter(item => before[item] === 'w2');
      // Idle: every start of the victim has its end (items take 100 ms of every 2 s).
      await waitForLog(
        s.logFile,
        lines => {
          const mine = lines.filter(l => l.instanceId === 'w2');
          return (
            mine.filter(l => l.event === 'start').length ===
            mine.filter(l => l.event === 'end').length
          );
        },
        RUN_MS,
        'the victim to be idle',
      );
      victim.sigkill();
      const killedAt = must(victim.killedAt);
      const reassignedAt = await awaitAssignment(
        s.cache,
        s.paths,
        ['w1', 'w3'],
        count,
        SESSION_MS + CRASH_SLACK_MS,
      );
      const elapsed = reassignedAt - killedAt;
      // Not before the registry could have dropped the session (keep-alives go out every third of it)…
      expect(elapsed, 'ms from SIGKILL to reassignment').to.be.at.least(SESSION_MS / 2);
      // …and within the session timeout plus a bounded delay (the crash guarantee).
      expect(elapsed, 'ms from SIGKILL to reassignment').to.be.at.most(SESSION_MS + CRASH_SLACK_MS);
      expect(s.cache.has(s.paths.instance('w2'))).to.equal(false);
      const after = expectedOwners(['w1', 'w3'], count);
      await awaitRuns(
        s.logFile,
        orphaned,
        item => must(after[item]),
        reassignedAt,
        "the victim's items to run elsewhere",
      );
      expect(await victim.exited).to.equal(null);
      expectNoOverlap(s.logFile, s.fleet);
    });

    it('(d) a trigger runs a one-off job once on every instance', async () => {
      const count = 4;
      const s = await setUp('oneoff', {
        FIXTURE_CRON: '',
        FIXTURE_COUNT: String(count),
        ITEM_MS: '100',
      });
      await s.fleet.start('w1', 'w2', 'w3');
      await awaitAssignment(s.cache, s.paths, ['w1', 'w2', 'w3'], count);
      expect(readLog(s.logFile), 'runs before any trigger').to.deep.equal([]);
      const result = await createOperations(s.registry).trigger('oneoff');
      expect(result.instances).to.deep.equal(['w1', 'w2', 'w3']);
      const lines = await waitForLog(
        s.logFile,
        ls => ls.filter(l => l.event === 'end').length >= count,
        RUN_MS,
        'one run of every item',
      );
      await s.cache.waitFor(c => c.children(s.paths.triggers).length === 0, {
        timeoutMs: SETTLE_MS,
      });
      const want = expectedOwners(['w1', 'w2', 'w3'], count);
      const starts = lines.filter(l => l.event === 'start');
      expect(starts.map(l => [l.item, l.instanceId]).sort()).to.deep.equal(
        range(count).map(item => [item, want[item]]),
      );
      expect(new Set(starts.map(l => l.instanceId))).to.deep.equal(new Set(['w1', 'w2', 'w3']));
      expectNoOverlap(s.logFile, s.fleet);
    });

    it('(e) count 3 → 5 → 2 and a cron change in the registry are followed by every process without restart', async () => {
      const s = await setUp('reconfig', {
        FIXTURE_CRON: '0 0 0 1 1 *', // once a year: nothing runs until the cron changes
        FIXTURE_COUNT: '3',
        ITEM_MS: '100',
      });
      const workers = await s.fleet.start('w1', 'w2');
      const ids = ['w1', 'w2'];
      await awaitAssignment(s.cache, s.paths, ids, 3);

      await writeConfig(s.registry, s.paths, { shardingTotalCount: 5 });
      await awaitAssignment(s.cache, s.paths, ids, 5);
      expect(readLog(s.logFile), 'runs before the cron change').to.deep.equal([]);

      const tCron = Date.now();
      await writeConfig(s.registry, s.paths, { cron: '* * * * * *' });
      const five = expectedOwners(ids, 5);
      await awaitRuns(
        s.logFile,
        range(5),
        item => must(five[item]),
        tCron,
        'the new cron to run all 5 items',
      );

      await writeConfig(s.registry, s.paths, { shardingTotalCount: 2 });
      const t2 = await awaitAssignment(s.cache, s.paths, ids, 2);
      const two = expectedOwners(ids, 2);
      // A whole fire later, both processes run their one item each and nobody runs items 2..4.
      const settleEdge = t2 + ms(1000);
      await awaitRuns(
        s.logFile,
        [0, 1],
        item => must(two[item]),
        settleEdge,
        'items 0 and 1 after the shrink',
      );
      const stale = readLog(s.logFile).filter(
        l => l.event === 'start' && l.item >= 2 && l.t > settleEdge,
      );
      expect(stale, 'starts of removed items').to.deep.equal([]);
      expect(workers.every(w => w.isRunning)).to.equal(true);
      expectNoOverlap(s.logFile, s.fleet);
    });

    it('(f) a corrupted config is reported with its path; workers keep executing with the last good one', async () => {
      const count = 4;
      const s = await setUp('corrupt', {
        FIXTURE_CRON: '* * * * * *',
        FIXTURE_COUNT: String(count),
        ITEM_MS: '100',
      });
      const workers = await s.fleet.start('w1', 'w2');
      const t1 = await awaitAssignment(s.cache, s.paths, ['w1', 'w2'], count);
      const want = expectedOwners(['w1', 'w2'], count);
      await awaitRuns(s.logFile, range(count), item => must(want[item]), t1, 'every item to run');

      const good = parseJobConfig(
        s.paths.config,
        must((await s.registry.getDirectly(s.paths.config)) ?? undefined),
      );
      await s.registry.update(s.paths.config, '{"schemaVersion": 1, "name": "corrupt", oops');
      const tBad = Date.now();
      const message = `unreadable data at ${s.paths.config}`;
      for (const w of workers) {
        // The worker's stderr is another process's output: no event to await, so a short poll.
        await waitFor(
          () => w.stderr().includes(message),
          SETTLE_MS,
          `${w.instanceId} to report "${message}"`,
        );
      }
      // Still executing every item, with the last good configuration (4 items, same owners).
      await awaitRuns(
        s.logFile,
        range(count),
        item => must(want[item]),
        tBad + ms(1000),
        'runs after the corruption',
      );
      expect(workers.every(w => w.isRunning)).to.equal(true);

      // A good value again is adopted at once (and this one changes the count, so it shows).
      await s.registry.update(
        s.paths.config,
        serializeJobConfig({ ...good, shardingTotalCount: 2 }),
      );
      await awaitAssignment(s.cache, s.paths, ['w1', 'w2'], 2);
      expectNoOverlap(s.logFile, s.fleet);
    });
  });
}

describeProcessScenarios(withSession(zookeeperServerBackend()));
describeProcessScenarios(withSession(etcdServerBackend()));
