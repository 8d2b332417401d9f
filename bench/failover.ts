/**
 * Failover benchmark: worker PROCESSES (test/fixtures/jobs/worker.ts running the reporting job) on a real
 * ZooKeeper and a real etcd started on loopback by the test harness, side by side, median over ROUNDS.
 *
 *   npm run bench:failover                 # both servers, 5 rounds
 *   ROUNDS=3 BACKENDS=etcd npm run bench:failover
 *   PARTS=failure npm run bench:failover   # only the "jobs under failure" rounds (default: crash,failure)
 *
 * Per round, on a fresh namespace, job of 6 items firing every second (items take 50 ms):
 * - join: three workers run; a fourth starts. From its instance node appearing (observer's cache event)
 *   to (1) the rebalanced assignment committed (observer's cache shows it settled) and (2) seen by all
 *   (the last of the four workers emitting `sharded` with its new items). Target 0.3 s.
 * - crash: SIGKILL of an idle worker. From the kill to (1) its items reassigned (observer's cache) and
 *   (2) every orphaned item started on another process (the job's own log). Target: session timeout +
 *   0.5 s. (2) includes waiting for the next cron fire: up to 1 s on an every-second job.
 *
 * Jobs under failure (bench/failure-rounds.ts; a failover job with a rare cron whose item runs in guarded
 * steps, three worker processes, fresh namespace per round):
 * - SIGKILL of the item's runner mid-item → the item's first step on another process (a failover run with
 *   a higher fencing token). Target: session timeout + 0.5 s.
 * - SIGSTOP of the runner for 2 × T (and until the item runs elsewhere), SIGCONT → steps it logged after
 *   SIGCONT (must be 0) and SIGCONT → its OwnershipLostError.
 * - SIGSTOP of the job's leader, count changed while it is frozen, SIGCONT → its leader writes sent after
 *   SIGCONT (attempted / accepted: must be 0) and SIGCONT → its `leader: false`.
 *
 * Rolling start / restart (PARTS=rolling; test/harness/rolling-start.ts, the scenario of
 * test/e2e/jobs-rolling-start.test.ts): three workers in long-lived worker-host processes started
 * `spacing` ms apart, then restarted one by one (two graceful stop + start, one SIGKILL + start in a new
 * process), ROLLING_REPS repetitions (default 20, seeds ROLLING_SEED.. (default 1) — replay one in the spec
 * with SHARDLINE_SEED) per item count (ROLLING_COUNTS, default 300) and spacing (ROLLING_SPACINGS, default
 * 0,50,500): time from the last start, and from the last restart, until every item has started on its
 * settled owner; p50 / p99. Target 5 s. A repetition past ROLLING_DEADLINE_MS (default 30 s) counts as a
 * stall, is shown as such, and is not retried.
 *
 * SESSION_MS (default 2000, etcd's minimum lease TTL) sets every worker's session timeout / lease TTL.
 *
 * Server-node faults (PARTS=servers; bench/server-fault-rounds.ts, the bed and faults of
 * test/topology/server-faults.test.ts): a 3-node ZooKeeper ensemble and a 3-member etcd cluster, four worker
 * processes, 100 items every second; the connected server killed, the leader killed, a rolling restart, the
 * quorum lost for 3 s, SERVER_ROUNDS times each (default 3): the longest time without a run, LOST sessions,
 * item moves, overlaps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobPaths } from '../lib/job/job-paths';
import { createRegistryCenter } from '../lib/registry/create-registry-center';
import type { RegistryEvent } from '../lib/registry/registry-center';
import { waitFor } from '../test/harness/events';
import { EtcdServer } from '../test/harness/etcd-server';
import { uniqueNamespace } from '../test/harness/namespace';
import {
  ROLLING_INSTANCES,
  runRollingStart,
  WorkerHostPool,
  type RollingStartReport,
} from '../test/harness/rolling-start';
import {
  awaitAssignment,
  expectedOwners,
  readLog,
  waitForLog,
  WorkerFleet,
  type WorkerProcess,
} from '../test/harness/worker-process';
import { ZooKeeperServer } from '../test/harness/zookeeper-server';
import { freezeRound, killRound, leaderRound, type FailureRounds } from './failure-rounds';
import { SERVER_FAULT_HEADER, serverFaultRows } from './server-fault-rounds';
import { fmt, median, percentile, table } from './stats';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BACKENDS = (process.env.BACKENDS ?? 'zookeeper,etcd').split(',');
const PARTS = (process.env.PARTS ?? 'crash,failure,rolling').split(',');
const numbers = (raw: string): number[] => raw.split(',').map(Number);
const ROLLING_REPS = Number(process.env.ROLLING_REPS ?? 20);
const ROLLING_SEED = Number(process.env.ROLLING_SEED ?? 1);
const ROLLING_COUNTS = numbers(process.env.ROLLING_COUNTS ?? '300');
const ROLLING_SPACINGS = numbers(process.env.ROLLING_SPACINGS ?? '0,50,500');
const ROLLING_DEADLINE_MS = Number(process.env.ROLLING_DEADLINE_MS ?? 30_000);
const ROLLING_TARGET_MS = 5000;
/** ZooKeeper session timeout / etcd lease TTL of every worker: SESSION_MS (default 2000; etcd takes whole seconds). */
const SESSION_MS = Number(process.env.SESSION_MS ?? 2000);
if (!Number.isInteger(SESSION_MS / 1000) || SESSION_MS < 2000) {
  throw new Error(
    `SESSION_MS must be a whole number of seconds, at least 2000 (etcd's minimum TTL), got ${process.env.SESSION_MS}`,
  );
}
const COUNT = 6;
const JOB = 'bench-failover';
const DEADLINE_MS = 20_000;

interface Round {
  joinCommitted: number;
  joinSeenByAll: number;
  crashReassigned: number;
  crashRunning: number;
}

interface BackendBench {
  name: string;
  start(): Promise<{ url(ns: string): string; stop(): Promise<void> }>;
}

const backends: BackendBench[] = [
  {
    name: 'zookeeper',
    start: async () => {
      const server = await ZooKeeperServer.start({ tickTimeMs: 500 });
      return {
        url: ns => `zookeeper://${server.connectString}/${ns}?sessionTimeoutMs=${SESSION_MS}`,
        stop: () => server.stop(),
      };
    },
  },
  {
    name: 'etcd',
    start: async () => {
      const server = await EtcdServer.start();
      return {
        url: ns => `etcd://${server.endpoint}/${ns}?leaseTtlSeconds=${SESSION_MS / 1000}`,
        stop: () => server.stop(),
      };
    },
  },
];

/**
 * The time from which `worker`'s reported items have been exactly `items` (its `sharded` events since
 * `since`; a transient view in between — the events of one resharding transaction arrive one by one —
 * does not count as seen).
 */
async function seenAt(worker: WorkerProcess, items: number[], since: number): Promise<number> {
  const key = items.join(',');
  let at = NaN;
  await waitFor(
    () => {
      const sharded = worker.events().filter(e => e.event === 'sharded' && e.t >= since);
      const last = sharded.at(-1);
      if (last === undefined || (last.items ?? []).join(',') !== key) {
        return false;
      }
      let i = sharded.length - 1;
      while (i > 0 && (sharded[i - 1]?.items ?? []).join(',') === key) {
        i--;
      }
      at = sharded[i]?.t ?? NaN;
      return true;
    },
    DEADLINE_MS,
    `${worker.instanceId} to report sharded [${key}]`,
    10,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; its events: ${JSON.stringify(worker.events())}`, {
      cause: err,
    });
  });
  return at;
}

async function oneRound(url: string): Promise<Round> {
  const ns = uniqueNamespace('bf');
  const observer = createRegistryCenter(url.replace('{ns}', ns));
  await observer.init();
  const paths = new JobPaths(JOB);
  await observer.addCacheData(paths.root);
  const cache = observer.getRawCache(paths.root);
  if (cache === undefined) {
    throw new Error('no cache');
  }
  const dir = mkdtempSync(join(tmpdir(), 'shardline-bench-'));
  const logFile = join(dir, 'executions.jsonl');
  const fleet = new WorkerFleet({
    registryUrl: url.replace('{ns}', ns),
    job: JOB,
    cache,
    logFile,
    runner: 'fixture-worker',
    env: {
      FIXTURE_JOB: JOB,
      FIXTURE_CRON: '* * * * * *',
      FIXTURE_COUNT: String(COUNT),
      ITEM_MS: '50',
    },
  });
  try {
    const three = ['w1', 'w2', 'w3'];
    await fleet.start(...three);
    await awaitAssignment(cache, paths, three, COUNT, DEADLINE_MS);

    // Join.
    let joinedAt = NaN;
    const onEvent = (e: RegistryEvent): void => {
      if (e.type === 'added' && e.path === paths.instance('w4')) {
        joinedAt = Date.now();
      }
    };
    cache.on('event', onEvent);
    const spawnedAt = Date.now();
    await fleet.start('w4');
    cache.off('event', onEvent);
    const four = ['w1', 'w2', 'w3', 'w4'];
    const committedAt = await awaitAssignment(cache, paths, four, COUNT, DEADLINE_MS);
    const want = expectedOwners(four, COUNT);
    const seen = await Promise.all(
      fleet.running.map(w =>
        seenAt(
          w,
          want.flatMap((owner, item) => (owner === w.instanceId ? [item] : [])),
          spawnedAt,
        ),
      ),
    );

    // Crash of an idle worker.
    const victim = fleet.running.find(w => w.instanceId === 'w2');
    if (victim === undefined) {
      throw new Error('w2 is not running');
    }
    const orphaned = want.flatMap((owner, item) => (owner === 'w2' ? [item] : []));
    await waitForLog(
      logFile,
      lines => {
        const mine = lines.filter(l => l.instanceId === 'w2');
        return (
          mine.filter(l => l.event === 'start').length ===
          mine.filter(l => l.event === 'end').length
        );
      },
      DEADLINE_MS,
      'the victim to be idle',
    );
    victim.sigkill();
    const killedAt = victim.killedAt ?? NaN;
    const survivors = ['w1', 'w3', 'w4'];
    const reassignedAt = await awaitAssignment(cache, paths, survivors, COUNT, DEADLINE_MS);
    const lines = await waitForLog(
      logFile,
      ls =>
        orphaned.every(item =>
          ls.some(
            l => l.event === 'start' && l.item === item && l.instanceId !== 'w2' && l.t > killedAt,
          ),
        ),
      DEADLINE_MS,
      'the orphaned items to start elsewhere',
    );
    const runningAt = Math.max(
      ...orphaned.map(item =>
        Math.min(
          ...lines
            .filter(
              l =>
                l.event === 'start' && l.item === item && l.instanceId !== 'w2' && l.t > killedAt,
            )
            .map(l => l.t),
        ),
      ),
    );
    if (readLog(logFile).length === 0) {
      throw new Error('the job never ran');
    }
    return {
      joinCommitted: committedAt - joinedAt,
      // The observer's cache can see the join a few ms after the workers saw the resulting assignment
      // (same clock, different processes): then the join is seen by all as soon as it is seen at all.
      joinSeenByAll: Math.max(0, Math.max(...seen) - joinedAt),
      crashReassigned: reassignedAt - killedAt,
      crashRunning: runningAt - killedAt,
    };
  } finally {
    await fleet.killAll();
    await observer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rounds that failed and were run again (the reason is on stderr); printed under the tables. */
const retried: string[] = [];

/**
 * Runs one round; a round that fails (a deadline: the machine is shared and noisy) is reported on stderr
 * and run once more on a fresh namespace. A second failure ends the bench.
 */
async function attempt<T>(label: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    process.stderr.write(`${label} FAILED, running it again: ${String(err)}\n`);
    retried.push(`${label}: ${String(err).split('\n')[0] ?? ''}`);
    return fn();
  }
}

/** Rolling-start repetitions that threw (a worker's start failed…): printed under the table. */
const failed: string[] = [];

/** The rolling-start repetitions of one backend: one table row per item count and spacing. */
async function rollingRows(backend: string, url: (ns: string) => string): Promise<string[][]> {
  const rows: string[][] = [];
  const pool = new WorkerHostPool(ROLLING_INSTANCES, 1);
  try {
    for (const count of ROLLING_COUNTS) {
      for (const spacingMs of ROLLING_SPACINGS) {
        const reports: RollingStartReport[] = [];
        let failedHere = 0;
        for (let i = 0; i < ROLLING_REPS; i++) {
          const seed = ROLLING_SEED + i;
          let r: RollingStartReport;
          try {
            r = await runRollingStart(
              pool,
              { count, spacingMs, seed, kills: 1 },
              { url, boundMs: ROLLING_DEADLINE_MS },
            );
          } catch (err) {
            // A repetition that could not run to its end (e.g. a worker's start failed): counted, not retried.
            failed.push(
              `${backend} ${count} items ${spacingMs} ms seed ${seed}: ${String(err).split('\n')[0] ?? ''}`,
            );
            process.stderr.write(
              `${backend} rolling rep ${i + 1} (seed ${seed}) FAILED: ${String(err)}\n`,
            );
            failedHere++;
            continue;
          }
          reports.push(r);
          const phases = r.phases
            .map(p => `${p.phase}→all running ${fmt(p.allRunningMs ?? NaN, 0)} ms`)
            .join(', ');
          process.stderr.write(
            `${backend} rolling ${count} items ${spacingMs} ms apart, rep ${i + 1}/${ROLLING_REPS} (seed ${seed}): ${phases}; ` +
              `overlaps ${r.overlaps.length}, token regressions ${r.tokenRegressions.length}, stalls ${r.stalls.length}; ${r.plan}\n`,
          );
          for (const stall of r.stalls) {
            process.stderr.write(`  stalled: ${stall}\n`);
          }
          for (const p of r.phases.filter(x => x.stall !== undefined)) {
            process.stderr.write(`  ${p.phase} STALLED:\n${String(p.stall)}\n`);
          }
        }
        /** Over the repetitions that ran; past the deadline (or skipped after a stalled start): Infinity. */
        const times = (phase: 'start' | 'restart'): number[] =>
          reports.map(r => r.phases.find(p => p.phase === phase)?.allRunningMs ?? Infinity);
        const p = (values: number[], q: number): string => {
          const v = percentile(values, q);
          return Number.isFinite(v) ? `${fmt(v, 0)} ms` : `> ${ROLLING_DEADLINE_MS} ms`;
        };
        const inTime = reports.filter(r =>
          ['start', 'restart'].every(phase =>
            r.phases.some(
              x => x.phase === phase && (x.allRunningMs ?? Infinity) <= ROLLING_TARGET_MS,
            ),
          ),
        ).length;
        const sum = (f: (r: RollingStartReport) => number): number =>
          reports.reduce((a, r) => a + f(r), 0);
        const row = [
          backend,
          String(count),
          `${spacingMs} ms`,
          `${p(times('start'), 50)} / ${p(times('start'), 99)}`,
          `${p(times('restart'), 50)} / ${p(times('restart'), 99)}`,
          `≤ ${ROLLING_TARGET_MS} ms`,
          `${inTime}/${reports.length + failedHere}`,
          String(failedHere),
          `${sum(r => r.overlaps.length)} / ${sum(r => r.tokenRegressions.length)}`,
          String(sum(r => r.stalls.length)),
        ];
        rows.push(row);
        process.stderr.write(`rolling row: ${row.join(' | ')}\n`);
      }
    }
  } finally {
    await pool.close();
  }
  return rows;
}

async function main(): Promise<void> {
  const rows: string[][] = [
    [
      'backend',
      'session',
      'kill→reassigned',
      'kill→running elsewhere',
      'target',
      'join→committed',
      'join→seen by all',
      'target',
    ],
  ];
  const itemRows: string[][] = [
    [
      'backend',
      'kill mid-item→failover run',
      'target',
      'token↑ & ctx.failover',
      'stop→running elsewhere',
      'steps after SIGCONT',
      'SIGCONT→fenced',
      'target',
    ],
  ];
  const leaderRows: string[][] = [
    [
      'backend',
      'leader writes sent after resume (attempted/accepted)',
      'in flight at freeze',
      'target',
      'SIGCONT→first refused',
      'SIGCONT→leader: false',
      'leader record before→after',
      'generation written after SIGCONT by',
      'generation before→new leader→final',
    ],
  ];
  const rollingTable: string[][] = [
    [
      'backend',
      'items',
      'spacing',
      'last start→all running p50 / p99',
      'last restart→all running p50 / p99',
      'target',
      'both within target',
      'failed to run',
      'overlaps / token regressions',
      'stalled events',
    ],
  ];
  for (const backend of backends.filter(b => BACKENDS.includes(b.name))) {
    const server = await backend.start();
    const rounds: Round[] = [];
    const failure: FailureRounds = { kill: [], freeze: [], leader: [] };
    const url = server.url('{ns}');
    try {
      for (let i = 0; i < ROUNDS && PARTS.includes('crash'); i++) {
        const r = await attempt(`${backend.name} round ${i + 1}`, () => oneRound(url));
        rounds.push(r);
        process.stderr.write(
          `${backend.name} round ${i + 1}/${ROUNDS}: kill→reassigned ${fmt(r.crashReassigned, 0)} ms, kill→running ${fmt(
            r.crashRunning,
            0,
          )} ms, join→committed ${fmt(r.joinCommitted, 0)} ms, join→seen ${fmt(r.joinSeenByAll, 0)} ms\n`,
        );
      }
      for (let i = 0; i < ROUNDS && PARTS.includes('failure'); i++) {
        const k = await attempt(`${backend.name} kill round ${i + 1}`, () => killRound(url));
        failure.kill.push(k);
        process.stderr.write(
          `${backend.name} failure round ${i + 1}/${ROUNDS}: kill mid-item→failover run ${fmt(k.killToRunning, 0)} ms ` +
            `(token ${k.tokenBefore}→${k.tokenAfter}, failover ${String(k.failoverRun)}${k.victimWasLeader ? ', victim was leader' : ''})\n`,
        );
        const f = await attempt(`${backend.name} freeze round ${i + 1}`, () =>
          freezeRound(url, SESSION_MS),
        );
        failure.freeze.push(f);
        process.stderr.write(
          `${backend.name} failure round ${i + 1}/${ROUNDS}: stopped ${fmt(f.frozenMs, 0)} ms, stop→elsewhere ${fmt(
            f.stopToElsewhere,
            0,
          )} ms (token ${f.tokenBefore}→${f.tokenAfter}), steps after SIGCONT ${f.stepsAfterCont}, SIGCONT→fenced ${fmt(
            f.contToFenced,
            0,
          )} ms (${f.fencedReason})\n`,
        );
        const l = await attempt(`${backend.name} leader round ${i + 1}`, () =>
          leaderRound(url, SESSION_MS),
        );
        failure.leader.push(l);
        process.stderr.write(
          `${backend.name} failure round ${i + 1}/${ROUNDS}: leader ${l.oldLeader}→${l.newLeader}→${l.leaderFinal}, writes after resume ` +
            `${l.attempted}/${l.accepted} (attempted/accepted), in flight at freeze ${l.inFlight} (${l.inFlightAccepted} accepted), SIGCONT→refused ${fmt(l.contToRefused, 0)} ms, ` +
            `SIGCONT→leader:false ${fmt(l.contToDropped, 0)} ms, generation ${l.generationBefore}→${l.generationByNewLeader}→${l.generationFinal} ` +
            `written after SIGCONT by [${l.writersAfterCont.join(',')}]\n`,
        );
      }
      if (PARTS.includes('rolling')) {
        rollingTable.push(...(await rollingRows(backend.name, ns => server.url(ns))));
      }
    } finally {
      await server.stop();
    }
    const ms = (values: number[]): string => {
      const finite = values.filter(Number.isFinite);
      return finite.length === 0 ? 'n/a' : `${fmt(median(finite), 0)} ms`;
    };
    if (rounds.length > 0) {
      const m = (f: (r: Round) => number): string => ms(rounds.map(f));
      rows.push([
        backend.name,
        `${SESSION_MS} ms`,
        m(r => r.crashReassigned),
        m(r => r.crashRunning),
        `≤ ${SESSION_MS + 500} ms`,
        m(r => r.joinCommitted),
        m(r => r.joinSeenByAll),
        '≤ 300 ms',
      ]);
    }
    const { kill, freeze, leader } = failure;
    if (kill.length > 0) {
      const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
      const fencedCount = freeze.filter(f => Number.isFinite(f.contToFenced)).length;
      itemRows.push([
        backend.name,
        ms(kill.map(k => k.killToRunning)),
        `≤ ${SESSION_MS + 500} ms`,
        `${kill.filter(k => k.tokenAfter > k.tokenBefore && k.failoverRun).length}/${kill.length}`,
        ms(freeze.map(f => f.stopToElsewhere)),
        `${sum(freeze.map(f => f.stepsAfterCont))} in ${freeze.length}`,
        `${ms(freeze.map(f => f.contToFenced))} (${fencedCount}/${freeze.length} fenced)`,
        '0 steps',
      ]);
      leaderRows.push([
        backend.name,
        `${sum(leader.map(l => l.attempted))}/${sum(leader.map(l => l.accepted))}`,
        `${sum(leader.map(l => l.inFlight))} (${sum(leader.map(l => l.inFlightAccepted))} accepted)`,
        'accepted 0',
        ms(leader.map(l => l.contToRefused)),
        ms(leader.map(l => l.contToDropped)),
        leader.map(l => `${l.oldLeader}→${l.newLeader}→${l.leaderFinal}`).join(' '),
        leader
          .map(
            l =>
              `[${l.writersAfterCont.join(',')}]${l.writersAfterCont.includes(l.oldLeader) ? '!' : ''}`,
          )
          .join(' '),
        leader
          .map(l => `${l.generationBefore}→${l.generationByNewLeader}→${l.generationFinal}`)
          .join(' '),
      ]);
    }
  }
  if (rows.length > 1) {
    console.log(
      `\nFailover and join, worker processes, medians of ${ROUNDS} rounds (${COUNT} items, every-second cron)\n`,
    );
    console.log(table(rows));
    console.log(
      '\nkill→running elsewhere includes the wait for the next fire of the every-second cron (0–1 s).',
    );
  }
  if (itemRows.length > 1) {
    console.log(
      `\nJobs under failure: an item in flight (failover job, rare cron, triggered; ${SESSION_MS} ms session), medians of ${ROUNDS} rounds\n`,
    );
    console.log(table(itemRows));
    console.log(
      `\nThe runner is SIGSTOPped for 2 × ${SESSION_MS} ms (and until the item runs elsewhere), then SIGCONTed; ` +
        'steps after SIGCONT are summed over rounds.',
    );
    console.log(
      `\nJobs under failure: the job's leader SIGSTOPped for 2 × ${SESSION_MS} ms while the item count changes, then SIGCONTed (${ROUNDS} rounds)\n`,
    );
    console.log(table(leaderRows));
    console.log(
      "\nLeader writes: the resumed old leader's election-fenced transactions sent after SIGCONT, summed over rounds " +
        '(accepted also counts one in flight at the freeze that was committed after the new leader wrote); in flight at ' +
        'freeze: sent just before the SIGSTOP, reply read after SIGCONT (an accepted one was committed while its latch ' +
        'existed, before the new leader wrote). Writers: instances ' +
        "whose election-fenced transactions sent after SIGCONT were accepted ('!' marks the old leader).",
    );
  }
  if (rollingTable.length > 1) {
    console.log(
      `\nRolling start / restart: 3 worker processes started (spacing) ms apart, then restarted one by one (2 graceful, 1 SIGKILL), ` +
        `${ROLLING_REPS} repetitions, every-second cron, ${SESSION_MS} ms session\n`,
    );
    console.log(table(rollingTable));
    console.log(
      '\nall running: every item has started on its settled owner (AVG_ALLOCATION over the three) at or after the ' +
        `last (re)start (p99 of 20 repetitions is the slowest one). Overlaps and token regressions are summed over the repetitions (must be 0); stalled events: the liveness watchdogs' reports (each a repair where the worker may make one), summed.`,
    );
  }
  if (PARTS.includes('servers')) {
    const serverRows = await serverFaultRows(BACKENDS);
    console.log(
      `\nServer-node faults on 3-node clusters: 4 worker processes, 100 items every second, 6000 ms session; ` +
        `each fault ${process.env.SERVER_ROUNDS ?? 3} rounds\n`,
    );
    console.log(table([SERVER_FAULT_HEADER, ...serverRows]));
    console.log(
      '\nlongest time without a run: over all items, from the fault until 3 s after the quorum is back ' +
        '(the suite requires < 5 s for every fault but the quorum loss). LOST, moves, overlaps summed over rounds.',
    );
  }
  if (failed.length > 0) {
    console.log(
      `\nRolling repetitions that failed to run (${failed.length}; not in time, not in the percentiles):\n${failed.join('\n')}`,
    );
  }
  if (retried.length > 0) {
    console.log(`\nRounds run again after a failure (${retried.length}):\n${retried.join('\n')}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
