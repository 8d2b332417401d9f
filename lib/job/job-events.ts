import type { JobExecutionError, ShardlineError } from '../errors';

/** Payloads of a worker's typed events (`worker.on('executed', e => …)`). */
export interface ExecutedEvent {
  job: string;
  item: number;
  instanceId: string;
  durationMs: number;
  attempts: number;
  fencingToken: number;
  failover: boolean;
}

export interface FailedEvent {
  job: string;
  item: number;
  instanceId: string;
  attempts: number;
  error: JobExecutionError;
}

export interface ShardedEvent {
  job: string;
  /** The items this instance owns now, ascending. */
  items: number[];
}

export interface LeaderEvent {
  job: string;
  isLeader: boolean;
}

export interface MisfireEvent {
  job: string;
  item: number;
}

/** Why a job does not make progress on this worker (see LivenessWatchdog). */
export type StallReason =
  | 'reshardingNotSettled'
  | 'staleMarker'
  | 'deadRunningRecord'
  | 'idleRunningRecord'
  | 'firesMissed';

export interface StalledEvent {
  job: string;
  reason: StallReason;
  /** The registry path that shows it (the marker, the record) or the job's root for missed fires. */
  path: string;
  /** Epoch ms since when the condition holds. */
  since: number;
}

export interface JobStoppedEvent {
  job: string;
  /** `stop`: worker.stop(); `shutdown`: the operations shutdown command; `removed`: the job was removed. */
  reason: 'stop' | 'shutdown' | 'removed';
}

/** The stored configuration a job adopted at start differs from this worker's definition. */
export interface ConfigDriftEvent {
  job: string;
  /** The stored configuration node, e.g. `/order-sync/config`. */
  path: string;
  /** The differing fields with both values (`disabled`, operator state, is never drift). */
  differences: { field: string; stored: unknown; definition: unknown }[];
}

export interface JobErrorEvent {
  job: string;
  error: ShardlineError | Error;
}

export interface WorkerEvents {
  /** An item ran to completion. */
  executed: [ExecutedEvent];
  /** An item failed after its retries (the error wraps the handler's). */
  failed: [FailedEvent];
  /** A resharding settled (or this instance's items changed): the items this instance owns now. */
  sharded: [ShardedEvent];
  /** This instance became or stopped being a job's leader. */
  leader: [LeaderEvent];
  /** A fire found an item still running; it was marked misfire (runs once right after, when enabled). */
  misfire: [MisfireEvent];
  /**
   * A job adopted a stored configuration that differs from this worker's definition: the stored one is in
   * force. Apply the definition with `overwrite: true` or `updateJobConfig`. Emitted right after
   * `startWorker` resolves, so a listener attached then sees it.
   */
  configDrift: [ConfigDriftEvent];
  /** Something that should happen does not (a resharding that never settles, fires that never come). */
  stalled: [StalledEvent];
  /** A job stopped on this worker. */
  jobStopped: [JobStoppedEvent];
  /**
   * A background failure with no caller (registry unreachable, corrupted data, a failing strategy).
   * Without a listener it is logged at error level; it never crashes the process.
   */
  error: [JobErrorEvent];
}

/** How a job runtime reports to its worker. */
export type JobEventSink = <K extends keyof WorkerEvents>(
  event: K,
  ...args: WorkerEvents[K]
) => void;
