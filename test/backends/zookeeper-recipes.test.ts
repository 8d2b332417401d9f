import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { ZooKeeperDriver } from '../../lib/registry/zookeeper/zookeeper-driver';
import type { BackendFactory } from '../contract/backend-factory';
import { proxiedClient } from '../contract/proxied-client';
import { describeRecipesContract } from '../contract/recipes.contract';
import { expireZooKeeperSession } from '../harness/zookeeper-expire';
import { ZooKeeperServer } from '../harness/zookeeper-server';

/** The recipes contract on a real ZooKeeper (one server for the file, stopped by PID in after()). */

const TICK_MS = 500;
/** The server's minimum session timeout (2 × tick), so that expiry tests take seconds. */
const SESSION_TIMEOUT_MS = 2000;

function zookeeperDriver(registry: DrivenRegistryCenter): ZooKeeperDriver {
  if (!(registry.driver instanceof ZooKeeperDriver)) {
    throw new Error('not a ZooKeeper registry');
  }
  return registry.driver;
}

describe('ZooKeeper backend: recipes', function () {
  let server: ZooKeeperServer | undefined;

  function running(): ZooKeeperServer {
    if (server === undefined) {
      throw new Error('the ZooKeeper server is not running');
    }
    return server;
  }

  function createOn(
    servers: string[],
    namespace: string,
    options: { connectTimeoutMs?: number; requestTimeoutMs?: number } = {},
  ): DrivenRegistryCenter {
    const driver = new ZooKeeperDriver({
      type: 'zookeeper',
      namespace,
      servers,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      ...options,
    });
    return new DrivenRegistryCenter(driver, options);
  }

  const factory: BackendFactory = {
    name: 'zookeeper',
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    create: (namespace, options) => createOn([running().connectString], namespace, options),
    expireSession: registry => expireZooKeeperSession(zookeeperDriver(registry)),
    createCuttable: namespace =>
      proxiedClient(running().port, endpoint => createOn([endpoint], namespace)),
  };

  before(async function () {
    this.timeout(30_000);
    server = await ZooKeeperServer.start({ tickTimeMs: TICK_MS });
  });

  after(async () => {
    await server?.stop();
  });

  describeRecipesContract(factory);
});
