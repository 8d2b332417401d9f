import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { EtcdDriver } from '../../lib/registry/etcd/etcd-driver';
import type { BackendFactory } from '../contract/backend-factory';
import { proxiedClient } from '../contract/proxied-client';
import { describeRecipesContract } from '../contract/recipes.contract';
import { expireEtcdSession } from '../harness/etcd-expire';
import { EtcdServer } from '../harness/etcd-server';

/** The recipes contract on a real etcd (one server for the file, stopped by PID in after()). */

const LEASE_TTL_SECONDS = 3;

function etcdDriver(registry: DrivenRegistryCenter): EtcdDriver {
  if (!(registry.driver instanceof EtcdDriver)) {
    throw new Error('not an etcd registry');
  }
  return registry.driver;
}

describe('etcd backend: recipes', function () {
  let server: EtcdServer | undefined;

  function running(): EtcdServer {
    if (server === undefined) {
      throw new Error('the etcd server is not running');
    }
    return server;
  }

  function createOn(
    hosts: string[],
    namespace: string,
    options: { connectTimeoutMs?: number; requestTimeoutMs?: number } = {},
  ): DrivenRegistryCenter {
    const driver = new EtcdDriver({
      type: 'etcd',
      namespace,
      hosts,
      leaseTtlSeconds: LEASE_TTL_SECONDS,
      ...options,
    });
    return new DrivenRegistryCenter(driver, options);
  }

  const factory: BackendFactory = {
    name: 'etcd',
    sessionTimeoutMs: LEASE_TTL_SECONDS * 1000,
    create: (namespace, options) => createOn([running().endpoint], namespace, options),
    expireSession: registry => expireEtcdSession(etcdDriver(registry), running().endpoint),
    createCuttable: namespace =>
      proxiedClient(running().clientPort, endpoint => createOn([endpoint], namespace)),
  };

  before(async function () {
    this.timeout(30_000);
    server = await EtcdServer.start();
  });

  after(async () => {
    await server?.stop();
  });

  describeRecipesContract(factory);
});
