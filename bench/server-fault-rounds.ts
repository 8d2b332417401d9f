/**
 * Server-node faults on 3-node clusters (PARTS=servers of bench:failover): the bed and the faults of
 * `test/topology/server-faults.test.ts` (test/harness/server-fault-bed.ts: four worker processes, 100 items
 * firing every second, 6 s session, each worker through its own per-member proxies), each fault repeated
 * SERVER_ROUNDS times (default 3) on one cluster per server kind. Per fault: the longest time any item went
 * without a run (median and worst over the rounds), sessions lost, items moved, overlaps and token
 * regressions (summed over the rounds; must be 0).
 */
import { EtcdCluster } from '../test/harness/etcd-cluster';
import { healCluster, type RegistryCluster } from '../test/harness/registry-cluster';
import {
  killConnectedMember,
  killLeader,
  pauseQuorum,
  rollingRestart,
  ServerFaultBed,
  type ServerFault,
} from '../test/harness/server-fault-bed';
import { formatReport, type PhaseReport } from '../test/harness/topology-fleet';
import { ZooKeeperEnsemble } from '../test/harness/zookeeper-ensemble';
import { fmt, median } from './stats';

const SERVER_ROUNDS = Number(process.env.SERVER_ROUNDS ?? 3);
const SESSION_MS = 6000;

const KINDS: { name: string; start(): Promise<RegistryCluster> }[] = [
  { name: 'zookeeper', start: () => ZooKeeperEnsemble.start() },
  { name: 'etcd', start: () => EtcdCluster.start() },
];

const FAULTS: ServerFault[] = [
  killConnectedMember(),
  killLeader(),
  rollingRestart(),
  pauseQuorum(3000),
];

export const SERVER_FAULT_HEADER = [
  'backend (3 nodes)',
  'fault',
  'longest time without a run: median / worst',
  'LOST',
  'item moves',
  'overlaps / token regressions',
  'load average',
];

/** Rows of the server-fault table for the kinds named in `backends`. */
export async function serverFaultRows(backends: readonly string[]): Promise<string[][]> {
  const rows: string[][] = [];
  for (const kind of KINDS.filter(k => backends.includes(k.name))) {
    const cluster = await kind.start();
    let bed: ServerFaultBed | undefined;
    try {
      bed = await ServerFaultBed.start(cluster, {
        sessionMs: SESSION_MS,
        count: 100,
        settleMs: 3000,
      });
      for (const fault of FAULTS) {
        const reports: PhaseReport[] = [];
        for (let i = 0; i < SERVER_ROUNDS; i++) {
          const prepared = await fault.prepare(bed);
          const r = await bed.phase(prepared.name, mark => prepared.run(mark));
          await healCluster(cluster);
          reports.push(r);
          process.stderr.write(`round ${i + 1}/${SERVER_ROUNDS} ${formatReport(kind.name, r)}\n`);
        }
        const sum = (f: (r: PhaseReport) => number): number =>
          reports.reduce((a, r) => a + f(r), 0);
        const gaps = reports.map(r => r.maxGap.ms);
        rows.push([
          kind.name,
          fault.key,
          `${fmt(median(gaps), 0)} / ${fmt(Math.max(...gaps), 0)} ms`,
          String(sum(r => r.lost)),
          String(sum(r => r.reshardings)),
          `${sum(r => r.overlaps.length)} / ${sum(r => r.regressions.length)}`,
          reports.map(r => r.load).join(' '),
        ]);
      }
    } finally {
      await bed?.stop();
      await cluster.stop();
    }
  }
  return rows;
}
