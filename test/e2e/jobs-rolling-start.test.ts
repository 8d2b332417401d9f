import { expect } from 'chai';
import {
  ROLLING_INSTANCES,
  runRollingStart,
  WorkerHostPool,
  type RollingStartReport,
} from '../harness/rolling-start';
import { seedFromEnv } from '../harness/seeded-random';
import {
  etcdServerBackend,
  zookeeperServerBackend,
  type ServerBackend,
} from '../harness/server-backends';
import { ms } from '../harness/timing';

/**
 * Rolling start and rolling restart on worker PROCESSES over a real ZooKeeper and a real etcd: jobs of 1,
 * 10, 64 and 300 items firing every second; three workers started 0, 50 or 500 ms apart, then restarted
 * one by one (a graceful stop and a start in the same host process, and one of them — seeded — by SIGKILL
 * and an immediate start in a new process, while the dead session still lives). After the last start, and
 * again after the last restart, within 5 s: the resharding has settled (no `necessary` or `processing`
 * marker left) and every item has run on its settled owner — a job that stalls after its workers came up
 * fails here. Over the whole run no item runs on two instances at once and no item's fencing token goes
 * back. The scenario lives in test/harness/rolling-start.ts (bench/failover.ts runs it 20 times per
 * combination and reports percentiles).
 *
 * Each test prints its seed in its title; `SHARDLINE_SEED=<n>` replays the seeded choices (start and
 * restart order, which restart is a SIGKILL) in every test — pick one with `--grep`. A stall report names
 * the items that did not run, the markers the registry holds and the workers' last leader, sharded and
 * connection-state events; `SHARDLINE_HOST_LOG=debug` makes the worker hosts log more on stderr.
 */

/** ZooKeeper session timeout and etcd lease TTL of every worker (etcd's minimum TTL is 2 s). */
const SESSION_MS = 2000;
/** Every item has run within this long of the last (re)start. */
const BOUND_MS = ms(5000);
const SIZES = [1, 10, 64, 300];
const SPACINGS_MS = [0, 50, 500];
/** Restarts per repetition done by SIGKILL and a new process (the others stop and start in their host). */
const KILLS = 1;

function summary(backend: string, count: number, spacing: number, r: RollingStartReport): string {
  const time = (value: number | undefined): string =>
    value === undefined ? `NOT within ${BOUND_MS} ms` : `${value} ms`;
  const phases = r.phases
    .map(p => `last ${p.phase}→settled ${time(p.settledMs)}, →all running ${time(p.allRunningMs)}`)
    .join('; ');
  return `      ${backend} ${count} items, ${spacing} ms apart: ${phases}; ${r.executions} executions; ${r.plan}; startWorker ms: ${r.startups}`;
}

function describeRollingStart(backend: ServerBackend, baseSeed: number): void {
  describe(`rolling start and restart of worker processes over ${backend.name}`, function () {
    this.timeout(ms(60_000));
    const pool = new WorkerHostPool(ROLLING_INSTANCES, KILLS);

    before(async function () {
      this.timeout(ms(60_000));
      // Both settle before this hook ends, so after() stops whatever did start.
      const started = await Promise.allSettled([backend.start(), pool.fill()]);
      for (const outcome of started) {
        if (outcome.status === 'rejected') {
          throw outcome.reason;
        }
      }
    });

    after(async () => {
      await pool.close();
      await backend.stop();
    });

    afterEach(function () {
      if (this.currentTest?.state === 'failed') {
        for (const host of pool.all) {
          console.log(host.describe(20));
        }
      }
    });

    let index = 0;
    for (const count of SIZES) {
      for (const spacing of SPACINGS_MS) {
        const seed = seedFromEnv('SHARDLINE_SEED', baseSeed + index++);
        it(`${count} item${count === 1 ? '' : 's'}, 3 workers started ${spacing} ms apart, then restarted one by one (${KILLS} by SIGKILL): every item runs within ${BOUND_MS} ms of the last start, no overlap, no token goes back (seed ${seed})`, async () => {
          const report = await runRollingStart(
            pool,
            { count, spacingMs: spacing, seed, kills: KILLS },
            { url: ns => backend.url(ns, SESSION_MS), boundMs: BOUND_MS },
          );
          console.log(summary(backend.name, count, spacing, report));
          const stalls = report.phases.flatMap(p =>
            p.stall === undefined
              ? []
              : [`after the last ${p.phase} (${report.plan}), within ${BOUND_MS} ms:\n${p.stall}`],
          );
          if (stalls.length > 0) {
            expect.fail(stalls.join('\n\n'));
          }
          expect(report.overlaps, 'an item running on two instances at once').to.deep.equal([]);
          expect(report.tokenRegressions, 'fencing tokens going back').to.deep.equal([]);
          expect(report.executions, 'executions').to.be.at.least(2 * count);
        });
      }
    }
  });
}

describeRollingStart(zookeeperServerBackend(), 20261204);
describeRollingStart(etcdServerBackend(), 7331);
