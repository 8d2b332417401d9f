import { expect } from 'chai';
import { serializeJobConfig, type JobConfig } from '../../lib/job/job-config';
import { tokenOf } from '../../lib/job/services/sharding-service';
import type { ShardingContext } from '../../lib/job/define-job';
import type { ConnectionState } from '../../lib/registry/registry-center';
import { CorruptedDataError } from '../../lib/errors';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients, queueOf } from './clients';
import { averageOwners, JobCluster } from './job-cluster';

/**
 * The job layer on one backend with several workers in one process: each worker has its own
 * registry client, so sessions, ephemerals and leadership are real. Written once, run on memory,
 * ZooKeeper and etcd.
 */
export function describeJobContract(factory: BackendFactory): void {
  describe(`job contract (${factory.name})`, function () {
    this.timeout(ms(30_000));
    const settleMs = ms(factory.sessionTimeoutMs * 3 + 3000);
    let clients: Clients;
    let cluster: JobCluster;

    beforeEach(() => {
      clients = new Clients(factory);
    });

    afterEach(async () => {
      await cluster?.stopAll();
      await clients.closeAll();
    });

    function newCluster(jobName = 'job'): JobCluster {
      cluster = new JobCluster(clients, jobName);
      return cluster;
    }

    async function writeConfig(patch: Partial<JobConfig>): Promise<void> {
      const observer = cluster.observer!;
      const stored = JSON.parse((await observer.getDirectly(cluster.paths.config))!) as JobConfig;
      await observer.update(cluster.paths.config, serializeJobConfig({ ...stored, ...patch }));
    }

    it('assigns every item exactly once to the live instances (AVG_ALLOCATION) and runs each', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '* * * * * *', shardingTotalCount: 10 });
      await c.observe();
      for (const id of ['w-a', 'w-b', 'w-c']) {
        await c.start(id, job);
      }
      await c.awaitAssignment(averageOwners(['w-a', 'w-b', 'w-c'], 10), settleMs);
      // Runs claimed over the settled assignment hold at least its token (the record's stamp, doubled).
      const settledToken = tokenOf((await c.observe()).getData(c.paths.sharding)!.stamp);
      const seen = new Set<number>();
      for (const m of c.members.values()) {
        const mine = averageOwners(['w-a', 'w-b', 'w-c'], 10)
          .map((o, i) => (o === m.id ? i : -1))
          .filter(i => i >= 0);
        while (!mine.every(i => seen.has(i))) {
          const e = await m.executed.take(ms(5000), `executions on ${m.id}`);
          expect(e.instanceId).to.equal(m.id);
          if (e.fencingToken < settledToken) {
            continue; // started under an earlier assignment, while the others were joining
          }
          expect(mine).to.include(e.item);
          seen.add(e.item);
        }
      }
      expect(seen.size).to.equal(10);
    });

    it('reshards promptly when a worker joins and when one leaves gracefully', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 6 });
      await c.observe();
      await c.start('w-a', job);
      await c.start('w-b', job);
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 6), settleMs);
      await c.start('w-c', job);
      await c.awaitAssignment(averageOwners(['w-a', 'w-b', 'w-c'], 6), settleMs);
      await c.member('w-a').worker.stop({ timeoutMs: 1000 });
      await c.awaitAssignment(averageOwners(['w-b', 'w-c'], 6), settleMs);
      expect(await c.observer!.isExisted(c.paths.instance('w-a'))).to.equal(false);
    });

    it('emits sharded only for assignments the leader wrote, and worker.items() tells the current one', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 6 });
      await c.observe();
      const ids = ['w-a', 'w-b', 'w-c', 'w-d'];
      const seen = new Map<string, number[][]>();
      for (let i = 0; i < ids.length; i++) {
        const m = await c.start(ids[i]!, job);
        m.worker.on('sharded', e => seen.set(m.id, [...(seen.get(m.id) ?? []), e.items]));
        await c.awaitAssignment(averageOwners(ids.slice(0, i + 1), 6), settleMs);
      }
      // Every emitted assignment is one the strategy produced for some membership along the way.
      const valid = (id: string): string[] =>
        [1, 2, 3, 4].map(n => {
          const owners = averageOwners(ids.slice(0, n), 6);
          return JSON.stringify(owners.map((o, i) => (o === id ? i : -1)).filter(i => i >= 0));
        });
      for (const [id, events] of seen) {
        for (const items of events) {
          expect(valid(id), `${id} emitted ${JSON.stringify(items)}`).to.include(
            JSON.stringify(items),
          );
        }
      }
      const final = averageOwners(ids, 6);
      for (const id of ids) {
        const mine = final.map((o, i) => (o === id ? i : -1)).filter(i => i >= 0);
        await c
          .member(id)
          .registry.getRawCache(c.paths.root)!
          .waitFor(
            () => JSON.stringify(c.member(id).worker.items('job')) === JSON.stringify(mine),
            { timeoutMs: ms(3000) },
          );
      }
    });

    it('moves the items of an expired session away, and the worker rejoins by itself', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 4 });
      await c.observe();
      await c.start('w-a', job);
      const b = await c.start('w-b', job);
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 4), settleMs);
      const states = queueOf<ConnectionState>(push =>
        b.registry.on('connectionStateChanged', push),
      );
      const epoch = b.registry.sessionEpoch;
      await factory.expireSession(b.registry);
      let state: ConnectionState;
      do {
        state = await states.take(settleMs, 'RECONNECTED after expiry');
      } while (state !== 'RECONNECTED');
      expect(b.registry.sessionEpoch).to.be.greaterThan(epoch);
      // Whatever happened in between, the worker re-registers and gets its share back.
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 4), settleMs);
      expect(await c.observer!.isExisted(c.paths.instance('w-b'))).to.equal(true);
      expect(b.worker.jobs).to.deep.equal(['job']);
    });

    it('applies configuration changes from the registry without a restart (count 3 → 5 → 2, cron)', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 3 });
      await c.observe();
      const a = await c.start('w-a', job);
      await c.start('w-b', job);
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 3), settleMs);
      await writeConfig({ shardingTotalCount: 5 });
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 5), settleMs);
      await writeConfig({ shardingTotalCount: 2 });
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 2), settleMs);
      // A cron change takes effect: every second now, so w-a's item 0 runs.
      await writeConfig({ cron: '* * * * * *' });
      const e = await a.executed.take(ms(5000), 'a run after the cron change');
      expect(e.item).to.equal(0);
    });

    it('settles a large resharding written in several transactions (count 2 → 300)', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 2 });
      await c.observe();
      await c.start('w-a', job);
      await c.start('w-b', job);
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 2), settleMs);
      await writeConfig({ shardingTotalCount: 300 });
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 300), settleMs);
      expect(await c.observer!.isExisted(c.paths.shardingProcessing)).to.equal(false);
    });

    it('runs a one-off job on trigger on every instance, and coalesces triggers on a busy one', async () => {
      const c = newCluster();
      let release: () => void = () => undefined;
      let gate = new Promise<void>(resolve => (release = resolve));
      const job = JobCluster.define({
        name: 'job',
        shardingTotalCount: 2,
        execute: async (ctx: ShardingContext) => {
          if (ctx.shardingItem === 0) {
            await gate;
          }
        },
      });
      await c.observe();
      const a = await c.start('w-a', job);
      const b = await c.start('w-b', job);
      await c.awaitAssignment(['w-a', 'w-b'], settleMs);
      await c.observer!.persist(c.paths.trigger('w-b'), '');
      expect((await b.executed.take(ms(5000), 'triggered run on w-b')).item).to.equal(1);
      // w-a is busy with item 0 after the first trigger; two more triggers coalesce into one run.
      const cache = await c.observe();
      const consumed = queueOf<string>(push =>
        cache.on('event', e => {
          if (e.type === 'removed' && e.path === c.paths.trigger('w-a')) {
            push(e.path);
          }
        }),
      );
      await c.observer!.persist(c.paths.trigger('w-a'), '');
      await consumed.take(ms(5000), 'trigger 1 consumed');
      await cache.waitFor(x => x.has(c.paths.itemRunning(0)), { timeoutMs: ms(5000) });
      await c.observer!.persist(c.paths.trigger('w-a'), '');
      await consumed.take(ms(5000), 'trigger 2 consumed');
      await c.observer!.persist(c.paths.trigger('w-a'), '');
      await consumed.take(ms(5000), 'trigger 3 consumed');
      const firstGate = release;
      gate = new Promise<void>(resolve => (release = resolve));
      firstGate();
      expect((await a.executed.take(ms(5000), 'first run')).item).to.equal(0);
      release();
      expect((await a.executed.take(ms(5000), 'the coalesced run')).item).to.equal(0);
      await expect(a.executed.take(ms(1500), 'no third run')).to.be.rejectedWith(/timed out/);
    });

    it('marks a fire missed while the item runs as misfire and runs it once right after', async () => {
      const c = newCluster();
      let calls = 0;
      const job = JobCluster.define({
        name: 'job',
        cron: '* * * * * *',
        shardingTotalCount: 1,
        execute: async () => {
          calls++;
          if (calls === 1) {
            await new Promise(resolve => setTimeout(resolve, 2300));
          }
        },
      });
      await c.observe();
      const a = await c.start('w-a', job);
      const misfires = queueOf<number>(push => a.worker.on('misfire', e => push(e.item)));
      expect(await misfires.take(ms(5000), 'a misfire')).to.equal(0);
      const first = await a.executed.take(ms(5000), 'the long run');
      const second = await a.executed.take(ms(1000), 'the misfire run right after');
      expect(first.durationMs).to.be.greaterThan(2000);
      expect(second.durationMs).to.be.lessThan(1000);
    });

    it('honours disable/enable at job, server and item level', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '* * * * * *', shardingTotalCount: 2 });
      await c.observe();
      const a = await c.start('w-a', job);
      await c.awaitAssignment(['w-a', 'w-a'], settleMs);
      await a.executed.take(ms(3000), 'a run before disabling');
      await writeConfig({ disabled: true });
      const cache = await c.observe();
      // The worker's own cache applies the change before later listeners of that cache run.
      await a.registry
        .getRawCache(c.paths.root)!
        .waitFor(() => a.worker.runtime('job')!.currentConfig.disabled, { timeoutMs: ms(3000) });
      a.executed.drain();
      await expect(a.executed.take(ms(2200), 'no run while disabled')).to.be.rejectedWith(
        /timed out/,
      );
      await writeConfig({ disabled: false });
      await a.executed.take(ms(3000), 'a run after enabling');
      // Item level: item 1 disabled → only item 0 runs.
      await c.observer!.persist(c.paths.itemDisabled(1), '');
      await cache.waitFor(x => x.has(c.paths.itemDisabled(1)), { timeoutMs: ms(3000) });
      await new Promise(resolve => setImmediate(resolve));
      a.executed.drain();
      for (let i = 0; i < 3; i++) {
        expect((await a.executed.take(ms(3000), 'runs of item 0')).item).to.equal(0);
      }
      await c.observer!.remove(c.paths.itemDisabled(1));
      // Server level: a second worker on the same host shares the server entry; disabling it stops both.
      const ip = a.worker.runtime('job')!.servers;
      expect(ip.isEnabled('whatever')).to.equal(true);
      const servers = await c.observer!.getChildrenKeys(c.paths.servers);
      expect(servers).to.have.length(1);
      await c.observer!.update(c.paths.server(servers[0]!), 'DISABLED');
      await c.awaitAssignment([null, null], settleMs);
      await c.observer!.update(c.paths.server(servers[0]!), 'ENABLED');
      await c.awaitAssignment(['w-a', 'w-a'], settleMs);
    });

    it('never runs one item on two instances at once through joins and leaves', async () => {
      const c = newCluster();
      const active = new Map<number, string>();
      const overlaps: string[] = [];
      const job = JobCluster.define({
        name: 'job',
        cron: '* * * * * *',
        shardingTotalCount: 4,
        execute: async (ctx: ShardingContext) => {
          const other = active.get(ctx.shardingItem);
          if (other !== undefined) {
            overlaps.push(`${ctx.shardingItem}: ${other} and ${ctx.instanceId}`);
          }
          active.set(ctx.shardingItem, ctx.instanceId);
          await new Promise(resolve => setTimeout(resolve, 700));
          active.delete(ctx.shardingItem);
        },
      });
      await c.observe();
      await c.start('w-a', job);
      await c.start('w-b', job);
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 4), settleMs);
      await c.start('w-c', job);
      await c.awaitAssignment(averageOwners(['w-a', 'w-b', 'w-c'], 4), settleMs);
      await c.member('w-a').worker.stop({ timeoutMs: 2000 });
      await c.awaitAssignment(averageOwners(['w-b', 'w-c'], 4), settleMs);
      await c.member('w-b').executed.take(ms(5000), 'w-b keeps running');
      expect(overlaps).to.deep.equal([]);
    });

    it('garbage-collects server entries of hosts with no live instance, unless an operator disabled them', async () => {
      const c = newCluster();
      await c.observe();
      await c.observer!.persist(c.paths.server('10.9.9.1'), 'ENABLED');
      await c.observer!.persist(c.paths.server('10.9.9.2'), 'DISABLED');
      const a = await c.start('w-a', JobCluster.define({ name: 'job', shardingTotalCount: 1 }));
      await c.awaitAssignment(['w-a'], settleMs);
      const cache = await c.observe();
      await cache.waitFor(x => !x.has(c.paths.server('10.9.9.1')), { timeoutMs: settleMs });
      expect(cache.get(c.paths.server('10.9.9.2'))).to.equal('DISABLED');
      const ip = a.worker.runtime('job')!.servers;
      expect(cache.children(c.paths.servers).filter(s => !s.startsWith('10.9.9.'))).to.have.length(
        1,
      );
      expect(ip.eligibleInstances()).to.deep.equal(['w-a']);
    });

    it('adopts the stored configuration unless overwrite is set, which keeps the operator flag', async () => {
      const c = newCluster();
      await c.observe();
      await c.start(
        'w-a',
        JobCluster.define({ name: 'job', shardingTotalCount: 2, description: 'first' }),
      );
      const b = await c.start(
        'w-b',
        JobCluster.define({ name: 'job', shardingTotalCount: 3, description: 'second' }),
      );
      expect(b.worker.runtime('job')!.currentConfig.description).to.equal('first');
      await writeConfig({ disabled: true });
      const d = await c.start(
        'w-d',
        JobCluster.define({
          name: 'job',
          shardingTotalCount: 3,
          description: 'third',
          overwrite: true,
        }),
      );
      const stored = JSON.parse((await c.observer!.getDirectly(c.paths.config))!) as JobConfig;
      expect(stored.description).to.equal('third');
      expect(stored.shardingTotalCount).to.equal(3);
      expect(stored.disabled).to.equal(true);
      expect(d.worker.runtime('job')!.currentConfig.description).to.equal('third');
    });

    it('reports corrupted configuration with its path and keeps the last good one', async () => {
      const c = newCluster();
      await c.observe();
      const a = await c.start(
        'w-a',
        JobCluster.define({ name: 'job', cron: '* * * * * *', shardingTotalCount: 1 }),
      );
      await c.observer!.update(
        c.paths.config,
        '{"schemaVersion":1,"name":"job","shardingTotalCount":"x"',
      );
      const { error } = await a.errors.take(ms(5000), 'the corruption report');
      expect(error).to.be.instanceOf(CorruptedDataError);
      expect((error as CorruptedDataError).path).to.equal(c.paths.config);
      expect(error.message).to.contain('/job/config');
      a.executed.drain();
      await a.executed.take(ms(3000), 'runs go on with the last good configuration');
      expect(a.worker.runtime('job')!.currentConfig.shardingTotalCount).to.equal(1);
    });

    it('stops a job on one instance on the shutdown command; the others keep it', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 2 });
      await c.observe();
      const a = await c.start('w-a', job);
      await c.start('w-b', job);
      await c.awaitAssignment(['w-a', 'w-b'], settleMs);
      const stopped = queueOf<string>(push => a.worker.on('jobStopped', e => push(e.reason)));
      await c.observer!.persist(c.paths.shutdown('w-a'), '');
      expect(await stopped.take(ms(5000), 'jobStopped')).to.equal('shutdown');
      await c.awaitAssignment(['w-b', 'w-b'], settleMs);
      expect(a.worker.jobs).to.deep.equal([]);
    });

    it('survives an event listener that throws: reported as an error, the job goes on', async () => {
      const c = newCluster();
      const job = JobCluster.define({ name: 'job', cron: '* * * * * *', shardingTotalCount: 1 });
      await c.observe();
      const a = await c.start('w-a', job);
      a.worker.on('executed', () => {
        throw new Error('listener bug');
      });
      const { error } = await a.errors.take(ms(5000), 'the listener failure, reported');
      expect(error.message).to.equal('listener bug');
      await a.errors.take(ms(5000), 'a second run, so the job went on');
    });

    it('drains on stop: a running item finishes, nothing new starts, the instance leaves', async () => {
      const c = newCluster();
      let finished = false;
      let started: () => void = () => undefined;
      const running = new Promise<void>(resolve => (started = resolve));
      const job = JobCluster.define({
        name: 'job',
        cron: '* * * * * *',
        shardingTotalCount: 1,
        execute: async () => {
          started();
          await new Promise(resolve => setTimeout(resolve, 800));
          finished = true;
        },
      });
      await c.observe();
      const a = await c.start('w-a', job);
      await running;
      await a.worker.stop({ timeoutMs: 5000 });
      expect(finished).to.equal(true);
      expect(await c.observer!.isExisted(c.paths.itemRunning(0))).to.equal(false);
      expect(await c.observer!.isExisted(c.paths.instance('w-a'))).to.equal(false);
    });
  });
}
