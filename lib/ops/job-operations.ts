import { InvalidArgumentError } from '../errors';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import { assertRemovableJob } from './assert-removable-job';
import { setJobDisabled } from './config-operations';
import { liveInstanceIds, requireJob } from './job-reader';
import { JobInUseError } from './ops-errors';
import type {
  RemoveOptions,
  RemoveResult,
  RequestResult,
  ShutdownTarget,
  ToggleResult,
  ToggleTarget,
} from './ops-types';
import { disableItem, enableItem } from './sharding-operations';

/**
 * Job lifecycle operations (ElasticJob's JobOperateAPI). Like ElasticJob's, they only write the registry;
 * the instances react through their watches. Each throws `UnknownJobError` for a job without a `config`
 * node.
 */

/**
 * Run the job once now on every live instance: writes `trigger/{id}` for each. An instance that is busy
 * coalesces the request into one run after the current one. Returns the instances asked (none when the
 * job has no live instance: nothing runs).
 */
export async function trigger(
  registry: CoordinatorRegistryCenter,
  job: string,
): Promise<RequestResult> {
  const paths = await requireJob(registry, job);
  const instances = await liveInstanceIds(registry, paths);
  await Promise.all(instances.map(id => registry.persist(paths.trigger(id), '')));
  return { job, instances };
}

/**
 * Stop the job on every live instance, or on one (`target.instanceId`): writes `shutdown/{id}` for each.
 * Each worker stops this job (its other jobs keep running) and its instance node goes away. The job stays
 * defined: a worker that starts it again runs it again. An `instanceId` that is not a live instance of the
 * job is refused with `InvalidArgumentError` (a request left for it would stop a later process of that id).
 */
export async function shutdown(
  registry: CoordinatorRegistryCenter,
  job: string,
  target: ShutdownTarget = {},
): Promise<RequestResult> {
  const paths = await requireJob(registry, job);
  let instances = await liveInstanceIds(registry, paths);
  if (target.instanceId !== undefined) {
    if (!instances.includes(target.instanceId)) {
      throw new InvalidArgumentError(
        `${target.instanceId} is not a live instance of job ${job} (live: ${instances.join(', ') || 'none'})`,
      );
    }
    instances = [target.instanceId];
  }
  await Promise.all(instances.map(id => registry.persist(paths.shutdown(id), '')));
  return { job, instances };
}

/**
 * Delete the job (`/{job}` and everything under it). Refused with {@link JobInUseError} naming the live
 * instances while any is alive, unless `force`; with `force` the running workers lose the job's
 * configuration under their feet. The usual sequence is `shutdown`, wait until no instance is left
 * (`getJobStatus().instances`), then `remove`. Only a Shardline job is ever deleted: a node whose `config`
 * does not parse as this job's configuration, or that holds anything but a job's own nodes (such as another
 * namespace nested inside the job name), is refused with {@link NotAJobError} naming the path, with or
 * without `force` (`force` only skips the live-instance check).
 */
export async function remove(
  registry: CoordinatorRegistryCenter,
  job: string,
  options: RemoveOptions = {},
): Promise<RemoveResult> {
  const paths = await requireJob(registry, job);
  await assertRemovableJob(registry, paths);
  const liveInstances = await liveInstanceIds(registry, paths);
  if (liveInstances.length > 0 && options.force !== true) {
    throw new JobInUseError(job, paths.instances, liveInstances);
  }
  await registry.remove(paths.root);
  return { job, liveInstances };
}

/**
 * Disable the whole job (`config.disabled = true`), its instances on one server (`servers/{ip}` =
 * `DISABLED`), or one item (`sharding/{n}/disabled`). See {@link ToggleTarget}.
 */
export function disable(
  registry: CoordinatorRegistryCenter,
  job: string,
  target: ToggleTarget = {},
): Promise<ToggleResult> {
  return toggle(registry, job, target, false);
}

/** The inverse of {@link disable}, for the same targets. */
export function enable(
  registry: CoordinatorRegistryCenter,
  job: string,
  target: ToggleTarget = {},
): Promise<ToggleResult> {
  return toggle(registry, job, target, true);
}

async function toggle(
  registry: CoordinatorRegistryCenter,
  job: string,
  target: ToggleTarget,
  enabled: boolean,
): Promise<ToggleResult> {
  const { server, item } = target;
  if (server !== undefined && item !== undefined) {
    throw new InvalidArgumentError(
      'server and item cannot be combined: an item is disabled or enabled for the whole job',
    );
  }
  if (item !== undefined) {
    await (enabled ? enableItem(registry, job, item) : disableItem(registry, job, item));
    return { job, scope: 'item', server: null, item, enabled };
  }
  if (server !== undefined) {
    const paths = await requireJob(registry, job);
    // Any IP is accepted: disabling a server before it starts the job is the deploy-then-enable pattern.
    await registry.persist(paths.server(server), enabled ? 'ENABLED' : 'DISABLED');
    return { job, scope: 'server', server, item: null, enabled };
  }
  await setJobDisabled(registry, job, !enabled);
  return { job, scope: 'job', server: null, item: null, enabled };
}
