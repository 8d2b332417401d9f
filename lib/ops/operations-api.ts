import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import { getJobConfig, updateJobConfig, type UpdateConfigOptions } from './config-operations';
import type { JobConfig } from './job-layer';
import { disable, enable, remove, shutdown, trigger } from './job-operations';
import type {
  ItemInfo,
  JobBrief,
  JobStatusInfo,
  RemoveOptions,
  RemoveResult,
  RequestResult,
  ShutdownTarget,
  ToggleResult,
  ToggleTarget,
} from './ops-types';
import { getJobStatus, getShardingInfo, listJobs } from './statistics';

/**
 * Inspect and steer jobs through the registry alone (no RPC to workers): what the CLI and the console
 * use, and what an application can use to build its own tooling.
 *
 * ```ts
 * const registry = createRegistryCenter('zookeeper://127.0.0.1:2181/demo');
 * await registry.init();
 * const ops = createOperations(registry);
 * console.log(await ops.getJobStatus('order-sync'));   // { job, status, leader, instances, items }
 * await ops.updateJobConfig('order-sync', { cron: '0 * * * * *' }); // every instance follows
 * await ops.disable('order-sync', { item: 2 });
 * await registry.close();
 * ```
 *
 * Every read is a round trip (nothing is cached), so an `Operations` can live as long or as short as its
 * registry. Every method rejects with `UnknownJobError` for a job without a `config` node, with
 * `CorruptedDataError` (naming the path) for a configuration it has to parse, and with the registry's own
 * errors (`ConnectionLossError`, `OperationTimeoutError`, …) when the registry cannot be reached. The
 * reads never fail on an unreadable instance node (reported in `corrupted`), and `listJobs` lists a job
 * with an unreadable configuration as `CORRUPTED`. Reads fan out with bounded concurrency.
 */
export interface Operations {
  /** Every job of the namespace, sorted by name. */
  listJobs(): Promise<JobBrief[]>;
  /** Status, leader, live instances and items of one job. */
  getJobStatus(job: string): Promise<JobStatusInfo>;
  /** The items of one job, ascending. */
  getShardingInfo(job: string): Promise<ItemInfo[]>;
  /** The stored configuration. */
  getJobConfig(job: string): Promise<JobConfig>;
  /**
   * Merge `patch` into the stored configuration, validate it (`ConfigurationError` naming the field) and
   * write it version-checked; every instance follows without a restart. Returns what was written. With
   * `expectedVersion`, refused with `BadVersionError` unless the stored configuration is at that version.
   */
  updateJobConfig(
    job: string,
    patch: Partial<JobConfig>,
    options?: UpdateConfigOptions,
  ): Promise<JobConfig>;
  /** Run the job once now on every live instance. */
  trigger(job: string): Promise<RequestResult>;
  /** Disable the job, its instances on one server, or one item. */
  disable(job: string, target?: ToggleTarget): Promise<ToggleResult>;
  /** Enable the job, its instances on one server, or one item. */
  enable(job: string, target?: ToggleTarget): Promise<ToggleResult>;
  /** Stop the job on every live instance, or on one (their other jobs keep running). */
  shutdown(job: string, target?: ShutdownTarget): Promise<RequestResult>;
  /**
   * Delete the job; refused with `JobInUseError` while instances are alive unless `force`, and always with
   * `NotAJobError` when `/{job}` is not only a Shardline job (its config does not parse, or it holds other
   * nodes, such as a namespace nested inside the job name).
   */
  remove(job: string, options?: RemoveOptions): Promise<RemoveResult>;
}

/** The operations API over an initialised registry center (the caller owns and closes it). */
export function createOperations(registry: CoordinatorRegistryCenter): Operations {
  return {
    listJobs: () => listJobs(registry),
    getJobStatus: job => getJobStatus(registry, job),
    getShardingInfo: job => getShardingInfo(registry, job),
    getJobConfig: job => getJobConfig(registry, job),
    updateJobConfig: (job, patch, options) => updateJobConfig(registry, job, patch, options),
    trigger: job => trigger(registry, job),
    disable: (job, target) => disable(registry, job, target),
    enable: (job, target) => enable(registry, job, target),
    shutdown: (job, target) => shutdown(registry, job, target),
    remove: (job, options) => remove(registry, job, options),
  };
}

export type * from './ops-types';
export type { UpdateConfigOptions } from './config-operations';
export { JobInUseError, NotAJobError } from './ops-errors';
