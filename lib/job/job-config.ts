import { ConfigurationError, CorruptedDataError } from '../errors';
import { checkJobConfig, formatValue } from './job-config-schema';
import { JOB_CONFIG_SCHEMA_VERSION, type JobConfig } from './job-config-types';

/**
 * The stored job configuration, pure: types, validation and (de)serialisation of `/{job}/config`. Every
 * instance follows it without a restart; invalid input is rejected naming the field, and unreadable stored
 * data is reported with its path. Stored JSON has every field explicit and a `schemaVersion`; adding or
 * changing a field bumps the version, and a reader rejects versions it does not know instead of guessing.
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
} from './job-config-types';
export type { JobConfig, JobType, RetryPolicy, StrategyName } from './job-config-types';

/**
 * Validates a whole config object (every field present, no unknown field; used by ops when an operator edits
 * the stored config) and returns a normalised copy. Throws ConfigurationError whose `field` names the first
 * bad field (dotted path, e.g. 'retry.attempts') and whose message lists every problem.
 */
export function validateJobConfig(input: unknown): JobConfig {
  const { config, issues } = checkJobConfig(input);
  if (config === undefined) {
    throw new ConfigurationError(issues.map(i => i.message).join('; '), issues[0]?.field);
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
  let input: unknown;
  try {
    input = JSON.parse(raw);
  } catch (err) {
    throw new CorruptedDataError(
      path,
      `invalid JSON (${err instanceof Error ? err.message : String(err)})`,
      {
        cause: err,
      },
    );
  }
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const version = (input as Record<string, unknown>).schemaVersion;
    if (version !== JOB_CONFIG_SCHEMA_VERSION) {
      throw new CorruptedDataError(
        path,
        `schemaVersion: this Shardline reads version ${JOB_CONFIG_SCHEMA_VERSION}, got ${formatValue(version ?? 'missing')}`,
      );
    }
  }
  const { config, issues } = checkJobConfig(input);
  if (config === undefined) {
    throw new CorruptedDataError(path, issues.map(i => i.message).join('; '));
  }
  return config;
}

export { parseItemParameters } from './item-parameters';
