/** Types and constants of the stored job configuration (pure); re-exported by `job-config.ts`. */
export const JOB_CONFIG_SCHEMA_VERSION = 1;

export type JobType = 'simple' | 'dataflow' | 'script';
export type StrategyName = 'AVG_ALLOCATION' | 'ODEVITY' | 'ROUND_ROBIN';

export const JOB_TYPES: readonly JobType[] = ['simple', 'dataflow', 'script'];
export const STRATEGY_NAMES: readonly StrategyName[] = ['AVG_ALLOCATION', 'ODEVITY', 'ROUND_ROBIN'];
export const MAX_SHARDING_TOTAL_COUNT = 10000;
/** Largest serialised configuration accepted (registry nodes are limited to about 1 MB). */
export const MAX_CONFIG_BYTES = 512 * 1024;
/** A job name, instance id or other single node name: letters, digits, '.', '_', '-'; ≤ 128 characters. */
export const SAFE_NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Retries of one item within one fire. `attempts` counts all tries (1 = no retry); delays double from `backoffMs` up to `maxBackoffMs`. */
export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  attempts: 1,
  backoffMs: 1000,
  maxBackoffMs: 30000,
};

/** The stored configuration: JSON at /{job}/config, every field explicit. */
export interface JobConfig {
  schemaVersion: 1;
  name: string;
  type: JobType;
  /** null = one-off job: runs only when triggered. */
  cron: string | null;
  /** IANA zone the cron is evaluated in; default 'UTC'. */
  timeZone: string;
  /** Integer 1..10000; default 1. */
  shardingTotalCount: number;
  /** Keys "0".."n-1" only (canonical decimal). */
  shardingItemParameters: Record<string, string>;
  jobParameter: string;
  /** Default false. */
  failover: boolean;
  /** Default true. */
  misfire: boolean;
  /** Default true. */
  monitorExecution: boolean;
  strategy: StrategyName | 'CUSTOM';
  disabled: boolean;
  description: string;
  /** -1 = unchecked (default). */
  maxTimeDiffSeconds: number;
  /** 0 = off; default 10. */
  reconcileIntervalMinutes: number;
  /** Per item; 0 = none (default). */
  timeoutMs: number;
  retry: RetryPolicy;
  /** Dataflow only; false for other types. */
  streaming: boolean;
  /** Script only (non-empty); null for other types. */
  command: string | null;
}

/** The order in which fields are stored (stable output for diffs and operators). */
export const JOB_CONFIG_KEYS: readonly (keyof JobConfig)[] = [
  'schemaVersion',
  'name',
  'type',
  'cron',
  'timeZone',
  'shardingTotalCount',
  'shardingItemParameters',
  'jobParameter',
  'failover',
  'misfire',
  'monitorExecution',
  'strategy',
  'disabled',
  'description',
  'maxTimeDiffSeconds',
  'reconcileIntervalMinutes',
  'timeoutMs',
  'retry',
  'streaming',
  'command',
];
