import { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { EtcdDriver } from '../../lib/registry/etcd/etcd-driver';
import type { BackendFactory } from '../contract/backend-factory';
import { proxiedClient } from '../contract/proxied-client';
import { describeJobFailureContract } from '../contract/job-failure.contract';
import { describeJobContract } from '../contract/job.contract';
import { describeLeaderLatchContract } from '../contract/leader-latch.contract';
import { describeRegistryCenterContract } from '../contract/registry-center.contract';
import { describeServerRestartContract } from '../contract/server-restart.contract';
import { describeTreeCacheContract } from '../contract/tree-cache.contract';
import { expireEtcdSession } from '../harness/etcd-expire';
import { EtcdServer } from '../harness/etcd-server';

/** The contract suites on a real etcd 3.4 (one server for the file); cuttable clients sit behind a TcpProxy. */

const LEASE_TTL_SECONDS = 3;

function etcdDriver(registry: DrivenRegistryCenter): EtcdDriver {
  if (!(registry.driver instanceof EtcdDriver)) {
    throw new Error('not an etcd registry');
  }
  return registry.driver;
}

describe('etcd backend', function () {
  let server: EtcdServer | undefined;

  function endpoint(): string {
    if (server === undefined) {
      throw new Error('the etcd server is not running');
    }
    return server.endpoint;
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
    create: (namespace, options) => createOn([endpoint()], namespace, options),
    expireSession: registry => expireEtcdSession(etcdDriver(registry), endpoint()),
    createCuttable: namespace => {
      if (server === undefined) {
        throw new Error('the etcd server is not running');
      }
      return proxiedClient(server.clientPort, endpoint => createOn([endpoint], namespace));
    },
    restartServer: async () => {
      if (server === undefined) {
        throw new Error('the etcd server is not running');
      }
      await server.kill();
      await server.restart();
    },
  };

  before(async function () {
    this.timeout(30_000);
    server = await EtcdServer.start();
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
