// The multi-node harness itself: a 3-node ZooKeeper ensemble and a 3-member etcd cluster start with one leader,
// replicate, elect a new leader when theirs is SIGKILLed, take the killed member back with its data, survive
// SIGSTOP/SIGCONT of a member, are gone by PID after stop(), and a client's private links can be cut.
import { expect } from 'chai';
import { isRetryable } from '../../lib/errors';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
} from '../../lib/registry/registry-center';
import { collect } from '../harness/events';
import { EtcdCluster } from '../harness/etcd-cluster';
import { uniqueNamespace } from '../harness/namespace';
import { ClientLinks, healCluster, type RegistryCluster } from '../harness/registry-cluster';
import { ms } from '../harness/timing';
import { ZooKeeperEnsemble } from '../harness/zookeeper-ensemble';

function expectGone(pid: number): void {
  expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
}

interface Kind {
  name: string;
  start(): Promise<RegistryCluster>;
}

const KINDS: Kind[] = [
  { name: 'ZooKeeper ensemble', start: () => ZooKeeperEnsemble.start() },
  { name: 'etcd cluster', start: () => EtcdCluster.start() },
];

for (const kind of KINDS) {
  describe(`harness: ${kind.name} of 3`, function () {
    this.timeout(ms(60_000));
    let cluster: RegistryCluster;
    const clients: CoordinatorRegistryCenter[] = [];
    const links: ClientLinks[] = [];

    const client = async (url: string): Promise<CoordinatorRegistryCenter> => {
      const registry = createRegistryCenter(url);
      clients.push(registry);
      await registry.init();
      return registry;
    };

    before(async () => {
      cluster = await kind.start();
    });

    afterEach(async () => {
      await healCluster(cluster);
      await Promise.all(clients.splice(0).map(c => c.close()));
      await Promise.all(links.splice(0).map(l => l.close()));
    });

    after(async () => {
      const pids = cluster.members.map(m => m.pid);
      await cluster.stop();
      pids.forEach(expectGone);
    });

    it('has one leader and replicates a write made through one member to the others', async () => {
      const leader = await cluster.leader();
      expect(cluster.members.filter(m => m === leader)).to.have.length(1);
      const ns = uniqueNamespace('harness');
      const first = cluster.members[0];
      const last = cluster.members[2];
      if (first === undefined || last === undefined) {
        throw new Error('three members expected');
      }
      const writer = await client(cluster.url(ns, 4000, [first.endpoint]));
      await writer.persist('/k', 'v');
      const reader = await client(cluster.url(ns, 4000, [last.endpoint]));
      expect(await reader.getDirectly('/k')).to.equal('v');
    });

    it('elects a new leader when the leader is SIGKILLed, and takes it back with its data', async () => {
      const ns = uniqueNamespace('harness');
      const registry = await client(cluster.url(ns, 6000));
      const states = collect<ConnectionState>(registry, 'connectionStateChanged');
      await registry.persist('/before', '1');
      const old = await cluster.leader();
      await old.kill();
      expect(old.isRunning).to.equal(false);
      const next = await cluster.leader();
      expect(next).to.not.equal(old);
      try {
        await registry.persist('/during', '2');
      } catch (err) {
        // The client's server dropped it while the ensemble re-elected (ZooKeeper: a connection loss, to be
        // retried by the caller once RECONNECTED; etcd: a request that failed on the dead member).
        expect(isRetryable(err), String(err)).to.equal(true);
        if (registry.connectionState === 'SUSPENDED') {
          await states.takeUntil(s => s === 'RECONNECTED', ms(10_000), 'RECONNECTED');
        }
        await registry.persist('/during', '2');
      }
      await old.restart();
      await cluster.awaitQuorum();
      const direct = await client(cluster.url(ns, 6000, [old.endpoint]));
      expect(await direct.getDirectly('/before')).to.equal('1');
      expect(await direct.getDirectly('/during')).to.equal('2');
    });

    it('survives SIGSTOP/SIGCONT of a member', async () => {
      const leader = await cluster.leader();
      const victim = cluster.members.find(m => m !== leader);
      if (victim === undefined) {
        throw new Error('no member');
      }
      await victim.pause();
      const ns = uniqueNamespace('harness');
      const others = cluster.members.filter(m => m !== victim).map(m => m.endpoint);
      const registry = await client(cluster.url(ns, 6000, others));
      await registry.persist('/k', 'v');
      await victim.resume();
      await cluster.awaitQuorum();
    });

    it("cuts one client's links while another client keeps its own", async () => {
      const ns = uniqueNamespace('harness');
      const cutLinks = await ClientLinks.open(cluster);
      links.push(cutLinks);
      const cut = await client(cluster.url(ns, 4000, cutLinks.endpoints));
      const states = collect<ConnectionState>(cut, 'connectionStateChanged');
      const other = await client(cluster.url(ns, 4000));
      await cut.persist('/k', 'v');
      expect(cutLinks.connectedMembers().length).to.be.greaterThan(0);
      cutLinks.set('blackhole');
      await states.takeUntil(s => s === 'SUSPENDED', ms(8000), 'SUSPENDED after the cut');
      await other.persist('/k', 'w');
      cutLinks.set('pass');
      await states.takeUntil(
        s => s === 'RECONNECTED',
        ms(15_000),
        'RECONNECTED after the links return',
      );
      expect(await cut.getDirectly('/k')).to.equal('w');
    });
  });
}
