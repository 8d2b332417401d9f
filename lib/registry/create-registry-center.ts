import { ConfigurationError } from '../errors';
import { DrivenRegistryCenter } from './driven-registry-center';
import { EtcdDriver } from './etcd/etcd-driver';
import { MemoryDriver } from './memory/memory-driver';
import type { RegistryCenterOptions } from './options';
import type { CoordinatorRegistryCenter } from './registry-center';
import type { RegistryDriver } from './driver';
import { parseRegistryUrl } from './registry-url';
import { ZooKeeperDriver } from './zookeeper/zookeeper-driver';

/**
 * Create a registry center (not yet connected: call `init()`).
 *
 * ```ts
 * const registry = createRegistryCenter('zookeeper://127.0.0.1:2181/demo?sessionTimeoutMs=6000');
 * // or 'etcd://user:pw@127.0.0.1:2379/demo?leaseTtlSeconds=6', 'memory://demo', or an options object
 * await registry.init();
 * ```
 * A malformed URL or invalid options throw `ConfigurationError` naming what is wrong.
 */
export function createRegistryCenter(
  urlOrOptions: string | RegistryCenterOptions,
): CoordinatorRegistryCenter {
  const options = typeof urlOrOptions === 'string' ? parseRegistryUrl(urlOrOptions) : urlOrOptions;
  return new DrivenRegistryCenter(createDriver(options), options);
}

function createDriver(options: RegistryCenterOptions): RegistryDriver {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError(
      'registry options must be a URL string or an options object',
      'options',
    );
  }
  if (typeof options.namespace !== 'string' || options.namespace.trim() === '') {
    throw new ConfigurationError(
      'registry option "namespace" is required (e.g. "demo")',
      'namespace',
    );
  }
  switch (options.type) {
    case 'memory':
      return new MemoryDriver(options);
    case 'zookeeper':
      requireEndpoints(options.servers, 'servers');
      return new ZooKeeperDriver(options);
    case 'etcd':
      requireEndpoints(options.hosts, 'hosts');
      return new EtcdDriver(options);
    default:
      throw new ConfigurationError(
        `registry option "type" must be 'memory', 'zookeeper' or 'etcd', got ${JSON.stringify((options as { type?: unknown }).type)}`,
        'type',
      );
  }
}

function requireEndpoints(list: unknown, field: string): void {
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.some(e => typeof e !== 'string' || !/^.+:\d+$/.test(e))
  ) {
    throw new ConfigurationError(
      `registry option "${field}" must be a non-empty list of "host:port" strings`,
      field,
    );
  }
}
