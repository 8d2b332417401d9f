import { ConfigurationError } from '../errors';
import {
  JOB_CONFIG_KEYS,
  JOB_TYPES,
  STRATEGY_NAMES,
  formatValue,
  parseItemParameters,
  resolveJobConfig,
  type JobConfig,
  type JobConfigInput,
  type JobType,
  type StrategyName,
} from './job-config';
import { fieldSchema, oneOf } from './job-config-schema';
import { runDataflow } from './kinds/dataflow-kind';
import type { ShardingContext } from './kinds/sharding-context';
import { runScript } from './kinds/script-kind';
import { runSimple } from './kinds/simple-kind';
import type { ShardingStrategyFunction } from './sharding/sharding-strategy';

export type { ShardingContext } from './kinds/sharding-context';
export type { ShardingStrategyFunction } from './sharding/sharding-strategy';

/** The configuration fields of one kind only (the other kinds store false / null). */
type KindField = 'streaming' | 'command';

/**
 * The options every kind takes: the configuration fields (rules and defaults as the schema states them),
 * with friendlier forms for two, and `overwrite`.
 */
interface JobOptionsBase extends Omit<
  JobConfigInput,
  'schemaVersion' | 'type' | KindField | 'strategy' | 'shardingItemParameters'
> {
  /** "0=Beijing,1=Shanghai" or `{ 0: 'Beijing', 1: 'Shanghai' }`. */
  shardingItemParameters?: string | Record<string | number, string>;
  /** A built-in strategy or your own function (stored as 'CUSTOM'). */
  strategy?: StrategyName | ShardingStrategyFunction;
  /** Write this definition's configuration even when the registry already holds one. */
  overwrite?: boolean;
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

/** Options of one kind: its handlers and the configuration fields only it uses. */
const KIND_OPTIONS: Record<JobType, readonly string[]> = {
  simple: ['execute'],
  dataflow: ['fetchData', 'processData', 'streaming'],
  script: ['command'],
};
const KIND_FIELDS: ReadonlySet<string> = new Set<KindField>(['streaming', 'command']);
/** Options every kind takes: the configuration fields a definition sets, and `overwrite`. */
const COMMON_OPTIONS: readonly string[] = [
  ...JOB_CONFIG_KEYS.filter(key => key !== 'schemaVersion' && !KIND_FIELDS.has(key)),
  'overwrite',
];

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
 * `command`, and every configuration rule of `validateJobConfig`. An option left out (`undefined`) takes the
 * default the schema states (`job-config-schema.ts`): simple type, one-off (no cron), 'UTC', 1 item,
 * failover off, misfire and monitorExecution on, AVG_ALLOCATION, reconcile every 10 min, no timeout,
 * 1 attempt.
 */
export function defineJob<T = unknown>(
  options: SimpleJobOptions | DataflowJobOptions<T> | ScriptJobOptions,
): JobDefinition {
  if (typeof options !== 'object' || options === null) {
    fail('options', 'defineJob needs an options object');
  }
  const raw = options as unknown as Record<string, unknown>;
  // Only `undefined` means "use the default": an explicit null is validated like any other value.
  const type = fieldSchema('type').safeParse(raw.type);
  if (!type.success) {
    fail('type', `${oneOf(JOB_TYPES)}, got ${formatValue(raw.type)}`);
  }
  const kind = type.data;
  const allowed = new Set([...COMMON_OPTIONS, ...KIND_OPTIONS[kind]]);
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
      `${oneOf(STRATEGY_NAMES)} or a strategy function ` +
        `(instances, totalCount, jobName) => Map<instanceId, items>, got ${formatValue(strategyOption)}` +
        (strategyOption === 'CUSTOM'
          ? " ('CUSTOM' is what the stored configuration records for a function: pass the function)"
          : ''),
    );
  }
  const custom =
    typeof strategyOption === 'function' ? (strategyOption as ShardingStrategyFunction) : undefined;
  const overwrite = raw.overwrite === undefined ? false : raw.overwrite;
  if (typeof overwrite !== 'boolean') {
    fail('overwrite', `must be a boolean, got ${formatValue(overwrite)}`);
  }
  // Items are checked against the count; an invalid count is the schema's to report.
  const total = fieldSchema('shardingTotalCount').safeParse(raw.shardingTotalCount);
  const itemInput = raw.shardingItemParameters;
  const config = resolveJobConfig({
    ...Object.fromEntries(JOB_CONFIG_KEYS.map(key => [key, raw[key]])),
    schemaVersion: undefined,
    type: kind,
    strategy: custom === undefined ? strategyOption : 'CUSTOM',
    shardingItemParameters:
      itemInput === undefined || !total.success
        ? undefined
        : parseItemParameters(itemInput as string | Record<string, string>, total.data),
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
