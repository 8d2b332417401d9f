import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobPaths } from '../../lib/job/job-paths';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import { uniqueNamespace } from './namespace';
import type { ClusterMember, RegistryCluster } from './registry-cluster';
import { ms } from './timing';
import { phaseReport, stepLog, TopologyFleet, type PhaseReport } from './topology-fleet';
import { awaitAssignment } from './worker-process';

/**
 * The bed of the server-fault experiments, shared by `test/topology/server-faults.test.ts` (which asserts)
 * and `PARTS=servers npm run bench:failover` (which repeats and reports): a 3-node cluster, four worker
 * processes running the stepping job (a fire every second, every step behind `ctx.checkOwnership()`), each
 * through its own per-member proxies, and an observer cache of the job. A phase runs one fault, waits for
 * the quorum, keeps `settleMs` of quiet and is judged from the step log and the workers' events.
 */

export const FAULT_BED_WORKERS = ['w1', 'w2', 'w3', 'w4'];
const JOB = 'topo';

/** A fault's chosen duration: never a stand-in for awaiting an event. */
export function hold(durationMs: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, durationMs));
}

export type Mark = (what: string) => void;

export interface FaultBedOptions {
  sessionMs: number;
  count: number;
  /** Quiet time after a fault's repair before the phase ends (a duration of the experiment). */
  settleMs: number;
}

export class ServerFaultBed {
  readonly paths = new JobPaths(JOB);

  private constructor(
    readonly cluster: RegistryCluster,
    readonly observer: CoordinatorRegistryCenter,
    readonly fleet: TopologyFleet,
    readonly dir: string,
    readonly logFile: string,
    readonly options: FaultBedOptions,
  ) {}

  /** Starts the workers on `cluster` and resolves once every item is assigned and ran for `settleMs`. */
  static async start(cluster: RegistryCluster, options: FaultBedOptions): Promise<ServerFaultBed> {
    const paths = new JobPaths(JOB);
    const namespace = uniqueNamespace('topo');
    const observer = createRegistryCenter(cluster.url(namespace, options.sessionMs));
    const dir = mkdtempSync(join(tmpdir(), 'shardline-topology-'));
    const logFile = join(dir, 'steps.jsonl');
    try {
      await observer.init();
      await observer.addCacheData(paths.root);
      const cache = observer.getRawCache(paths.root);
      if (cache === undefined) {
        throw new Error('no observer cache');
      }
      const fleet = new TopologyFleet({
        cluster,
        namespace,
        sessionMs: options.sessionMs,
        job: JOB,
        cache,
        logFile,
        env: {
          CHAOS_JOB: JOB,
          CHAOS_CRON: '* * * * * *',
          CHAOS_COUNT: String(options.count),
          CHAOS_STEPS: '1',
          CHAOS_STEP_MS: '0',
          CHAOS_FAILOVER: '1',
        },
      });
      const bed = new ServerFaultBed(cluster, observer, fleet, dir, logFile, options);
      await fleet.start(...FAULT_BED_WORKERS);
      await awaitAssignment(cache, paths, FAULT_BED_WORKERS, options.count, ms(60_000), observer);
      await hold(options.settleMs); // every item runs before the first fault
      return bed;
    } catch (err) {
      await observer.close();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Runs `fault`, then judges [start, end of fault + settleMs]. `mark(what)` notes when a fault step
   * happened (ms into the phase), kept in the report's marks.
   */
  async phase(name: string, fault: (mark: Mark) => Promise<void>): Promise<PhaseReport> {
    const from = Date.now();
    const marks: string[] = [];
    await fault(what => marks.push(`${what} @${Date.now() - from}`));
    await this.cluster.awaitQuorum();
    marks.push(`quorum @${Date.now() - from}`);
    await hold(this.options.settleMs);
    const report = phaseReport(
      name,
      stepLog(this.logFile),
      this.fleet.workers,
      this.options.count,
      from,
      Date.now(),
    );
    report.marks = marks;
    return report;
  }

  /**
   * The member w1 talks to: ZooKeeper, its one connection; etcd, a follower it has a channel to (etcd3
   * spreads calls over every member; the leader is the leader-kill phase's).
   */
  async w1Member(): Promise<ClusterMember> {
    const leader = await this.cluster.leader();
    const connected = this.fleet.worker('w1').links.connectedMembers();
    const m = this.cluster.kind === 'etcd' ? connected.find(c => c !== leader) : connected[0];
    if (m === undefined) {
      throw new Error('w1 has no live link');
    }
    return m;
  }

  /** Stops every worker (by PID) and the observer; keeps the logs in `dir` when `keep` (for diagnosis). */
  async stop(keep = false): Promise<void> {
    await this.fleet.killAll();
    await this.observer.close();
    if (keep) {
      for (const w of this.fleet.workers) {
        writeFileSync(join(this.dir, `${w.instanceId}.out`), `${w.child.lines.seen.join('\n')}\n`);
        writeFileSync(join(this.dir, `${w.instanceId}.err`), w.child.stderr());
      }
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** One named server fault of the suite: what it does to the cluster, with marks. */
export interface ServerFault {
  key: string;
  /** Chooses the victims (reads the cluster) and returns the phase name and the fault. */
  prepare(bed: ServerFaultBed): Promise<{ name: string; run(mark: Mark): Promise<void> }>;
}

/** (1) The member w1 talks to is SIGKILLed, restarted after `downMs`. */
export function killConnectedMember(downMs = 8000): ServerFault {
  return {
    key: 'connected server killed',
    async prepare(bed) {
      const victim = await bed.w1Member();
      return {
        name: `kill ${victim.name} (w1's server), restart after ${downMs / 1000} s`,
        async run(mark) {
          await victim.kill();
          mark('killed');
          await hold(downMs);
          await victim.restart();
          mark('restarted');
        },
      };
    },
  };
}

/** (2) The leader is SIGKILLed, restarted after `downMs`. */
export function killLeader(downMs = 8000): ServerFault {
  return {
    key: 'leader killed',
    async prepare(bed) {
      const leader = await bed.cluster.leader();
      return {
        name: `kill the leader ${leader.name}, restart after ${downMs / 1000} s`,
        async run(mark) {
          await leader.kill();
          mark('killed');
          mark(`new leader ${(await bed.cluster.leader()).name}`);
          await hold(downMs);
          await leader.restart();
          mark('restarted');
        },
      };
    },
  };
}

/** (3) Every member in turn: killed, `downMs` down, restarted, quorum awaited, `upMs` up. */
export function rollingRestart(downMs = 2000, upMs = 3000): ServerFault {
  return {
    key: 'rolling restart',
    prepare(bed) {
      return Promise.resolve({
        name: `rolling restart (kill, ${downMs / 1000} s down, restart, ${upMs / 1000} s) × ${bed.cluster.members.length}`,
        async run(mark) {
          for (const m of bed.cluster.members) {
            await m.kill();
            mark(`${m.name} killed`);
            await hold(downMs);
            await m.restart();
            mark(`${m.name} restarted`);
            await bed.cluster.awaitQuorum();
            await hold(upMs);
          }
        },
      });
    },
  };
}

/** (4) The leader and one follower SIGSTOPped for `pausedMs` (the quorum is lost), then resumed. */
export function pauseQuorum(
  pausedMs: number,
  afterResume?: (mark: Mark) => Promise<void>,
): ServerFault {
  return {
    key: `quorum lost ${pausedMs / 1000} s`,
    async prepare(bed) {
      const leader = await bed.cluster.leader();
      const follower = bed.cluster.members.find(m => m !== leader);
      if (follower === undefined) {
        throw new Error('no follower');
      }
      return {
        name: `quorum lost: ${leader.name} and ${follower.name} paused ${pausedMs / 1000} s`,
        async run(mark) {
          await Promise.all([leader.pause(), follower.pause()]);
          mark('paused');
          await hold(pausedMs);
          await Promise.all([leader.resume(), follower.resume()]);
          mark('resumed');
          await afterResume?.(mark);
        },
      };
    },
  };
}
