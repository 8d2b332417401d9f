import type { z } from 'zod';
import { ConfigurationError, CorruptedDataError } from '../errors';
import { formatValue } from './format-value';
import { parseStoredJson } from './stored-json';
import {
  JOB_CONFIG_SCHEMA_VERSION,
  MAX_CONFIG_BYTES,
  fieldOf,
  jobConfigSchema,
  storedJobConfigSchema,
  type JobConfig,
} from './job-config-schema';

/**
 * The stored job configuration, pure: validation and (de)serialisation of `/{job}/config`, with the
 * schema of `job-config-schema.ts`. Every instance follows it without a restart; invalid input is
 * rejected naming the field, and unreadable stored data is reported with its path. Stored JSON has every
 * field explicit and a `schemaVersion`; adding or changing a field bumps the version, and a reader rejects
 * versions it does not know instead of guessing.
 */
export {
  DEFAULT_RETRY_POLICY,
  JOB_CONFIG_KEYS,
  JOB_CONFIG_SCHEMA_VERSION,
  JOB_TYPES,
  MAX_CONFIG_BYTES,
  MAX_SHARDING_TOTAL_COUNT,
  SAFE_NODE_NAME,
  STRATEGY_NAMES,
} from './job-config-schema';
export type {
  JobConfig,
  JobConfigInput,
  JobType,
  RetryPolicy,
  StrategyName,
} from './job-config-schema';

/** One problem, on the field it names (dotted path, e.g. 'retry.attempts'; 'config' for the whole). */
export interface Issue {
  field: string;
  message: string;
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const key of path) {
    value =
      typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)[key]
        : undefined;
  }
  return value;
}

/**
 * An issue as the user reads it: `<field>: <the field's rule>, got <value>`, `<field>: is missing
 * (<rule>)`, `<key>: unknown field`, or a cross-field rule's own message.
 */
function describeIssue(input: unknown, issue: z.core.$ZodIssue): Issue {
  const at = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map(k => [...at, k].join('.'));
    return { field: keys[0] ?? at.join('.'), message: `${keys.join(', ')}: unknown field` };
  }
  const { path, rule } = fieldOf(at);
  const field = path.join('.');
  if (field === '') {
    return { field: 'config', message: `config: must be an object, got ${formatValue(input)}` };
  }
  if (issue.code === 'custom' && issue.params?.stated === true) {
    return { field, message: `${field}: ${issue.message}` };
  }
  const value = valueAt(input, path);
  const words = rule ?? issue.message;
  if (value === undefined) {
    return { field, message: `${field}: is missing (${words})` };
  }
  return { field, message: `${field}: ${words}, got ${formatValue(value)}` };
}

function checkJobConfig(
  schema: z.ZodType<JobConfig, unknown>,
  input: unknown,
): { config: JobConfig; issues: [] } | { config: undefined; issues: Issue[] } {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    // One issue per field: the first (a number can be both fractional and too small).
    const issues = new Map<string, Issue>();
    for (const issue of parsed.error.issues.map(i => describeIssue(input, i))) {
      if (!issues.has(issue.field)) {
        issues.set(issue.field, issue);
      }
    }
    return { config: undefined, issues: [...issues.values()] };
  }
  // A fresh object, fields in schema order, items ascending (see the schema).
  const config = parsed.data;
  const bytes = Buffer.byteLength(JSON.stringify(config));
  if (bytes > MAX_CONFIG_BYTES) {
    const message = `config: serialised configuration is ${bytes} bytes, more than the ${MAX_CONFIG_BYTES} allowed`;
    return { config: undefined, issues: [{ field: 'config', message }] };
  }
  return { config, issues: [] };
}

function configurationError(issues: readonly Issue[]): ConfigurationError {
  return new ConfigurationError(issues.map(i => i.message).join('; '), issues[0]?.field);
}

/**
 * Validates a whole config object (every field present, no unknown field; used by ops when an operator edits
 * the stored config) and returns a normalised copy. Throws ConfigurationError whose `field` names the first
 * bad field (dotted path, e.g. 'retry.attempts') and whose message lists every problem.
 */
export function validateJobConfig(input: unknown): JobConfig {
  const { config, issues } = checkJobConfig(storedJobConfigSchema, input);
  if (config === undefined) {
    throw configurationError(issues);
  }
  return config;
}

/**
 * Like {@link validateJobConfig}, for a definition: a field left out (`undefined`; an explicit `null` is
 * validated like any other value) takes its default.
 */
export function resolveJobConfig(input: unknown): JobConfig {
  const { config, issues } = checkJobConfig(jobConfigSchema, input);
  if (config === undefined) {
    throw configurationError(issues);
  }
  return config;
}

/** JSON with the fields in {@link JOB_CONFIG_KEYS} order and items ascending; validates first (ConfigurationError). */
export function serializeJobConfig(config: JobConfig): string {
  return JSON.stringify(validateJobConfig(config), null, 2);
}

/**
 * Parses and validates stored JSON; throws CorruptedDataError(path, reason naming the bad field) — never
 * returns a partial config. An unknown `schemaVersion` is reported as such (written by another Shardline version).
 */
export function parseJobConfig(path: string, raw: string): JobConfig {
  const input = parseStoredJson(path, raw);
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const version = (input as Record<string, unknown>).schemaVersion;
    if (version !== JOB_CONFIG_SCHEMA_VERSION) {
      throw new CorruptedDataError(
        path,
        `schemaVersion: this Shardline reads version ${JOB_CONFIG_SCHEMA_VERSION}, got ${formatValue(version ?? 'missing')}`,
      );
    }
  }
  const { config, issues } = checkJobConfig(storedJobConfigSchema, input);
  if (config === undefined) {
    throw new CorruptedDataError(path, issues.map(i => i.message).join('; '));
  }
  return config;
}

export { formatValue } from './format-value';
export { parseItemParameters } from './item-parameters';
