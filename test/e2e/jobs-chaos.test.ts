import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobPaths } from '../../lib/job/job-paths';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import {
  describeLines,
  interleavings,
  readStepLog,
  stepRuns,
  stepsOf,
  tokenRegressions,
  type EndLine,
} from '../fixtures/chaos/step-log';
import { waitFor } from '../harness/events';
import { uniqueNamespace } from '../harness/namespace';
import {
  etcdServerBackend,
  zookeeperServerBackend,
  type ServerBackend,
} from '../harness/server-backends';
import { seededRandom, seedFromEnv } from '../harness/seeded-random';
import { ms } from '../harness/timing';
import { awaitAssignment, STEPPING_JOB_MODULE, WorkerFleet } from '../harness/worker-process';

/**
 * Chaos on real worker processes over a real ZooKeeper and a real etcd: four
 * `shardline run` workers run the stepping job (5 items, a fire every second, monitorExecution and
 * failover on; every step guarded by ctx.checkOwnership()) while a seeded random schedule, for 60 s,
 * SIGKILLs and restarts workers, SIGSTOPs them beyond the session timeout, and SIGSTOPs them within it.
 * At most two workers are under a fault at a time. Then the faults stop and, from the step log:
 *
 * - no overlap: for every item, the closed intervals [first step, last step] of executions by different
 *   processes never intersect (step-log.ts `interleavings`), and fencing tokens grow at each change of
 *   hands;
 * - no starvation: every item has steps after the quiet period begins.
 *
 * The seed is printed; `CHAOS_SEED=<n>` replays a schedule (the timing of the system under test still
 * varies). Fault durations are the schedule's own (`hold`); waiting on the step log is a bounded poll of
 * another process's file (no event exists for it); registry state is awaited on the observer's cache.
 */

const SESSION_MS = 2000;
/** How long faults are injected (a duration of the experiment, not a deadline: not scaled). */
const FAULT_WINDOW_MS = 60_000;
const WORKERS = ['w1', 'w2', 'w3', 'w4'];
const COUNT = 5;
/** At most this many workers under a fault at once: the others keep the job going. */
const MAX_FAULTED = 2;
/** After the faults, every item has run again within this long (a restart, a session expiry, a fire). */
const QUIET_DEADLINE_MS = ms(20_000);
/** A rejoin after SIGCONT: the client notices its lost session and registers a new instance node. */
const REJOIN_MS = ms(15_000);
const LOG_POLL_MS = 100;

interface Backend {
  name: string;
  seed: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  url(namespace: string): string;
}

function must<T>(value: T | undefined | null, what = 'a value'): T {
  if (value === undefined || value === null) {
    throw new Error(`expected ${what}`);
  }
  return value;
}

/** A fault's chosen duration (the schedule's own): never a stand-in for awaiting an event. */
function hold(durationMs: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, durationMs));
}

type FaultKind = 'kill' | 'longPause' | 'shortPause';

interface FaultRecord {
  kind: FaultKind;
  instanceId: string;
  pid: number;
  at: number;
  /** SIGCONT / restart registered. */
  recoveredAt?: number;
}

function describeChaos(backend: Backend): void {
  describe(`chaos on worker processes over ${backend.name}`, function () {
    this.timeout(ms(60_000) + FAULT_WINDOW_MS + QUIET_DEADLINE_MS);

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
    });

    afterEach(async function () {
      await fleet?.killAll(); // SIGCONT + SIGKILL by PID, stopped or not
      if (this.currentTest?.state === 'failed') {
        for (const w of fleet?.workers ?? []) {
          console.log(w.describe(20));
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

    it(`60 s of SIGKILL/restart, long and short SIGSTOP: no item's steps interleave, none starves (seed ${backend.seed})`, async () => {
      const job = 'chaos';
      const url = backend.url(uniqueNamespace('chaos'));
      const registry = createRegistryCenter(url);
      observer = registry;
      await registry.init();
      const paths = new JobPaths(job);
      await registry.addCacheData(paths.root);
      const cache = must(registry.getRawCache(paths.root), 'the observer cache');
      dir = mkdtempSync(join(tmpdir(), 'shardline-chaos-'));
      const file = join(dir, 'steps.jsonl');
      logFile = file;
      const f = new WorkerFleet({
        registryUrl: url,
        job,
        cache,
        logFile: file,
        module: STEPPING_JOB_MODULE,
        env: {
          CHAOS_JOB: job,
          CHAOS_CRON: '* * * * * *',
          CHAOS_COUNT: String(COUNT),
          CHAOS_STEPS: '6',
          CHAOS_STEP_MS: '150',
          CHAOS_FAILOVER: '1',
        },
      });
      fleet = f;
      await f.start(...WORKERS);
      await awaitAssignment(cache, paths, WORKERS, COUNT, ms(10_000));

      const random = seededRandom(backend.seed);
      const between = (lo: number, hi: number): number => Math.round(lo + (hi - lo) * random());
      const faults: FaultRecord[] = [];
      const faulted = new Set<string>();
      const recoveries: Promise<void>[] = [];

      const inject = async (kind: FaultKind, id: string): Promise<void> => {
        const w = must(f.latest(id), `worker ${id}`);
        const record: FaultRecord = { kind, instanceId: id, pid: w.pid, at: Date.now() };
        faults.push(record);
        // Durations are drawn now, in schedule order, so a seed replays the same schedule.
        if (kind === 'kill') {
          const downMs = between(0, 2000);
          w.sigkill();
          await hold(downMs);
          await f.restart(id);
        } else if (kind === 'longPause') {
          const pauseMs = SESSION_MS + between(500, 2000);
          w.sigstop();
          await hold(pauseMs);
          w.sigcont();
          // Beyond the session timeout its session is gone: it must rejoin by itself.
          await f.awaitLife(w, REJOIN_MS);
        } else {
          const pauseMs = between(200, 1000);
          w.sigstop();
          await hold(pauseMs);
          w.sigcont();
        }
        record.recoveredAt = Date.now();
      };

      const faultStart = Date.now();
      while (Date.now() - faultStart < FAULT_WINDOW_MS) {
        await hold(between(700, 2200));
        const healthy = WORKERS.filter(id => !faulted.has(id));
        const roll = random();
        const pick = must(healthy[Math.floor(random() * healthy.length)], 'a healthy worker');
        if (faulted.size >= MAX_FAULTED) {
          continue;
        }
        const kind: FaultKind = roll < 0.4 ? 'kill' : roll < 0.7 ? 'longPause' : 'shortPause';
        faulted.add(pick);
        recoveries.push(inject(kind, pick).finally(() => faulted.delete(pick)));
      }
      const outcomes = await Promise.allSettled(recoveries);
      const faultEnd = Date.now();
      const failedRecoveries = outcomes
        .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
        .map(o => String(o.reason));
      expect(failedRecoveries, 'workers that did not come back').to.deep.equal([]);

      // Quiet period: every item runs again (bounded poll of the step log).
      const quietStart = Date.now();
      let lines = readStepLog(file);
      try {
        await waitFor(
          () => {
            lines = readStepLog(file);
            const steps = stepsOf(lines);
            return Array.from({ length: COUNT }, (_, i) => i).every(i =>
              steps.some(l => l.item === i && l.t > quietStart),
            );
          },
          QUIET_DEADLINE_MS,
          'every item to run after the faults stopped',
          LOG_POLL_MS,
        );
      } catch (err) {
        const starving = Array.from({ length: COUNT }, (_, i) => i).filter(
          i => !stepsOf(lines).some(l => l.item === i && l.t > quietStart),
        );
        throw new Error(
          `${String(err)}: starving items ${JSON.stringify(starving)}\nrunning records: ${JSON.stringify(
            starving.map(i => cache.get(paths.itemRunning(i))),
          )}, owners ${JSON.stringify(starving.map(i => cache.get(paths.itemInstance(i))))}, failover queue ${JSON.stringify(
            cache.children(paths.failoverItems),
          )}\n${describeLines(lines)}`,
          { cause: err },
        );
      }
      const recoveredIn = Math.max(
        ...Array.from(
          { length: COUNT },
          (_, i) => must(stepsOf(lines).find(l => l.item === i && l.t > quietStart)).t,
        ),
      );

      // Stop everything, then judge the whole log.
      await f.killAll();
      lines = readStepLog(file);
      const runs = stepRuns(lines);
      const overlaps = interleavings(runs);
      const regressions = tokenRegressions(runs);
      const ends = lines.filter((l): l is EndLine => l.event === 'end');
      const counts = {
        executions: runs.length,
        steps: stepsOf(lines).length,
        completed: ends.filter(e => e.outcome === 'done').length,
        failoverRuns: runs.filter(r => r.failover).length,
        fenced: ends.filter(e => e.outcome === 'lost' || e.outcome === 'aborted').length,
        kills: faults.filter(x => x.kind === 'kill').length,
        pauses: faults.filter(x => x.kind !== 'kill').length,
        longPauses: faults.filter(x => x.kind === 'longPause').length,
        shortPauses: faults.filter(x => x.kind === 'shortPause').length,
        overlaps: overlaps.length,
        tokenRegressions: regressions.length,
        faultWindowMs: faultEnd - faultStart,
        quietToAllItemsMs: recoveredIn - quietStart,
      };
      console.log(`      ${backend.name} chaos (seed ${backend.seed}): ${JSON.stringify(counts)}`);
      console.log(
        `      schedule: ${faults
          .map(x => `${x.kind}:${x.instanceId}@${Math.round((x.at - faultStart) / 100) / 10}s`)
          .join(' ')}`,
      );
      expect(overlaps, 'interleaved executions').to.deep.equal([]);
      expect(regressions, 'changes of hands without a higher token').to.deep.equal([]);
      expect(counts.faultWindowMs).to.be.at.least(FAULT_WINDOW_MS);
      expect(counts.kills, 'kills').to.be.greaterThan(0);
      expect(counts.longPauses, 'SIGSTOPs beyond the session timeout').to.be.greaterThan(0);
      expect(counts.shortPauses, 'SIGSTOPs within the session timeout').to.be.greaterThan(0);
      expect(counts.executions, 'executions').to.be.greaterThan(COUNT * 10);
    });
  });
}

/** The shared server backend, with this file's session timeout in its URLs and a seed. */
function withSeed(backend: ServerBackend, seed: number): Backend {
  return { ...backend, seed, url: ns => backend.url(ns, SESSION_MS) };
}

describeChaos(withSeed(zookeeperServerBackend(), seedFromEnv('CHAOS_SEED', 20261129)));
describeChaos(withSeed(etcdServerBackend(), seedFromEnv('CHAOS_SEED', 4242)));
