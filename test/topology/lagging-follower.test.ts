// A client connected to a lagging ZooKeeper follower never acts on a stale read (issue 12, item 6; the
// argument is in docs/guarantees.md, "A lagging ZooKeeper follower"). Shardline acts on what it read only
// through a transaction that re-checks the versions it read, and every transaction is ordered by the
// leader. Provoked here: the reader's only server is a follower that is SIGSTOPped while a writer on the
// leader moves an item away, then resumed; the reader at once reads the owner (from the follower, which may
// not have caught up yet) and, when it still sees itself, claims the item in a transaction that checks the
// owner's version — the claim pattern of execution-service.ts. Whatever the read returned, no claim may commit
// while the item belongs to the writer. The rounds that did read stale data are counted and printed.
import { expect } from 'chai';
import { TransactionError } from '../../lib/errors';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import { uniqueNamespace } from '../harness/namespace';
import { healCluster, type ClusterMember } from '../harness/registry-cluster';
import { ms } from '../harness/timing';
import { ZooKeeperEnsemble } from '../harness/zookeeper-ensemble';

const ROUNDS = 12;

describe('topology: a client on a lagging ZooKeeper follower', function () {
  this.timeout(ms(120_000));
  let cluster: ZooKeeperEnsemble;
  const clients: CoordinatorRegistryCenter[] = [];

  before(async function () {
    this.timeout(ms(180_000));
    cluster = await ZooKeeperEnsemble.start();
  });

  after(async () => {
    await Promise.all(clients.splice(0).map(c => c.close()));
    if (cluster !== undefined) {
      await healCluster(cluster);
      await cluster.stop();
    }
  });

  async function open(
    namespace: string,
    member: ClusterMember,
  ): Promise<CoordinatorRegistryCenter> {
    const registry = createRegistryCenter(cluster.url(namespace, 6000, [member.endpoint]));
    clients.push(registry);
    await registry.init();
    return registry;
  }

  it('claims only on a fresh read: a transaction checking a stale owner version never commits', async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.find(m => m !== leader);
    if (follower === undefined) {
      throw new Error('no follower');
    }
    const namespace = uniqueNamespace('lag');
    const writer = await open(namespace, leader);
    const reader = await open(namespace, follower);
    let staleReads = 0;
    let claims = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const owner = `/items/${round}/instance`;
      const running = `/items/${round}/running`;
      await writer.persist(owner, 'reader');
      // The reader has seen the item as its own (its server caught up with that write).
      await reader.executeInTransaction(tx => tx.check(owner));
      await follower.pause();
      try {
        await writer.update(owner, 'writer'); // committed by the leader and the third member
      } finally {
        await follower.resume();
      }
      const seen = await reader.getStat(owner);
      if (seen?.value !== 'reader') {
        continue; // a fresh read: the reader does not act
      }
      staleReads++;
      const outcome = await reader
        .executeInTransaction(tx => tx.check(owner, seen.version).create(running, 'reader'))
        .then(
          () => 'committed',
          (err: unknown) => err,
        );
      if (outcome === 'committed') {
        claims++;
      } else {
        expect(outcome, `round ${round}`).to.be.instanceOf(TransactionError);
      }
      expect(await writer.getDirectly(running), `round ${round}: a claim on a stale read`).to.equal(
        null,
      );
    }
    console.log(
      `[topology lag] ZooKeeper: ${ROUNDS} rounds, the reader's follower paused during each move: ` +
        `${staleReads} stale reads, ${claims} claims committed on them`,
    );
    expect(claims, 'claims committed on a stale read').to.equal(0);
  });
});
