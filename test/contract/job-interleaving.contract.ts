import { expect } from 'chai';
import { serializeJobConfig, type JobConfig } from '../../lib/job/job-config';
import { latchHolder } from '../../lib/registry/leader-latch';
import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import type { ConnectionState } from '../../lib/registry/registry-center';
import { ms } from '../harness/timing';
import { range, RunLedger } from '../harness/run-ledger';
import { withWriteHook, type ObservedWrite } from '../harness/write-hook';
import type { BackendFactory, CuttableClient } from './backend-factory';
import { Clients, queueOf } from './clients';
import { JobCluster } from './job-cluster';

/** A competing event, injected right after one registry write of a protocol. */
type Interference =
  'request' | 'join' | 'leave' | 'configChange' | 'leaderLoss' | 'suspendReconnect' | 'lost';

const INTERFERENCES: readonly Interference[] = [
  'request',
  'join',
  'leave',
  'configChange',
  'leaderLoss',
  'suspendReconnect',
  'lost',
];

/** A multi-write protocol: which worker writes, what starts it, and which of its writes are points. */
interface Protocol {
  name: string;
  /** The hooked worker: `w-a` leads (started first), `w-b` follows. */
  writer: 'w-a' | 'w-b';
  /** The write points of one run of the protocol (1-based) to inject after. */
  points: number[];
  matches(write: ObservedWrite, paths: JobCluster['paths']): boolean;
  /** Starts the protocol once the cluster settled and the hook is armed (default: it runs by itself). */
  kick?(c: JobCluster, writeConfig: (patch: Partial<JobConfig>) => Promise<void>): Promise<void>;
}

const ITEMS = 6;
/** 6 → 126 items: 120 new items are 240 operations, written in three transactions. */
const RESHARD_TO = 126;

const PROTOCOLS: readonly Protocol[] = [
  {
    name: 'resharding in chunks',
    writer: 'w-a',
    points: [1, 2, 3],
    matches: (w, paths) =>
      w.ops.some(op => /^(create|setData):.*\/instance$/.test(op) && op.includes(paths.sharding)),
    kick: async (_c, writeConfig) => writeConfig({ shardingTotalCount: RESHARD_TO }),
  },
  {
    name: 'claim',
    writer: 'w-b',
    points: [1],
    matches: (w, paths) =>
      w.ops.some(op => op.startsWith(`create:${paths.sharding}/`) && op.endsWith('/running')),
  },
  {
    name: 'release',
    writer: 'w-b',
    points: [1],
    matches: (w, paths) =>
      w.ops.some(op => op.startsWith(`delete:${paths.sharding}/`) && op.endsWith('/running')),
  },
];

/** A seeded choice of cases for the real servers (every case runs on memory). */
function sample<T>(all: readonly T[], count: number, seed: number): T[] {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const copy = [...all];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, count);
}

/**
 * Interleaving tests: each competing event — a resharding request, an instance joining or leaving, a
 * configuration change, leader loss, SUSPENDED→RECONNECTED, LOST — injected right after each registry
 * write of each multi-write protocol (resharding in chunks, claim, release). On memory every point; on
 * ZooKeeper and etcd a seeded sample (`SHARDLINE_SEED` reproduces one). Each case asserts that every
 * enabled item runs again within a bound, no marker is left, no item overlaps, no token goes back.
 */
export function describeJobInterleavingContract(
  factory: BackendFactory,
  sampleSize?: number,
): void {
  const seed = Number(process.env.SHARDLINE_SEED ?? Date.now() % 100_000);
  const cases = PROTOCOLS.flatMap(protocol =>
    protocol.points.flatMap(point => INTERFERENCES.map(event => ({ protocol, point, event }))),
  );
  const chosen = sampleSize === undefined ? cases : sample(cases, sampleSize, seed);
  const title = sampleSize === undefined ? '' : ` (seed ${seed})`;

  describe(`job interleavings (${factory.name})${title}`, function () {
    this.timeout(ms(60_000));
    const runMs = ms(factory.sessionTimeoutMs * 4 + 8000);
    let clients: Clients;
    let cluster: JobCluster;

    beforeEach(() => {
      clients = new Clients(factory);
    });

    afterEach(async () => {
      await cluster?.stopAll();
      await clients.closeAll();
    });

    for (const { protocol, point, event } of chosen) {
      it(`${protocol.name}, after write ${point}: ${event}`, async () => {
        const ledger = new RunLedger();
        const c = (cluster = new JobCluster(clients, 'job'));
        const observer = await c.observe();
        const job = JobCluster.define({
          name: 'job',
          cron: '* * * * * *',
          shardingTotalCount: ITEMS,
          execute: ledger.execute,
        });
        const writeConfig = async (patch: Partial<JobConfig>): Promise<void> => {
          const stored = JSON.parse((await c.observer!.getDirectly(c.paths.config))!) as JobConfig;
          await c.observer!.update(c.paths.config, serializeJobConfig({ ...stored, ...patch }));
        };
        let expectedCount = protocol.kick === undefined ? ITEMS : RESHARD_TO;

        const cuttable: CuttableClient = await clients.cuttable();
        const peerId = protocol.writer === 'w-a' ? 'w-b' : 'w-a';
        let armed = false;
        let seen = 0;
        let injected: Interference | undefined;
        const inject = async (): Promise<void> => {
          switch (event) {
            case 'request':
              await c.observer!.persist(c.paths.shardingNecessary, '');
              return;
            case 'join':
              await c.start('w-c', job);
              return;
            case 'leave':
              await c.member(peerId).worker.stop({ timeoutMs: 2000 });
              c.members.delete(peerId);
              return;
            case 'configChange':
              expectedCount += 2;
              await writeConfig({ shardingTotalCount: expectedCount });
              return;
            case 'leaderLoss': {
              const latch = await c.observer!.getChildrenKeys(c.paths.electionLatch);
              const holder = latchHolder(latch);
              if (holder !== undefined) {
                await c.observer!.remove(`${c.paths.electionLatch}/${holder}`);
              }
              return;
            }
            case 'suspendReconnect': {
              const states = queueOf<ConnectionState>(push =>
                cuttable.registry.on('connectionStateChanged', push),
              );
              cuttable.cut();
              expect(await states.take(runMs, 'SUSPENDED')).to.equal('SUSPENDED');
              cuttable.heal();
              let state: ConnectionState;
              do {
                state = await states.take(runMs, 'RECONNECTED');
              } while (state !== 'RECONNECTED');
              return;
            }
            case 'lost':
              await factory.expireSession(cuttable.registry);
              return;
          }
        };
        const hook = (registry: DrivenRegistryCenter): DrivenRegistryCenter =>
          withWriteHook(registry, async write => {
            if (!armed || injected !== undefined || !protocol.matches(write, c.paths)) {
              return;
            }
            seen++;
            if (seen === point) {
              injected = event;
              await inject();
            }
          });

        const first = protocol.writer === 'w-a';
        await c.start('w-a', job, first ? { registry: cuttable.registry, wrap: hook } : {});
        await observer.waitFor(x => x.get(c.paths.electionInstance) === 'w-a', {
          timeoutMs: runMs,
        });
        await c.start('w-b', job, first ? {} : { registry: cuttable.registry, wrap: hook });
        ledger.mark();
        await ledger.waitAllRun(range(ITEMS), runMs);
        armed = true;
        await protocol.kick?.(c, writeConfig);
        await observer
          .waitFor(() => injected !== undefined, { timeoutMs: runMs })
          .catch(() => undefined);
        // The cache may not move once injected is set: wait on the ledger (runs) instead, then re-check.
        expect(
          injected,
          `the ${protocol.name} write ${point} happened and ${event} was injected`,
        ).to.equal(event);

        ledger.mark();
        await ledger.waitAllRun(range(expectedCount), runMs);
        await observer.waitFor(
          x => !x.has(c.paths.shardingProcessing) && !x.has(c.paths.shardingNecessary),
          { timeoutMs: runMs },
        );
        expect(ledger.overlaps).to.deep.equal([]);
        expect(ledger.regressions).to.deep.equal([]);
      });
    }
  });
}
