import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { MemoryDriver } from '../../lib/registry/memory/memory-driver';
import type { BackendFactory } from '../contract/backend-factory';

/** The memory backend's BackendFactory (its session hooks stand in for expiry and cuts). */
function memoryDriver(registry: DrivenRegistryCenter): MemoryDriver {
  if (!(registry.driver instanceof MemoryDriver)) {
    throw new Error('not a memory registry');
  }
  return registry.driver;
}

const SESSION_TIMEOUT_MS = 500;

export const memoryFactory: BackendFactory = {
  name: 'memory',
  sessionTimeoutMs: SESSION_TIMEOUT_MS,
  create: (namespace, options = {}) =>
    new DrivenRegistryCenter(
      new MemoryDriver({ type: 'memory', namespace, sessionTimeoutMs: SESSION_TIMEOUT_MS }),
      options,
    ),
  expireSession: registry => {
    memoryDriver(registry).expireSession();
    return Promise.resolve();
  },
  createCuttable: async namespace => {
    const registry = memoryFactory.create(namespace);
    await registry.init();
    const driver = memoryDriver(registry);
    return {
      registry,
      cut: () => driver.suspend(),
      heal: () => driver.resume(),
      close: () => registry.close(),
    };
  },
};
