import { CorruptedDataError } from '../errors';
import type {
  ExecutionHistoryReader,
  ExecutionOutcome,
  ExecutionRecord,
  ExecutionTrigger,
  HistoryFilter,
} from '../history/execution-record';
import { parseInstanceInfo, type InstanceInfo } from '../job/job-instance';
import { JobPaths } from '../job/job-paths';
import { nextFireTime } from '../job/scheduler/cron';
import { getJobStatus, listJobs } from '../ops/statistics';
import type { ItemInfo, JobBrief, JobStatus } from '../ops/ops-types';
import type { JobConfig } from '../ops/job-layer';
import { readConfig, requireJob } from '../ops/job-reader';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import type { RegistryFollower } from './registry-follower';

/**
 * The console's views, computed from the follower's cache with the operations API's own rules
 * (statuses from `ops/statistics`), plus what only the console shows: next fire, last runs (the items'
 * `last` records), failures in the last hour and instance details. Pure reads: nothing here writes.
 */

const HOUR_MS = 3_600_000;
/** Most history rows one query returns. */
export const HISTORY_LIMIT = 500;

/** One row of the jobs overview. */
export interface JobRow {
  job: string;
  status: JobStatus | 'CORRUPTED';
  cron: string | null;
  timeZone: string | null;
  /** Epoch ms, null for a one-off or disabled job. */
  nextFireAt: number | null;
  items: number | null;
  instances: number;
  leader: string | null;
  /** Failed runs that ended in the last hour (from the history, else from the items' last runs). */
  failuresLastHour: number;
  disabled: boolean;
  /** For a CORRUPTED job: why its configuration cannot be read. */
  reason?: string;
}

/** A run as the console shows it (an ExecutionRecord; `item`/`job` always set). */
export type RunView = ExecutionRecord;

/** One item of the job detail. */
export interface ItemRow extends ItemInfo {
  parameter: string;
  disabled: boolean;
  /** The item's last run, from its `last` record; null when none was recorded. */
  last: RunView | null;
}

export interface JobDetail {
  job: string;
  status: JobStatus;
  leader: string | null;
  instances: string[];
  config: JobConfig;
  /** Version of `/{job}/config`, for the version-checked edit. */
  configVersion: number;
  nextFireAt: number | null;
  items: ItemRow[];
  /** Server IP → 'ENABLED' | 'DISABLED' as stored. */
  servers: Record<string, string>;
}

/** One live instance and the jobs it runs. */
export interface InstanceRow {
  instanceId: string;
  ip: string | null;
  host: string | null;
  pid: number | null;
  startedAt: number | null;
  version: string | null;
  jobs: { job: string; serverEnabled: boolean; items: number[]; leader: boolean }[];
}

export interface HistoryView {
  /** `history`: the configured history reader; `last-run`: the items' last runs kept in the registry. */
  source: 'history' | 'last-run';
  records: RunView[];
}

export interface HealthView {
  backend: string;
  connectionState: string;
  sessionEpoch: number;
  sessionTimeoutMs: number;
  /** Ms since the newest server contact that renewed the session. */
  sinceLastContactMs: number | null;
  cacheNodes: number;
  historySource: HistoryView['source'];
}

export class ConsoleViews {
  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    private readonly follower: RegistryFollower,
    private readonly history: ExecutionHistoryReader | undefined,
  ) {}

  async overview(now = Date.now()): Promise<JobRow[]> {
    const reader = this.follower.reader;
    const briefs = await listJobs(reader);
    return Promise.all(briefs.map(brief => this.jobRow(brief, now)));
  }

  async job(name: string): Promise<JobDetail> {
    const reader = this.follower.reader;
    const paths = await requireJob(reader, name);
    const [status, config] = await Promise.all([
      getJobStatus(reader, name),
      readConfig(reader, paths),
    ]);
    const cache = this.follower.view;
    const servers: Record<string, string> = {};
    for (const ip of cache.children(paths.servers)) {
      servers[ip] = cache.get(paths.server(ip)) ?? '';
    }
    return {
      job: name,
      status: status.status,
      leader: status.leader,
      instances: status.instances,
      config,
      configVersion: cache.getData(paths.config)?.version ?? -1,
      nextFireAt: nextFire(config, Date.now()),
      items: status.items.map(info => ({
        ...info,
        parameter: config.shardingItemParameters[String(info.item)] ?? '',
        disabled: cache.has(paths.itemDisabled(info.item)),
        last: this.lastRun(paths, info.item),
      })),
      servers,
    };
  }

  async instances(): Promise<InstanceRow[]> {
    const cache = this.follower.view;
    const rows = new Map<string, InstanceRow>();
    const briefs = await listJobs(this.follower.reader);
    for (const { job } of briefs) {
      const paths = new JobPaths(job);
      const leader = cache.get(paths.electionInstance);
      const owned = new Map<string, number[]>();
      for (const name of cache.children(paths.sharding)) {
        const owner = cache.get(paths.itemInstance(Number(name)));
        if (owner !== null && /^\d+$/.test(name)) {
          owned.set(owner, [...(owned.get(owner) ?? []), Number(name)]);
        }
      }
      for (const id of cache.children(paths.instances)) {
        const info = readInstance(paths, id, cache.get(paths.instance(id)));
        const row = rows.get(id) ?? {
          instanceId: id,
          ip: info?.ip ?? null,
          host: info?.host ?? null,
          pid: info?.pid ?? null,
          startedAt: info?.startedAt ?? null,
          version: info?.version ?? null,
          jobs: [],
        };
        const server = info === undefined ? null : cache.get(paths.server(info.ip));
        row.jobs.push({
          job,
          serverEnabled: server !== 'DISABLED',
          items: (owned.get(id) ?? []).sort((a, b) => a - b),
          leader: leader === id,
        });
        rows.set(id, row);
      }
    }
    return [...rows.values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
  }

  /** History through the reader when there is one, else the items' last runs (newest first). */
  async runs(filter: HistoryFilter): Promise<HistoryView> {
    const limit = Math.min(filter.limit ?? HISTORY_LIMIT, HISTORY_LIMIT);
    if (this.history !== undefined) {
      return { source: 'history', records: await this.history.query({ ...filter, limit }) };
    }
    const jobs =
      filter.job !== undefined
        ? [filter.job]
        : (await listJobs(this.follower.reader)).map(j => j.job);
    const records: RunView[] = [];
    for (const job of jobs) {
      const paths = new JobPaths(job);
      for (const name of this.follower.view.children(paths.sharding)) {
        const run = /^\d+$/.test(name) ? this.lastRun(paths, Number(name)) : null;
        if (run !== null && matches(run, filter)) {
          records.push(run);
        }
      }
    }
    records.sort((a, b) => b.startedAt - a.startedAt);
    return { source: 'last-run', records: records.slice(0, limit) };
  }

  health(): HealthView {
    const r = this.registry;
    return {
      backend: r.description,
      connectionState: r.connectionState,
      sessionEpoch: r.sessionEpoch,
      sessionTimeoutMs: r.sessionTimeoutMs,
      sinceLastContactMs: r.lastContactAt === 0 ? null : Math.max(0, Date.now() - r.lastContactAt),
      cacheNodes: this.follower.view.size,
      historySource: this.history === undefined ? 'last-run' : 'history',
    };
  }

  private async jobRow(brief: JobBrief, now: number): Promise<JobRow> {
    const paths = new JobPaths(brief.job);
    const cache = this.follower.view;
    const leader = cache.get(paths.electionInstance);
    const base = {
      job: brief.job,
      instances: brief.instances,
      leader: leader === '' ? null : leader,
      failuresLastHour: await this.failures(brief.job, now),
    };
    if (brief.status === 'CORRUPTED') {
      return {
        ...base,
        status: 'CORRUPTED',
        cron: null,
        timeZone: null,
        nextFireAt: null,
        items: null,
        disabled: false,
        reason: brief.reason,
      };
    }
    const config = await readConfig(this.follower.reader, paths);
    return {
      ...base,
      status: brief.status,
      cron: config.cron,
      timeZone: config.timeZone,
      nextFireAt: config.disabled ? null : nextFire(config, now),
      items: config.shardingTotalCount,
      disabled: config.disabled,
    };
  }

  private async failures(job: string, now: number): Promise<number> {
    const filter: HistoryFilter = { job, outcome: 'failed', from: now - HOUR_MS };
    return (await this.runs(filter)).records.filter(r => r.endedAt >= now - HOUR_MS).length;
  }

  private lastRun(paths: JobPaths, item: number): RunView | null {
    return parseLastRun(paths.jobName, item, this.follower.view.get(paths.itemLast(item)));
  }
}

function nextFire(config: JobConfig, now: number): number | null {
  if (config.cron === null) {
    return null;
  }
  try {
    return nextFireTime(config.cron, config.timeZone, new Date(now))?.getTime() ?? null;
  } catch {
    return null; // validated when stored; a zone this runtime lacks shows as no next fire
  }
}

function readInstance(paths: JobPaths, id: string, raw: string | null): InstanceInfo | undefined {
  if (raw === null) {
    return undefined;
  }
  try {
    return parseInstanceInfo(paths.instance(id), raw);
  } catch (err) {
    if (err instanceof CorruptedDataError) {
      return undefined;
    }
    throw err;
  }
}

const OUTCOMES: readonly ExecutionOutcome[] = ['succeeded', 'failed', 'aborted'];
const TRIGGERS: readonly ExecutionTrigger[] = ['cron', 'manual', 'misfire', 'failover'];

/** An item's `last` record (ExecutionRecord JSON without job and item); null when absent or unreadable. */
export function parseLastRun(job: string, item: number, raw: string | null): RunView | null {
  if (raw === null || raw === '') {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const v = value as Record<string, unknown>;
  const outcome = OUTCOMES.find(o => o === v.outcome);
  const trigger = TRIGGERS.find(t => t === v.trigger);
  if (
    outcome === undefined ||
    typeof v.startedAt !== 'number' ||
    typeof v.endedAt !== 'number' ||
    typeof v.instanceId !== 'string'
  ) {
    return null;
  }
  const run: RunView = {
    job,
    item,
    instanceId: v.instanceId,
    fencingToken: typeof v.fencingToken === 'number' ? v.fencingToken : 0,
    trigger: trigger ?? 'cron',
    startedAt: v.startedAt,
    endedAt: v.endedAt,
    outcome,
  };
  if (typeof v.error === 'string') {
    run.error = v.error;
  }
  return run;
}

function matches(run: RunView, f: HistoryFilter): boolean {
  return (
    (f.item === undefined || run.item === f.item) &&
    (f.instanceId === undefined || run.instanceId === f.instanceId) &&
    (f.outcome === undefined || run.outcome === f.outcome) &&
    (f.from === undefined || run.startedAt >= f.from) &&
    (f.to === undefined || run.startedAt < f.to)
  );
}
