import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJobConfig, serializeJobConfig, type JobConfig } from '../../lib/job/job-config';
import { JobPaths } from '../../lib/job/job-paths';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, TreeCache } from '../../lib/registry/registry-center';
import {
  describeLines,
  interleavings,
  readStepLog,
  stepRuns,
  stepsOf,
  tokenRegressions,
  type ChaosLine,
  type EndLine,
  type StepLine,
} from '../fixtures/chaos/step-log';
import { waitFor } from '../harness/events';
import type { ManagedServer } from '../harness/managed-server';
import { uniqueNamespace } from '../harness/namespace';
import {
  etcdServerBackend,
  zookeeperServerBackend,
  type ServerBackend,
} from '../harness/server-backends';
import { ms } from '../harness/timing';
import {
  awaitAssignment,
  expectedOwners,
  STEPPING_JOB_MODULE,
  WorkerFleet,
  type WorkerProcess,
} from '../harness/worker-process';

/**
 * Jobs under failure on real `shardline run` worker processes over a real ZooKeeper and
 * a real etcd: SIGKILL mid-item with failover, SIGKILL of the failover executor, a dead owner whose items
 * had completed, a whole fleet killed mid-item, the leader killed mid-resharding, a SIGSTOP beyond the
 * session timeout, and the registry server itself restarted.
 *
 * The workers run test/fixtures/chaos/stepping-job.ts: items run in steps, each step guarded by
 * ctx.checkOwnership() and appended to a log file. Every test ends by checking, from that log, that no
 * item's steps from two processes ever interleaved and that fencing tokens grew at every change of hands.
 *
 * Waiting on the log is the one poll here (harness waitFor, 50 ms): it is a file written by other
 * processes, with no event to await. Registry state is awaited on the observer's tree cache (no polling).
 * `hold()` is used only for a fault's chosen duration (the registry outage) or to give a forbidden event
 * a window to show up (proving an absence); it is never a stand-in for awaiting something.
 */

/** ZooKeeper session timeout and etcd lease TTL of every worker (etcd's minimum TTL is 2 s). */
const SESSION_MS = 2000;
/** Resharding after a join/leave/config change: the leader reacts on a watch. */
const SETTLE_MS = ms(5000);
/**
 * Crash → in-flight item running elsewhere, beyond the session timeout: the server's expiry check (ZooKeeper
 * ticks every 500 ms; etcd's lease checker), a new leader's election when the dead one led, the reap, the
 * failover claim under its latch, and the first step.
 */
const FAILOVER_SLACK_MS = ms(2500);
/** Crash → reassignment beyond the session timeout. */
const CRASH_SLACK_MS = ms(2500);
/** A fire or trigger has produced a step within this long. */
const RUN_MS = ms(5000);
/** Rare enough never to fire during a test: runs come from triggers and failover only. */
const RARE_CRON = '0 0 0 1 1 *';
/** stderr lines of each worker printed when a test fails (E2E_STDERR_LINES to see more). */
const STDERR_LINES = Number(process.env.E2E_STDERR_LINES ?? 25);
/** Log poll interval (the log is another process's file: no event to await). */
const LOG_POLL_MS = 50;

/** Failover latencies measured in this file (kill/stop → first step elsewhere), by backend. */
const latencies = new Map<string, number[]>();

interface Backend {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  server(): ManagedServer;
  url(namespace: string): string;
}

/** The shared server backend, with this file's session timeout in its URLs. */
function withSession(backend: ServerBackend): Backend {
  return { ...backend, url: ns => backend.url(ns, SESSION_MS) };
}

function must<T>(value: T | undefined | null, what = 'a value'): T {
  if (value === undefined || value === null) {
    throw new Error(`expected ${what}`);
  }
  return value;
}

/** Waits a chosen fault duration or an absence window (see the file comment); never replaces an event. */
function hold(durationMs: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, durationMs));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? must(sorted[mid])
    : (must(sorted[mid - 1]) + must(sorted[mid])) / 2;
}

function describeFailureScenarios(backend: Backend): void {
  describe(`jobs under failure on worker processes over ${backend.name}`, function () {
    this.timeout(ms(60_000));

    let observer: CoordinatorRegistryCenter | undefined;
    let fleet: WorkerFleet | undefined;
    let dir: string | undefined;
    let logFile: string | undefined;

    before(async function () {
      this.timeout(ms(40_000));
      await backend.start();
    });

    after(async () => {
      await backend.stop();
      const measured = latencies.get(backend.name) ?? [];
      if (measured.length > 0) {
        console.log(
          `    failover latency on ${backend.name} (kill/stop → first step elsewhere): ${measured.join(', ')} ms; median ${median(measured)} ms`,
        );
      }
    });

    afterEach(async function () {
      // Every worker (running, SIGSTOPped or not) is SIGCONTed and SIGKILLed by PID.
      await fleet?.killAll();
      if (this.currentTest?.state === 'failed') {
        for (const w of fleet?.workers ?? []) {
          console.log(w.describe(STDERR_LINES));
        }
        if (logFile !== undefined) {
          console.log(`--- step log tail ---\n${describeLines(readStepLog(logFile), 40)}`);
        }
      }
      fleet = undefined;
      await observer?.close();
      observer = undefined;
      if (dir !== undefined) {
        rmSync(dir, { recursive: true, force: true });
        dir = undefined;
      }
      logFile = undefined;
    });

    interface Setup {
      fleet: WorkerFleet;
      registry: CoordinatorRegistryCenter;
      cache: TreeCache;
      paths: JobPaths;
      logFile: string;
    }

    /** A fresh namespace, an observer client caching `/{job}`, and a fleet running the stepping job. */
    async function setUp(env: Record<string, string>): Promise<Setup> {
      const job = 'steps';
      const url = backend.url(uniqueNamespace('fail'));
      const registry = createRegistryCenter(url);
      observer = registry;
      await registry.init();
      const paths = new JobPaths(job);
      await registry.addCacheData(paths.root);
      const cache = must(registry.getRawCache(paths.root), 'the observer cache');
      dir = mkdtempSync(join(tmpdir(), 'shardline-fail-'));
      logFile = join(dir, 'steps.jsonl');
      fleet = new WorkerFleet({
        registryUrl: url,
        job,
        cache,
        logFile,
        module: STEPPING_JOB_MODULE,
        env: { CHAOS_JOB: job, ...env },
      });
      return { fleet, registry, cache, paths, logFile };
    }

    /** Polls the step log (another process's file) until `predicate` holds; returns the lines. */
    async function waitForLog(
      file: string,
      predicate: (lines: ChaosLine[]) => boolean,
      timeoutMs: number,
      what: string,
    ): Promise<ChaosLine[]> {
      let lines: ChaosLine[] = [];
      try {
        await waitFor(
          () => {
            lines = readStepLog(file);
            return predicate(lines);
          },
          timeoutMs,
          what,
          LOG_POLL_MS,
        );
      } catch (err) {
        throw new Error(`${String(err)}\nlast log lines:\n${describeLines(lines)}`, { cause: err });
      }
      return lines;
    }

    /** The first step matching `match`, waited for; fails naming `what`. */
    async function awaitStep(
      file: string,
      match: (s: StepLine) => boolean,
      timeoutMs: number,
      what: string,
    ): Promise<StepLine> {
      const lines = await waitForLog(file, ls => stepsOf(ls).some(match), timeoutMs, what);
      return must(stepsOf(lines).find(match), what);
    }

    /** From the step log: no interleaving, tokens growing at every change of hands. */
    function expectNoInterleaving(file: string): void {
      const runs = stepRuns(readStepLog(file));
      expect(runs.length, 'executions in the log').to.be.greaterThan(0);
      expect(interleavings(runs), 'interleaved executions').to.deep.equal([]);
      expect(tokenRegressions(runs), 'changes of hands without a higher token').to.deep.equal([]);
    }

    function recordLatency(what: string, latencyMs: number): void {
      console.log(`      ${backend.name}: ${what}: ${latencyMs} ms`);
      latencies.set(backend.name, [...(latencies.get(backend.name) ?? []), latencyMs]);
    }

    async function trigger(s: Setup, ...instanceIds: string[]): Promise<number> {
      const at = Date.now();
      for (const id of instanceIds) {
        await s.registry.persist(s.paths.trigger(id), '');
      }
      return at;
    }

    async function writeConfig(s: Setup, change: Partial<JobConfig>): Promise<void> {
      const raw = await s.registry.getDirectly(s.paths.config);
      const stored = parseJobConfig(s.paths.config, must(raw, 'the stored config'));
      await s.registry.update(s.paths.config, serializeJobConfig({ ...stored, ...change }));
    }

    function worker(s: Setup, id: string): WorkerProcess {
      return must(s.fleet.latest(id), `a worker ${id}`);
    }

    const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

    it('(1, 2) SIGKILL mid-item with failover: the item runs once elsewhere, promptly, with a higher token; SIGKILL of that failover executor hands it over again', async () => {
      const s = await setUp({
        CHAOS_CRON: RARE_CRON,
        CHAOS_COUNT: '3',
        CHAOS_STEPS: '40',
        CHAOS_STEP_MS: '100',
      });
      const ids = ['w1', 'w2', 'w3'];
      await s.fleet.start(...ids);
      await awaitAssignment(s.cache, s.paths, ids, 3, SETTLE_MS, s.registry);
      expect(expectedOwners(ids, 3)[0]).to.equal('w1');
      // Only w1 runs (item 0): w2 and w3 stay idle, so either may claim the failover.
      await trigger(s, 'w1');
      const w1 = worker(s, 'w1');
      const first = await awaitStep(
        s.logFile,
        l => l.pid === w1.pid && l.item === 0 && l.step >= 2,
        RUN_MS,
        'w1 to be 3 steps into item 0',
      );
      w1.sigkill();
      const kill1 = must(w1.killedAt);

      const bound = SESSION_MS + FAILOVER_SLACK_MS;
      const x = await awaitStep(
        s.logFile,
        l => l.item === 0 && l.pid !== w1.pid,
        bound + ms(3000),
        'item 0 to run elsewhere after the SIGKILL',
      );
      recordLatency('SIGKILL of the executor → first failover step', x.t - kill1);
      expect(x.t - kill1, 'ms from SIGKILL to the first step elsewhere').to.be.at.most(bound);
      expect(x.failover, 'a failover run').to.equal(true);
      expect(x.step, 'the failover run starts at step 0').to.equal(0);
      expect(x.token, 'fencing token of the failover run').to.be.greaterThan(first.token);

      // (2) The failover executor dies too, mid-item: the item is handed over again.
      const executor = worker(s, x.instanceId);
      await awaitStep(
        s.logFile,
        l => l.pid === executor.pid && l.item === 0 && l.step >= 2,
        RUN_MS,
        'the failover executor to be 3 steps in',
      );
      executor.sigkill();
      const kill2 = must(executor.killedAt);
      const y = await awaitStep(
        s.logFile,
        l => l.item === 0 && l.pid !== w1.pid && l.pid !== executor.pid,
        bound + ms(3000),
        'item 0 to be handed over again after the failover executor died',
      );
      recordLatency('SIGKILL of the failover executor → first step elsewhere', y.t - kill2);
      expect(y.t - kill2).to.be.at.most(bound);
      expect(y.failover).to.equal(true);
      expect(y.token).to.be.greaterThan(x.token);
      const survivor = worker(s, y.instanceId);
      expect(survivor.isRunning).to.equal(true);

      // The third run completes, and it is the only one: no further run of item 0 (nor of the idle items).
      const lines = await waitForLog(
        s.logFile,
        ls => ls.some(l => l.event === 'end' && l.pid === survivor.pid && l.item === 0),
        ms(10_000),
        'the third run to end',
      );
      const end = must(
        lines.find((l): l is EndLine => l.event === 'end' && l.pid === survivor.pid),
      );
      expect(end.outcome, JSON.stringify(end)).to.equal('done');
      await hold(SESSION_MS); // a window for a duplicate run to show up
      const runs = stepRuns(readStepLog(s.logFile));
      expect(
        runs.map(r => `${r.item}:${r.instanceId}:${r.failover}`),
        'executions: w1, then two failover runs',
      ).to.deep.equal(['0:w1:false', `0:${x.instanceId}:true`, `0:${y.instanceId}:true`]);
      await s.cache.waitFor(c => c.children(s.paths.failoverItems).length === 0, {
        timeoutMs: SETTLE_MS,
      });
      expectNoInterleaving(s.logFile);
    });

    it('(1b) after a failover run the item goes back to its owner with a still higher token', async () => {
      const s = await setUp({
        CHAOS_CRON: RARE_CRON,
        CHAOS_COUNT: '3',
        CHAOS_STEPS: '60',
        CHAOS_STEP_MS: '100',
      });
      const ids = ['w1', 'w2', 'w3'];
      await s.fleet.start(...ids);
      await awaitAssignment(s.cache, s.paths, ids, 3, SETTLE_MS, s.registry);
      // w1 runs item 0 and w2 item 1 (6 s each); w3 is the only idle instance, so it takes the failover.
      await trigger(s, 'w1', 'w2');
      const w1 = worker(s, 'w1');
      await awaitStep(
        s.logFile,
        l => l.pid === w1.pid && l.item === 0 && l.step >= 2,
        RUN_MS,
        'w1 to be 3 steps into item 0',
      );
      w1.sigkill();
      const failover = await awaitStep(
        s.logFile,
        l => l.item === 0 && l.pid !== w1.pid,
        SESSION_MS + FAILOVER_SLACK_MS + ms(3000),
        'the failover run of item 0',
      );
      expect(failover.instanceId, 'the idle instance took the failover').to.equal('w3');
      await awaitAssignment(s.cache, s.paths, ['w2', 'w3'], 3, SETTLE_MS, s.registry);
      const owner = must(expectedOwners(['w2', 'w3'], 3)[0]);
      expect(owner, "item 0's owner is not the failover executor").to.equal('w2');
      await waitForLog(
        s.logFile,
        ls => ls.some(l => l.event === 'end' && l.run === failover.run && l.pid === failover.pid),
        ms(10_000),
        'the failover run to end',
      );
      const fired = await trigger(s, owner);
      const back = await awaitStep(
        s.logFile,
        l => l.item === 0 && l.instanceId === owner && l.t > fired,
        ms(15_000),
        "item 0's next regular run on its owner",
      );
      expect(back.failover).to.equal(false);
      expect(back.token, "the owner's token after the failover run").to.be.greaterThan(
        failover.token,
      );
      expectNoInterleaving(s.logFile);
    });

    it('(3) an owner that completed its items and then died: nothing re-runs before the next fire', async () => {
      const s = await setUp({
        CHAOS_CRON: RARE_CRON,
        CHAOS_COUNT: '3',
        CHAOS_STEPS: '3',
        CHAOS_STEP_MS: '50',
      });
      const ids = ['w1', 'w2', 'w3'];
      await s.fleet.start(...ids);
      await awaitAssignment(s.cache, s.paths, ids, 3, SETTLE_MS, s.registry);
      await trigger(s, ...ids);
      await waitForLog(
        s.logFile,
        ls => ls.filter(l => l.event === 'end' && l.outcome === 'done').length === 3,
        RUN_MS,
        'one completed run of every item',
      );
      // Completed runs release their records (an event on the observer's cache).
      await s.cache.waitFor(c => range(3).every(i => !c.has(s.paths.itemRunning(i))), {
        timeoutMs: SETTLE_MS,
      });
      const victim = worker(s, 'w1');
      victim.sigkill();
      const killedAt = must(victim.killedAt);
      await awaitAssignment(
        s.cache,
        s.paths,
        ['w2', 'w3'],
        3,
        SESSION_MS + CRASH_SLACK_MS,
        s.registry,
      );
      await hold(SESSION_MS); // a window for a wrongful failover run to show up
      expect(s.cache.children(s.paths.failoverItems), 'queued failover items').to.deep.equal([]);
      const late = stepsOf(readStepLog(s.logFile)).filter(l => l.t >= killedAt);
      expect(
        late.map(l => `${l.item}@${l.instanceId}`),
        'runs after the crash',
      ).to.deep.equal([]);

      // The next fire (a trigger here) runs every item once, on the new owners.
      const fired = await trigger(s, 'w2', 'w3');
      const want = expectedOwners(['w2', 'w3'], 3);
      const lines = await waitForLog(
        s.logFile,
        ls => ls.filter(l => l.event === 'end' && l.t > fired).length === 3,
        RUN_MS,
        'the next fire to run every item',
      );
      const after = stepRuns(lines).filter(r => r.first > fired);
      expect(after.map(r => [r.item, r.instanceId]).sort()).to.deep.equal(
        range(3).map(i => [i, want[i]]),
      );
      expectNoInterleaving(s.logFile);
    });

    it('(4) every worker killed mid-item, then two restarted: the dead records are reaped and the job runs again', async () => {
      // failover off: the only way the items can run again is that their dead records are reaped.
      const count = 4;
      const s = await setUp({
        CHAOS_CRON: '* * * * * *',
        CHAOS_COUNT: String(count),
        CHAOS_STEPS: '30',
        CHAOS_STEP_MS: '100',
        CHAOS_FAILOVER: '0',
      });
      const ids = ['w1', 'w2'];
      const first = await s.fleet.start(...ids);
      await awaitAssignment(s.cache, s.paths, ids, count, SETTLE_MS, s.registry);
      await waitForLog(
        s.logFile,
        ls => range(count).every(i => stepsOf(ls).some(l => l.item === i && l.step >= 1)),
        RUN_MS,
        'every item to be running',
      );
      for (const w of first) {
        w.sigkill();
      }
      const killedAt = Date.now();
      const oldPids = new Set(first.map(w => w.pid));
      await Promise.all(first.map(w => w.exited));
      // The evidence of what was in flight: persistent running records whose writers are dead.
      expect(
        range(count).filter(i => s.cache.has(s.paths.itemRunning(i))),
        'running records left by the dead fleet',
      ).to.deep.equal(range(count));
      const maxOldToken = Math.max(...stepsOf(readStepLog(s.logFile)).map(l => l.token));

      // Restarted at once, under the same ids: their old sessions may still be alive for a while.
      await Promise.all(ids.map(id => s.fleet.restart(id)));
      const restartedAt = Date.now();
      await awaitAssignment(
        s.cache,
        s.paths,
        ids,
        count,
        SESSION_MS + CRASH_SLACK_MS + SETTLE_MS,
        s.registry,
      );
      const lines = await waitForLog(
        s.logFile,
        ls =>
          range(count).every(i =>
            stepsOf(ls).some(l => l.item === i && !oldPids.has(l.pid) && l.t > killedAt),
          ),
        SESSION_MS + CRASH_SLACK_MS + RUN_MS,
        'every item to run again on the restarted workers',
      );
      const resumed = stepsOf(lines).filter(l => !oldPids.has(l.pid));
      console.log(
        `      ${backend.name}: restart → every item running again: ${
          Math.max(...range(count).map(i => must(resumed.find(l => l.item === i)).t)) - restartedAt
        } ms`,
      );
      expect(Math.min(...resumed.map(l => l.token)), 'tokens after the restart').to.be.greaterThan(
        maxOldToken,
      );
      expectNoInterleaving(s.logFile);
    });

    it('(5) the leader killed mid-resharding: a new leader completes it and every item is assigned', async () => {
      const s = await setUp({
        CHAOS_CRON: RARE_CRON,
        CHAOS_COUNT: '3',
        CHAOS_STEPS: '1',
        CHAOS_STEP_MS: '10',
      });
      const ids = ['w1', 'w2', 'w3'];
      await s.fleet.start(...ids);
      await awaitAssignment(s.cache, s.paths, ids, 3, SETTLE_MS, s.registry);
      const leaderId = must(s.cache.get(s.paths.electionInstance), 'a leader');
      const leader = worker(s, leaderId);
      // Hundreds of new items: the leader writes them in several fenced transactions under
      // leader/sharding/processing; it dies once the observer sees that node.
      const count = 300;
      await writeConfig(s, { shardingTotalCount: count });
      await s.cache.waitFor(c => c.has(s.paths.shardingProcessing), { timeoutMs: SETTLE_MS });
      leader.sigkill();
      const partial = range(count).filter(i => s.cache.has(s.paths.itemInstance(i))).length;
      console.log(
        `      ${backend.name}: leader ${leaderId} killed mid-resharding with ${partial}/${count} items assigned`,
      );
      const survivors = ids.filter(id => id !== leaderId);
      const killedAt = must(leader.killedAt);
      const settledAt = await awaitAssignment(
        s.cache,
        s.paths,
        survivors,
        count,
        SESSION_MS + CRASH_SLACK_MS + SETTLE_MS,
        s.registry,
      );
      console.log(
        `      ${backend.name}: leader kill → resharding completed: ${settledAt - killedAt} ms`,
      );
      expect(s.cache.has(s.paths.shardingProcessing)).to.equal(false);
      // Nobody waits forever: a fire now runs every item on the new owners.
      const fired = await trigger(s, ...survivors);
      const want = expectedOwners(survivors, count);
      const lines = await waitForLog(
        s.logFile,
        ls =>
          new Set(
            stepsOf(ls)
              .filter(l => l.t > fired)
              .map(l => l.item),
          ).size === count,
        RUN_MS,
        `all ${count} items to run`,
      );
      const wrong = stepsOf(lines).filter(l => l.t > fired && l.instanceId !== want[l.item]);
      expect(
        wrong.map(l => `${l.item}@${l.instanceId}`),
        'items run by a non-owner',
      ).to.deep.equal([]);
      expectNoInterleaving(s.logFile);
    });

    it('(6) SIGSTOP beyond the session timeout: the item runs elsewhere; after SIGCONT the paused worker writes nothing, rejoins and runs again', async () => {
      const s = await setUp({
        CHAOS_CRON: RARE_CRON,
        CHAOS_COUNT: '2',
        CHAOS_STEPS: '40',
        CHAOS_STEP_MS: '100',
      });
      const ids = ['w1', 'w2'];
      await s.fleet.start(...ids);
      await awaitAssignment(s.cache, s.paths, ids, 2, SETTLE_MS, s.registry);
      await trigger(s, 'w1');
      const w1 = worker(s, 'w1');
      const before = await awaitStep(
        s.logFile,
        l => l.pid === w1.pid && l.item === 0 && l.step >= 2,
        RUN_MS,
        'w1 to be 3 steps into item 0',
      );
      w1.sigstop();
      const stoppedAt = must(w1.stoppedAt);
      const bound = SESSION_MS + FAILOVER_SLACK_MS;
      const other = await awaitStep(
        s.logFile,
        l => l.item === 0 && l.pid !== w1.pid,
        bound + ms(3000),
        'item 0 to run elsewhere while w1 is stopped',
      );
      recordLatency('SIGSTOP of the executor → first step elsewhere', other.t - stoppedAt);
      expect(other.t - stoppedAt).to.be.at.most(bound);
      expect(other.token).to.be.greaterThan(before.token);
      expect(s.cache.has(s.paths.instance('w1')), "w1's instance node while stopped").to.equal(
        false,
      );

      w1.sigcont();
      const resumedAt = Date.now();
      // It rejoins by itself: its instance node comes back (same process).
      await s.fleet.awaitLife(w1, ms(10_000));
      const lines = await waitForLog(
        s.logFile,
        ls => ls.some(l => l.event === 'end' && l.run === before.run && l.pid === w1.pid),
        ms(5000),
        "the paused run's end",
      );
      const pausedRun = stepsOf(lines).filter(l => l.pid === w1.pid && l.run === before.run);
      const lastPaused = Math.max(...pausedRun.map(l => l.t));
      console.log(
        `      ${backend.name}: w1 stopped at +0, other first step at +${other.t - stoppedAt}, resumed at +${resumedAt - stoppedAt}, w1's last step at ${lastPaused - stoppedAt}`,
      );
      // No step by the paused worker after the moment it lost the item (nor after it resumed).
      expect(lastPaused, "w1's last step vs the other instance's first").to.be.lessThan(other.t);
      expect(lastPaused, "w1's last step vs its SIGSTOP").to.be.at.most(stoppedAt);
      const end = must(lines.find((l): l is EndLine => l.event === 'end' && l.run === before.run));
      expect(['lost', 'aborted'], JSON.stringify(end)).to.include(end.outcome);

      // Later it runs again, once the failover run is over (a trigger is the next fire).
      await waitForLog(
        s.logFile,
        ls => ls.some(l => l.event === 'end' && l.run === other.run && l.pid === other.pid),
        ms(10_000),
        'the failover run to end',
      );
      await awaitAssignment(s.cache, s.paths, ids, 2, SETTLE_MS, s.registry);
      const fired = await trigger(s, 'w1');
      const again = await awaitStep(
        s.logFile,
        l => l.pid === w1.pid && l.t > fired,
        RUN_MS,
        'w1 to run again',
      );
      expect(again.token).to.be.greaterThan(other.token);
      expectNoInterleaving(s.logFile);
    });

    it('(7) the registry server stopped and restarted: every worker runs again, and nothing steps while cut off', async () => {
      const count = 2;
      const s = await setUp({
        CHAOS_CRON: '* * * * * *',
        CHAOS_COUNT: String(count),
        CHAOS_STEPS: '3',
        CHAOS_STEP_MS: '100',
      });
      const ids = ['w1', 'w2'];
      const workers = await s.fleet.start(...ids);
      const settled = await awaitAssignment(s.cache, s.paths, ids, count, SETTLE_MS, s.registry);
      await waitForLog(
        s.logFile,
        ls => range(count).every(i => stepsOf(ls).some(l => l.item === i && l.t > settled)),
        RUN_MS,
        'every item to run',
      );
      const server = backend.server();
      const downAt = Date.now();
      await server.kill();
      await hold(SESSION_MS + ms(1000)); // the outage: longer than the session timeout
      await server.restart();
      const upAt = Date.now();
      const lines = await waitForLog(
        s.logFile,
        ls =>
          workers.every(w => stepsOf(ls).some(l => l.pid === w.pid && l.t > upAt)) &&
          range(count).every(i => stepsOf(ls).some(l => l.item === i && l.t > upAt)),
        ms(20_000),
        'every worker to run again after the restart',
      );
      const back = Math.max(
        ...workers.map(w => must(stepsOf(lines).find(l => l.pid === w.pid && l.t > upAt)).t),
      );
      console.log(
        `      ${backend.name}: outage ${upAt - downAt} ms; restart → every worker stepping: ${back - upAt} ms`,
      );
      expect(workers.every(w => w.isRunning)).to.equal(true);
      // Self-fencing: no step later than half the session timeout after the last possible server contact.
      const fencedFrom = downAt + SESSION_MS / 2;
      const cutOff = stepsOf(lines).filter(l => l.t > fencedFrom && l.t < upAt);
      expect(
        cutOff.map(l => `${l.item}@${l.instanceId} +${l.t - downAt}`),
        'steps while cut off',
      ).to.deep.equal([]);
      expectNoInterleaving(s.logFile);
    });
  });
}

describeFailureScenarios(withSession(zookeeperServerBackend()));
describeFailureScenarios(withSession(etcdServerBackend()));
