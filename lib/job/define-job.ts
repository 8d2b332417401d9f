import { ConfigurationError } from '../errors';
import {
  parseItemParameters,
  validateJobConfig,
  type JobConfig,
  type StrategyName,
} from './job-config';
import { formatValue } from './job-config-schema';
import {
  DEFAULT_RETRY_POLICY,
  JOB_CONFIG_SCHEMA_VERSION,
  JOB_TYPES,
  STRATEGY_NAMES,
} from './job-config-types';
import { runDataflow } from './kinds/dataflow-kind';
import type { ShardingContext } from './kinds/sharding-context';
import { runScript } from './kinds/script-kind';
import { runSimple } from './kinds/simple-kind';
import type { ShardingStrategyFunction } from './sharding/sharding-strategy';

export type { ShardingContext } from './kinds/sharding-context';
export type { ShardingStrategyFunction } from './sharding/sharding-strategy';

interface JobOptionsBase {
  /** Job name: 1-128 of letters, digits, '.', '_', '-', starting with a letter or digit. */
  name: string;
  /** 6-field (with seconds) or 5-field cron; omit for a one-off job that runs only when triggered. */
  cron?: string;
  timeZone?: string;
  shardingTotalCount?: number;
  shardingItemParameters?: string | Record<string | number, string>;
  jobParameter?: string;
  failover?: boolean;
  misfire?: boolean;
  monitorExecution?: boolean;
  strategy?: StrategyName | ShardingStrategyFunction;
  /** Write this definition's configuration even when the registry already holds one. */
  overwrite?: boolean;
  disabled?: boolean;
  description?: string;
  maxTimeDiffSeconds?: number;
  reconcileIntervalMinutes?: number;
  timeoutMs?: number;
  retry?: { attempts?: number; backoffMs?: number; maxBackoffMs?: number };
}

export interface SimpleJobOptions extends JobOptionsBase {
  type?: 'simple';
  execute(ctx: ShardingContext): Promise<void> | void;
}

export interface DataflowJobOptions<T> extends JobOptionsBase {
  type: 'dataflow';
  fetchData(ctx: ShardingContext): Promise<T[]> | T[];
  processData(ctx: ShardingContext, data: T[]): Promise<void> | void;
  streaming?: boolean;
}

export interface ScriptJobOptions extends JobOptionsBase {
  type: 'script';
  command: string;
}

export type JobOptions = SimpleJobOptions | DataflowJobOptions<unknown> | ScriptJobOptions;

/** A validated job, ready to hand to `startWorker`. Immutable. */
export interface JobDefinition {
  readonly name: string;
  /** What this definition stores when it is the first writer (or with `overwrite`). */
  readonly config: JobConfig;
  readonly overwrite: boolean;
  /** Set when `config.strategy === 'CUSTOM'`. */
  readonly strategy: ShardingStrategyFunction | undefined;
  /**
   * Runs ONE item ONCE with the handler of its kind; `config` is the stored (possibly adopted) config: the
   * dataflow streaming flag is taken from it. A script runs THIS definition's command — registry data never
   * becomes code — unless the caller passes `scriptCommand` (a worker that opted in with
   * `allowRegistryCommand` passes the stored one). Rejects on failure (ConfigurationError 'type' when the
   * stored type is not this definition's kind); honours `ctx.signal` (see the kinds).
   */
  run(ctx: ShardingContext, config: JobConfig, scriptCommand?: string): Promise<void>;
}

const BRAND = Symbol.for('shardline.JobDefinition');

const BASE_KEYS = [
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
  'overwrite',
  'disabled',
  'description',
  'maxTimeDiffSeconds',
  'reconcileIntervalMinutes',
  'timeoutMs',
  'retry',
];
const KIND_KEYS: Record<string, readonly string[]> = {
  simple: ['execute'],
  dataflow: ['fetchData', 'processData', 'streaming'],
  script: ['command'],
};

function fail(field: string, message: string): never {
  throw new ConfigurationError(`${field}: ${message}`, field);
}

function requireFunction(
  options: Record<string, unknown>,
  key: string,
  kind: string,
  signature: string,
): void {
  if (typeof options[key] !== 'function') {
    fail(
      key,
      `a ${kind} job needs ${signature}, got ${options[key] === undefined ? 'none' : typeof options[key]}`,
    );
  }
}

/**
 * Validates job options and returns an immutable {@link JobDefinition}. Throws ConfigurationError naming the
 * field (synchronously, before anything touches the registry): unknown option keys (typo protection, and keys
 * of another kind, e.g. `execute` on a script job), a missing `execute` / `fetchData` / `processData` /
 * `command`, and every configuration rule of `validateJobConfig`. Defaults: simple type, one-off (no cron),
 * 'UTC', 1 item, failover off, misfire and monitorExecution on, AVG_ALLOCATION, reconcile every 10 min,
 * no timeout, 1 attempt.
 */
export function defineJob<T = unknown>(
  options: SimpleJobOptions | DataflowJobOptions<T> | ScriptJobOptions,
): JobDefinition {
  if (typeof options !== 'object' || options === null) {
    fail('options', 'defineJob needs an options object');
  }
  const raw = options as unknown as Record<string, unknown>;
  // Only `undefined` means "use the default": an explicit null is validated like any other value.
  const opt = (key: string, fallback: unknown): unknown =>
    raw[key] === undefined ? fallback : raw[key];
  const type = opt('type', 'simple');
  if (!(JOB_TYPES as readonly unknown[]).includes(type)) {
    fail(
      'type',
      `must be one of ${JOB_TYPES.map(t => `'${t}'`).join(', ')}, got ${JSON.stringify(type)}`,
    );
  }
  const kind = type as JobConfig['type'];
  const allowed = new Set([...BASE_KEYS, ...(KIND_KEYS[kind] ?? [])]);
  for (const key of Object.keys(raw)) {
    if (!allowed.has(key) && raw[key] !== undefined) {
      fail(key, `unknown option for a ${kind} job`);
    }
  }
  if (kind === 'simple') {
    requireFunction(raw, 'execute', kind, 'an execute(ctx) function');
  } else if (kind === 'dataflow') {
    requireFunction(raw, 'fetchData', kind, 'a fetchData(ctx) function');
    requireFunction(raw, 'processData', kind, 'a processData(ctx, data) function');
  }
  const strategyOption = raw.strategy;
  // A definition takes a built-in name or a function; 'CUSTOM' is only what the stored configuration
  // records for a function, so the message lists exactly what a definition accepts.
  if (
    strategyOption !== undefined &&
    typeof strategyOption !== 'function' &&
    !(STRATEGY_NAMES as readonly unknown[]).includes(strategyOption)
  ) {
    fail(
      'strategy',
      `must be one of ${STRATEGY_NAMES.map(n => `'${n}'`).join(', ')} or a strategy function ` +
        `(instances, totalCount, jobName) => Map<instanceId, items>, got ${formatValue(strategyOption)}` +
        (strategyOption === 'CUSTOM'
          ? " ('CUSTOM' is what the stored configuration records for a function: pass the function)"
          : ''),
    );
  }
  const custom =
    typeof strategyOption === 'function' ? (strategyOption as ShardingStrategyFunction) : undefined;
  const overwrite = opt('overwrite', false);
  if (typeof overwrite !== 'boolean') {
    fail('overwrite', `must be a boolean, got ${JSON.stringify(overwrite)}`);
  }
  const total = opt('shardingTotalCount', 1);
  const itemInput = raw.shardingItemParameters;
  const itemParameters =
    itemInput === undefined || typeof total !== 'number' || !Number.isInteger(total) || total < 1
      ? {}
      : parseItemParameters(itemInput as string | Record<string, string>, total);
  const retry = opt('retry', {});
  const config = validateJobConfig({
    schemaVersion: JOB_CONFIG_SCHEMA_VERSION,
    name: raw.name,
    type: kind,
    cron: opt('cron', null),
    timeZone: opt('timeZone', 'UTC'),
    shardingTotalCount: total,
    shardingItemParameters: itemParameters,
    jobParameter: opt('jobParameter', ''),
    failover: opt('failover', false),
    misfire: opt('misfire', true),
    monitorExecution: opt('monitorExecution', true),
    strategy: custom === undefined ? (strategyOption ?? 'AVG_ALLOCATION') : 'CUSTOM',
    disabled: opt('disabled', false),
    description: opt('description', ''),
    maxTimeDiffSeconds: opt('maxTimeDiffSeconds', -1),
    reconcileIntervalMinutes: opt('reconcileIntervalMinutes', 10),
    timeoutMs: opt('timeoutMs', 0),
    retry:
      typeof retry === 'object' && retry !== null && !Array.isArray(retry)
        ? { ...DEFAULT_RETRY_POLICY, ...retry }
        : retry,
    streaming: kind === 'dataflow' ? opt('streaming', false) : false,
    command: kind === 'script' ? opt('command', null) : null,
  });
  return createDefinition(config, overwrite, custom, options);
}

function createDefinition(
  config: JobConfig,
  overwrite: boolean,
  strategy: ShardingStrategyFunction | undefined,
  options: JobOptions,
): JobDefinition {
  const frozenConfig = Object.freeze({
    ...config,
    shardingItemParameters: Object.freeze({ ...config.shardingItemParameters }),
    retry: Object.freeze({ ...config.retry }),
  }) as JobConfig;
  const run = async (
    ctx: ShardingContext,
    stored: JobConfig,
    scriptCommand?: string,
  ): Promise<void> => {
    if (stored.type !== config.type) {
      fail(
        'type',
        `the stored configuration of ${config.name} is a ${stored.type} job, this definition is a ${config.type} job`,
      );
    }
    if (options.type === 'dataflow') {
      await runDataflow(ctx, options, stored.streaming);
    } else if (options.type === 'script') {
      await runScript(ctx, scriptCommand ?? options.command);
    } else {
      await runSimple(ctx, options.execute.bind(options));
    }
  };
  const definition = {
    name: config.name,
    config: frozenConfig,
    overwrite,
    strategy,
    run,
  };
  // Non-enumerable: a spread copy is not a definition.
  Object.defineProperty(definition, BRAND, { value: true, enumerable: false });
  return Object.freeze(definition);
}

/** True for values returned by {@link defineJob} (by a brand shared across copies of the package). */
export function isJobDefinition(value: unknown): value is JobDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true
  );
}
