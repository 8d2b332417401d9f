import { EtcdServer } from './etcd-server';
import type { ManagedServer } from './managed-server';
import { ZooKeeperServer } from './zookeeper-server';

/**
 * A real registry server for a multi-process test file, and the registry URL worker processes use for it:
 * `start()` in before(), `stop()` (by PID) in after(). The session timeout / lease TTL goes into the URL.
 */
export interface ServerBackend {
  name: 'ZooKeeper' | 'etcd';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The running server (for restarts and kills). */
  server(): ManagedServer;
  /** A registry URL of `namespace` with a `sessionMs` session timeout / lease TTL. */
  url(namespace: string, sessionMs: number): string;
}

export function zookeeperServerBackend(): ServerBackend {
  let server: ZooKeeperServer | undefined;
  return {
    name: 'ZooKeeper',
    start: async () => {
      server = await ZooKeeperServer.start({ tickTimeMs: 500 });
    },
    stop: async () => {
      await server?.stop();
    },
    server: () => running(server),
    url: (ns, sessionMs) =>
      `zookeeper://${running(server).connectString}/${ns}?sessionTimeoutMs=${sessionMs}`,
  };
}

export function etcdServerBackend(): ServerBackend {
  let server: EtcdServer | undefined;
  return {
    name: 'etcd',
    start: async () => {
      server = await EtcdServer.start();
    },
    stop: async () => {
      await server?.stop();
    },
    server: () => running(server),
    url: (ns, sessionMs) =>
      `etcd://${running(server).endpoint}/${ns}?leaseTtlSeconds=${Math.ceil(sessionMs / 1000)}`,
  };
}

function running<T>(server: T | undefined): T {
  if (server === undefined) {
    throw new Error('the registry server is not running');
  }
  return server;
}
