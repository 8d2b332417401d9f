// The worker chaos test of test/e2e/jobs-chaos.test.ts on a 3-node ZooKeeper ensemble and a 3-member etcd
// cluster, with server-node faults mixed in (issue 12, item 7). Four worker processes run the stepping job
// (8 items, a fire every second, 6 steps of 150 ms, every step guarded by ctx.checkOwnership(); monitorExecution
// and failover on), each through its own per-member proxies. For 60 s two seeded lanes run side by side:
//
// - workers: SIGKILL + restart, SIGSTOP beyond the session timeout, SIGSTOP within it; at most two workers
//   under a fault at once;
// - servers: one member SIGKILLed and restarted, or SIGSTOPped and resumed, one at a time (the lane waits for
//   the quorum before the next), and once the leader SIGKILLed for a short while: a quorum always holds.
//
// Then the faults stop and, from the step log: no item's steps interleave across processes, fencing tokens grow
// at every change of hands, every item runs after the quiet period begins, and the assignment settles over all
// four workers again. One `[topology chaos <kind>] …` line gives the counts.
//
// The seed is printed; `CHAOS_SEED=<n>` replays both lanes' schedules (the timing of the system under test still
// varies, and with it which workers are free to fault and which member leads). Fault durations are the schedule's
// own (`hold`); the step log is another process's file, so waiting on it is a bounded poll; registry state is
// awaited on the observer's cache. To look closer at a failure: `CHAOS_DEBUG_DIR=<dir>` keeps every worker's
// stderr and the step log there, `SHARDLINE_TEST_LOG_LEVEL=info` makes the workers say more.
import { expect } from 'chai';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobPaths } from '../../lib/job/job-paths';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, TreeCache } from '../../lib/registry/registry-center';
import { describeLines, stepRuns, stepsOf } from '../fixtures/chaos/step-log';
import { EtcdCluster } from '../harness/etcd-cluster';
import { waitFor } from '../harness/events';
import { uniqueNamespace } from '../harness/namespace';
import type { RegistryCluster } from '../harness/registry-cluster';
import { seededRandom, seedFromEnv } from '../harness/seeded-random';
import { ms } from '../harness/timing';
import { phaseReport, stepLog, TopologyFleet } from '../harness/topology-fleet';
import { awaitAssignment } from '../harness/worker-process';
import { ZooKeeperEnsemble } from '../harness/zookeeper-ensemble';

/**
 * 4 s: long enough for a client to move off a SIGKILLed or SIGSTOPped member (ZooKeeper notices a silent
 * server after 2/3 of it), short enough that a SIGSTOP beyond it fits the 60 s window several times.
 */
const SESSION_MS = 4000;
/** How long faults are injected (a duration of the experiment, not a deadline: not scaled). */
const FAULT_WINDOW_MS = 60_000;
const WORKERS = ['w1', 'w2', 'w3', 'w4'];
const COUNT = 8;
/** At most this many workers under a fault at once: the others keep the job going. */
const MAX_FAULTED_WORKERS = 2;
/** After the faults, every item has run again and the assignment has settled within this long. */
const QUIET_DEADLINE_MS = ms(20_000);
/** A rejoin after SIGCONT: the client notices its lost session and registers a new instance node. */
const REJOIN_MS = ms(20_000);
const LOG_POLL_MS = 100;

/** A fault's chosen duration (the schedule's own): never a stand-in for awaiting an event. */
function hold(durationMs: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, durationMs));
}

function must<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) {
    throw new Error(`expected ${what}`);
  }
  return value;
}

type FaultKind = 'kill' | 'longPause' | 'shortPause' | 'memberKill' | 'memberPause' | 'leaderKill';

interface FaultRecord {
  kind: FaultKind;
  /** Worker instance id or member name. */
  target: string;
  at: number;
  durationMs: number;
  /** Restart registered / SIGCONT sent / member serving again. */
  recoveredAt?: number;
}

interface Kind {
  name: 'ZooKeeper' | 'etcd';
  start(): Promise<RegistryCluster>;
  seed: number;
}

const KINDS: Kind[] = [
  {
    name: 'ZooKeeper',
    start: () => ZooKeeperEnsemble.start(),
    seed: seedFromEnv('CHAOS_SEED', 20261207),
  },
  { name: 'etcd', start: () => EtcdCluster.start(), seed: seedFromEnv('CHAOS_SEED', 7121) },
];

const ITEMS = Array.from({ length: COUNT }, (_, i) => i);

for (const kind of KINDS) {
  describe(`topology chaos: worker and server-node faults on a 3-node ${kind.name}`, function () {
    this.timeout(ms(60_000) + FAULT_WINDOW_MS + 2 * QUIET_DEADLINE_MS);
    const job = 'chaos';
    const paths = new JobPaths(job);
    let cluster: RegistryCluster | undefined;
    let observer: CoordinatorRegistryCenter | undefined;
    let cache: TreeCache;
    let fleet: TopologyFleet | undefined;
    let dir: string | undefined;
    let logFile: string;
    /** How long the cluster and the workers took to start (2 shared cores: it varies with the load). */
    let setup = '';

    before(async function () {
      this.timeout(ms(120_000));
      const t0 = Date.now();
      cluster = await kind.start();
      setup = `cluster ${Date.now() - t0} ms`;
      const namespace = uniqueNamespace('chaos');
      observer = createRegistryCenter(cluster.url(namespace, SESSION_MS));
      await observer.init();
      await observer.addCacheData(paths.root);
      cache = must(observer.getRawCache(paths.root), 'the observer cache');
      dir = mkdtempSync(join(tmpdir(), 'shardline-topology-chaos-'));
      logFile = join(dir, 'steps.jsonl');
      fleet = new TopologyFleet({
        cluster,
        namespace,
        sessionMs: SESSION_MS,
        job,
        cache,
        logFile,
        env: {
          CHAOS_JOB: job,
          CHAOS_CRON: '* * * * * *',
          CHAOS_COUNT: String(COUNT),
          CHAOS_STEPS: '6',
          CHAOS_STEP_MS: '150',
          CHAOS_FAILOVER: '1',
        },
      });
      await fleet.start(...WORKERS);
      setup += `, workers registered ${Date.now() - t0} ms`;
      await awaitAssignment(cache, paths, WORKERS, COUNT, ms(60_000), observer);
      setup += `, assigned ${Date.now() - t0} ms`;
    });

    afterEach(function () {
      if (this.currentTest?.state === 'failed') {
        for (const w of fleet?.workers ?? []) {
          console.log(w.describe(20));
        }
        console.log(`--- step log tail ---\n${describeLines(stepLog(logFile), 40)}`);
      }
      // CHAOS_DEBUG_DIR=<dir>: keep every worker's whole stderr and the whole step log there.
      const keep = process.env.CHAOS_DEBUG_DIR;
      if (keep !== undefined && keep !== '') {
        mkdirSync(keep, { recursive: true });
        for (const w of fleet?.workers ?? []) {
          writeFileSync(join(keep, `${w.instanceId}-${w.pid}.stderr`), w.child.stderr());
        }
        copyFileSync(logFile, join(keep, 'steps.jsonl'));
        console.log(`worker stderr and the step log kept in ${keep}`);
      }
    });

    after(async () => {
      await fleet?.killAll(); // SIGKILL by PID, stopped or not
      await observer?.close();
      await cluster?.stop();
      if (dir !== undefined) {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`60 s of worker SIGKILL/restart and SIGSTOPs mixed with member kills, pauses and a leader kill: no item's steps interleave, none starves (seed ${kind.seed})`, async () => {
      const c = must(cluster, 'the cluster');
      const f = must(fleet, 'the fleet');
      const faults: FaultRecord[] = [];
      const faultStart = Date.now();
      let stopLanes = false;
      const faulting = (): boolean => !stopLanes && Date.now() - faultStart < FAULT_WINDOW_MS;
      /** A fault is started only if its chosen duration ends within the window (no long tail). */
      const fits = (durationMs: number): boolean =>
        faulting() && Date.now() - faultStart + durationMs <= FAULT_WINDOW_MS;
      /** A lane that fails stops the other from starting new faults (its own in flight finish). */
      const lane = (run: () => Promise<void>): Promise<void> =>
        run().catch((err: unknown) => {
          stopLanes = true;
          throw err;
        });

      /** Workers whose restart or rejoin failed, with why: they stay out of the schedule. */
      const broken = new Map<string, string>();
      const workerLane = async (): Promise<void> => {
        const random = seededRandom(kind.seed);
        const between = (lo: number, hi: number): number => Math.round(lo + (hi - lo) * random());
        const faulted = new Set<string>();
        const recoveries: Promise<void>[] = [];
        const inject = async (record: FaultRecord): Promise<void> => {
          const w = f.worker(record.target);
          if (record.kind === 'kill') {
            w.child.kill('SIGKILL');
            await w.child.exited;
            await hold(record.durationMs);
            await f.restart(record.target);
          } else {
            w.child.kill('SIGSTOP');
            await hold(record.durationMs);
            w.child.kill('SIGCONT');
            if (record.kind === 'longPause') {
              // Beyond the session timeout its session is gone: it must rejoin by itself.
              await f.awaitRegistered(w, REJOIN_MS);
            }
          }
          record.recoveredAt = Date.now();
        };
        while (faulting()) {
          await hold(between(700, 2200));
          const healthy = WORKERS.filter(id => !faulted.has(id));
          const roll = random();
          const pick = must(healthy[Math.floor(random() * healthy.length)], 'a healthy worker');
          // Drawn now, in schedule order, so a seed replays the same durations.
          const down = between(0, 2000);
          const longPause = SESSION_MS + between(500, 2000);
          const shortPause = between(200, 1500);
          const fault: FaultKind = roll < 0.4 ? 'kill' : roll < 0.7 ? 'longPause' : 'shortPause';
          const durationMs =
            fault === 'kill' ? down : fault === 'longPause' ? longPause : shortPause;
          if (faulted.size >= MAX_FAULTED_WORKERS || !fits(durationMs)) {
            continue;
          }
          const record: FaultRecord = { kind: fault, target: pick, at: Date.now(), durationMs };
          faults.push(record);
          faulted.add(pick);
          recoveries.push(
            inject(record).then(
              () => {
                faulted.delete(pick);
              },
              (err: unknown) => {
                broken.set(pick, String(err)); // stays in `faulted`: out of the schedule
              },
            ),
          );
        }
        await Promise.all(recoveries);
      };

      const serverLane = async (): Promise<void> => {
        const random = seededRandom(kind.seed + 1);
        const between = (lo: number, hi: number): number => Math.round(lo + (hi - lo) * random());
        /** Which of the first three server faults is the leader kill. */
        const leaderKillAt = Math.floor(random() * 3);
        let started = 0;
        while (faulting()) {
          await hold(between(1500, 4000));
          const roll = random();
          const index = Math.floor(random() * c.members.length);
          const down = between(1000, 5000);
          const leaderDown = between(1000, 2500);
          const fault: FaultKind =
            started === leaderKillAt ? 'leaderKill' : roll < 0.5 ? 'memberKill' : 'memberPause';
          if (!fits(fault === 'leaderKill' ? leaderDown : down)) {
            continue;
          }
          const member =
            fault === 'leaderKill' ? await c.leader() : must(c.members[index], 'a member');
          const record: FaultRecord = {
            kind: fault,
            target: member.name,
            at: Date.now(),
            durationMs: fault === 'leaderKill' ? leaderDown : down,
          };
          faults.push(record);
          started++;
          if (fault === 'memberPause') {
            await member.pause();
            await hold(record.durationMs);
            await member.resume();
          } else {
            await member.kill();
            await hold(record.durationMs);
            await member.restart();
          }
          await c.awaitQuorum(); // one member down at a time: the next fault waits for all three
          record.recoveredAt = Date.now();
        }
      };

      const lanes = await Promise.allSettled([lane(workerLane), lane(serverLane)]);
      const faultEnd = Date.now();
      for (const l of lanes) {
        if (l.status === 'rejected') {
          throw l.reason;
        }
      }

      // Quiet period: every item runs again (bounded poll of the step log), every worker is back in the assignment.
      const quietStart = Date.now();
      const ranSince = (item: number): boolean =>
        stepsOf(stepLog(logFile)).some(s => s.item === item && s.t > quietStart);
      try {
        await waitFor(
          () => ITEMS.every(ranSince),
          QUIET_DEADLINE_MS,
          'every item to run after the faults stopped',
          LOG_POLL_MS,
        );
      } catch (err) {
        const starving = ITEMS.filter(i => !ranSince(i));
        throw new Error(
          `${String(err)}: starving items ${JSON.stringify(starving)}; running records ${JSON.stringify(
            starving.map(i => cache.get(paths.itemRunning(i))),
          )}, owners ${JSON.stringify(starving.map(i => cache.get(paths.itemInstance(i))))}, failover queue ${JSON.stringify(
            cache.children(paths.failoverItems),
          )}`,
          { cause: err },
        );
      }
      const quietSteps = stepsOf(stepLog(logFile)).filter(s => s.t > quietStart);
      const allRanAt = Math.max(
        ...ITEMS.map(
          i =>
            must(
              quietSteps.find(s => s.item === i),
              'a step',
            ).t,
        ),
      );
      const live = WORKERS.filter(id => !broken.has(id));
      await awaitAssignment(cache, paths, live, COUNT, QUIET_DEADLINE_MS, observer);

      // Stop the workers, then judge the log from the first fault on (an execution that straddles it included).
      await f.killAll();
      const lines = stepLog(logFile);
      const r = phaseReport('chaos', lines, f.workers, COUNT, faultStart, Date.now());
      const count = (...kinds: FaultKind[]): number =>
        faults.filter(x => kinds.includes(x.kind)).length;
      console.log(
        `[topology chaos ${kind.name}] seed ${kind.seed}: ${faults.length} faults in ${faultEnd - faultStart} ms ` +
          `(worker kill ${count('kill')}, long pause ${count('longPause')}, short pause ${count('shortPause')}; ` +
          `member kill ${count('memberKill')}, member pause ${count('memberPause')}, leader kill ${count('leaderKill')}), ` +
          `overlaps ${r.overlaps.length}, token regressions ${r.regressions.length}, LOST ${r.lost}, ` +
          `workers not back ${broken.size}, ` +
          `item moves ${r.reshardings}, stalled ${r.stalled.length}, ` +
          `max gap ${r.maxGap.ms} ms (item ${r.maxGap.item} on ${r.maxGap.instanceId} from ${((r.maxGap.at - faultStart) / 1000).toFixed(1)} s), ` +
          `every item ran ${allRanAt - quietStart} ms into the quiet period, ` +
          `executions ${stepRuns(lines).length}, load average ${r.load}; setup: ${setup}`,
      );
      console.log(
        `      schedule from ${new Date(faultStart).toISOString()}: ${faults
          .map(
            x =>
              `${x.kind}:${x.target}@${((x.at - faultStart) / 1000).toFixed(1)}s/${x.durationMs}ms` +
              (x.recoveredAt === undefined ? ' (not recovered)' : ''),
          )
          .join(' ')}; stalled: ${r.stalled.join('; ') || 'none'}`,
      );
      expect(r.overlaps, 'interleaved executions').to.deep.equal([]);
      expect(r.regressions, 'changes of hands without a higher token').to.deep.equal([]);
      expect([...broken.entries()], 'workers that did not come back').to.deep.equal([]);
      expect(faultEnd - faultStart, 'fault window').to.be.at.least(FAULT_WINDOW_MS);
      expect(count('kill'), 'worker kills').to.be.greaterThan(0);
      expect(count('longPause'), 'worker SIGSTOPs beyond the session').to.be.greaterThan(0);
      expect(count('shortPause'), 'worker SIGSTOPs within the session').to.be.greaterThan(0);
      expect(count('memberKill', 'leaderKill'), 'member kills').to.be.greaterThan(0);
      expect(count('memberPause'), 'member pauses').to.be.greaterThan(0);
      expect(count('leaderKill'), 'leader kills').to.equal(1);
      expect(stepRuns(lines).length, 'executions').to.be.greaterThan(COUNT * 10);
    });
  });
}
