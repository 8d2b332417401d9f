import { JobPaths } from '../../lib/job/job-paths';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, TreeCache } from '../../lib/registry/registry-center';
import type { LogLine } from '../fixtures/jobs/reporting-job';
import { uniqueNamespace } from './namespace';
import { seededRandom, shuffled } from './seeded-random';
import { ms } from './timing';
import { WorkerHost, type HostEvent, type HostJobSpec } from './worker-host';
import {
  awaitAssignment,
  executions,
  expectedOwners,
  overlappingExecutions,
  tokenRegressions,
} from './worker-process';

/**
 * The rolling start / rolling restart scenario, shared by test/e2e/jobs-rolling-start.test.ts (bounds
 * asserted) and bench/failover.ts (times measured): worker PROCESSES on a real registry server.
 *
 * One repetition, on a fresh namespace and a fresh job (cron every second, `count` items):
 * 1. start: three workers (`w1`–`w3`, in a seeded order) started `spacingMs` apart, each in its own
 *    long-lived worker-host process (so the spacing is real: a fresh process needs ~1 s to boot);
 * 2. rolling restart: every worker, one by one in a seeded order, is stopped (a graceful drain) and started
 *    again in its host, or — for `kills` of them, seeded — its host is SIGKILLed and the worker started
 *    again at once in a new (pre-booted) process, while the dead life's session still lives; `spacingMs`
 *    between one restart having started and the next;
 * 3. every worker drained (a stalled start phase skips 2: it would only report the stall's aftermath).
 *
 * After each of 1 and 2 the phase waits, up to `boundMs` after the last (re)start, for two things: every
 * item has started on its settled owner (AVG_ALLOCATION over w1–w3) at or after the last (re)start — on the
 * events the workers report, no polling — and an observer's cache shows the resharding settled (no
 * `necessary` or `processing` marker left, every item stored with its settled owner; an item that kept its
 * owner may run before that, the marker must still go). From every reported start/end: no item ran on two
 * instances at once, and an item's fencing tokens never went back (and grew at every change of hands).
 */

export const ROLLING_INSTANCES = ['w1', 'w2', 'w3'] as const;

export interface RollingStartPlan {
  /** Items of the job. */
  count: number;
  /** Between one worker's start and the next one's (the restarts too). */
  spacingMs: number;
  /** Start order, restart order and which restarts are SIGKILLs. */
  seed: number;
  /** How many of the three restarts SIGKILL the host and start the worker in a new process. */
  kills: number;
}

export interface RollingStartOptions {
  /** The registry URL of a namespace (session timeout / lease TTL in it). */
  url(namespace: string): string;
  /** How long after the last (re)start every item may take to run; a phase past it is a stall. */
  boundMs: number;
  /** How long each item runs (default 20 ms). */
  itemMs?: number;
}

export interface PhaseOutcome {
  phase: 'start' | 'restart';
  /** Wall-clock time of the last (re)start: when its host began creating the registry client. */
  lastStart: number;
  /** From the last start until every item had started on its settled owner; undefined past the bound. */
  allRunningMs: number | undefined;
  /**
   * From the last start until the observer's cache showed the resharding settled (no `necessary` or
   * `processing` marker, every item stored with its settled owner); undefined past the bound.
   */
  settledMs: number | undefined;
  /** What the registry and the workers showed when either passed the bound (undefined when in time). */
  stall: string | undefined;
}

export interface RollingStartReport {
  /** What the seed chose, e.g. `start w2,w1,w3; restart w1 stop, w3 kill, w2 stop`. */
  plan: string;
  phases: PhaseOutcome[];
  /** How long each startWorker took, in start order: `w2 412, w1 380, …` (ms). */
  startups: string;
  executions: number;
  overlaps: string[];
  tokenRegressions: string[];
  /** `error` events the workers reported. */
  errors: string[];
  /**
   * `stalled` events the workers' liveness watchdogs reported (each also a repair where the worker may make
   * one): a passing repetition with stalls passed because the watchdog caught something.
   */
  stalls: string[];
}

type JobLine = LogLine & { life: number };

function isJobLine(e: HostEvent): e is JobLine {
  return e.event === 'start' || e.event === 'end';
}

/**
 * The worker hosts of a test file or bench: one per instance id, plus `spares` already-booted hosts that
 * replace a SIGKILLed one (so a "new process" does not add its boot time to the measurement). `fill()`
 * before each repetition replaces what was killed; `close()` SIGKILLs every host by PID.
 */
export class WorkerHostPool {
  private readonly slots = new Map<string, WorkerHost>();
  private spares: WorkerHost[] = [];
  private readonly retired: WorkerHost[] = [];
  private filling: Promise<void> | undefined;

  constructor(
    readonly ids: readonly string[],
    private readonly spareCount: number,
  ) {}

  /**
   * Spawns (in parallel) a host for every slot without a live one, and spares up to `spareCount`. A call
   * while one is in flight joins it.
   */
  fill(): Promise<void> {
    this.filling ??= this.spawnMissing().finally(() => {
      this.filling = undefined;
    });
    return this.filling;
  }

  private async spawnMissing(): Promise<void> {
    const missing = this.ids.filter(id => !(this.slots.get(id)?.isRunning ?? false));
    this.spares = this.spares.filter(h => h.isRunning);
    const spawned = await Promise.allSettled(
      Array.from({ length: missing.length + this.spareCount - this.spares.length }, () =>
        WorkerHost.spawn(),
      ),
    );
    const hosts = spawned.flatMap(r => (r.status === 'fulfilled' ? [r.value] : []));
    for (const id of missing) {
      const host = hosts.shift();
      if (host !== undefined) {
        this.slots.set(id, host);
      }
    }
    this.spares.push(...hosts);
    const failed = spawned.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      throw failed.reason;
    }
  }

  host(id: string): WorkerHost {
    const host = this.slots.get(id);
    if (host === undefined) {
      throw new Error(`no worker host for ${id}: call fill() first`);
    }
    return host;
  }

  /** Puts a spare in `id`'s slot (the caller has killed the old host); throws when none is left. */
  promoteSpare(id: string): WorkerHost {
    const spare = this.spares.shift();
    if (spare === undefined) {
      throw new Error('no spare worker host left');
    }
    this.retired.push(this.host(id));
    this.slots.set(id, spare);
    return spare;
  }

  /** Every host that is or was in this pool. */
  get all(): WorkerHost[] {
    return [...this.retired, ...this.slots.values(), ...this.spares];
  }

  /** SIGKILL every host by PID (after a fill in flight) and wait for the exits. Idempotent. */
  async close(): Promise<void> {
    await this.filling?.catch(() => undefined);
    const hosts = this.all;
    for (const host of hosts) {
      host.sigkill();
    }
    await Promise.all(hosts.map(h => h.exited));
  }
}

/**
 * Everything the lives of one repetition report, and waits on it: every event is pushed here by the
 * hosts' stdout readers, and a pending wait re-checks only the new event.
 */
class Recorder {
  readonly lines: JobLine[] = [];
  readonly errors: string[] = [];
  readonly stalls: string[] = [];
  private readonly notes: string[] = [];
  private readonly watchers = new Set<(line: JobLine) => void>();
  private readonly unsubscribes: (() => void)[] = [];

  constructor(private readonly job: string) {}

  listen(host: WorkerHost, instanceId: string): void {
    this.unsubscribes.push(
      host.onEvent(e => {
        if (isJobLine(e)) {
          if (e.job !== this.job) {
            return;
          }
          this.lines.push(e);
          for (const watcher of [...this.watchers]) {
            watcher(e);
          }
        } else if (e.event === 'error') {
          this.errors.push(`${instanceId} (pid ${host.pid}) t=${e.t}: ${e.error}`);
        } else if (e.event === 'stalled') {
          this.stalls.push(`${instanceId} t=${e.t} ${e.reason} ${e.path} (since t=${e.since})`);
        } else if (e.event === 'leader' || e.event === 'sharded' || e.event === 'connection') {
          const what =
            e.event === 'leader'
              ? `leader ${String(e.isLeader)}`
              : e.event === 'sharded'
                ? `sharded ${e.items.length} items`
                : e.state;
          this.notes.push(`${instanceId} t=${e.t} ${what}`);
        }
      }),
    );
  }

  /** The last `n` leader, sharded and connection-state events, for a stall report. */
  recentNotes(n: number): string[] {
    return this.notes.slice(-n);
  }

  /**
   * Resolves with the time from `since` until every item had started on `owners[item]` at or after
   * `since`, or undefined once `deadlineAt` passes first. Starts reported before this call count.
   */
  allRunning(
    since: number,
    owners: readonly string[],
    deadlineAt: number,
  ): Promise<number | undefined> {
    const first = new Map<number, number>();
    const consider = (l: JobLine): void => {
      if (
        l.event === 'start' &&
        l.t >= since &&
        owners[l.item] === l.instanceId &&
        !first.has(l.item)
      ) {
        first.set(l.item, l.t);
      }
    };
    const done = (): number | undefined =>
      first.size === owners.length ? Math.max(...first.values()) - since : undefined;
    this.lines.forEach(consider);
    const already = done();
    if (already !== undefined) {
      return Promise.resolve(already);
    }
    return new Promise(resolve => {
      const finish = (value: number | undefined): void => {
        clearTimeout(timer);
        this.watchers.delete(watcher);
        resolve(value);
      };
      const watcher = (l: JobLine): void => {
        consider(l);
        const value = done();
        if (value !== undefined) {
          finish(value);
        }
      };
      const timer = setTimeout(() => finish(undefined), Math.max(0, deadlineAt - Date.now()));
      this.watchers.add(watcher);
    });
  }

  close(): void {
    for (const off of this.unsubscribes.splice(0)) {
      off();
    }
    this.watchers.clear();
  }
}

function hold(durationMs: number): Promise<void> {
  return durationMs <= 0
    ? Promise.resolve()
    : new Promise(resolve => setTimeout(resolve, durationMs));
}

/** What the registry (observer cache) and the workers showed when a phase missed its bound. */
function diagnose(
  cache: TreeCache,
  paths: JobPaths,
  recorder: Recorder,
  owners: readonly string[],
  since: number,
): string {
  const ran = new Set(
    recorder.lines
      .filter(l => l.event === 'start' && l.t >= since && owners[l.item] === l.instanceId)
      .map(l => l.item),
  );
  const missing = owners.map((_, item) => item).filter(item => !ran.has(item));
  const startsSince = recorder.lines.filter(l => l.event === 'start' && l.t >= since);
  const byInstance = new Map<string, number>();
  for (const l of startsSince) {
    byInstance.set(l.instanceId, (byInstance.get(l.instanceId) ?? 0) + 1);
  }
  const lastStart = recorder.lines.filter(l => l.event === 'start').at(-1);
  const sample = missing.slice(0, 8);
  return [
    `${missing.length}/${owners.length} items did not start on their settled owner: ${JSON.stringify(missing.slice(0, 40))}${missing.length > 40 ? '…' : ''}`,
    `starts since the last start, by instance: ${JSON.stringify(Object.fromEntries(byInstance))}; last start anywhere: ${
      lastStart === undefined
        ? 'none'
        : `${lastStart.instanceId} #${lastStart.item} at +${lastStart.t - since} ms`
    }`,
    `registry: ${paths.shardingProcessing} ${cache.has(paths.shardingProcessing) ? `PRESENT (${String(cache.get(paths.shardingProcessing))})` : 'absent'}, ` +
      `${paths.shardingNecessary} ${cache.has(paths.shardingNecessary) ? `PRESENT (${String(cache.get(paths.shardingNecessary))})` : 'absent'}, ` +
      `leader ${String(cache.get(paths.electionInstance))}, instances ${JSON.stringify(cache.children(paths.instances))}`,
    `missing items ${JSON.stringify(sample)}: stored owners ${JSON.stringify(sample.map(i => cache.get(paths.itemInstance(i))))}, ` +
      `settled owners ${JSON.stringify(sample.map(i => owners[i]))}, running records ${JSON.stringify(sample.map(i => cache.get(paths.itemRunning(i))))}`,
    `worker errors: ${JSON.stringify(recorder.errors.slice(-5))}`,
    `worker stalls: ${JSON.stringify(recorder.stalls.slice(-5))}`,
    `last leader/sharded/connection events: ${JSON.stringify(recorder.recentNotes(16))}`,
  ].join('\n');
}

/** Runs one repetition of the scenario on `pool`'s hosts (filled first). Never leaves a worker running. */
export async function runRollingStart(
  pool: WorkerHostPool,
  plan: RollingStartPlan,
  options: RollingStartOptions,
): Promise<RollingStartReport> {
  await pool.fill();
  const ids = [...ROLLING_INSTANCES];
  const random = seededRandom(plan.seed);
  const startOrder = shuffled(ids, random);
  const restartOrder = shuffled(ids, random);
  const killed = new Set(shuffled(ids, random).slice(0, plan.kills));
  const planText = `start ${startOrder.join(',')}; restart ${restartOrder
    .map(id => `${id} ${killed.has(id) ? 'kill' : 'stop'}`)
    .join(', ')}`;

  const ns = uniqueNamespace('rs');
  const url = options.url(ns);
  const spec: HostJobSpec = {
    job: ns,
    count: plan.count,
    cron: '* * * * * *',
    itemMs: options.itemMs ?? 20,
  };
  const paths = new JobPaths(spec.job);
  const owners = expectedOwners(ids, plan.count);
  const drainMs = ms(10_000);
  const recorder = new Recorder(spec.job);
  const live = new Set<string>();
  let observer: CoordinatorRegistryCenter | undefined;
  try {
    observer = createRegistryCenter(url);
    await observer.init();
    await observer.addCacheData(paths.root);
    const cache = observer.getRawCache(paths.root);
    if (cache === undefined) {
      throw new Error(`no observer cache of ${paths.root}`);
    }
    for (const id of ids) {
      recorder.listen(pool.host(id), id);
    }
    const startups: string[] = [];
    const start = async (id: string): Promise<number> => {
      live.add(id);
      const { starting, started } = await pool.host(id).start(url, id, spec);
      startups.push(`${id} ${started.t - starting.t}`);
      return starting.t;
    };
    const phase = async (name: PhaseOutcome['phase'], lastStart: number): Promise<PhaseOutcome> => {
      const deadlineAt = lastStart + options.boundMs;
      const [allRunningMs, settledAt] = await Promise.all([
        recorder.allRunning(lastStart, owners, deadlineAt),
        awaitAssignment(cache, paths, ids, plan.count, Math.max(0, deadlineAt - Date.now())).catch(
          () => undefined,
        ),
      ]);
      const settledMs = settledAt === undefined ? undefined : Math.max(0, settledAt - lastStart);
      return {
        phase: name,
        lastStart,
        allRunningMs,
        settledMs,
        stall:
          allRunningMs === undefined || settledMs === undefined
            ? diagnose(cache, paths, recorder, owners, lastStart)
            : undefined,
      };
    };

    /** 3. Drains every worker (and awaits the spares for the next repetition), then judges every execution. */
    const finish = async (phases: PhaseOutcome[]): Promise<RollingStartReport> => {
      await Promise.all([...live].map(id => pool.host(id).stop(drainMs)));
      live.clear();
      await pool.fill();
      const killTimes = new Map<number, number>();
      for (const host of pool.all) {
        if (host.killedAt !== undefined) {
          killTimes.set(host.pid, host.killedAt);
        }
      }
      const all = executions(recorder.lines, killTimes);
      return {
        plan: planText,
        startups: startups.join(', '),
        phases,
        executions: all.length,
        overlaps: overlappingExecutions(all),
        tokenRegressions: tokenRegressions(all),
        errors: recorder.errors,
        stalls: recorder.stalls,
      };
    };

    // 1. Rolling start.
    const starts: Promise<number>[] = [];
    for (const [i, id] of startOrder.entries()) {
      if (i > 0) {
        await hold(plan.spacingMs);
      }
      starts.push(start(id));
    }
    const phases = [await phase('start', Math.max(...(await Promise.all(starts))))];
    if (phases[0]?.stall !== undefined) {
      // A stalled job is not restarted: what follows would only report the stall's aftermath.
      return finish(phases);
    }

    // 2. Rolling restart.
    let lastRestart = 0;
    for (const [i, id] of restartOrder.entries()) {
      if (i > 0) {
        await hold(plan.spacingMs);
      }
      if (killed.has(id)) {
        const victim = pool.host(id);
        victim.sigkill();
        live.delete(id);
        await victim.exited;
        // Started again at once, as a supervisor would: the dead life's session (and instance node) may
        // outlive it by up to a session timeout, and the new process must take over the id anyway.
        recorder.listen(pool.promoteSpare(id), id);
        // The next spare boots meanwhile (as a replacement process would during a real rolling restart);
        // a failed spawn is retried, and reported, by the next fill().
        pool.fill().catch(() => undefined);
      } else {
        await pool.host(id).stop(drainMs);
        live.delete(id);
      }
      lastRestart = await start(id);
    }
    phases.push(await phase('restart', lastRestart));
    return await finish(phases);
  } finally {
    // On a failure: whatever still runs is stopped, or its host killed (fill() replaces it).
    await Promise.all(
      [...live].map(id =>
        pool
          .host(id)
          .stop(drainMs)
          .catch(() => pool.host(id).sigkill()),
      ),
    );
    recorder.close();
    await observer?.close();
  }
}
