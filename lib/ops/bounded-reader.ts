import { ConcurrencyLimit } from '../internal/concurrency-limit';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';

/** The reads the operations API makes (every one a round trip). */
export type RegistryReader = Pick<
  CoordinatorRegistryCenter,
  'getDirectly' | 'getStat' | 'getChildrenKeys' | 'isExisted'
>;

/**
 * At most this many reads of one operations call are in flight at once. Listing hundreds of jobs of
 * thousands of items is then neither one round trip after another (minutes on a remote registry) nor
 * tens of thousands of requests at once (which a ZooKeeper or etcd server, and the other clients it serves,
 * would feel as a burst).
 */
export const OPS_READ_CONCURRENCY = 32;

/**
 * `registry`'s reads through a semaphore of `limit` slots. Only leaf calls (single registry reads) take a
 * slot, and they never wait for one another, so callers may nest `Promise.all`s freely without deadlock:
 * whatever fans out, no more than `limit` requests are outstanding.
 */
export function boundedReader(
  registry: RegistryReader,
  limit = OPS_READ_CONCURRENCY,
): RegistryReader {
  const slots = new ConcurrencyLimit(limit);
  const run = <T>(read: () => Promise<T>): Promise<T> => slots.run(read);
  return {
    getDirectly: path => run(() => registry.getDirectly(path)),
    getStat: path => run(() => registry.getStat(path)),
    getChildrenKeys: path => run(() => registry.getChildrenKeys(path)),
    isExisted: path => run(() => registry.isExisted(path)),
  };
}
