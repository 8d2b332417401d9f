import { expect } from 'chai';
import type { ShardingContext } from '../../lib/job/define-job';
import type { ExecutedEvent } from '../../lib/job/job-events';
import { startWorker } from '../../lib/job/worker';
import type { ConnectionState } from '../../lib/registry/registry-center';
import { OwnershipLostError } from '../../lib/errors';
import { EventQueue } from '../harness/events';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients, queueOf } from './clients';
import { JobCluster } from './job-cluster';

/** Records the runs of a job: which instance started which item with which token, and its signal. */
class RunLog {
  readonly starts = new EventQueue<{
    item: number;
    instanceId: string;
    token: number;
    failover: boolean;
  }>();
  readonly aborted = new EventQueue<{ item: number; instanceId: string; at: number }>();
  /** When set, item runs block until their signal aborts. */
  block = true;

  execute = async (ctx: ShardingContext): Promise<void> => {
    this.starts.push({
      item: ctx.shardingItem,
      instanceId: ctx.instanceId,
      token: ctx.fencingToken,
      failover: ctx.failover,
    });
    if (!this.block) {
      return;
    }
    await new Promise<void>(resolve =>
      ctx.signal.addEventListener('abort', () => {
        this.aborted.push({ item: ctx.shardingItem, instanceId: ctx.instanceId, at: Date.now() });
        resolve();
      }),
    );
    ctx.checkOwnership(); // throws: the run ends as failed, its side effects fenced
  };
}

/**
 * The job layer under failure on one backend: failover of in-flight items, records bound
 * to liveness, self-fencing on a cut connection. Workers share a process; sessions are expired or cut
 * through the factory, as a crash or a partition would.
 */
export function describeJobFailureContract(factory: BackendFactory): void {
  describe(`job failure contract (${factory.name})`, function () {
    this.timeout(ms(40_000));
    const settleMs = ms(factory.sessionTimeoutMs * 3 + 3000);
    let clients: Clients;
    let cluster: JobCluster;
    let log: RunLog;

    beforeEach(() => {
      clients = new Clients(factory);
      cluster = new JobCluster(clients, 'job');
      log = new RunLog();
    });

    afterEach(async () => {
      log.block = false;
      await cluster.stopAll();
      await clients.closeAll();
    });

    const job = (failover: boolean, count = 2) =>
      JobCluster.define({
        name: 'job',
        cron: '0 0 0 1 1 *',
        shardingTotalCount: count,
        failover,
        execute: ctx => log.execute(ctx),
      });

    it('hands an in-flight item of a dead instance to an idle one, once, with a higher fencing token', async () => {
      await cluster.observe();
      const a = await cluster.start('w-a', job(true));
      const b = await cluster.start('w-b', job(true));
      await cluster.awaitAssignment(['w-a', 'w-b'], settleMs);
      log.block = true;
      await cluster.observer!.persist(cluster.paths.trigger('w-a'), '');
      const first = await log.starts.take(ms(5000), 'w-a starts item 0');
      expect(first).to.include({ item: 0, instanceId: 'w-a', failover: false });
      log.block = false; // the failover run completes
      const bRuns = queueOf<ExecutedEvent>(push => b.worker.on('executed', push));
      const aRuns = queueOf<ExecutedEvent>(push => a.worker.on('executed', push));
      await factory.expireSession(a.registry);
      const again = await log.starts.take(settleMs, 'the failover run');
      expect(again.item).to.equal(0);
      expect(again.failover).to.equal(true);
      expect(again.token).to.be.greaterThan(first.token);
      // Exactly one failover run, and the queue is empty afterwards.
      const done = await Promise.race([
        bRuns.take(settleMs, 'failover done'),
        aRuns.take(settleMs, 'x'),
      ]);
      expect(done).to.include({ item: 0, failover: true });
      const cache = await cluster.observe();
      await cache.waitFor(c => c.children(cluster.paths.failoverItems).length === 0, {
        timeoutMs: ms(5000),
      });
      await expect(
        log.starts.take(ms(factory.sessionTimeoutMs), 'no second re-run'),
      ).to.be.rejectedWith(/timed out/);
    });

    it('does not re-run an item that completed before its owner died', async () => {
      await cluster.observe();
      const a = await cluster.start('w-a', job(true));
      await cluster.start('w-b', job(true));
      await cluster.awaitAssignment(['w-a', 'w-b'], settleMs);
      log.block = false;
      await cluster.observer!.persist(cluster.paths.trigger('w-a'), '');
      await a.executed.take(ms(5000), 'item 0 completes on w-a');
      log.starts.drain();
      const states = queueOf<ConnectionState>(push =>
        a.registry.on('connectionStateChanged', push),
      );
      await factory.expireSession(a.registry);
      while ((await states.take(settleMs, 'RECONNECTED')) !== 'RECONNECTED') {
        // SUSPENDED / LOST first
      }
      await cluster.awaitAssignment(['w-a', 'w-b'], settleMs);
      await expect(
        log.starts.take(ms(factory.sessionTimeoutMs * 2), 'no failover run'),
      ).to.be.rejectedWith(/timed out/);
      expect(await cluster.observer!.getChildrenKeys(cluster.paths.failoverItems)).to.deep.equal(
        [],
      );
    });

    it('hands the item over again when the failover executor dies too', async () => {
      await cluster.observe();
      const members = [
        await cluster.start('w-a', job(true, 3)),
        await cluster.start('w-b', job(true, 3)),
        await cluster.start('w-c', job(true, 3)),
      ];
      await cluster.awaitAssignment(['w-a', 'w-b', 'w-c'], settleMs);
      log.block = true;
      await cluster.observer!.persist(cluster.paths.trigger('w-a'), '');
      const first = await log.starts.take(ms(5000), 'w-a starts item 0');
      await factory.expireSession(members[0]!.registry);
      const second = await log.starts.take(settleMs, 'the first failover run');
      expect(second).to.include({ item: 0, failover: true });
      expect(second.token).to.be.greaterThan(first.token);
      log.block = false;
      await factory.expireSession(cluster.member(second.instanceId).registry);
      const third = await log.starts.take(settleMs, 'the second failover run');
      expect(third).to.include({ item: 0, failover: true });
      expect(third.token).to.be.greaterThan(second.token);
    });

    it('never lets a dead writer’s running record block the item (failover off)', async () => {
      await cluster.observe();
      const a = await cluster.start('w-a', job(false, 1));
      await cluster.awaitAssignment(['w-a'], settleMs);
      log.block = true;
      await cluster.observer!.persist(cluster.paths.trigger('w-a'), '');
      await log.starts.take(ms(5000), 'w-a starts item 0');
      const cache = await cluster.observe();
      await cache.waitFor(c => c.has(cluster.paths.itemRunning(0)), { timeoutMs: ms(5000) });
      const before = cache.getData(cluster.paths.instance('w-a'))?.stamp ?? 0n;
      await factory.expireSession(a.registry);
      // The record goes with the session (reaped by the leader); the item runs again on trigger.
      await cache.waitFor(c => !c.has(cluster.paths.itemRunning(0)), { timeoutMs: settleMs });
      log.block = false;
      // Triggered once w-a is back (its node of the new session) and owns the item again: meanwhile the
      // leader may have resharded without it (item 0 unassigned), and a trigger then has nothing to run.
      await cache.waitFor(c => (c.getData(cluster.paths.instance('w-a'))?.stamp ?? 0n) > before, {
        timeoutMs: settleMs,
      });
      await cluster.awaitAssignment(['w-a'], settleMs);
      await cluster.observer!.persist(cluster.paths.trigger('w-a'), '');
      const again = await log.starts.take(settleMs, 'item 0 runs again');
      expect(again).to.include({ item: 0, failover: false });
    });

    it('aborts running items when cut off, before the session can expire, and checkOwnership throws', async () => {
      await cluster.observe();
      const cut = await clients.cuttable();
      const worker = await startWorker({
        registry: cut.registry,
        jobs: [job(false, 1)],
        instanceId: 'w-cut',
      });
      const failed = queueOf<Error>(push => worker.on('failed', e => push(e.error)));
      try {
        await cluster.awaitAssignment(['w-cut'], settleMs);
        log.block = true;
        await cluster.observer!.persist(cluster.paths.trigger('w-cut'), '');
        await log.starts.take(ms(5000), 'w-cut starts item 0');
        const states = queueOf<ConnectionState>(push =>
          cut.registry.on('connectionStateChanged', push),
        );
        const lastContact = cut.registry.lastContactAt;
        cut.cut();
        const aborted = await log.aborted.take(ms(factory.sessionTimeoutMs * 2), 'the abort');
        // Aborted before the server could expire the session (T after the last contact).
        expect(aborted.at - lastContact).to.be.lessThan(factory.sessionTimeoutMs);
        const error = await failed.take(ms(5000), 'the failed run');
        expect(error.cause).to.be.instanceOf(OwnershipLostError);
        const seen: ConnectionState[] = [];
        while (seen.length === 0 || seen[seen.length - 1] === 'SUSPENDED') {
          seen.push(await states.take(ms(factory.sessionTimeoutMs * 3), 'LOST'));
        }
        expect(seen[0]).to.equal('SUSPENDED');
        expect(seen).to.include('LOST');
        cut.heal();
      } finally {
        log.block = false;
        await worker.stop({ timeoutMs: 2000 });
      }
    });

    it('runs an item aborted by a suspected session loss once more when contact is back within the session', async () => {
      const cache = await cluster.observe();
      const cut = await clients.cuttable();
      const worker = await startWorker({
        registry: cut.registry,
        jobs: [job(false, 1)],
        instanceId: 'w-cut',
      });
      const misfires = queueOf<number>(push => worker.on('misfire', e => push(e.item)));
      try {
        await cluster.awaitAssignment(['w-cut'], settleMs);
        log.block = true;
        await cluster.observer!.persist(cluster.paths.trigger('w-cut'), '');
        const first = await log.starts.take(ms(5000), 'w-cut starts item 0');
        const states = queueOf<ConnectionState>(push =>
          cut.registry.on('connectionStateChanged', push),
        );
        const epoch = cut.registry.sessionEpoch;
        cut.cut();
        await log.aborted.take(ms(factory.sessionTimeoutMs * 2), 'the abort');
        log.block = false;
        cut.heal();
        let state: ConnectionState;
        do {
          state = await states.take(ms(factory.sessionTimeoutMs * 3), 'RECONNECTED');
        } while (state === 'SUSPENDED');
        // The abort comes at half the timeout: the session outlives the cut (no failover elsewhere).
        expect(state).to.equal('RECONNECTED');
        expect(cut.registry.sessionEpoch).to.equal(epoch);
        expect(await misfires.take(ms(5000), 'the owed run, as a misfire')).to.equal(0);
        const again = await log.starts.take(ms(5000), 'item 0 runs once more on w-cut');
        expect(again).to.deep.include({ item: 0, instanceId: 'w-cut', token: first.token });
        await cache.waitFor(c => !c.has(cluster.paths.itemRunning(0)), { timeoutMs: ms(5000) });
        expect(log.starts.drain(), 'once, not in a loop').to.deep.equal([]);
      } finally {
        log.block = false;
        await worker.stop({ timeoutMs: 2000 });
      }
    });
  });
}
