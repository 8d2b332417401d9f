import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { EtcdDriver } from '../../lib/registry/etcd/etcd-driver';
import type { BackendFactory } from '../contract/backend-factory';
import { proxiedClient } from '../contract/proxied-client';
import { expireEtcdSession } from '../harness/etcd-expire';
import { EtcdServer } from '../harness/etcd-server';

export const ETCD_LEASE_TTL_SECONDS = 3;

/**
 * A real etcd 3.4 for one test file and the BackendFactory over it: call `useEtcdBackend()` inside a
 * `describe`; it registers before/after hooks that start the server and stop it by PID. Cuttable clients
 * sit behind a TcpProxy; sessions are expired by revoking the lease from a second client.
 */
export function useEtcdBackend(): BackendFactory {
  let server: EtcdServer | undefined;

  const running = (): EtcdServer => {
    if (server === undefined) {
      throw new Error('the etcd server is not running');
    }
    return server;
  };

  const createOn = (
    hosts: string[],
    namespace: string,
    options: { connectTimeoutMs?: number; requestTimeoutMs?: number } = {},
  ): DrivenRegistryCenter =>
    new DrivenRegistryCenter(
      new EtcdDriver({
        type: 'etcd',
        namespace,
        hosts,
        leaseTtlSeconds: ETCD_LEASE_TTL_SECONDS,
        ...options,
      }),
      options,
    );

  before(async function () {
    this.timeout(30_000);
    server = await EtcdServer.start();
  });

  after(async () => {
    await server?.stop();
  });

  return {
    name: 'etcd',
    sessionTimeoutMs: ETCD_LEASE_TTL_SECONDS * 1000,
    create: (namespace, options) => createOn([running().endpoint], namespace, options),
    expireSession: registry => expireEtcdSession(etcdDriver(registry), running().endpoint),
    createCuttable: namespace =>
      proxiedClient(running().clientPort, endpoint => createOn([endpoint], namespace)),
    restartServer: async () => {
      await running().kill();
      await running().restart();
    },
  };
}

export function etcdDriver(registry: DrivenRegistryCenter): EtcdDriver {
  if (!(registry.driver instanceof EtcdDriver)) {
    throw new Error('not an etcd registry');
  }
  return registry.driver;
}
