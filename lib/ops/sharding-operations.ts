import { InvalidArgumentError } from '../errors';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import { readConfig, requireJob } from './job-reader';

/**
 * Item-level disable / enable (ElasticJob's ShardingOperateAPI): `sharding/{n}/disabled` exists while the
 * item is disabled. Its owner skips the item and keeps it: there is no resharding, and the item is
 * disabled for the whole job, whichever instance it is assigned to. The marker is persistent and
 * survives restarts and resharding until `enable`.
 */

/** Disable item `item` of `job`; `InvalidArgumentError` unless `0 <= item < shardingTotalCount`. */
export async function disableItem(
  registry: CoordinatorRegistryCenter,
  job: string,
  item: number,
): Promise<void> {
  const paths = await requireJob(registry, job);
  const { shardingTotalCount } = await readConfig(registry, paths);
  if (!isItemNumber(item) || item >= shardingTotalCount) {
    throw new InvalidArgumentError(
      `item must be an integer from 0 to ${shardingTotalCount - 1} (job ${job} has ` +
        `${shardingTotalCount} items), got ${String(item)}`,
    );
  }
  await registry.persist(paths.itemDisabled(item), '');
}

/**
 * Enable item `item` of `job` again (idempotent). Any non-negative item is accepted, so that a marker
 * left on an item beyond a reduced `shardingTotalCount` can be cleared too.
 */
export async function enableItem(
  registry: CoordinatorRegistryCenter,
  job: string,
  item: number,
): Promise<void> {
  const paths = await requireJob(registry, job);
  if (!isItemNumber(item)) {
    throw new InvalidArgumentError(`item must be a non-negative integer, got ${String(item)}`);
  }
  await registry.remove(paths.itemDisabled(item));
}

function isItemNumber(item: number): boolean {
  return Number.isSafeInteger(item) && item >= 0;
}
