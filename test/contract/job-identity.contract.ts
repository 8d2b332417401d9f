import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { expect } from 'chai';
import { CorruptedDataError, InstanceIdConflictError } from '../../lib/errors';
import { serializeInstanceInfo, type InstanceInfo } from '../../lib/job/job-instance';
import { startWorker } from '../../lib/job/worker';
import { joinPath } from '../../lib/internal/paths';
import type { LogFields, Logger } from '../../lib/logger';
import { latchIdentity } from '../../lib/registry/leader-latch';
import { EventQueue } from '../harness/events';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients } from './clients';
import { averageOwners, JobCluster, type Member } from './job-cluster';

/** A holder node value: another process unless `overrides` says otherwise. */
function holderInfo(overrides: Partial<InstanceInfo> = {}): InstanceInfo {
  return {
    host: 'other-host',
    ip: '10.9.9.9',
    pid: 4242,
    labels: {},
    startedAt: Date.parse('2026-01-02T03:04:05Z'),
    version: '0.1.0',
    ...overrides,
  };
}

/** A pid that no process has now: a child that has exited. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  expect(pid, 'a pid').to.be.a('number');
  return pid;
}

/** A logger whose lines are queued by message. */
function queueLogger(): Logger & { lines: EventQueue<{ msg: string; fields?: LogFields }> } {
  const lines = new EventQueue<{ msg: string; fields?: LogFields }>();
  const push = (msg: string, fields?: LogFields): void => lines.push({ msg, fields });
  const logger = { lines, debug: push, info: push, warn: push, error: push, child: () => logger };
  return logger;
}

/**
 * Identity and membership: an instance id is held by one live process at a time, and
 * only an ephemeral, readable node under `instances/` is a member. Written once, run on every backend.
 */
export function describeJobIdentityContract(factory: BackendFactory): void {
  describe(`job identity and membership (${factory.name})`, function () {
    this.timeout(ms(30_000));
    const settleMs = ms(factory.sessionTimeoutMs * 3 + 3000);
    let clients: Clients;
    let cluster: JobCluster;

    beforeEach(() => {
      clients = new Clients(factory);
      cluster = new JobCluster(clients, 'job');
    });

    afterEach(async () => {
      await cluster.stopAll();
      await clients.closeAll();
    });

    /** Writes `info` as the ephemeral instance node of `id`, held by a client of its own. */
    async function holdId(id: string, info: InstanceInfo): Promise<void> {
      const holder = await clients.connect();
      await holder.persistEphemeral(cluster.paths.instance(id), serializeInstanceInfo(info));
    }

    it('a second live process with the same id: startWorker fails with InstanceIdConflictError naming the id and its holder', async () => {
      const cache = await cluster.observe();
      const info = holderInfo();
      await holdId('w-a', info);
      // Commands the operations API wrote for the live holder: a conflicting start must leave them.
      await cluster.observer!.persist(cluster.paths.trigger('w-a'), '');
      await cluster.observer!.persist(cluster.paths.shutdown('w-a'), '');
      const registry = await clients.connect();
      const job = JobCluster.define({ name: 'job', cron: '* * * * * *' });

      const err = await startWorker({ registry, jobs: [job], instanceId: 'w-a' }).then(
        () => expect.fail('startWorker resolved'),
        (e: unknown) => e,
      );

      expect(err).to.be.instanceOf(InstanceIdConflictError);
      const conflict = err as InstanceIdConflictError;
      expect(conflict.code).to.equal('INSTANCE_ID_CONFLICT');
      expect(conflict.instanceId).to.equal('w-a');
      expect(conflict.path).to.equal('/job/instances/w-a');
      expect(conflict.holder).to.deep.equal({
        host: 'other-host',
        pid: 4242,
        since: info.startedAt,
      });
      expect(conflict.message).to.include('w-a').and.include('other-host').and.include('4242');
      expect(conflict.message).to.include('2026-01-02T03:04:05.000Z');
      // The failed start left the holder's registration alone and ran nothing.
      expect(await registry.getDirectly(cluster.paths.instance('w-a'))).to.equal(
        serializeInstanceInfo(info),
      );
      expect(cache.get(cluster.paths.itemInstance(0))).to.equal(null);
      expect(await registry.isExisted(cluster.paths.trigger('w-a')), 'trigger').to.equal(true);
      expect(await registry.isExisted(cluster.paths.shutdown('w-a')), 'shutdown').to.equal(true);
    });

    it('two workers of one process with the same id: the second fails at once, the first keeps its id and items', async () => {
      await cluster.observe();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 2 });
      const a = await cluster.start('w-a', job);
      await cluster.awaitAssignment(['w-a', 'w-a'], settleMs);
      const node = await a.registry.getDirectly(cluster.paths.instance('w-a'));

      const second = await clients.connect();
      await expect(
        startWorker({ registry: second, jobs: [job], instanceId: 'w-a' }),
      ).to.be.rejectedWith(InstanceIdConflictError, /w-a/);

      expect(await second.getDirectly(cluster.paths.instance('w-a'))).to.equal(node);
      expect(await a.worker.runtime('job')!.instances.isRegistered()).to.equal(true);
      await cluster.awaitAssignment(['w-a', 'w-a'], settleMs);
    });

    it('a restart under the id of a dead earlier life whose session still lives replaces its node at once', async () => {
      const cache = await cluster.observe();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 2 });
      // This host, a pid that has exited: a crashed earlier process (its session not expired yet).
      await holdId('w-a', holderInfo({ host: hostname(), pid: deadPid() }));
      // This host and this pid, a life no worker of this process is living: an earlier worker here.
      await holdId('w-b', holderInfo({ host: hostname(), pid: process.pid, startedAt: 1 }));
      // A shutdown addressed to the dead life is void for the new one.
      await cluster.observer!.persist(cluster.paths.shutdown('w-a'), '');

      const a = await cluster.start('w-a', job);
      const b = await cluster.start('w-b', job);

      expect(await a.worker.runtime('job')!.instances.isRegistered()).to.equal(true);
      expect(await b.worker.runtime('job')!.instances.isRegistered()).to.equal(true);
      await cluster.awaitAssignment(['w-a', 'w-b'], settleMs);
      expect(cache.getData(cluster.paths.instance('w-a'))?.ephemeral).to.equal(true);
      expect(await a.registry.isExisted(cluster.paths.shutdown('w-a'))).to.equal(false);
      expect(a.worker.jobs).to.deep.equal(['job']);
    });

    it('a restart under the id of a dead earlier process that held the job latches takes them over at once (its latch nodes removed)', async () => {
      const cache = await cluster.observe();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 2 });
      // A killed leader whose session still lives (the holder client stays connected for the whole test,
      // so nothing expires): its instance node and the head node of both job latches, named by its process.
      const dead = deadPid();
      const holder = await clients.connect();
      await holder.persistEphemeral(
        cluster.paths.instance('w-a'),
        serializeInstanceInfo(holderInfo({ host: hostname(), pid: dead })),
      );
      const latchNode = (dir: string, value: string): Promise<string> =>
        holder.persistEphemeralSequential(joinPath(dir, `_c_${randomUUID()}-latch-`), value);
      const election = await latchNode(cluster.paths.electionLatch, latchIdentity(hostname(), dead));
      const failover = await latchNode(cluster.paths.failoverLatch, latchIdentity(hostname(), dead));
      // A node of another, live process in the same queue: never touched.
      const other = await latchNode(cluster.paths.failoverLatch, latchIdentity('other-host', dead));

      const a = await cluster.start('w-a', job);

      // Leadership, hence the assignment, without waiting for the dead process's session to end.
      await cluster.awaitAssignment(['w-a', 'w-a'], settleMs);
      expect(cache.get(cluster.paths.electionInstance)).to.equal('w-a');
      expect(await a.registry.isExisted(election), 'dead election node').to.equal(false);
      expect(await a.registry.isExisted(failover), 'dead failover node').to.equal(false);
      expect(await a.registry.isExisted(other), "another process's node").to.equal(true);
    });

    it('a holder that may be alive on another host: the start waits for its session to end, then registers', async () => {
      await cluster.observe();
      const holder = await clients.connect();
      const path = cluster.paths.instance('w-a');
      await holder.persistEphemeral(path, serializeInstanceInfo(holderInfo()));
      const logger = queueLogger();
      const registry = await clients.connect();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *' });

      const starting = startWorker({ registry, jobs: [job], instanceId: 'w-a', logger });
      await logger.lines.takeUntil(
        l => l.msg.includes('waiting for it to expire'),
        ms(5000),
        'the wait for the holder',
      );
      await factory.expireSession(holder); // the holder "crashed": its session ends
      const worker = await starting;
      try {
        expect(await worker.runtime('job')!.instances.isRegistered()).to.equal(true);
      } finally {
        await worker.stop({ timeoutMs: 2000 });
      }
    });

    it('a worker that finds its id taken by another process when it re-registers stops that job and leaves the holder alone', async () => {
      const cache = await cluster.observe();
      const path = cluster.paths.instance('w-a');
      const cut = await clients.cuttable();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *' });
      const worker = await startWorker({ registry: cut.registry, jobs: [job], instanceId: 'w-a' });
      const errors = new EventQueue<Error>();
      const stopped = new EventQueue<string>();
      worker.on('error', e => errors.push(e.error));
      worker.on('jobStopped', e => stopped.push(e.reason));
      try {
        await cache.waitFor(c => c.has(path), { timeoutMs: settleMs });
        cut.cut(); // its session expires at the server: the node goes
        await cache.waitFor(c => !c.has(path), { timeoutMs: settleMs });
        // While it was away, another process started under the same id.
        const info = holderInfo();
        await holdId('w-a', info);
        cut.heal();

        await errors.takeUntil(e => e instanceof InstanceIdConflictError, settleMs, 'the conflict');
        expect(await stopped.take(settleMs, 'the job to stop')).to.equal('stop');
        expect(worker.jobs).to.deep.equal([]);
        expect(await cluster.observer!.getDirectly(path)).to.equal(serializeInstanceInfo(info));
      } finally {
        await worker.stop({ timeoutMs: 2000 });
      }
    });

    it('a persistent or unreadable node under instances/ is given no items and is reported once', async () => {
      const cache = await cluster.observe();
      const job = JobCluster.define({ name: 'job', cron: '0 0 0 1 1 *', shardingTotalCount: 6 });
      const errors = new EventQueue<{ id: string; error: Error }>();
      const listen = (m: Member): void => {
        m.worker.on('error', e => errors.push({ id: m.id, error: e.error }));
      };
      listen(await cluster.start('w-b', job));
      listen(await cluster.start('w-c', job));
      await cluster.awaitAssignment(averageOwners(['w-b', 'w-c'], 6), settleMs);
      const observer = cluster.observer!;
      // Both sort before the members: counted as instances, they would own items 0.. first.
      const ghost = cluster.paths.instance('a-ghost');
      const junk = cluster.paths.instance('a-junk');
      await observer.persist(ghost, serializeInstanceInfo(holderInfo()));
      await observer.persistEphemeral(junk, 'not json');

      const pathOf = (e: { error: Error }): string | undefined =>
        e.error instanceof CorruptedDataError ? e.error.path : undefined;
      const reported = new Set<string | undefined>();
      await errors.takeUntil(
        e => reported.add(pathOf(e)).has(ghost) && reported.has(junk),
        settleMs,
        'reports of both non-instance nodes',
      );
      // Real changes afterwards: a join and a leave, each a resharding pass that judges both nodes again.
      const d = await cluster.start('w-d', job);
      listen(d);
      await cluster.awaitAssignment(averageOwners(['w-b', 'w-c', 'w-d'], 6), settleMs);
      await d.worker.stop({ timeoutMs: 2000 });
      cluster.members.delete('w-d');
      await cluster.awaitAssignment(averageOwners(['w-b', 'w-c'], 6), settleMs);

      expect(cache.has(ghost) && cache.has(junk), 'both nodes still there').to.equal(true);
      for (const path of [ghost, junk]) {
        const byWorker = errors.seen.filter(e => pathOf(e) === path).map(e => e.id);
        expect(byWorker.length, `reports of ${path}`).to.be.greaterThan(0);
        expect(new Set(byWorker).size, `once per worker: ${byWorker.join(', ')}`).to.equal(
          byWorker.length,
        );
      }
    });
  });
}
