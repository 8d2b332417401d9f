import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { JobPaths } from '../../lib/job/job-paths';
import type { TreeCache } from '../../lib/registry/registry-center';
import {
  interleavings,
  readStepLog,
  stepRuns,
  stepsOf,
  tokenRegressions,
  type ChaosLine,
} from '../fixtures/chaos/step-log';
import { spawnNode, type ChildHandle } from './process';
import { ClientLinks, type RegistryCluster } from './registry-cluster';
import { ms } from './timing';
import { instancePid } from './worker-process';

/** The topology worker entry (test/fixtures/topology/worker.ts). */
export const TOPOLOGY_WORKER = resolve(__dirname, '../fixtures/topology/worker.ts');

/** A JSON line the topology worker prints. */
export interface TopologyEvent {
  event: 'state' | 'sharded' | 'leader' | 'stalled' | 'error' | 'ready';
  state?: string;
  sessionEpoch?: number;
  job?: string;
  items?: number[];
  isLeader?: boolean;
  reason?: string;
  error?: string;
  snapshot?: boolean;
  t: number;
}

/** One worker process with its own links (a proxy per cluster member) named in its registry URL. */
export class TopologyWorker {
  constructor(
    readonly instanceId: string,
    readonly child: ChildHandle,
    readonly links: ClientLinks,
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  events(): TopologyEvent[] {
    const out: TopologyEvent[] = [];
    for (const line of this.child.lines.seen) {
      if (line.startsWith('{')) {
        try {
          out.push(JSON.parse(line) as TopologyEvent);
        } catch {
          // not an event line
        }
      }
    }
    return out;
  }

  describe(lines = 15): string {
    const tail = this.child.stderr().trimEnd().split('\n').slice(-lines).join('\n');
    return `--- ${this.instanceId} (pid ${this.pid}) stderr ---\n${tail}`;
  }
}

export interface TopologyFleetOptions {
  cluster: RegistryCluster;
  namespace: string;
  sessionMs: number;
  job: string;
  /** The observer's started tree cache of `/{job}`. */
  cache: TreeCache;
  logFile: string;
  /** CHAOS_* environment of the stepping job. */
  env: Record<string, string>;
}

/**
 * Topology-test workers: each one reaches the cluster only through its own ClientLinks, so one worker's
 * links can be cut while the others (and the observer) keep theirs. Killed by PID in `killAll()`.
 */
export class TopologyFleet {
  readonly workers: TopologyWorker[] = [];
  readonly paths: JobPaths;

  constructor(readonly options: TopologyFleetOptions) {
    this.paths = new JobPaths(options.job);
  }

  async start(...ids: string[]): Promise<TopologyWorker[]> {
    const started = await Promise.all(ids.map(id => this.spawn(id)));
    await Promise.all(started.map(w => this.awaitRegistered(w)));
    return started;
  }

  /** The newest process of `id` (a restart adds one). */
  worker(id: string): TopologyWorker {
    const w = [...this.workers].reverse().find(x => x.instanceId === id);
    if (w === undefined) {
      throw new Error(`no worker ${id}`);
    }
    return w;
  }

  private async spawn(id: string): Promise<TopologyWorker> {
    const { cluster, namespace, sessionMs } = this.options;
    const links = await ClientLinks.open(cluster);
    const child = spawnNode(
      TOPOLOGY_WORKER,
      [cluster.url(namespace, sessionMs, links.endpoints), id],
      { SHARDLINE_TEST_LOG: this.options.logFile, ...this.options.env },
    );
    const worker = new TopologyWorker(id, child, links);
    this.workers.push(worker);
    return worker;
  }

  /** Spawns a new process for `id` (e.g. after a SIGKILL) and waits for its own registration. */
  async restart(id: string): Promise<TopologyWorker> {
    const worker = await this.spawn(id);
    await this.awaitRegistered(worker);
    return worker;
  }

  /**
   * Resolves once the worker's own instance node is in the observer's cache (its value names this
   * process's pid, not an earlier life's whose session has not expired yet); fails fast if it exits.
   */
  async awaitRegistered(worker: TopologyWorker, timeoutMs = ms(60_000)): Promise<void> {
    const path = this.paths.instance(worker.instanceId);
    const controller = new AbortController();
    const registered = this.options.cache.waitFor(c => instancePid(c.get(path)) === worker.pid, {
      timeoutMs,
      signal: controller.signal,
    });
    const died = worker.child.exited.then(code => {
      throw new Error(
        `worker ${worker.instanceId} exited (code ${String(code)})\n${worker.describe()}`,
      );
    });
    try {
      await Promise.race([registered, died]);
    } finally {
      controller.abort();
      registered.catch(() => undefined);
      died.catch(() => undefined);
    }
  }

  /** SIGKILL every worker by PID, wait for the exits, close their links. Idempotent. */
  async killAll(): Promise<void> {
    for (const w of this.workers) {
      w.child.kill('SIGKILL');
    }
    await Promise.all(this.workers.map(w => w.child.exited));
    await Promise.all(this.workers.map(w => w.links.close()));
  }
}

/** What one phase of a topology test did to the job, from the step log and the workers' events. */
export interface PhaseReport {
  name: string;
  from: number;
  to: number;
  /** Pairs of executions of one item by two processes whose steps interleaved (must be empty). */
  overlaps: string[];
  /** Changes of hands whose fencing token did not grow (must be empty). */
  regressions: string[];
  /** Per worker: connection states reported in the phase, in order. */
  states: Record<string, string[]>;
  /** LOST reported by any worker in the phase. */
  lost: number;
  /** `sharded` events whose items differ from the worker's previous ones (item moves). */
  reshardings: number;
  /** `stalled` events. */
  stalled: string[];
  /** `error` events in the phase, counted per worker and first words of the message. */
  errors: Record<string, number>;
  /** The longest time any item went without a step in [from, to], with the item and its owner. */
  maxGap: { ms: number; item: number; instanceId: string; at: number };
  /** Per worker: the longest time any of its items went without a step. */
  maxGapByWorker: Record<string, number>;
  /** Items that never stepped in the phase. */
  idleItems: number[];
  /** What the test did when (ms into the phase), set by the test. */
  marks: string[];
  /** The machine's 1-minute load average when the phase ended (timings on 2 cores depend on it). */
  load: number;
}

/**
 * The report of `[from, to]`. Overlaps and token regressions are judged over the whole log up to `to` (an
 * execution may straddle the phase's start); gaps, states and reshardings within the phase.
 */
export function phaseReport(
  name: string,
  lines: readonly ChaosLine[],
  workers: readonly TopologyWorker[],
  count: number,
  from: number,
  to: number,
): PhaseReport {
  const upTo = lines.filter(l => l.t <= to);
  const runs = stepRuns(upTo);
  const phaseRuns = runs.filter(r => r.last >= from);
  const overlaps = interleavings(runs).filter(o => phaseRuns.some(r => o.includes(`pid ${r.pid}`)));
  const regressions = tokenRegressions(runs).filter(o =>
    phaseRuns.some(r => o.includes(`pid ${r.pid}`)),
  );
  const states: Record<string, string[]> = {};
  let lost = 0;
  let reshardings = 0;
  const stalled: string[] = [];
  const errors: Record<string, number> = {};
  for (const w of workers) {
    const events = w.events();
    let previous: string | undefined;
    for (const e of events) {
      if (e.event === 'sharded') {
        const items = JSON.stringify(e.items ?? []);
        if (e.t >= from && e.t <= to && previous !== undefined && items !== previous) {
          reshardings++;
        }
        previous = items;
      }
    }
    const inPhase = events.filter(e => e.t >= from && e.t <= to);
    states[w.instanceId] = inPhase.flatMap(e => (e.event === 'state' ? [e.state ?? '?'] : []));
    lost += inPhase.filter(e => e.event === 'state' && e.state === 'LOST').length;
    stalled.push(
      ...inPhase
        .filter(e => e.event === 'stalled')
        .map(e => `${w.instanceId}: ${e.reason ?? '?'} ${e.t - from} ms into the phase`),
    );
    for (const e of inPhase.filter(e => e.event === 'error')) {
      // Without the registry URL every message starts with: the first words of what went wrong.
      const message = (e.error ?? '?').replace(/^(zookeeper|etcd):\/\/\S+: /, '');
      const key = `${w.instanceId} ${message.slice(0, 70)}`;
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
  const byItem = new Map<number, { t: number; instanceId: string }[]>();
  for (const s of stepsOf(lines)) {
    if (s.t >= from && s.t <= to) {
      byItem.set(s.item, [...(byItem.get(s.item) ?? []), { t: s.t, instanceId: s.instanceId }]);
    }
  }
  let maxGap = { ms: 0, item: -1, instanceId: '', at: from };
  const maxGapByWorker: Record<string, number> = {};
  const idleItems: number[] = [];
  for (let item = 0; item < count; item++) {
    const steps = (byItem.get(item) ?? []).sort((a, b) => a.t - b.t);
    if (steps.length === 0) {
      idleItems.push(item);
      continue;
    }
    let prev = { t: from, instanceId: steps[0]?.instanceId ?? '' };
    for (const s of [...steps, { t: to, instanceId: steps[steps.length - 1]?.instanceId ?? '' }]) {
      const gap = s.t - prev.t;
      // The gap belongs to the owner before it (whose items stopped running).
      maxGapByWorker[prev.instanceId] = Math.max(maxGapByWorker[prev.instanceId] ?? 0, gap);
      if (gap > maxGap.ms) {
        maxGap = { ms: gap, item, instanceId: prev.instanceId, at: prev.t };
      }
      prev = s;
    }
  }
  return {
    name,
    from,
    to,
    overlaps,
    regressions,
    states,
    lost,
    reshardings,
    stalled,
    errors,
    maxGap,
    maxGapByWorker,
    idleItems,
    marks: [],
    load: Math.round(loadavg()[0] ?? 0),
  };
}

/** One line per phase, for the test output and docs/guarantees.md. */
export function formatReport(kind: string, r: PhaseReport): string {
  const states = Object.entries(r.states)
    .filter(([, s]) => s.length > 0)
    .map(([id, s]) => `${id}:${s.join('>')}`)
    .join(' ');
  const gaps = Object.entries(r.maxGapByWorker)
    .sort()
    .map(([id, g]) => `${id} ${g}`)
    .join(', ');
  return (
    `[topology ${kind}] ${r.name}: overlaps ${r.overlaps.length}, token regressions ${r.regressions.length}, ` +
    `LOST ${r.lost}, item moves ${r.reshardings}, stalled ${r.stalled.length}, idle items ${r.idleItems.length}, ` +
    `max gap ${r.maxGap.ms} ms (item ${r.maxGap.item} on ${r.maxGap.instanceId}); ` +
    `max gap per worker ms: ${gaps}; states: ${states || 'none'}; faults: ${r.marks.join(', ')}; ` +
    `errors: ${
      Object.entries(r.errors)
        .map(([k, n]) => `${k} ×${n}`)
        .join('; ') || 'none'
    }; ` +
    `load average ${r.load}`
  );
}

/** The step log, re-read. */
export function stepLog(file: string): ChaosLine[] {
  return readStepLog(file);
}
