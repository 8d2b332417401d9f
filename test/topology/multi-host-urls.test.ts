// Multi-host URLs against real 3-node clusters (issue 12): clients given the same host list spread over the
// servers, and a host that cannot be resolved, or a member that is down, costs no request: the client uses the
// servers it can reach. Measured numbers are printed as `[topology urls]` lines.
import { expect } from 'chai';
import { withTimeout } from '../../lib/internal/async';
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

const OPS = 30;

interface Kind {
  name: 'ZooKeeper' | 'etcd';
  start(): Promise<RegistryCluster>;
}

const KINDS: Kind[] = [
  { name: 'ZooKeeper', start: () => ZooKeeperEnsemble.start() },
  { name: 'etcd', start: () => EtcdCluster.start() },
];

for (const kind of KINDS) {
  describe(`topology: multi-host URLs on a 3-node ${kind.name}`, function () {
    this.timeout(ms(60_000));
    let cluster: RegistryCluster;
    const clients: CoordinatorRegistryCenter[] = [];
    const links: ClientLinks[] = [];

    before(async () => {
      cluster = await kind.start();
    });

    afterEach(async () => {
      await Promise.all(clients.splice(0).map(c => c.close()));
      await Promise.all(links.splice(0).map(l => l.close()));
      await healCluster(cluster);
    });

    after(async () => {
      await cluster?.stop();
    });

    /** `OPS` sequential write+read pairs; resolves with the failures (messages). */
    async function exercise(registry: CoordinatorRegistryCenter): Promise<string[]> {
      const failures: string[] = [];
      for (let i = 0; i < OPS; i++) {
        try {
          await registry.persist('/k', String(i));
          await registry.getDirectly('/k');
        } catch (err) {
          failures.push(String(err));
        }
      }
      return failures;
    }

    async function open(url: string): Promise<CoordinatorRegistryCenter> {
      const registry = createRegistryCenter(url);
      clients.push(registry);
      await registry.init();
      return registry;
    }

    it('clients given the same host list spread over the members', async () => {
      const ns = uniqueNamespace('urls');
      const used = new Set<string>();
      for (let i = 0; i < 6; i++) {
        // One proxy per member per client shows which members this client talks to.
        const l = await ClientLinks.open(cluster);
        links.push(l);
        const registry = await open(cluster.url(ns, 6000, l.endpoints));
        await registry.persist('/k', String(i));
        for (const m of l.connectedMembers()) {
          used.add(m.name);
        }
      }
      console.log(
        `[topology urls] ${kind.name}: 6 clients, same host order, members used: ${[...used].sort().join(' ')}`,
      );
      expect(used.size, 'members used by six clients').to.be.greaterThan(1);
    });

    it('an unresolvable host in the list costs no request', async () => {
      const hosts = ['no-such-host.invalid:2379', ...cluster.members.map(m => m.endpoint)];
      const registry = await open(cluster.url(uniqueNamespace('urls'), 6000, hosts));
      const failures = await exercise(registry);
      console.log(
        `[topology urls] ${kind.name}: unresolvable host first: ${failures.length}/${OPS} op pairs failed`,
      );
      expect(failures, 'failed requests').to.deep.equal([]);
    });

    it('a member that is down costs no request once the client is connected', async () => {
      const l = await ClientLinks.open(cluster);
      links.push(l);
      const registry = await open(cluster.url(uniqueNamespace('urls'), 6000, l.endpoints));
      const states = collect<ConnectionState>(registry, 'connectionStateChanged');
      await registry.persist('/k', 'start');
      const leader = await cluster.leader();
      const down = cluster.members.find(m => m !== leader);
      if (down === undefined) {
        throw new Error('no follower');
      }
      const wasConnected = l.connectedMembers().includes(down);
      await down.kill();
      if (kind.name === 'ZooKeeper' && wasConnected) {
        // Its one connection was to that member: it moves to another first (the caller's retry point).
        await states.takeUntil(s => s === 'RECONNECTED', ms(10_000), 'RECONNECTED');
      }
      if (kind.name === 'etcd' && wasConnected) {
        // "Once connected" includes having seen that member's connection end: a request sent on it in the
        // moment between the kill and the client noticing is lost with it ("Connection dropped", ambiguous
        // and rightly not resent — 1 of 30 in one CI run). The claim is about every request after that.
        const proxy = l.proxies[cluster.members.indexOf(down)];
        await withTimeout(proxy!.idle(), ms(10_000), 'the client seeing the killed member close');
      }
      const failures = await exercise(registry);
      console.log(
        `[topology urls] ${kind.name}: one follower down: ${failures.length}/${OPS} op pairs failed ${failures.slice(0, 1).join('')}`,
      );
      expect(failures, 'failed requests').to.deep.equal([]);
    });
  });
}
