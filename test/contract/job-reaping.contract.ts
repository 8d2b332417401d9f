import { expect } from 'chai';
import { defineJob } from '../../lib/job/define-job';
import type { JobContext } from '../../lib/job/job-context';
import { serializeInstanceInfo, type InstanceInfo } from '../../lib/job/job-instance';
import { JobPaths } from '../../lib/job/job-paths';
import { formatGenerationRecord } from '../../lib/job/sharding/generation-record';
import { type Claim, ExecutionService } from '../../lib/job/services/execution-service';
import { FailoverService } from '../../lib/job/services/failover-service';
import { InstanceService } from '../../lib/job/services/instance-service';
import { ServerService } from '../../lib/job/services/server-service';
import { ShardingService } from '../../lib/job/services/sharding-service';
import { selectStrategy } from '../../lib/job/sharding/sharding-strategy';
import { noopLogger } from '../../lib/logger';
import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import type { TreeCache } from '../../lib/registry/registry-center';
import { SnapshotCache } from '../harness/snapshot-cache';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients } from './clients';

const JOB = defineJob({
  name: 'reap',
  cron: '0 0 0 1 1 *', // never fires in a test: reap is called directly
  shardingTotalCount: 4,
  failover: true,
  execute: () => undefined,
});

/** One worker life's instance info (the same pid gives the same value: one life). */
function info(pid: number): InstanceInfo {
  return {
    host: 'host',
    ip: '127.0.0.1',
    pid,
    labels: {},
    startedAt: 1_796_000_000_000 + pid,
    version: 'test',
  };
}

/**
 * The leader's reaping of dead writers' running records (FailoverService.reap) on a real registry, with
 * the leader's cache frozen at an earlier moment or showing a moment that never was. A reaped record is
 * deleted and its item queued for failover: reaping a LIVE writer's record hands its item to a second
 * runner while the first still runs it (found by the topology chaos test on a 3-node ZooKeeper). The cache
 * may name candidates; only fresh reads may confirm them.
 */
export function describeJobReapingContract(factory: BackendFactory): void {
  describe(`reaping dead writers' records trusts no stale cache (${factory.name})`, function () {
    this.timeout(ms(20_000));
    const paths = new JobPaths(JOB.config.name);
    let clients: Clients;
    let registry: DrivenRegistryCenter;
    /** The writers' own sessions: their ephemeral instance nodes live as long as these clients. */
    let writers: Map<string, DrivenRegistryCenter>;

    beforeEach(async () => {
      clients = new Clients(factory);
      registry = await clients.connect();
      writers = new Map();
      await registry.persist(paths.sharding, '');
    });

    afterEach(async () => {
      await clients.closeAll();
    });

    /** A writer registers (ephemeral instance node on its own session) and claims `item` (its record). */
    async function liveWriter(id: string, pid: number, item: number): Promise<void> {
      const own = await clients.connect();
      writers.set(id, own);
      await own.persistEphemeral(paths.instance(id), serializeInstanceInfo(info(pid)));
      await own.persist(paths.itemRunning(item), id);
    }

    /** The writer's session ends: its instance node goes (memory keeps it to the lease's end: removed). */
    async function kill(id: string): Promise<void> {
      await writers.get(id)?.close();
      writers.delete(id);
      await registry.remove(paths.instance(id));
    }

    /**
     * One instance's services over `on` (default: `registry`), judging from `view`: the leader's `reap`
     * (under the failover latch), an idle instance's failover `claim`, a regular `claimItem`, and
     * `register` (the life of `pid`).
     */
    function services(
      view: () => TreeCache,
      instanceId = 'leader',
      on: DrivenRegistryCenter = registry,
      pid = 1,
    ): {
      reap(): Promise<number>;
      claim(): Promise<unknown>;
      claimItem(item: number): Promise<Claim>;
      register(): Promise<void>;
      /** Times a claim found no node of ours on its session and asked for a registration. */
      unbound: number;
      /** What asking for a registration does (the runtime registers; default: nothing). */
      onUnbound: () => Promise<void>;
    } {
      const ctx: JobContext = {
        jobName: JOB.config.name,
        paths,
        instanceId,
        ip: '127.0.0.1',
        registry: on,
        logger: noopLogger,
        cache: view,
      };
      const instances = new InstanceService(ctx, info(pid), () => undefined);
      const sharding = new ShardingService(
        ctx,
        new ServerService(ctx, instances),
        () => JOB.config,
        () => selectStrategy(JOB.config.strategy, JOB.strategy),
      );
      let unbound = 0;
      const self = {
        onUnbound: (): Promise<void> => Promise.resolve(),
      };
      const execution = new ExecutionService(ctx, sharding, instances, () => {
        unbound++;
        return self.onUnbound();
      });
      const failover = new FailoverService(ctx, execution, sharding, () => JOB.config);
      return {
        reap: () =>
          on.executeInLeader(paths.failoverLatch, (_signal, fence) => failover.reap(fence)),
        claim: () => failover.claim(ms(5000)),
        claimItem: item => execution.claim(item),
        register: () => instances.register(),
        get unbound() {
          return unbound;
        },
        get onUnbound() {
          return self.onUnbound;
        },
        set onUnbound(f: () => Promise<void>) {
          self.onUnbound = f;
        },
      };
    }

    /** A snapshot of the registry's job tree as a fresh cache shows it now. */
    async function snapshotNow(): Promise<SnapshotCache> {
      await registry.addCacheData(paths.root);
      const cache = registry.getRawCache(paths.root);
      if (cache === undefined) {
        throw new Error('expected the job cache');
      }
      // Wait until the cache has what was written (this client's own view: no guess).
      await cache.waitFor(c => [...writers.keys()].every(id => c.has(paths.instance(id))));
      const snapshot = SnapshotCache.of(cache);
      await registry.evictCacheData(paths.root);
      return snapshot;
    }

    it('reaps a record whose writer is dead by fresh reads too, and queues its item', async () => {
      await liveWriter('w-dead', 2, 1);
      const view = await snapshotNow();
      await kill('w-dead');
      view.drop(paths.instance('w-dead'));

      expect(await services(() => view).reap()).to.equal(1);
      expect(await registry.isExisted(paths.itemRunning(1)), 'the dead record').to.equal(false);
      expect(await registry.isExisted(paths.failoverItem(1)), 'queued for failover').to.equal(true);
    });

    it('never reaps a live writer’s record that the cache shows without its writer (a moment that never was)', async () => {
      await liveWriter('w-live', 3, 2);
      // A load read in batches: the instances read before w-live registered, its record read after its claim.
      const view = (await snapshotNow()).drop(paths.instance('w-live'));

      expect(await services(() => view).reap()).to.equal(0);
      expect(await registry.get(paths.itemRunning(2)), 'the live record').to.equal('w-live');
      expect(await registry.isExisted(paths.failoverItem(2)), 'queued').to.equal(false);
    });

    it('never reaps the live record that replaced the dead one the cache still shows (a cache behind)', async () => {
      await liveWriter('w-dead', 4, 0);
      const view = await snapshotNow();
      view.drop(paths.instance('w-dead')); // the writer died; the cache saw that, not what came after
      // Meanwhile at the registry: the dead record went (an earlier reap) and a live claimer's record took
      // its place — created anew, at the same version 0.
      await kill('w-dead');
      await registry.remove(paths.itemRunning(0));
      await liveWriter('w-next', 5, 0);
      expect((await registry.getStat(paths.itemRunning(0)))?.version).to.equal(0);

      expect(await services(() => view).reap()).to.equal(0);
      expect(await registry.get(paths.itemRunning(0)), 'the live record').to.equal('w-next');
      expect(await registry.isExisted(paths.failoverItem(0)), 'queued').to.equal(false);
    });

    it('writes no failover claim from a session whose instance node is not (yet) registered', async () => {
      await liveWriter('w-dead', 6, 3);
      await kill('w-dead');
      const view = await snapshotNow();
      expect(await services(() => view).reap()).to.equal(1);
      // A claimer on a new session, before it registered again: its record would be younger than no node
      // of its own — the leader would reap it as a dead writer's while it runs.
      const claimerView = await snapshotNow();

      expect(await services(() => claimerView, 'w-unregistered').claim()).to.equal(undefined);
      expect(await registry.isExisted(paths.itemRunning(3)), 'a running record').to.equal(false);
      expect(await registry.isExisted(paths.failoverItem(3)), 'still queued').to.equal(true);
    });

    it('claims nothing on a new session before its own instance node is made on it, then re-binds the node', async () => {
      // Our life's node as the previous session left it: the client gave that session up (no contact for
      // T), the server keeps it a little longer. The next session must not claim over it.
      const previous = await clients.connect();
      await previous.persistEphemeral(paths.instance('w-self'), serializeInstanceInfo(info(7)));
      await registry.persist(paths.sharding, formatGenerationRecord(1, ['w-self']));
      await registry.persist(paths.itemInstance(0), 'w-self');
      const current = await clients.connect();
      await current.addCacheData(paths.root);
      const cache = (): TreeCache => {
        const c = current.getRawCache(paths.root);
        if (c === undefined) {
          throw new Error('expected the job cache');
        }
        return c;
      };
      await cache().waitFor(c => c.get(paths.itemInstance(0)) === 'w-self');
      const self = services(cache, 'w-self', current, 7);

      expect((await self.claimItem(0)).status, 'a claim over the previous session’s node').to.equal(
        'stale',
      );
      expect(await registry.isExisted(paths.itemRunning(0)), 'a running record').to.equal(false);
      expect(self.unbound, 'registrations asked for').to.equal(1); // never a silent wait

      // As the runtime does: the registration asked for is made (on this session: the node anew, bound to
      // it), and the claim that asked for it waits for it — a trigger or fire is not lost to the wait.
      self.onUnbound = () => self.register();
      expect((await self.claimItem(0)).status).to.equal('claimed');
      expect(self.unbound).to.equal(2);
      await previous.close(); // the previous session ends: our node stays, so our record's writer lives
      const node = await registry.getStat(paths.instance('w-self'));
      const record = await registry.getStat(paths.itemRunning(0));
      expect(node, 'our instance node').to.not.equal(null);
      expect(record?.value).to.equal('w-self');
      expect(node!.stamp < record!.stamp, 'the record is younger than our node').to.equal(true);
    });
  });
}
