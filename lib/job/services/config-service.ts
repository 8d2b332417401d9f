import { CorruptedDataError, NodeExistsError, TransactionError } from '../../errors';
import { parseJobConfig, serializeJobConfig, type JobConfig } from '../job-config';
import { JOB_CONFIG_KEYS } from '../job-config-types';
import type { JobContext } from '../job-context';
import type { JobDefinition } from '../define-job';
import { createIfAbsent } from './create-if-absent';

/** What a stored configuration change means for the runtime. */
export interface ConfigChange {
  previous: JobConfig;
  next: JobConfig;
}

/** One field in which the stored configuration differs from a worker's definition. */
export interface ConfigDifference {
  field: keyof JobConfig;
  stored: unknown;
  definition: unknown;
}

const WRITE_ATTEMPTS = 5;
/** Not drift: `disabled` is operator state, `schemaVersion` is the format's. */
const NOT_DRIFT: ReadonlySet<keyof JobConfig> = new Set(['disabled', 'schemaVersion']);

/** The fields (in stored order) in which `stored` differs from `defined`, operator state excepted. */
export function configDifferences(stored: JobConfig, defined: JobConfig): ConfigDifference[] {
  return JOB_CONFIG_KEYS.filter(
    field =>
      !NOT_DRIFT.has(field) && JSON.stringify(stored[field]) !== JSON.stringify(defined[field]),
  ).map(field => ({ field, stored: stored[field], definition: defined[field] }));
}

/**
 * `/{job}/config`: the job's configuration lives in the registry; a change there takes effect on every
 * instance without a restart.
 *
 * - Start-up: the first writer stores its definition (create-if-absent, atomic); later instances adopt
 *   the stored configuration, unless `overwrite: true`, which replaces it with a version-checked write —
 *   keeping the stored `disabled` flag, which is operator state.
 * - Runtime: every change of the node is parsed; an unreadable value is reported with its path
 *   (`CorruptedDataError`) and the job keeps its last good configuration.
 * - Drift: when the adopted configuration differs from this worker's definition, `drift` lists the fields
 *   and one warning says how to apply the definition — never a silent difference.
 */
export class ConfigService {
  private current: JobConfig;
  private differences: readonly ConfigDifference[] = [];

  constructor(
    private readonly ctx: JobContext,
    private readonly definition: JobDefinition,
  ) {
    this.current = definition.config;
  }

  get config(): JobConfig {
    return this.current;
  }

  /** Where the configuration adopted at start-up differs from the definition (`[]`: none, or written). */
  get drift(): readonly ConfigDifference[] {
    return this.differences;
  }

  /**
   * Writes or adopts the stored configuration and returns the one in force. A corrupted stored value is
   * repaired by `overwrite: true`; otherwise it is reported through `onCorrupted` and this definition's
   * configuration is used locally without being written.
   */
  async register(onCorrupted: (err: CorruptedDataError) => void): Promise<JobConfig> {
    const { registry, paths } = this.ctx;
    for (let attempt = 1; ; attempt++) {
      const stat = await registry.getStat(paths.config);
      if (stat === null) {
        // No configuration: most likely a new job, whose root does not exist either.
        const created = await createIfAbsent(
          registry,
          paths.root,
          paths.config,
          serializeJobConfig(this.definition.config),
          true,
        );
        if (created) {
          this.current = this.definition.config;
          return this.current;
        }
        if (attempt >= WRITE_ATTEMPTS) {
          throw new TransactionError(
            0,
            `create ${paths.config}`,
            new NodeExistsError(paths.config),
          );
        }
        continue; // someone else stored theirs first: adopt it on the next pass
      }
      let stored: JobConfig | undefined;
      try {
        stored = parseJobConfig(paths.config, stat.value);
      } catch (err) {
        if (!(err instanceof CorruptedDataError)) {
          throw err;
        }
        if (!this.definition.overwrite) {
          onCorrupted(err);
          this.current = this.definition.config;
          return this.current;
        }
      }
      if (!this.definition.overwrite && stored !== undefined) {
        this.current = stored;
        this.noteDrift(stored);
        return stored;
      }
      const next: JobConfig = {
        ...this.definition.config,
        disabled: stored?.disabled ?? this.definition.config.disabled,
      };
      try {
        await registry.executeInTransaction(tx =>
          tx.setData(paths.config, serializeJobConfig(next), stat.version),
        );
        this.current = next;
        return next;
      } catch (err) {
        if (!(err instanceof TransactionError) || attempt >= WRITE_ATTEMPTS) {
          throw err;
        }
      }
    }
  }

  private noteDrift(stored: JobConfig): void {
    this.differences = configDifferences(stored, this.definition.config);
    if (this.differences.length > 0) {
      this.ctx.logger.warn(
        'the stored configuration differs from this definition; it is in force',
        {
          path: this.ctx.paths.config,
          fields: this.differences.map(d => d.field),
          apply: `start with overwrite: true, or call updateJobConfig('${this.ctx.jobName}', patch) of the operations API`,
        },
      );
    }
  }

  /**
   * Applies a stored value seen in the cache. Returns the change when the configuration in force changed;
   * `undefined` when it did not, when the node is gone (the job is being removed) or when the value is
   * unreadable (then `onCorrupted` is told and the last good configuration stays).
   */
  apply(
    raw: string | null,
    onCorrupted: (err: CorruptedDataError) => void,
  ): ConfigChange | undefined {
    if (raw === null) {
      return undefined;
    }
    let next: JobConfig;
    try {
      next = parseJobConfig(this.ctx.paths.config, raw);
    } catch (err) {
      if (err instanceof CorruptedDataError) {
        onCorrupted(err);
        return undefined;
      }
      throw err;
    }
    if (next.name !== this.ctx.jobName) {
      onCorrupted(
        new CorruptedDataError(
          this.ctx.paths.config,
          `name is ${next.name}, expected ${this.ctx.jobName}`,
        ),
      );
      return undefined;
    }
    const previous = this.current;
    if (serializeJobConfig(previous) === serializeJobConfig(next)) {
      return undefined;
    }
    this.current = next;
    return { previous, next };
  }
}
