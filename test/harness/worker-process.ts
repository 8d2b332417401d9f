import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { JobPaths } from '../../lib/job/job-paths';
import { averageAllocation } from '../../lib/job/sharding/average-allocation';
import type { CoordinatorRegistryCenter, TreeCache } from '../../lib/registry/registry-center';
import type { LogLine } from '../fixtures/jobs/reporting-job';
import { waitFor } from './events';
import { spawnNode, type ChildHandle } from './process';
import { ms } from './timing';

export type { LogLine } from '../fixtures/jobs/reporting-job';

/** The `shardline` CLI entry (run through tsx) and the reporting job module the workers load. */
export const CLI_MAIN = resolve(__dirname, '../../lib/cli/main.ts');
export const REPORTING_JOB_MODULE = resolve(__dirname, '../fixtures/jobs/reporting-job.ts');
/** The fixture worker entry that prints its worker's events as JSON lines (benches time `sharded` with it). */
export const FIXTURE_WORKER = resolve(__dirname, '../fixtures/jobs/worker.ts');
/** The stepping job of the failure and chaos tests (test/fixtures/chaos/stepping-job.ts). */
export const STEPPING_JOB_MODULE = resolve(__dirname, '../fixtures/chaos/stepping-job.ts');

/** How long a fresh `node --import tsx` worker may take to register (2 shared cores, cold tsx cache). */
const START_TIMEOUT_MS = 20_000;

export interface FleetOptions {
  /** e.g. `zookeeper://127.0.0.1:P/ns?sessionTimeoutMs=2000` */
  registryUrl: string;
  /** The job whose `instances/{id}` nodes mark a worker as registered. */
  job: string;
  /** A started tree cache of `/{job}` on the test's own registry client (the observer). */
  cache: TreeCache;
  /** The JSON-lines file the reporting job appends to (`SHARDLINE_TEST_LOG`). */
  logFile: string;
  /** Extra environment for the workers (FIXTURE_CRON, FIXTURE_COUNT, ITEM_MS…). */
  env?: Record<string, string>;
  /** Job module to run with `shardline run` (default: the reporting job). */
  module?: string;
  /**
   * `shardline-run` (default): the real CLI. `fixture-worker`: test/fixtures/jobs/worker.ts, which runs the
   * reporting job and prints its worker's events (`sharded`, `leader`, `error`) as JSON lines on stdout.
   */
  runner?: 'shardline-run' | 'fixture-worker';
}

/** A line the fixture worker prints on stdout. */
export interface WorkerEventLine {
  event: 'ready' | 'sharded' | 'leader' | 'error';
  job?: string;
  items?: number[];
  isLeader?: boolean;
  error?: string;
  t: number;
}

/** One `shardline run` worker process. Signals go to its PID; `exited` never rejects. */
export class WorkerProcess {
  /** Wall-clock time of the SIGKILL, when this harness killed it (ends its open log intervals). */
  killedAt: number | undefined;
  /** 'running' until the process has exited; then its exit code (null when ended by a signal). */
  exitCode: number | null | 'running' = 'running';
  /** Wall-clock time of the last SIGSTOP not yet followed by a SIGCONT (undefined while not stopped). */
  stoppedAt: number | undefined;

  constructor(
    readonly instanceId: string,
    private readonly child: ChildHandle,
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  /** Exit code, or null when ended by a signal. */
  get exited(): Promise<number | null> {
    return this.child.exited;
  }

  get isRunning(): boolean {
    return this.exitCode === 'running';
  }

  stderr(): string {
    return this.child.stderr();
  }

  stdout(): readonly string[] {
    return this.child.lines.seen;
  }

  /** The JSON event lines printed so far (fixture-worker runner); other stdout lines are skipped. */
  events(): WorkerEventLine[] {
    const out: WorkerEventLine[] = [];
    for (const line of this.child.lines.seen) {
      if (line.startsWith('{')) {
        try {
          out.push(JSON.parse(line) as WorkerEventLine);
        } catch {
          // Not an event line.
        }
      }
    }
    return out;
  }

  sigkill(): void {
    if (this.isRunning && this.killedAt === undefined) {
      this.killedAt = Date.now();
    }
    this.child.kill('SIGKILL');
  }

  sigterm(): void {
    this.child.kill('SIGTERM');
  }

  sigstop(): void {
    if (this.isRunning) {
      this.stoppedAt = Date.now();
    }
    this.child.kill('SIGSTOP');
  }

  sigcont(): void {
    this.stoppedAt = undefined;
    this.child.kill('SIGCONT');
  }

  get isStopped(): boolean {
    return this.isRunning && this.stoppedAt !== undefined;
  }

  /** For failure messages: the last lines of stderr. */
  describe(lines = 15): string {
    const tail = this.stderr().trimEnd().split('\n').slice(-lines).join('\n');
    return `--- ${this.instanceId} (pid ${this.pid}) stderr ---\n${tail}`;
  }
}

/**
 * Worker processes for multi-process tests: `node --import tsx lib/cli/main.ts run <module> --registry
 * <url> --instance-id <id>` (the real `shardline run`, which drains on SIGTERM). Every child is tracked
 * here (and by harness/process.ts, which SIGKILLs leftovers when the test process exits); call
 * `killAll()` in an after/afterEach hook.
 */
export class WorkerFleet {
  private readonly all: WorkerProcess[] = [];
  readonly paths: JobPaths;

  constructor(readonly options: FleetOptions) {
    this.paths = new JobPaths(options.job);
  }

  /** Every worker started so far (running or not), in start order. */
  get workers(): readonly WorkerProcess[] {
    return this.all;
  }

  get running(): WorkerProcess[] {
    return this.all.filter(w => w.isRunning);
  }

  /** Spawns a worker without waiting for it. */
  spawn(instanceId: string, env: Record<string, string> = {}): WorkerProcess {
    const fullEnv = { SHARDLINE_TEST_LOG: this.options.logFile, ...this.options.env, ...env };
    const child =
      this.options.runner === 'fixture-worker'
        ? spawnNode(FIXTURE_WORKER, [this.options.registryUrl, instanceId], fullEnv)
        : this.spawnCli(instanceId, fullEnv);
    const worker = new WorkerProcess(instanceId, child);
    void child.exited.then(code => {
      worker.exitCode = code;
    });
    this.all.push(worker);
    return worker;
  }

  private spawnCli(instanceId: string, env: Record<string, string>): ChildHandle {
    return spawnNode(
      CLI_MAIN,
      [
        'run',
        this.options.module ?? REPORTING_JOB_MODULE,
        '--registry',
        this.options.registryUrl,
        '--instance-id',
        instanceId,
        '--drain-timeout-ms',
        String(ms(10_000)),
      ],
      env,
    );
  }

  /**
   * Spawns workers and resolves once each one's `instances/{id}` node is in the observer's cache (a cache
   * waitFor: no polling), with a deadline. Fails fast, with its stderr, when a worker exits first.
   */
  async start(...instanceIds: string[]): Promise<WorkerProcess[]> {
    const started = instanceIds.map(id => this.spawn(id));
    await Promise.all(started.map(w => this.awaitRegistered(w)));
    return started;
  }

  /** Resolves once `worker`'s instance node exists; rejects after a deadline or if the process exits. */
  async awaitRegistered(worker: WorkerProcess, timeoutMs = ms(START_TIMEOUT_MS)): Promise<void> {
    const path = this.paths.instance(worker.instanceId);
    const controller = new AbortController();
    const registered = this.options.cache.waitFor(c => c.has(path), {
      timeoutMs,
      signal: controller.signal,
    });
    const died = worker.exited.then(code => {
      throw new Error(
        `worker ${worker.instanceId} exited (code ${String(code)}) before registering\n${worker.describe()}`,
      );
    });
    try {
      await Promise.race([registered, died]);
    } catch (err) {
      if (worker.isRunning) {
        throw new Error(
          `worker ${worker.instanceId} did not register ${path} within ${timeoutMs} ms: ${String(err)}\n${worker.describe()}`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      controller.abort();
      registered.catch(() => undefined);
      died.catch(() => undefined);
    }
  }

  /** SIGKILL (by PID) every worker still running and wait for the exits. Idempotent. */
  async killAll(): Promise<void> {
    const alive = this.all.filter(w => w.isRunning);
    for (const w of alive) {
      if (w.isStopped) {
        w.sigcont(); // SIGKILL ends a stopped process anyway; SIGCONT first keeps it conventional
      }
      w.sigkill();
      w.sigcont(); // a SIGSTOPped process handles SIGKILL anyway; this keeps ps tidy
    }
    await Promise.all(alive.map(w => w.exited));
  }

  /**
   * Resolves once `worker`'s own instance node exists: `instances/{id}` whose value names this process's
   * pid — not a node left by an earlier life of the same instance id (whose session may not have expired
   * yet). A cache waitFor with a deadline; fails fast, with its stderr, when the worker exits first.
   */
  async awaitLife(worker: WorkerProcess, timeoutMs = ms(START_TIMEOUT_MS)): Promise<void> {
    const path = this.paths.instance(worker.instanceId);
    const controller = new AbortController();
    const registered = this.options.cache.waitFor(c => instancePid(c.get(path)) === worker.pid, {
      timeoutMs,
      signal: controller.signal,
    });
    const died = worker.exited.then(code => {
      throw new Error(
        `worker ${worker.instanceId} exited (code ${String(code)}) before registering\n${worker.describe()}`,
      );
    });
    try {
      await Promise.race([registered, died]);
    } catch (err) {
      if (worker.isRunning) {
        throw new Error(
          `worker ${worker.instanceId} (pid ${worker.pid}) did not register ${path} within ${timeoutMs} ms: ${String(err)}\n${worker.describe()}`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      controller.abort();
      registered.catch(() => undefined);
      died.catch(() => undefined);
    }
  }

  /** Spawns a new process for `instanceId` (e.g. after a SIGKILL) and waits for its own registration. */
  async restart(instanceId: string): Promise<WorkerProcess> {
    const worker = this.spawn(instanceId);
    await this.awaitLife(worker);
    return worker;
  }

  /** The newest process started for `instanceId`. */
  latest(instanceId: string): WorkerProcess | undefined {
    return [...this.all].reverse().find(w => w.instanceId === instanceId);
  }
}

/** The pid stored in an instance node's JSON value, or undefined when absent or unreadable. */
export function instancePid(raw: string | null): number | undefined {
  if (raw === null) {
    return undefined;
  }
  try {
    const info = JSON.parse(raw) as { pid?: unknown };
    return typeof info.pid === 'number' ? info.pid : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The reporting job's log (test/fixtures/jobs/reporting-job.ts).
//
// Waiting on it is the one place where the harness polls: the log is a plain file written by other
// processes, so there is no registry event to await. `waitForLog` re-reads it every 50 ms (fs.watch is
// not reliable for appends from other processes on every filesystem) until the predicate holds, with a
// deadline, and fails with the lines seen.
// ---------------------------------------------------------------------------------------------------------

/** Every complete line of the log (a torn last line, if any, is skipped). */
export function readLog(file: string): LogLine[] {
  if (!existsSync(file)) {
    return [];
  }
  const out: LogLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // An incomplete last line: the writer is mid-append.
    }
  }
  return out;
}

/** Resolves with the log once `predicate(lines)` holds; rejects after `timeoutMs` naming `what`. */
export async function waitForLog(
  file: string,
  predicate: (lines: LogLine[]) => boolean,
  timeoutMs: number,
  what: string,
): Promise<LogLine[]> {
  let lines: LogLine[] = [];
  try {
    await waitFor(
      () => {
        lines = readLog(file);
        return predicate(lines);
      },
      timeoutMs,
      what,
      50,
    );
  } catch (err) {
    const tail = lines
      .slice(-20)
      .map(l => `${l.event} ${l.job}#${l.item} ${l.instanceId} t=${l.t}`)
      .join('\n');
    throw new Error(`${String(err)}\nlast log lines:\n${tail}`, { cause: err });
  }
  return lines;
}

/** One execution reconstructed from the log: [start, end); `end` is Infinity while it has not ended. */
export interface Execution {
  job: string;
  item: number;
  instanceId: string;
  pid: number;
  fencingToken: number;
  start: number;
  end: number;
}

/**
 * Pairs start/end lines per (pid, job, item). A start without an end lasts until its process was killed
 * (`killedAt` by pid), or forever when the process is still alive: the most conservative reading.
 */
export function executions(
  lines: readonly LogLine[],
  killedAt: ReadonlyMap<number, number> = new Map(),
): Execution[] {
  const open = new Map<string, Execution>();
  const done: Execution[] = [];
  for (const line of lines) {
    const key = `${line.pid}/${line.job}/${line.item}`;
    if (line.event === 'start') {
      const prev = open.get(key);
      if (prev !== undefined) {
        done.push(prev); // two starts without an end in one process: keep both open-ended
      }
      open.set(key, {
        job: line.job,
        item: line.item,
        instanceId: line.instanceId,
        pid: line.pid,
        fencingToken: line.fencingToken,
        start: line.t,
        end: Infinity,
      });
    } else {
      const exec = open.get(key);
      if (exec !== undefined) {
        exec.end = line.t;
        open.delete(key);
        done.push(exec);
      }
    }
  }
  for (const exec of open.values()) {
    exec.end = killedAt.get(exec.pid) ?? Infinity;
    done.push(exec);
  }
  return done;
}

/**
 * Every pair of executions of one item (same job) whose intervals overlap, as readable strings: empty when
 * no item ever ran twice at the same time (with monitorExecution, one item never runs on two instances at
 * once). Intervals are half-open: an end at t and a start
 * at t do not overlap (the next run starts only after the previous one released its running record).
 */
export function overlappingExecutions(all: readonly Execution[]): string[] {
  const problems: string[] = [];
  for (const [key, list] of executionsByItem(all)) {
    let latest: Execution | undefined;
    for (const e of list) {
      if (latest !== undefined && e.start < latest.end) {
        problems.push(
          `${key}: ${latest.instanceId} [${latest.start}, ${latest.end}) overlaps ${e.instanceId} [${e.start}, ${e.end})`,
        );
      }
      if (latest === undefined || e.end > latest.end) {
        latest = e;
      }
    }
  }
  return problems;
}

/**
 * Every pair of consecutive executions of one item (by start) whose fencing token went back, or did not
 * grow although the item changed hands (another instance id), as readable strings: empty when tokens never
 * went back. The same instance running it again without a resharding keeps its token.
 */
export function tokenRegressions(all: readonly Execution[]): string[] {
  const problems: string[] = [];
  for (const [key, list] of executionsByItem(all)) {
    list.forEach((next, i) => {
      const prev = list[i - 1];
      if (
        prev !== undefined &&
        (next.fencingToken < prev.fencingToken ||
          (next.instanceId !== prev.instanceId && next.fencingToken === prev.fencingToken))
      ) {
        problems.push(
          `${key}: ${prev.instanceId}/pid ${prev.pid} token ${prev.fencingToken} at ${prev.start}, then ` +
            `${next.instanceId}/pid ${next.pid} token ${next.fencingToken} at ${next.start}`,
        );
      }
    });
  }
  return problems;
}

/** Executions grouped by `job#item`, each list in start order. */
function executionsByItem(all: readonly Execution[]): Map<string, Execution[]> {
  const byItem = new Map<string, Execution[]>();
  for (const e of all) {
    const key = `${e.job}#${e.item}`;
    const list = byItem.get(key) ?? [];
    list.push(e);
    byItem.set(key, list);
  }
  for (const list of byItem.values()) {
    list.sort((a, b) => a.start - b.start);
  }
  return byItem;
}

/** `killedAt` of every worker the harness SIGKILLed, by pid (for `executions`). */
export function killTimes(workers: readonly WorkerProcess[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const w of workers) {
    if (w.killedAt !== undefined) {
      out.set(w.pid, w.killedAt);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Assignment, as an observer client's tree cache of `/{job}` sees it.
// ---------------------------------------------------------------------------------------------------------

/** Item → owner as stored (`sharding/{n}/instance`), for items 0..count-1. */
export function storedOwners(cache: TreeCache, paths: JobPaths, count: number): (string | null)[] {
  return Array.from({ length: count }, (_, item) => cache.get(paths.itemInstance(item)));
}

/** Item → owner that AVG_ALLOCATION gives for these instances (sorted ascending). */
export function expectedOwners(instances: readonly string[], count: number): string[] {
  const out: string[] = [];
  for (const [instance, items] of averageAllocation([...instances].sort(), count)) {
    for (const item of items) {
      out[item] = instance;
    }
  }
  return out;
}

/** What awaitAssignment reads from the server, past its cache, to describe a failure. */
export type DirectReader = Pick<CoordinatorRegistryCenter, 'getDirectly' | 'getChildrenKeys'>;

/** Owners as runs, e.g. `w1×150, w2×86, null×64` (300 JSON strings hide what matters). */
function runs(owners: readonly (string | null)[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < owners.length) {
    let j = i;
    while (j < owners.length && owners[j] === owners[i]) {
      j++;
    }
    out.push(`${String(owners[i])}×${j - i} [${i}..${j - 1}]`);
    i = j;
  }
  return out.join(', ');
}

/**
 * The assignment read from the server (not the cache), and the items where the cache differs: tells a
 * cache that missed changes from a leader that never wrote them.
 */
async function describeDirect(
  direct: DirectReader,
  paths: JobPaths,
  count: number,
  cached: readonly (string | null)[],
): Promise<string> {
  try {
    const owners = await Promise.all(
      Array.from({ length: count }, (_, item) => direct.getDirectly(paths.itemInstance(item))),
    );
    const differ = owners.flatMap((owner, item) =>
      owner === cached[item]
        ? []
        : [`${item}: server ${String(owner)}, cache ${String(cached[item])}`],
    );
    const [instances, necessary, processing, record] = await Promise.all([
      direct.getChildrenKeys(paths.instances),
      direct.getDirectly(paths.shardingNecessary),
      direct.getDirectly(paths.shardingProcessing),
      direct.getDirectly(paths.sharding),
    ]);
    return (
      `\n  read from the server: owners ${runs(owners)}, instances ${JSON.stringify(instances)}, ` +
      `necessary: ${String(necessary !== null)}, processing: ${String(processing !== null)}, ` +
      `generation record: ${JSON.stringify(record)}` +
      `\n  cache ≠ server at ${differ.length} item(s)${differ.length === 0 ? '' : `: ${differ.slice(0, 20).join('; ')}`}`
    );
  } catch (e) {
    return `\n  (the direct read failed: ${String(e)})`;
  }
}

/**
 * Waits on the cache (no polling) until no resharding is pending and the stored assignment is
 * AVG_ALLOCATION over exactly `instances`, with no owner node at or beyond `count`. Resolves with the
 * wall-clock time at which the cache showed it; rejects after `timeoutMs` with what it held and, given
 * `direct` (the observer registry), what the server holds and where the two differ: a cache that fell
 * behind then reads differently from a leader that never wrote the assignment.
 */
export async function awaitAssignment(
  cache: TreeCache,
  paths: JobPaths,
  instances: readonly string[],
  count: number,
  timeoutMs: number,
  direct?: DirectReader,
): Promise<number> {
  const want = expectedOwners(instances, count);
  let at = 0;
  const settled = (c: TreeCache): boolean => {
    const ok =
      !c.has(paths.shardingNecessary) &&
      !c.has(paths.shardingProcessing) &&
      storedOwners(c, paths, count).every((owner, item) => owner === want[item]) &&
      c
        .children(paths.sharding)
        .map(Number)
        .every(item => item < count || !c.has(paths.itemInstance(item)));
    if (ok) {
      at = Date.now();
    }
    return ok;
  };
  try {
    await cache.waitFor(settled, { timeoutMs });
  } catch (err) {
    const cached = storedOwners(cache, paths, count);
    let server = '';
    if (direct !== undefined) {
      server = await describeDirect(direct, paths, count, cached);
    }
    throw new Error(
      `assignment did not settle to ${runs(want)} within ${timeoutMs} ms: cached ${runs(cached)}, instances ${JSON.stringify(
        cache.children(paths.instances),
      )}, necessary: ${String(cache.has(paths.shardingNecessary))}, processing: ${String(
        cache.has(paths.shardingProcessing),
      )}, generation record: ${JSON.stringify(cache.get(paths.sharding))}${server}`,
      { cause: err },
    );
  }
  return at;
}
