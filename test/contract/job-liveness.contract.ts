import { expect } from 'chai';
import { CorruptedDataError } from '../../lib/errors';
import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import type { StalledEvent } from '../../lib/job/job-events';
import { EventQueue } from '../harness/events';
import { ms } from '../harness/timing';
import { range, RunLedger } from '../harness/run-ledger';
import { withWriteHook } from '../harness/write-hook';
import type { BackendFactory } from './backend-factory';
import { Clients } from './clients';
import { averageOwners, JobCluster } from './job-cluster';

/**
 * Liveness of the resharding protocol (no silent stall): a multi-transaction resharding with requests
 * and foreign markers around it, workers started one right after another, and fencing tokens that never
 * go back whatever is written into the generation record. Run on memory, ZooKeeper and etcd.
 */
export function describeJobLivenessContract(factory: BackendFactory): void {
  describe(`job liveness (${factory.name})`, function () {
    this.timeout(ms(60_000));
    const runMs = ms(factory.sessionTimeoutMs * 3 + 8000);
    let clients: Clients;
    let cluster: JobCluster;

    beforeEach(() => {
      clients = new Clients(factory);
    });

    afterEach(async () => {
      await cluster?.stopAll();
      await clients.closeAll();
    });

    function setup(): JobCluster {
      cluster = new JobCluster(clients, 'job');
      return cluster;
    }

    function job(count: number, ledger: RunLedger): ReturnType<typeof JobCluster.define> {
      return JobCluster.define({
        name: 'job',
        cron: '* * * * * *',
        shardingTotalCount: count,
        execute: ledger.execute,
      });
    }

    async function expectSettledClean(c: JobCluster): Promise<void> {
      const cache = await c.observe();
      await cache.waitFor(
        x => !x.has(c.paths.shardingProcessing) && !x.has(c.paths.shardingNecessary),
        { timeoutMs: runMs },
      );
    }

    for (const count of [64, 200]) {
      it(`${count} items on two workers started one right after the other: every item runs, no marker stays`, async () => {
        const ledger = new RunLedger();
        const c = setup();
        await c.observe();
        // Both clients connected first: w-b's start follows w-a's the moment it resolves, as in a
        // service that starts its workers in a loop — its request lands in w-a's first resharding.
        const [ra, rb] = await Promise.all([clients.connect(), clients.connect()]);
        await c.start('w-a', job(count, ledger), { registry: ra });
        await c.start('w-b', job(count, ledger), { registry: rb });
        ledger.mark();
        await ledger.waitAllRun(range(count), runMs);
        await expectSettledClean(c);
        expect(ledger.overlaps).to.deep.equal([]);
        expect(ledger.regressions).to.deep.equal([]);
      });
    }

    it('a request landing between two chunks of a resharding causes one more pass and strands nothing', async () => {
      const ledger = new RunLedger();
      const c = setup();
      const observer = await c.observe();
      let injected = 0;
      const inject = (registry: DrivenRegistryCenter): DrivenRegistryCenter =>
        withWriteHook(registry, async write => {
          if (injected === 0 && write.ops.includes(`create:${c.paths.shardingProcessing}`)) {
            injected++;
            await c.observer!.persist(c.paths.shardingNecessary, '');
          }
        });
      await c.start('w-a', job(200, ledger), { wrap: inject });
      ledger.mark();
      await ledger.waitAllRun(range(200), runMs);
      await expectSettledClean(c);
      expect(injected).to.equal(1);
      expect(observer.has(c.paths.shardingProcessing)).to.equal(false);
      expect(ledger.overlaps).to.deep.equal([]);
    });

    it('a processing marker of a former leader term blocks no one and is replaced by the leader', async () => {
      const ledger = new RunLedger();
      const c = setup();
      await c.observe();
      // A former leader that lost the latch while its session lived: its marker names its own term.
      const former = await clients.connect();
      await former.persistEphemeral(
        c.paths.shardingProcessing,
        `${c.paths.electionLatch}/_c_former-latch-0000000000`,
      );
      await c.start('w-a', job(10, ledger));
      ledger.mark();
      await ledger.waitAllRun(range(10), runMs);
      await expectSettledClean(c);
      expect(ledger.overlaps).to.deep.equal([]);
    });

    it('a resharding that does not settle past the bound is reported (stalled, reason and path), not waited on in silence', async () => {
      const c = setup();
      const observer = await c.observe();
      const worker = { stallAfterMs: ms(1000) };
      let release: (() => void) | undefined;
      const held = new Promise<void>(resolve => (release = resolve));
      let hold = false;
      // w-a leads; once `hold` is set, its writes hang before reaching the registry (a leader stuck in
      // a long GC, a wedged event loop): a request it should serve stands.
      const hang = (registry: DrivenRegistryCenter): DrivenRegistryCenter =>
        withWriteHook(
          registry,
          () => undefined,
          () => (hold ? held : undefined),
        );
      const yearly = JobCluster.define({
        name: 'job',
        cron: '0 0 0 1 1 *',
        shardingTotalCount: 10,
      });
      const a = await c.start('w-a', yearly, { worker, wrap: hang });
      await observer.waitFor(x => x.get(c.paths.electionInstance) === 'w-a', { timeoutMs: runMs });
      const b = await c.start('w-b', yearly, { worker });
      await c.awaitAssignment(averageOwners(['w-a', 'w-b'], 10), runMs);
      const stalls = new EventQueue<StalledEvent>();
      for (const m of [a, b]) {
        m.worker.on('stalled', e => stalls.push(e));
      }
      hold = true;
      const requestedAt = Date.now();
      await c.observer!.persist(c.paths.shardingNecessary, '');
      const stall = await stalls.take(runMs, 'a stalled event');
      expect(stall).to.include({
        job: 'job',
        reason: 'reshardingNotSettled',
        path: c.paths.shardingNecessary,
      });
      expect(stall.since).to.be.at.least(requestedAt - 50);
      hold = false;
      release!();
      await expectSettledClean(c);
    });

    it('a running record of a live worker that no run of it holds is reported and released, not left to block the item', async () => {
      const c = setup();
      const observer = await c.observe();
      const yearly = JobCluster.define({
        name: 'job',
        cron: '0 0 0 1 1 *',
        shardingTotalCount: 3,
      });
      const a = await c.start('w-a', yearly);
      await c.awaitAssignment(averageOwners(['w-a'], 3), runMs);
      const stalls = new EventQueue<StalledEvent>();
      a.worker.on('stalled', e => stalls.push(e));
      // A record naming w-a, newer than its instance node, while nothing runs: what a claim whose run never
      // started would leave. Nobody reaps a live writer's record; before the watchdog rule it stayed for good.
      await c.observer!.persist(c.paths.itemRunning(1), 'w-a');
      const stall = await stalls.take(runMs, 'a stalled event');
      expect(stall).to.include({
        job: 'job',
        reason: 'idleRunningRecord',
        path: c.paths.itemRunning(1),
      });
      await observer.waitFor(x => !x.has(c.paths.itemRunning(1)), { timeoutMs: runMs });
    });

    it('passes are bounded by real changes: a settled job writes no more generations', async () => {
      const ledger = new RunLedger();
      const c = setup();
      const observer = await c.observe();
      await c.start('w-a', job(100, ledger));
      await c.start('w-b', job(100, ledger));
      ledger.mark();
      await ledger.waitAllRun(range(100), runMs);
      await expectSettledClean(c);
      let generations = 0;
      const count = (e: { path: string }): void => {
        if (e.path === c.paths.sharding) {
          generations++;
        }
      };
      observer.on('event', count);
      // Two more full rounds of fires on a settled job: no resharding may happen in between.
      ledger.mark();
      await ledger.waitAllRun(range(100), runMs);
      ledger.mark();
      await ledger.waitAllRun(range(100), runMs);
      observer.off('event', count);
      expect(generations).to.equal(0);
    });

    it('fencing tokens never go back when garbage is written into the generation record', async () => {
      const ledger = new RunLedger();
      const c = setup();
      const observer = await c.observe();
      const a = await c.start('w-a', job(4, ledger));
      ledger.mark();
      await ledger.waitAllRun(range(4), runMs);
      for (const garbage of ['abc', '0', '1:4:00000000', '']) {
        await c.observer!.update(c.paths.sharding, garbage);
        ledger.mark();
        await ledger.waitAllRun(range(4), runMs);
      }
      const corrupted = a.errors
        .drain()
        .filter(e => e.error instanceof CorruptedDataError && e.error.path === c.paths.sharding);
      expect(corrupted.length, 'the unreadable record is reported with its path').to.be.greaterThan(
        0,
      );
      expect(observer.get(c.paths.sharding)).to.match(/^\d+:4:[0-9a-f]{8}$/);
      expect(ledger.regressions).to.deep.equal([]);
      expect(ledger.overlaps).to.deep.equal([]);
    });
  });
}
