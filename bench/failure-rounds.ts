/**
 * "Jobs under failure" rounds of `npm run bench:failover` (bench/failover.ts runs them), with worker
 * PROCESSES (bench/fixtures/worker.ts running bench/fixtures/stepping-job.ts: a failover job with a rare
 * cron whose single item runs in guarded, logged steps) on a real ZooKeeper / etcd. Every round starts
 * three workers on a fresh namespace: `w3` first (so it is the job's leader), then `w1` and `w2`; item 0
 * goes to `w1` (AVG_ALLOCATION over the sorted ids), which is never the leader.
 *
 * - killRound: trigger; once w1 has logged a few steps, SIGKILL it. Time from the kill to the item's first
 *   step on another process (a failover run: ctx.failover, a higher ctx.fencingToken).
 * - freezeRound: trigger; once w1 has logged a few steps, SIGSTOP it for 2 × T and until the item runs
 *   elsewhere; SIGCONT. Count w1's steps after SIGCONT (must be 0) and time SIGCONT → its
 *   `OwnershipLostError` (the job logs a `fenced` line when checkOwnership throws).
 * - leaderRound: SIGSTOP the leader (read from `leader/election/instance`), raise the item count so a
 *   leader must reshard, wait until the new leader has done it and 2 × T have passed, SIGCONT. From the
 *   workers' transaction logs: the old leader's election-fenced transactions sent after SIGCONT
 *   (attempted / accepted — accepted must be 0; one sent just before the SIGSTOP whose reply is read after
 *   SIGCONT is counted apart, and must have been committed before the freeze), the writers of fenced
 *   transactions sent after SIGCONT, and the
 *   time SIGCONT → the old leader's `leader: false`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseGenerationRecord } from '../lib/job/sharding/generation-record';
import { JobPaths } from '../lib/job/job-paths';
import { createOperations } from '../lib/ops/operations-api';
import { createRegistryCenter } from '../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, TreeCache } from '../lib/registry/registry-center';
import { waitFor } from '../test/harness/events';
import { uniqueNamespace } from '../test/harness/namespace';
import { spawnNode } from '../test/harness/process';
import { awaitAssignment, WorkerProcess } from '../test/harness/worker-process';
import {
  readBenchLog,
  type BenchLine,
  type FencedLine,
  type LeaderLine,
  type StepLine,
  type TxnLine,
} from './fixtures/bench-log';

const WORKER = resolve(__dirname, 'fixtures/worker.ts');
const JOB = 'bench-steps';
const DEADLINE_MS = 20_000;
/** Steps of w1 before it is killed / frozen. */
const STEPS_BEFORE = 3;
const STEPS = 40;
const STEP_MS = 100;

export interface KillRound {
  /** SIGKILL → the item's first step on another process. */
  killToRunning: number;
  tokenBefore: number;
  tokenAfter: number;
  failoverRun: boolean;
  /** Whether the victim was the leader (then the time includes an election). */
  victimWasLeader: boolean;
}

export interface FreezeRound {
  /** SIGSTOP → the item's first step on another process. */
  stopToElsewhere: number;
  frozenMs: number;
  /** Steps the frozen process logged after SIGCONT (must be 0). */
  stepsAfterCont: number;
  /** SIGCONT → its `fenced` line (NaN when there was none). */
  contToFenced: number;
  fencedReason: string;
  tokenBefore: number;
  tokenAfter: number;
}

export interface LeaderRound {
  oldLeader: string;
  newLeader: string;
  /** The leader record once the resumed process is back in the assignment. */
  leaderFinal: string;
  generationBefore: string;
  generationByNewLeader: string;
  generationFinal: string;
  /** Old leader's election-fenced transactions sent after SIGCONT, before any new leadership of its own. */
  attempted: number;
  accepted: number;
  /**
   * Its election-fenced transactions sent before the SIGSTOP whose reply was read after SIGCONT (accepted
   * ones were committed before the freeze: checked against the generation, else counted in `accepted`).
   */
  inFlight: number;
  /** Of those, accepted (committed before the freeze). */
  inFlightAccepted: number;
  /** SIGCONT → its first refused leader write (NaN when it attempted none). */
  contToRefused: number;
  /** SIGCONT → its `leader: false` event (NaN when none was logged). */
  contToDropped: number;
  /** Who wrote the accepted election-fenced transactions after SIGCONT. */
  writersAfterCont: string[];
}

interface Setup {
  registry: CoordinatorRegistryCenter;
  cache: TreeCache;
  paths: JobPaths;
  logFile: string;
  workers: Map<string, WorkerProcess>;
  leader: string;
  cleanup(): Promise<void>;
}

function stopAll(workers: Iterable<WorkerProcess>): Promise<unknown> {
  const alive = [...workers].filter(w => w.isRunning);
  for (const w of alive) {
    w.sigcont(); // a stopped process first resumes, then dies
    w.sigkill();
  }
  return Promise.all(alive.map(w => w.exited));
}

async function setup(url: string, count = 1): Promise<Setup> {
  const ns = uniqueNamespace('bff');
  const registry = createRegistryCenter(url.replace('{ns}', ns));
  await registry.init();
  const paths = new JobPaths(JOB);
  const dir = mkdtempSync(join(tmpdir(), 'shardline-bench-ff-'));
  const logFile = join(dir, 'steps.jsonl');
  const workers = new Map<string, WorkerProcess>();
  const cleanup = async (): Promise<void> => {
    await stopAll(workers.values());
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await registry.addCacheData(paths.root);
    const cache = registry.getRawCache(paths.root);
    if (cache === undefined) {
      throw new Error('no cache');
    }
    const env = {
      BENCH_LOG: logFile,
      BENCH_JOB: JOB,
      BENCH_COUNT: String(count),
      BENCH_STEPS: String(STEPS),
      BENCH_STEP_MS: String(STEP_MS),
    };
    const start = async (...ids: string[]): Promise<void> => {
      for (const id of ids) {
        workers.set(
          id,
          new WorkerProcess(id, spawnNode(WORKER, [url.replace('{ns}', ns), id], env)),
        );
      }
      await Promise.all(
        ids.map(id =>
          cache
            .waitFor(c => c.has(paths.instance(id)), { timeoutMs: DEADLINE_MS })
            .catch(err => {
              throw new Error(
                `${id} did not register: ${String(err)}\n${workers.get(id)?.describe() ?? ''}`,
                { cause: err },
              );
            }),
        ),
      );
    };
    await start('w3');
    await awaitAssignment(cache, paths, ['w3'], count, DEADLINE_MS);
    await cache.waitFor(c => c.get(paths.electionInstance) !== null, { timeoutMs: DEADLINE_MS });
    await start('w1', 'w2');
    await awaitAssignment(cache, paths, ['w1', 'w2', 'w3'], count, DEADLINE_MS);
    const leader = cache.get(paths.electionInstance) ?? '?';
    return { registry, cache, paths, logFile, workers, leader, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function worker(s: Setup, id: string): WorkerProcess {
  const w = s.workers.get(id);
  if (w === undefined) {
    throw new Error(`no worker ${id}`);
  }
  return w;
}

/** Polls the log (a plain file written by other processes: no event to await) until `pick` finds a line. */
async function awaitLine<T extends BenchLine>(
  file: string,
  pick: (lines: BenchLine[]) => T | undefined,
  what: string,
  timeoutMs = DEADLINE_MS,
): Promise<T> {
  let found: T | undefined;
  let lines: BenchLine[] = [];
  await waitFor(
    () => {
      lines = readBenchLog(file);
      found = pick(lines);
      return found !== undefined;
    },
    timeoutMs,
    what,
    10,
  ).catch((err: unknown) => {
    const tail = lines
      .slice(-15)
      .map(l => JSON.stringify(l))
      .join('\n');
    throw new Error(`${String(err)}\nlast log lines:\n${tail}`, { cause: err });
  });
  if (found === undefined) {
    throw new Error(`unreachable: ${what}`);
  }
  return found;
}

const isStep = (l: BenchLine): l is StepLine => l.event === 'step';

/** Triggers the job and waits until w1 (item 0's owner) has logged STEPS_BEFORE steps. */
async function runningOnW1(s: Setup): Promise<StepLine> {
  if (s.cache.get(s.paths.itemInstance(0)) !== 'w1') {
    throw new Error(`item 0 is owned by ${String(s.cache.get(s.paths.itemInstance(0)))}, not w1`);
  }
  await createOperations(s.registry).trigger(JOB);
  const pid = worker(s, 'w1').pid;
  return awaitLine(
    s.logFile,
    ls => ls.filter(isStep).find(l => l.pid === pid && l.item === 0 && l.step >= STEPS_BEFORE - 1),
    'w1 to run item 0',
  );
}

export async function killRound(url: string): Promise<KillRound> {
  const s = await setup(url);
  try {
    const before = await runningOnW1(s);
    const victim = worker(s, 'w1');
    victim.sigkill();
    const killedAt = victim.killedAt ?? Date.now();
    const after = await awaitLine(
      s.logFile,
      ls => ls.filter(isStep).find(l => l.item === 0 && l.pid !== victim.pid && l.t >= killedAt),
      'item 0 to run on another process after the kill',
    );
    return {
      killToRunning: after.t - killedAt,
      tokenBefore: before.token,
      tokenAfter: after.token,
      failoverRun: after.failover,
      victimWasLeader: s.leader === 'w1',
    };
  } finally {
    await s.cleanup();
  }
}

export async function freezeRound(url: string, sessionMs: number): Promise<FreezeRound> {
  const s = await setup(url);
  try {
    const before = await runningOnW1(s);
    const frozen = worker(s, 'w1');
    frozen.sigstop();
    const stoppedAt = Date.now();
    const elsewhere = await awaitLine(
      s.logFile,
      ls => ls.filter(isStep).find(l => l.item === 0 && l.pid !== frozen.pid && l.t >= stoppedAt),
      'item 0 to run on another process while w1 is stopped',
    );
    const resumeAt = stoppedAt + 2 * sessionMs;
    if (Date.now() < resumeAt) {
      await new Promise(r => setTimeout(r, resumeAt - Date.now()));
    }
    // Taken before the signal: the resumed process can log within the same millisecond.
    const contAt = Date.now();
    frozen.sigcont();
    const fenced = await awaitLine(
      s.logFile,
      ls =>
        ls.find(
          (l): l is FencedLine =>
            l.event === 'fenced' && l.pid === frozen.pid && l.run === before.run,
        ),
      'the resumed w1 to be fenced',
      10_000,
    ).catch((err: unknown) => {
      process.stderr.write(`  !! ${String(err)}\n`);
      return undefined;
    });
    // Give a straggling step (a bug) time to show up before counting.
    await new Promise(r => setTimeout(r, 500));
    const stepsAfterCont = readBenchLog(s.logFile)
      .filter(isStep)
      .filter(l => l.pid === frozen.pid && l.t >= contAt);
    if (stepsAfterCont.length > 0) {
      process.stderr.write(
        `  !! BUG: the resumed worker logged ${stepsAfterCont.length} step(s) after SIGCONT at ${contAt}:\n` +
          stepsAfterCont.map(l => `     ${JSON.stringify(l)}`).join('\n') +
          '\n',
      );
    }
    return {
      stopToElsewhere: elsewhere.t - stoppedAt,
      frozenMs: contAt - stoppedAt,
      stepsAfterCont: stepsAfterCont.length,
      contToFenced: fenced === undefined ? NaN : fenced.t - contAt,
      fencedReason: fenced?.reason ?? 'none',
      tokenBefore: before.token,
      tokenAfter: elsewhere.token,
    };
  } finally {
    await s.cleanup();
  }
}

export async function leaderRound(url: string, sessionMs: number): Promise<LeaderRound> {
  const s = await setup(url);
  try {
    const { cache, paths } = s;
    const oldLeader = s.leader;
    const frozen = worker(s, oldLeader);
    const others = [...s.workers.keys()].filter(id => id !== oldLeader).sort();
    const generationBefore = String(parseGenerationRecord(cache.get(paths.sharding)).generation);
    frozen.sigstop();
    const stoppedAt = Date.now();
    // A leader has to act now: the count changes (and, once its session expires, an instance is gone).
    await createOperations(s.registry).updateJobConfig(JOB, { shardingTotalCount: 2 });
    await awaitAssignment(cache, paths, others, 2, DEADLINE_MS);
    await cache.waitFor(
      c => {
        const l = c.get(paths.electionInstance);
        return l !== null && l !== oldLeader;
      },
      { timeoutMs: DEADLINE_MS },
    );
    const newLeader = cache.get(paths.electionInstance) ?? '?';
    const generationByNewLeader = String(
      parseGenerationRecord(cache.get(paths.sharding)).generation,
    );
    const resumeAt = stoppedAt + 2 * sessionMs;
    if (Date.now() < resumeAt) {
      await new Promise(r => setTimeout(r, resumeAt - Date.now()));
    }
    // Taken before the signal: the resumed process can log within the same millisecond.
    const contAt = Date.now();
    frozen.sigcont();
    // The resumed process gets a new session and re-registers; the new leader takes it back in.
    await awaitAssignment(cache, paths, [...others, oldLeader], 2, DEADLINE_MS);
    await new Promise(r => setTimeout(r, 1000));
    const lines = readBenchLog(s.logFile);
    const generationFinal = String(parseGenerationRecord(cache.get(paths.sharding)).generation);
    const leaderFinal = cache.get(paths.electionInstance) ?? '?';
    const mine = lines.filter(l => l.pid === frozen.pid && l.t >= contAt);
    const reelected = mine.find((l): l is LeaderLine => l.event === 'leader' && l.isLeader);
    const fenced = mine.filter(
      (l): l is TxnLine =>
        l.event === 'txn' &&
        l.fence === 'election' &&
        (reelected === undefined || l.t0 < reelected.t),
    );
    // Sent after SIGCONT: what the resumed process tried to do as leader.
    const attempts = fenced.filter(l => l.t0 >= contAt);
    // Sent before the SIGSTOP, reply read after SIGCONT. Accepted ones were committed while its latch still
    // existed (the fence checks it at commit), so before the new leader's first write: their generation
    // must be lower than every generation another instance wrote since the freeze.
    const inFlight = fenced.filter(l => l.t0 < contAt);
    const generationOf = (l: TxnLine): number | undefined => {
      const value = l.ops
        .map(op => /^setData \/[^/]+\/sharding=(\d+)$/.exec(op)?.[1])
        .find(v => v !== undefined);
      return value === undefined ? undefined : Number(value);
    };
    const othersFirst = Math.min(
      ...lines
        .filter(
          (l): l is TxnLine =>
            l.event === 'txn' && l.pid !== frozen.pid && l.ok && l.t0 >= stoppedAt,
        )
        .map(l => generationOf(l) ?? Infinity),
    );
    const lateAck = inFlight.filter(l => l.ok && (generationOf(l) ?? Infinity) >= othersFirst);
    if (lateAck.length > 0) {
      process.stderr.write(
        `  !! BUG: a leader write in flight at the freeze was committed after it:\n` +
          lateAck.map(l => `     ${JSON.stringify(l)}`).join('\n') +
          '\n',
      );
    }
    const dropped = mine.find((l): l is LeaderLine => l.event === 'leader' && !l.isLeader);
    const refused = fenced.filter(a => !a.ok);
    if (dropped === undefined) {
      process.stderr.write(
        `  note: the resumed ${oldLeader} (pid ${frozen.pid}) logged no 'leader: false' after SIGCONT at ${contAt}; ` +
          `its lines since: ${mine.map(l => `${l.event}@${l.t - contAt}`).join(' ')}; ` +
          `instance node now: ${String(cache.get(paths.instance(oldLeader)))}\n`,
      );
    }
    const writers = lines
      .filter(
        (l): l is TxnLine => l.event === 'txn' && l.t0 >= contAt && l.ok && l.fence === 'election',
      )
      .map(l => l.instanceId);
    const accepted = attempts.filter(a => a.ok);
    if (writers.includes(oldLeader)) {
      // Not necessarily wrong (it may have been elected again with its new session), but worth reading.
      process.stderr.write(
        `  note: the resumed ${oldLeader} (pid ${frozen.pid}) wrote as leader after SIGCONT at ${contAt}; ` +
          `stopped at ${stoppedAt}; its lines and every leader line since the freeze:\n` +
          lines
            .filter(
              l =>
                l.t >= stoppedAt - 3000 &&
                (l.pid === frozen.pid ||
                  l.event === 'leader' ||
                  (l.event === 'txn' && l.fence !== null)),
            )
            .map(l => `     ${JSON.stringify(l)}`)
            .join('\n') +
          '\n',
      );
    }
    for (const r of refused) {
      process.stderr.write(
        `  refused leader write of the resumed ${oldLeader}, ${r.t - contAt} ms after SIGCONT: ${r.error ?? '?'} [${r.ops.join('; ')}]\n`,
      );
    }
    if (accepted.length > 0) {
      process.stderr.write(
        `  !! BUG: leader writes of the resumed old leader accepted:\n` +
          accepted.map(l => `     ${JSON.stringify(l)}`).join('\n') +
          '\n',
      );
    }
    return {
      oldLeader,
      newLeader,
      leaderFinal,
      generationBefore,
      generationByNewLeader,
      generationFinal,
      attempted: attempts.length,
      accepted: accepted.length + lateAck.length,
      inFlight: inFlight.length,
      inFlightAccepted: inFlight.filter(l => l.ok).length,
      contToRefused: refused.length === 0 ? NaN : Math.min(...refused.map(r => r.t)) - contAt,
      contToDropped: dropped === undefined ? NaN : dropped.t - contAt,
      writersAfterCont: [...new Set(writers)].sort(),
    };
  } finally {
    await s.cleanup();
  }
}

export interface FailureRounds {
  kill: KillRound[];
  freeze: FreezeRound[];
  leader: LeaderRound[];
}
