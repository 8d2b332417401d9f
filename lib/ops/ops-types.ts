/**
 * The shapes the operations API returns. The CLI prints them as they are with `--json`, so renaming a
 * field here is a breaking change of the CLI too.
 */

/**
 * Status of a job, first match wins:
 * - `DISABLED`: the job is disabled (`config.disabled`), or every live instance sits on a server an
 *   operator disabled (nothing may run it);
 * - `CRASHED`: no live instance;
 * - `SHARDING_FLAG`: resharding is pending (`leader/sharding/necessary`), or an enabled item has no live,
 *   enabled owner (the leader has not assigned it yet);
 * - `OK`: otherwise.
 */
export type JobStatus = 'OK' | 'DISABLED' | 'CRASHED' | 'SHARDING_FLAG';

/**
 * Status of one sharding item, first match wins:
 * - `DISABLED`: an operator disabled the item (`sharding/{n}/disabled`);
 * - `RUNNING`: an instance is running it (`sharding/{n}/running`);
 * - `SHARDING_FLAG`: resharding is pending, or the item has no live, enabled owner;
 * - `PENDING`: assigned to a live instance, waiting for its next fire.
 */
export type ItemStatus = 'PENDING' | 'RUNNING' | 'DISABLED' | 'SHARDING_FLAG';

/** A registry node the operations API could not understand: its path and why. */
export interface CorruptedNode {
  path: string;
  reason: string;
}

/** One row of `listJobs()` / `shardline jobs --json` for a job whose configuration reads. */
export interface ReadableJobBrief {
  job: string;
  status: JobStatus;
  /** `null` for a one-off job (runs only when triggered). */
  cron: string | null;
  shardingTotalCount: number;
  /** Number of live instances. */
  instances: number;
}

/**
 * One row of `listJobs()` for a job whose stored configuration (`path`, i.e. `/{job}/config`) cannot be
 * read: listed rather than failing the whole listing, so one bad node does not hide every other job.
 */
export interface CorruptedJobBrief {
  job: string;
  status: 'CORRUPTED';
  cron: null;
  shardingTotalCount: null;
  /** Number of live instances. */
  instances: number;
  /** The unreadable node. */
  path: string;
  /** Why it cannot be read (invalid JSON, a field out of range, …). */
  reason: string;
}

/** One row of `listJobs()` / `shardline jobs --json`; narrow on `status === 'CORRUPTED'`. */
export type JobBrief = ReadableJobBrief | CorruptedJobBrief;

/** One sharding item of `getShardingInfo()` / `getJobStatus().items`. */
export interface ItemInfo {
  item: number;
  /** The owning instance (`sharding/{n}/instance`), `null` when unassigned. */
  instanceId: string | null;
  status: ItemStatus;
  /** True while the item runs by failover on another instance (`sharding/{n}/failover`). */
  failover: boolean;
}

/** `getJobStatus()` / `shardline status <job> --json`. */
export interface JobStatusInfo {
  job: string;
  status: JobStatus;
  /** The leader's instanceId, `null` while there is none. */
  leader: string | null;
  /** Live instance ids, sorted ascending (unreadable instance nodes are not instances: see `corrupted`). */
  instances: string[];
  /** Items `0 … shardingTotalCount-1`, ascending. */
  items: ItemInfo[];
  /**
   * Present only when some node of the job could not be understood: e.g. an `instances/{id}` node that is
   * not valid instance JSON, or is persistent (an instance's node lives with its session). Such a node is
   * no instance: it is left out of `instances` and reported here.
   */
  corrupted?: CorruptedNode[];
}

/**
 * What `disable` / `enable` apply to. Neither field: the whole job (`config.disabled`). `server`: every
 * instance of the job on that IP (`servers/{ip}`). `item`: one sharding item, wherever it is assigned
 * (`sharding/{n}/disabled`). `server` and `item` cannot be combined: an item is disabled for the whole job.
 */
export interface ToggleTarget {
  server?: string;
  item?: number;
}

/** The result of `disable` / `enable`. */
export interface ToggleResult {
  job: string;
  scope: 'job' | 'server' | 'item';
  /** The server IP, for scope `server`. */
  server: string | null;
  /** The item, for scope `item`. */
  item: number | null;
  /** The state written: `false` after `disable`, `true` after `enable`. */
  enabled: boolean;
}

/** What `shutdown` applies to: every live instance of the job, or only `instanceId`. */
export interface ShutdownTarget {
  instanceId?: string;
}

/** The result of `trigger` / `shutdown`: the live instances a request was written for. */
export interface RequestResult {
  job: string;
  instances: string[];
}

export interface RemoveOptions {
  /** Remove even while instances are alive (they lose their configuration). Default false. */
  force?: boolean;
}

/** The result of `remove`. */
export interface RemoveResult {
  job: string;
  /** Instances that were alive when the job was removed (only with `force`). */
  liveInstances: string[];
}
