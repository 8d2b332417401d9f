// Worker processes on a 3-node ZooKeeper ensemble and a 3-member etcd cluster while the servers fail (issue 12,
// items 1–5): four workers run the stepping job (100 items, a fire every second, every step guarded by
// ctx.checkOwnership()) through their own per-member proxies, and one fault after another hits the cluster.
// Each phase is judged from the step log and the workers' own events: no item's steps interleave across
// processes, fencing tokens grow, no session is LOST and no item moves where the issue says so, and every item
// runs in every 5 s window where the servers keep a quorum. Every phase prints one `[topology …]` line with
// what was measured (docs/guarantees.md quotes them). The bed and the faults live in test/harness/server-fault-bed.ts,
// shared with `PARTS=servers npm run bench:failover`, which repeats them and reports medians.
import { expect } from 'chai';
import { stepsOf } from '../fixtures/chaos/step-log';
import { EtcdCluster } from '../harness/etcd-cluster';
import { waitFor } from '../harness/events';
import { healCluster, type RegistryCluster } from '../harness/registry-cluster';
import {
  FAULT_BED_WORKERS,
  hold,
  killConnectedMember,
  killLeader,
  pauseQuorum,
  rollingRestart,
  ServerFaultBed,
  type Mark,
  type ServerFault,
} from '../harness/server-fault-bed';
import { ms } from '../harness/timing';
import { formatReport, stepLog, type PhaseReport } from '../harness/topology-fleet';
import { awaitAssignment } from '../harness/worker-process';
import { ZooKeeperEnsemble } from '../harness/zookeeper-ensemble';

const SESSION_MS = 6000;
const COUNT = 100;
/** "Every item runs in every 5 s window". */
const WINDOW_MS = 5000;
/** Quiet time after a fault's repair before the phase ends (a duration of the experiment, not a deadline). */
const SETTLE_MS = 3000;

interface Kind {
  name: 'ZooKeeper' | 'etcd';
  start(): Promise<RegistryCluster>;
}

const KINDS: Kind[] = [
  { name: 'ZooKeeper', start: () => ZooKeeperEnsemble.start() },
  { name: 'etcd', start: () => EtcdCluster.start() },
];

for (const kind of KINDS) {
  describe(`topology: worker processes on a 3-node ${kind.name} under server faults`, function () {
    this.timeout(ms(120_000));
    let cluster: RegistryCluster | undefined;
    let bed: ServerFaultBed;
    const reports: PhaseReport[] = [];

    before(async function () {
      this.timeout(ms(180_000));
      cluster = await kind.start();
      bed = await ServerFaultBed.start(cluster, {
        sessionMs: SESSION_MS,
        count: COUNT,
        settleMs: SETTLE_MS,
      });
    });

    afterEach(async function () {
      if (this.currentTest?.state === 'failed') {
        for (const w of bed.fleet.workers) {
          console.log(w.describe(20));
        }
      }
      if (cluster !== undefined) {
        await healCluster(cluster);
      }
    });

    after(async () => {
      // SHARDLINE_TOPOLOGY_KEEP=1 keeps the step log and every worker's stdout (events) and stderr (warn logs).
      const keep = process.env.SHARDLINE_TOPOLOGY_KEEP === '1';
      await bed?.stop(keep);
      if (keep && bed !== undefined) {
        console.log(`[topology ${kind.name}] kept ${bed.dir}`);
      }
      await cluster?.stop();
      for (const r of reports) {
        console.log(formatReport(kind.name, r));
      }
    });

    /** Runs one fault of the suite as a phase; its report is printed now and again at the end. */
    async function phase(fault: ServerFault): Promise<PhaseReport> {
      const prepared = await fault.prepare(bed);
      const report = await bed.phase(prepared.name, mark => prepared.run(mark));
      reports.push(report);
      console.log(formatReport(kind.name, report));
      return report;
    }

    function expectSafe(r: PhaseReport): void {
      expect(r.overlaps, 'interleaved steps').to.deep.equal([]);
      expect(r.regressions, 'fencing token regressions').to.deep.equal([]);
    }

    function expectUndisturbed(r: PhaseReport): void {
      expectSafe(r);
      expect(r.lost, `LOST sessions: ${JSON.stringify(r.states)}`).to.equal(0);
      expect(r.reshardings, 'items that moved').to.equal(0);
      expect(r.idleItems, 'items that never ran').to.deep.equal([]);
      expect(r.maxGap.ms, `longest time without a run: ${JSON.stringify(r.maxGap)}`).to.be.below(
        WINDOW_MS,
      );
    }

    /** Items with a step after `since` (the step log is another process's file). */
    function itemsRunSince(since: number): Set<number> {
      return new Set(
        stepsOf(stepLog(bed.logFile))
          .filter(s => s.t > since)
          .map(s => s.item),
      );
    }

    it('(1) the server a worker is connected to is SIGKILLed, then restarted: no LOST, no item moves, no overlap, every item runs in every 5 s', async () => {
      expectUndisturbed(await phase(killConnectedMember()));
    });

    it('(2) the leader is SIGKILLed, then restarted: the same for every worker', async () => {
      expectUndisturbed(await phase(killLeader()));
    });

    it('(3) rolling restart of all three servers under 100 items a second on 4 workers: 0 overlaps, 0 LOST, every item runs in every 5 s window', async () => {
      expectUndisturbed(await phase(rollingRestart()));
    });

    it('(4) quorum lost (two servers SIGSTOPped) for 3 s, less than the session timeout: no LOST, no item moves, no overlap, runs resume', async () => {
      let resumedAt = 0;
      const r = await phase(
        pauseQuorum(3000, () => {
          resumedAt = Date.now();
          return Promise.resolve();
        }),
      );
      expectSafe(r);
      expect(r.lost, `LOST sessions: ${JSON.stringify(r.states)}`).to.equal(0);
      expect(r.reshardings, 'items that moved').to.equal(0);
      expect(itemsRunSince(resumedAt).size, 'items that ran after the quorum returned').to.equal(
        COUNT,
      );
    });

    it('(4b) quorum lost for longer than the session timeout (8 s): workers rejoin as after any LOST, no overlap, every item runs again', async () => {
      let resumedAt = 0;
      let allRanAt = 0;
      const r = await phase(
        pauseQuorum(SESSION_MS + 2000, async (mark: Mark) => {
          resumedAt = Date.now();
          // The step log is another process's file: a bounded poll (no event exists for it).
          await waitFor(
            () => itemsRunSince(resumedAt).size === COUNT,
            ms(30_000),
            'every item to run again after the quorum returned',
            250,
          );
          allRanAt = Date.now();
          mark('every item ran again');
        }),
      );
      expectSafe(r);
      expect(allRanAt - resumedAt, 'time until every item ran again').to.be.below(ms(30_000));
    });

    it('(5) one worker partitioned from every server: its items move after the timeout, it writes nothing after it lost them, it rejoins', async () => {
      const w4 = bed.fleet.worker('w4');
      let cutAt = 0;
      let healedAt = 0;
      const r = await bed.phase('w4 partitioned from all servers for session + 4 s', async mark => {
        cutAt = Date.now();
        w4.links.set('blackhole');
        mark('cut');
        await hold(SESSION_MS + 4000);
        w4.links.set('pass');
        healedAt = Date.now();
        mark('healed');
        await bed.fleet.awaitRegistered(w4);
        mark('w4 registered');
        await awaitAssignment(
          bed.fleet.options.cache,
          bed.paths,
          FAULT_BED_WORKERS,
          COUNT,
          ms(30_000),
          bed.observer,
        );
      });
      reports.push(r);
      console.log(formatReport(kind.name, r));
      expectSafe(r);
      const steps = stepsOf(stepLog(bed.logFile));
      const w4During = steps.filter(s => s.instanceId === 'w4' && s.t > cutAt && s.t < healedAt);
      const lastW4 = Math.max(cutAt, ...w4During.map(s => s.t));
      // checkOwnership fences at a fraction of the session: nothing written past the session timeout.
      expect(lastW4 - cutAt, 'w4 wrote after the session timeout').to.be.below(SESSION_MS);
      const others = steps.filter(s => s.instanceId !== 'w4' && s.t > cutAt && s.t < healedAt);
      const moved = new Set(others.map(s => s.item));
      expect(moved.size, 'items that ran during the partition').to.equal(COUNT);
      expect(
        w4.events().some(e => e.event === 'state' && e.t > cutAt && e.state === 'SUSPENDED'),
        'w4 SUSPENDED',
      ).to.equal(true);
    });
  });
}
