import {
  BadVersionError,
  ConfigurationError,
  NoNodeError,
  TransactionError,
  UnknownJobError,
} from '../errors';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import {
  JobPaths,
  parseJobConfig,
  serializeJobConfig,
  validateJobConfig,
  type JobConfig,
} from './job-layer';
import { readConfig, requireJob } from './job-reader';

/**
 * Reading and changing a job's stored configuration (`/{job}/config`), which every instance follows
 * without a restart. Every change is a version-checked read-modify-write: read the node and
 * its version, apply the change, write it in a transaction that checks the version. A concurrent writer
 * makes the write fail with a bad version; the change is then re-applied to the fresh value, up to
 * {@link CONFIG_WRITE_ATTEMPTS} times, so two operators changing different fields both win and nobody's
 * change is silently lost.
 */

/** How many times a change is re-applied after losing a race with another writer. */
export const CONFIG_WRITE_ATTEMPTS = 10;

/** The job's stored configuration. */
export async function getJobConfig(
  registry: CoordinatorRegistryCenter,
  job: string,
): Promise<JobConfig> {
  return readConfig(registry, await requireJob(registry, job));
}

/** Options of {@link updateJobConfig}. */
export interface UpdateConfigOptions {
  /**
   * The version of `/{job}/config` the change was made against (e.g. the one an operator's form showed).
   * Given, the write is refused with `BadVersionError` when the stored configuration is at another version,
   * instead of being re-applied to the newer value: the operator reviews the other change first.
   */
  expectedVersion?: number;
}

/**
 * Merge `patch` into the stored configuration, validate the result (`ConfigurationError` naming the
 * field; nothing is written) and write it, version-checked. The job's name cannot change. Returns the
 * configuration written.
 */
export async function updateJobConfig(
  registry: CoordinatorRegistryCenter,
  job: string,
  patch: Partial<JobConfig>,
  options: UpdateConfigOptions = {},
): Promise<JobConfig> {
  if (patch.name !== undefined && patch.name !== job) {
    throw new ConfigurationError(
      `the name of job ${job} cannot be changed (got ${JSON.stringify(patch.name)})`,
      'name',
    );
  }
  // A key present with `undefined` means "not given", as everywhere in TypeScript option bags.
  const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  return modifyConfig(
    registry,
    job,
    current => validateJobConfig({ ...current, ...given }),
    options.expectedVersion,
  );
}

/** Set `config.disabled` (job-level disable / enable). */
export function setJobDisabled(
  registry: CoordinatorRegistryCenter,
  job: string,
  disabled: boolean,
): Promise<JobConfig> {
  return modifyConfig(registry, job, current => ({ ...current, disabled }));
}

/**
 * The version-checked read-modify-write. `change` may run more than once (once per attempt) and must
 * be a pure function of the configuration it is given. With `expectedVersion`, a configuration at any
 * other version is refused with `BadVersionError` (no re-apply).
 */
export async function modifyConfig(
  registry: CoordinatorRegistryCenter,
  job: string,
  change: (current: JobConfig) => JobConfig,
  expectedVersion?: number,
): Promise<JobConfig> {
  const paths = new JobPaths(job);
  for (let attempt = 1; ; attempt++) {
    const stat = await registry.getStat(paths.config);
    if (stat === null) {
      throw new UnknownJobError(job);
    }
    if (expectedVersion !== undefined && stat.version !== expectedVersion) {
      throw new BadVersionError(paths.config, expectedVersion);
    }
    const next = change(parseJobConfig(paths.config, stat.value));
    try {
      await registry.executeInTransaction(tx =>
        tx.setData(paths.config, serializeJobConfig(next), stat.version),
      );
      return next;
    } catch (err) {
      const cause = err instanceof TransactionError ? err.cause : err;
      if (cause instanceof NoNodeError) {
        throw new UnknownJobError(job); // removed meanwhile
      }
      if (
        !(cause instanceof BadVersionError) ||
        expectedVersion !== undefined ||
        attempt >= CONFIG_WRITE_ATTEMPTS
      ) {
        throw err;
      }
      // Lost a race with another writer: back off a little (jittered) and re-apply to the new value.
      await new Promise(resolve => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}
