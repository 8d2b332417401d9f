import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { ZooKeeperDriver } from '../../lib/registry/zookeeper/zookeeper-driver';
import type { BackendFactory } from '../contract/backend-factory';
import { proxiedClient } from '../contract/proxied-client';
import { describeJobFailureContract } from '../contract/job-failure.contract';
import { describeJobContract } from '../contract/job.contract';
import { describeLeaderLatchContract } from '../contract/leader-latch.contract';
import { describeRegistryCenterContract } from '../contract/registry-center.contract';
import { describeServerRestartContract } from '../contract/server-restart.contract';
import { describeTreeCacheContract } from '../contract/tree-cache.contract';
import { expireZooKeeperSession } from '../harness/zookeeper-expire';
import { ZooKeeperServer } from '../harness/zookeeper-server';

/** The contract suites on a real ZooKeeper 3.8 (one server for the file); cuttable clients sit behind a TcpProxy. */

const TICK_MS = 500;
/** The server's minimum session timeout (2 × tick), so that expiry tests take seconds. */
const SESSION_TIMEOUT_MS = 2000;

function zookeeperDriver(registry: DrivenRegistryCenter): ZooKeeperDriver {
  if (!(registry.driver instanceof ZooKeeperDriver)) {
    throw new Error('not a ZooKeeper registry');
  }
  return registry.driver;
}

describe('ZooKeeper backend', function () {
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
    restartServer: async () => {
      await running().kill();
      await running().restart();
    },
  };

  before(async function () {
    this.timeout(30_000);
    server = await ZooKeeperServer.start({ tickTimeMs: TICK_MS });
  });

  after(async () => {
    await server?.stop();
  });

  describeRegistryCenterContract(factory);
  describeTreeCacheContract(factory);
  describeLeaderLatchContract(factory);
  describeJobContract(factory);
  describeJobFailureContract(factory);
  describeServerRestartContract(factory);
});
