import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { ZooKeeperDriver } from '../../lib/registry/zookeeper/zookeeper-driver';
import type { BackendFactory } from '../contract/backend-factory';
import { proxiedClient } from '../contract/proxied-client';
import { expireZooKeeperSession } from '../harness/zookeeper-expire';
import { ZooKeeperServer } from '../harness/zookeeper-server';

const TICK_MS = 500;
/** The server's minimum session timeout (2 × tick), so that expiry tests take seconds. */
export const ZK_SESSION_TIMEOUT_MS = 2000;

/**
 * A real ZooKeeper 3.8 for one test file and the BackendFactory over it: call `useZooKeeperBackend()` inside
 * a `describe`; it registers before/after hooks that start the server and stop it by PID. Cuttable
 * clients sit behind a TcpProxy; sessions are expired by a second client attached to the victim's.
 */
export function useZooKeeperBackend(): BackendFactory {
  let server: ZooKeeperServer | undefined;

  const running = (): ZooKeeperServer => {
    if (server === undefined) {
      throw new Error('the ZooKeeper server is not running');
    }
    return server;
  };

  const createOn = (
    servers: string[],
    namespace: string,
    options: { connectTimeoutMs?: number; requestTimeoutMs?: number } = {},
  ): DrivenRegistryCenter =>
    new DrivenRegistryCenter(
      new ZooKeeperDriver({
        type: 'zookeeper',
        namespace,
        servers,
        sessionTimeoutMs: ZK_SESSION_TIMEOUT_MS,
        ...options,
      }),
      options,
    );

  before(async function () {
    this.timeout(30_000);
    server = await ZooKeeperServer.start({ tickTimeMs: TICK_MS });
  });

  after(async () => {
    await server?.stop();
  });

  return {
    name: 'zookeeper',
    sessionTimeoutMs: ZK_SESSION_TIMEOUT_MS,
    create: (namespace, options) => createOn([running().connectString], namespace, options),
    expireSession: registry => expireZooKeeperSession(zookeeperDriver(registry)),
    createCuttable: namespace =>
      proxiedClient(running().port, endpoint => createOn([endpoint], namespace)),
    restartServer: async () => {
      await running().kill();
      await running().restart();
    },
  };
}

export function zookeeperDriver(registry: DrivenRegistryCenter): ZooKeeperDriver {
  if (!(registry.driver instanceof ZooKeeperDriver)) {
    throw new Error('not a ZooKeeper registry');
  }
  return registry.driver;
}
