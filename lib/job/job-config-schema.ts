import { z } from 'zod';
import { ConfigurationError } from '../errors';
import {
  JOB_CONFIG_KEYS,
  JOB_CONFIG_SCHEMA_VERSION,
  JOB_TYPES,
  MAX_CONFIG_BYTES,
  MAX_SHARDING_TOTAL_COUNT,
  SAFE_NODE_NAME,
  STRATEGY_NAMES,
  type JobConfig,
  type JobType,
  type StrategyName,
} from './job-config-types';
import { validateCron, validateTimeZone } from './scheduler/cron';

/**
 * The zod schema of the stored configuration and the mapping of its issues to messages that name the field
 * (`shardingTotalCount: must be an integer ≥ 1 and ≤ 10000, got 0`). Internal to `job-config.ts` (pure).
 */

const MAX_TIMER_MS = 2_147_483_647;
const MAX_TEXT = 65536;

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isText = (v: unknown, max = MAX_TEXT): v is string =>
  typeof v === 'string' && v.length <= max;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const rule = <T>(ok: (v: unknown) => boolean, message: string): z.ZodType<T> =>
  z.custom<T>(ok, { message });
const oneOf = (values: readonly string[]): string =>
  `must be one of ${values.map(v => `'${v}'`).join(', ')}`;

const retrySchema = z.strictObject({
  attempts: rule<number>(v => isInt(v, 1, 100), 'must be an integer from 1 to 100'),
  backoffMs: rule<number>(v => isInt(v, 0, MAX_TIMER_MS), 'must be an integer ≥ 0 (milliseconds)'),
  maxBackoffMs: rule<number>(
    v => isInt(v, 0, MAX_TIMER_MS),
    'must be an integer ≥ 0 (milliseconds)',
  ),
});

const configSchema = z.strictObject({
  schemaVersion: rule<1>(
    v => v === JOB_CONFIG_SCHEMA_VERSION,
    `must be ${JOB_CONFIG_SCHEMA_VERSION}`,
  ),
  name: rule<string>(
    v => typeof v === 'string' && SAFE_NODE_NAME.test(v),
    "must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
  ),
  type: rule<JobType>(v => (JOB_TYPES as readonly unknown[]).includes(v), oneOf(JOB_TYPES)),
  cron: rule<string | null>(
    v => v === null || (isText(v, 1024) && v.trim() !== ''),
    'must be a cron expression or null',
  ),
  timeZone: rule<string>(v => isText(v, 128) && v !== '', 'must be an IANA time zone name'),
  shardingTotalCount: rule<number>(
    v => isInt(v, 1, MAX_SHARDING_TOTAL_COUNT),
    `must be an integer ≥ 1 and ≤ ${MAX_SHARDING_TOTAL_COUNT}`,
  ),
  shardingItemParameters: rule<Record<string, string>>(
    v =>
      typeof v === 'object' &&
      v !== null &&
      !Array.isArray(v) &&
      Object.values(v).every(p => isText(p)),
    'must be an object of item → string',
  ),
  jobParameter: rule<string>(v => isText(v), `must be a string of at most ${MAX_TEXT} characters`),
  failover: rule<boolean>(isBool, 'must be a boolean'),
  misfire: rule<boolean>(isBool, 'must be a boolean'),
  monitorExecution: rule<boolean>(isBool, 'must be a boolean'),
  strategy: rule<StrategyName | 'CUSTOM'>(
    v => ([...STRATEGY_NAMES, 'CUSTOM'] as unknown[]).includes(v),
    oneOf([...STRATEGY_NAMES, 'CUSTOM']),
  ),
  disabled: rule<boolean>(isBool, 'must be a boolean'),
  description: rule<string>(v => isText(v, 4096), 'must be a string of at most 4096 characters'),
  maxTimeDiffSeconds: rule<number>(
    v => isInt(v, -1, 86400),
    'must be -1 (unchecked) or an integer from 0 to 86400',
  ),
  reconcileIntervalMinutes: rule<number>(
    v => isInt(v, 0, 10080),
    'must be 0 (off) or an integer from 1 to 10080',
  ),
  timeoutMs: rule<number>(
    v => isInt(v, 0, MAX_TIMER_MS),
    'must be 0 (none) or an integer ≥ 1 (milliseconds)',
  ),
  retry: retrySchema,
  streaming: rule<boolean>(isBool, 'must be a boolean'),
  command: rule<string | null>(v => v === null || isText(v, 4096), 'must be a string or null'),
});

export interface Issue {
  field: string;
  message: string;
}

/**
 * The value as the user would write it, cut at 60 characters. Numbers JSON cannot carry (`NaN`, `Infinity`,
 * `-Infinity`) and bigints are written as JavaScript writes them — JSON.stringify would say `null` or throw.
 */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if ((typeof value === 'number' && !Number.isFinite(value)) || typeof value === 'bigint') {
    return typeof value === 'bigint' ? `${value}n` : String(value);
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

function schemaIssues(input: unknown): Issue[] {
  const parsed = configSchema.safeParse(input, { reportInput: true });
  if (parsed.success) {
    return crossFieldIssues(parsed.data);
  }
  return parsed.error.issues.map(issue => {
    const field = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map(k => (field === '' ? k : `${field}.${k}`));
      return { field: keys[0] ?? field, message: `${keys.join(', ')}: unknown field` };
    }
    if (field === '') {
      return {
        field: 'config',
        message: `config: must be an object, got ${formatValue(issue.input)}`,
      };
    }
    if (issue.input === undefined) {
      return { field, message: `${field}: is missing (${issue.message})` };
    }
    return { field, message: `${field}: ${issue.message}, got ${formatValue(issue.input)}` };
  });
}

function crossFieldIssues(c: JobConfig): Issue[] {
  const issues: Issue[] = [];
  const add = (field: string, message: string): void => {
    issues.push({ field, message: `${field}: ${message}` });
  };
  for (const key of Object.keys(c.shardingItemParameters)) {
    if (!/^(0|[1-9]\d*)$/.test(key) || Number(key) >= c.shardingTotalCount) {
      add(
        'shardingItemParameters',
        `item ${JSON.stringify(key)} is not in 0..${c.shardingTotalCount - 1}`,
      );
      break;
    }
  }
  try {
    validateTimeZone(c.timeZone);
    if (c.cron !== null) {
      validateCron(c.cron, c.timeZone);
    }
  } catch (err) {
    if (!(err instanceof ConfigurationError)) {
      throw err;
    }
    issues.push({ field: err.field ?? 'cron', message: err.message });
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
  return issues;
}

function copyConfig(c: JobConfig): JobConfig {
  const itemParameters: Record<string, string> = {};
  for (const key of Object.keys(c.shardingItemParameters).sort((a, b) => Number(a) - Number(b))) {
    itemParameters[key] = c.shardingItemParameters[key] as string;
  }
  const out: Record<string, unknown> = {};
  for (const key of JOB_CONFIG_KEYS) {
    out[key] = c[key];
  }
  out.shardingItemParameters = itemParameters;
  out.retry = {
    attempts: c.retry.attempts,
    backoffMs: c.retry.backoffMs,
    maxBackoffMs: c.retry.maxBackoffMs,
  };
  return out as unknown as JobConfig;
}

export function checkJobConfig(
  input: unknown,
): { config: JobConfig; issues: [] } | { config: undefined; issues: Issue[] } {
  const issues = schemaIssues(input);
  if (issues.length > 0) {
    return { config: undefined, issues };
  }
  const config = copyConfig(input as JobConfig);
  const bytes = Buffer.byteLength(JSON.stringify(config));
  if (bytes > MAX_CONFIG_BYTES) {
    const message = `config: serialised configuration is ${bytes} bytes, more than the ${MAX_CONFIG_BYTES} allowed`;
    return { config: undefined, issues: [{ field: 'config', message }] };
  }
  return { config, issues: [] };
}
