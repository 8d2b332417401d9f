import { z } from 'zod';
import { ConfigurationError } from '../errors';
import { validateCron, validateTimeZone } from './scheduler/cron';

/**
 * The job configuration, stated once (pure). Every field is a real zod type carrying three things: what
 * is valid, its rule in words (`.describe`: the message of every issue on the field, e.g.
 * `shardingTotalCount: must be an integer ≥ 1 and ≤ 10000, got 0`) and, where a definition may leave it
 * out, its default. Everything else is derived from {@link jobConfigSchema}: the `JobConfig` type, the
 * stored key order, the defaults `defineJob` applies, and the stored form, which is the same schema with
 * every default removed — a stored configuration states every field. Rules that tie fields together
 * (cron in its zone, kind-specific fields, failover needs monitorExecution, item keys below the count) are
 * one refinement that runs once every field is valid. `job-config.ts` turns issues into messages.
 */

export const JOB_CONFIG_SCHEMA_VERSION = 1;
export const MAX_SHARDING_TOTAL_COUNT = 10000;
/** Largest serialised configuration accepted (registry nodes are limited to about 1 MB). */
export const MAX_CONFIG_BYTES = 512 * 1024;
/** A job name, instance id or other single node name: letters, digits, '.', '_', '-'; ≤ 128 characters. */
export const SAFE_NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Longest `jobParameter` and longest item parameter. */
export const MAX_PARAMETER_LENGTH = 65536;

const MAX_TIMER_MS = 2_147_483_647;

const jobTypeSchema = z.enum(['simple', 'dataflow', 'script']);
const strategyNameSchema = z.enum(['AVG_ALLOCATION', 'ODEVITY', 'ROUND_ROBIN']);
/** What the stored configuration records: a built-in name, or 'CUSTOM' for a definition's function. */
const storedStrategySchema = z.enum([...strategyNameSchema.options, 'CUSTOM']);

export type JobType = z.infer<typeof jobTypeSchema>;
export type StrategyName = z.infer<typeof strategyNameSchema>;
export const JOB_TYPES: readonly JobType[] = jobTypeSchema.options;
export const STRATEGY_NAMES: readonly StrategyName[] = strategyNameSchema.options;

/** `must be one of 'a', 'b'`: the rule of an enumeration. */
export const oneOf = (values: readonly string[]): string =>
  `must be one of ${values.map(v => `'${v}'`).join(', ')}`;

/** The field's rule, in words; the message of every issue on it. */
const rule = <T extends z.ZodType>(schema: T, words: string): T => schema.describe(words);
const int = (min: number, max: number): z.ZodNumber => z.int().min(min).max(max);
const flag = (): z.ZodBoolean => rule(z.boolean(), 'must be a boolean');
const millis = (words: string): z.ZodNumber => rule(int(0, MAX_TIMER_MS), words);

const retryPolicySchema = z.strictObject({
  /** All tries of one item within one fire (1 = no retry). */
  attempts: rule(int(1, 100), 'must be an integer from 1 to 100').default(1),
  /** Delay before the first retry; doubles for each further one. */
  backoffMs: millis('must be an integer ≥ 0 (milliseconds)').default(1000),
  /** Cap of the doubling delay. */
  maxBackoffMs: millis('must be an integer ≥ 0 (milliseconds)').default(30000),
});

/** The configuration as a definition gives it: fields with a default may be left out (`undefined`). */
const jobConfigObject = z.strictObject({
  schemaVersion: rule(
    z.literal(JOB_CONFIG_SCHEMA_VERSION),
    `must be ${JOB_CONFIG_SCHEMA_VERSION}`,
  ).default(JOB_CONFIG_SCHEMA_VERSION),
  /** Job name: 1-128 of letters, digits, '.', '_', '-', starting with a letter or digit. */
  name: rule(
    z.string().regex(SAFE_NODE_NAME),
    "must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
  ),
  type: rule(jobTypeSchema, oneOf(JOB_TYPES)).default('simple'),
  /** 6-field (with seconds) or 5-field cron; null = one-off job that runs only when triggered. */
  cron: rule(
    z
      .string()
      .max(1024)
      .refine(v => v.trim() !== '')
      .nullable(),
    'must be a cron expression or null',
  ).default(null),
  /** IANA zone the cron is evaluated in. */
  timeZone: rule(z.string().min(1).max(128), 'must be an IANA time zone name').default('UTC'),
  shardingTotalCount: rule(
    int(1, MAX_SHARDING_TOTAL_COUNT),
    `must be an integer ≥ 1 and ≤ ${MAX_SHARDING_TOTAL_COUNT}`,
  ).default(1),
  /**
   * Keys "0".."n-1" only (canonical decimal). They are array-index keys, so every object lists them in
   * ascending order whatever order they were written in.
   */
  shardingItemParameters: rule(
    z.record(z.string(), z.string().max(MAX_PARAMETER_LENGTH)),
    'must be an object of item → string',
  ).default({}),
  jobParameter: rule(
    z.string().max(MAX_PARAMETER_LENGTH),
    `must be a string of at most ${MAX_PARAMETER_LENGTH} characters`,
  ).default(''),
  failover: flag().default(false),
  misfire: flag().default(true),
  monitorExecution: flag().default(true),
  strategy: rule(storedStrategySchema, oneOf(storedStrategySchema.options)).default(
    'AVG_ALLOCATION',
  ),
  disabled: flag().default(false),
  description: rule(z.string().max(4096), 'must be a string of at most 4096 characters').default(
    '',
  ),
  /** Largest tolerated clock difference to the registry; -1 = unchecked. */
  maxTimeDiffSeconds: rule(
    int(-1, 86400),
    'must be -1 (unchecked) or an integer from 0 to 86400',
  ).default(-1),
  /** How often the leader checks the assignment; 0 = off. */
  reconcileIntervalMinutes: rule(
    int(0, 10080),
    'must be 0 (off) or an integer from 1 to 10080',
  ).default(10),
  /** Per item; 0 = none. */
  timeoutMs: millis('must be 0 (none) or an integer ≥ 1 (milliseconds)').default(0),
  retry: rule(
    retryPolicySchema,
    'must be an object of attempts, backoffMs and maxBackoffMs',
  ).prefault({}),
  /** Dataflow only; false for other kinds. */
  streaming: flag().default(false),
  /** Script only (non-empty); null for other kinds. */
  command: rule(z.string().max(4096).nullable(), 'must be a string or null').default(null),
});

/** Retries of one item within one fire. `attempts` counts all tries (1 = no retry); delays double from `backoffMs` up to `maxBackoffMs`, each wait drawn between half and all of it (equal jitter). */
export type RetryPolicy = z.output<typeof retryPolicySchema>;
/** The stored configuration: JSON at /{job}/config, every field explicit. */
export type JobConfig = z.output<typeof jobConfigObject>;
/** A configuration with the fields that have a default left out. */
export type JobConfigInput = z.input<typeof jobConfigObject>;

/** The order in which fields are stored (stable output for diffs and operators). */
export const JOB_CONFIG_KEYS: readonly (keyof JobConfig)[] = jobConfigObject.keyof().options;

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze(
  retryPolicySchema.parse({}),
);

/** The schema of one field (for a definition that checks a field before the rest, e.g. the job kind). */
export function fieldSchema<K extends keyof JobConfig>(key: K): (typeof jobConfigObject.shape)[K] {
  return jobConfigObject.shape[key];
}

/** The rules that tie fields together: they run only once every field is valid on its own. */
function crossFieldRules(c: JobConfig, ctx: z.RefinementCtx<JobConfig>): void {
  // `stated`: the message is complete as it stands (no ", got <value>" appended).
  const add = (field: string, message: string): void => {
    ctx.addIssue({ code: 'custom', path: field.split('.'), message, params: { stated: true } });
  };
  const badItem = Object.keys(c.shardingItemParameters).find(
    key => !/^(0|[1-9]\d*)$/.test(key) || Number(key) >= c.shardingTotalCount,
  );
  if (badItem !== undefined) {
    add(
      'shardingItemParameters',
      `item ${JSON.stringify(badItem)} is not in 0..${c.shardingTotalCount - 1}`,
    );
  }
  try {
    validateTimeZone(c.timeZone); // the zone first: the cron is read in it
    if (c.cron !== null) {
      validateCron(c.cron, c.timeZone);
    }
  } catch (err) {
    if (!(err instanceof ConfigurationError)) {
      throw err;
    }
    const field = err.field ?? 'cron';
    add(
      field,
      err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message,
    );
  }
  if (c.streaming && c.type !== 'dataflow') {
    add('streaming', `must be false for a ${c.type} job (streaming is for dataflow jobs)`);
  }
  if (c.type === 'script' && (c.command === null || c.command.trim() === '')) {
    add('command', 'a script job needs a non-empty command');
  }
  if (c.type !== 'script' && c.command !== null) {
    add('command', `must be null for a ${c.type} job`);
  }
  if (c.failover && !c.monitorExecution) {
    // Failover moves the items that were in flight on a crashed instance; only the running records that
    // monitorExecution writes say which items those are, so without them failover could never act.
    add(
      'failover',
      'true needs monitorExecution: true (failover finds the in-flight items of a crashed instance by their running records), got monitorExecution: false',
    );
  }
  if (c.retry.maxBackoffMs < c.retry.backoffMs) {
    add(
      'retry.maxBackoffMs',
      `must be ≥ retry.backoffMs (${c.retry.backoffMs}), got ${c.retry.maxBackoffMs}`,
    );
  }
}

const whenFieldsValid = {
  when: (payload: z.core.ParsePayload): boolean => payload.issues.length === 0,
};

/** The same schema with every default removed, keeping strictness: nothing may be left out. */
function withoutDefaults(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) {
    return withoutDefaults((schema as z.ZodDefault<z.ZodType>).unwrap());
  }
  if (schema instanceof z.ZodObject) {
    const fields = Object.entries((schema as z.ZodObject<Record<string, z.ZodType>>).shape);
    return z.strictObject(Object.fromEntries(fields.map(([k, s]) => [k, withoutDefaults(s)])));
  }
  return schema;
}

/** A definition's configuration: defaults fill what it leaves out. */
export const jobConfigSchema = jobConfigObject.superRefine(crossFieldRules, whenFieldsValid);

/**
 * A stored configuration: every field present, none unknown. (Removing the defaults changes what may be
 * left out, not what a successful parse returns: still a `JobConfig`.)
 */
export const storedJobConfigSchema = (
  withoutDefaults(jobConfigObject) as z.ZodType<JobConfig>
).superRefine(crossFieldRules, whenFieldsValid);

/**
 * Where an issue at `path` belongs: the field whose rule applies (the path down to the first field that
 * is not itself an object of fields, so an item of `shardingItemParameters` is reported on that field)
 * and that rule in words.
 */
export function fieldOf(path: readonly PropertyKey[]): {
  path: string[];
  rule: string | undefined;
} {
  let schema: z.ZodType = jobConfigObject;
  const field: string[] = [];
  for (const segment of path) {
    const object = unwrap(schema);
    if (!(object instanceof z.ZodObject)) {
      break;
    }
    const next = (object.shape as Record<string, z.ZodType | undefined>)[String(segment)];
    if (next === undefined) {
      break;
    }
    field.push(String(segment));
    schema = next;
  }
  return { path: field, rule: ruleOf(schema) };
}

/** One wrapper (default, prefault, nullable) off, or the schema itself when it wraps nothing. */
function inner(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNullable
    ? (schema.unwrap() as z.ZodType)
    : schema;
}

function unwrap(schema: z.ZodType): z.ZodType {
  const next = inner(schema);
  return next === schema ? schema : unwrap(next);
}

/** The outermost rule stated on the schema or on what it wraps. */
function ruleOf(schema: z.ZodType): string | undefined {
  const next = inner(schema);
  return schema.description ?? (next === schema ? undefined : ruleOf(next));
}
