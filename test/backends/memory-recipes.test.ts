import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { MemoryDriver } from '../../lib/registry/memory/memory-driver';
import type { BackendFactory } from '../contract/backend-factory';
import { describeRecipesContract } from '../contract/recipes.contract';

/** The recipes contract on the embedded registry. */

const SESSION_TIMEOUT_MS = 500;

function memoryDriver(registry: DrivenRegistryCenter): MemoryDriver {
  if (!(registry.driver instanceof MemoryDriver)) {
    throw new Error('not a memory registry');
  }
  return registry.driver;
}

const factory: BackendFactory = {
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
    const registry = factory.create(namespace);
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

describe('memory backend: recipes', () => {
  describeRecipesContract(factory);
});
