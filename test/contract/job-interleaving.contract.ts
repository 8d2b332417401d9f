import { expect } from 'chai';
import type { ShardingContext, SimpleJobOptions } from '../../lib/job/define-job';
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

/** What a protocol's setup may use: the cluster, the ledger, config writes, a member's registry. */
interface ProtocolContext {
  c: JobCluster;
  ledger: RunLedger;
  writeConfig(patch: Partial<JobConfig>): Promise<void>;
  /** Starts one more member on its own (cuttable, hooked) client. */
  startMember(id: string): Promise<CuttableClient>;
  /** How long a protocol may wait for its own preconditions. */
  waitMs: number;
  /** The competing event was injected (the protocol's write point happened). */
  injected(): boolean;
}

/** A multi-write protocol: what starts it, and which of its writes are the injection points. */
interface Protocol {
  name: string;
  /** The write points of one run of the protocol (1-based) to inject after. */
  points: number[];
  matches(write: ObservedWrite, paths: JobCluster['paths']): boolean;
  /** Job options of the protocol, per backend. */
  job?(backend: BackendFactory['name']): Partial<SimpleJobOptions>;
  /** Items the job has once the protocol ran (default: the job's count). */
  items?: number;
  /** Starts the protocol once the cluster settled and the hook is armed (default: it runs by itself). */
  kick?(p: ProtocolContext): Promise<void>;
  /** Called once the event was injected: lets held runs go. */
  settle?(p: ProtocolContext): void;
}

const ITEMS = 6;
/** 6 → 126 items: 120 new items are 240 operations, written in three transactions. */
const RESHARD_TO = 126;

const runningOp = (kind: 'create' | 'delete', paths: JobCluster['paths'], op: string): boolean =>
  op.startsWith(`${kind}:${paths.sharding}/`) && op.endsWith('/running');

/** Runs that hold until their signal aborts (or `release` is called). */
function holder(): {
  hold: (ctx: ShardingContext) => Promise<void>;
  release(): void;
  on: Set<string>;
} {
  let release = (): void => undefined;
  const released = new Promise<void>(resolve => (release = resolve));
  const on = new Set<string>();
  return {
    on,
    release: () => release(),
    hold: ctx =>
      on.has(ctx.instanceId)
        ? Promise.race([
            released,
            new Promise<void>(resolve => {
              if (ctx.signal.aborted) {
                resolve(); // aborted before the hold began: an abort event will not come again
              }
              ctx.signal.addEventListener('abort', () => resolve());
            }),
          ])
        : Promise.resolve(),
  };
}

/** Each call builds a protocol with fresh state (held runs, flags): one per test case. */
const PROTOCOLS: readonly (() => Protocol)[] = [
  () => ({
    name: 'resharding in chunks',
    points: [1, 2, 3],
    matches: (w, paths) =>
      w.ops.some(op => /^(create|setData):.*\/instance$/.test(op) && op.includes(paths.sharding)),
    items: RESHARD_TO,
    kick: async p => p.writeConfig({ shardingTotalCount: RESHARD_TO }),
  }),
  () => ({
    name: 'claim',
    points: [1],
    matches: (w, paths) =>
      w.ops.some(op => runningOp('create', paths, op)) &&
      !w.ops.some(op => op.endsWith('/failover')),
  }),
  () => ({
    name: 'release',
    points: [1],
    matches: (w, paths) => w.ops.some(op => runningOp('delete', paths, op)),
  }),
  () => {
    const h = holder();
    return {
      name: 'failover claim',
      points: [1],
      // Fires 2 s (memory) or 4 s apart: the victim's items are claimed by failover before their new
      // owner's next fire (which would run them in place of the failover run, and rightly write no
      // failover claim).
      job: (backend: BackendFactory['name']) => ({
        failover: true,
        cron: backend === 'memory' ? '*/2 * * * * *' : '*/4 * * * * *',
      }),
      matches: (w: ObservedWrite, paths: JobCluster['paths']) =>
        w.ops.some(op => op.startsWith(`create:${paths.sharding}/`) && op.endsWith('/failover')),
      kick: async (p: ProtocolContext) => {
        // A victim runs its items and hangs in them; its session ends: they are in flight, so they fail
        // over. Their new owner's next fire may run them first — rightly, with no failover claim — so a
        // victim that produced no claim is followed by another (three at most).
        for (let attempt = 1; attempt <= 3 && !p.injected(); attempt++) {
          const id = `w-v${attempt}`;
          h.on.add(id);
          p.ledger.hold = h.hold;
          const victim = await p.startMember(id);
          await p.ledger.waitFor(() => p.ledger.instances.has(id), p.waitMs);
          h.on.delete(id);
          await victimFactory!.expireSession(victim.registry);
          await p.ledger.waitFor(() => p.injected(), p.waitMs / 2).catch(() => undefined);
        }
      },
      settle: () => h.release(),
    };
  },
  () => {
    const h = holder();
    return {
      name: 'misfire',
      points: [1],
      job: () => ({ misfire: true }),
      matches: (w: ObservedWrite) =>
        w.method === 'persist' && (w.paths[0] ?? '').endsWith('/misfire'),
      kick: (p: ProtocolContext) => {
        // Runs on w-b outlast a fire: the next fire finds them running and marks them misfire.
        h.on.add('w-b');
        p.ledger.hold = h.hold;
        return Promise.resolve();
      },
      settle: () => {
        h.on.clear();
        h.release();
      },
    };
  },
];

/** The factory of the running suite (the failover protocol expires its victim through it). */
let victimFactory: BackendFactory | undefined;

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
 * write of each multi-write protocol (resharding in chunks, claim, release, failover claim, misfire; the
 * periodic reconcile writes through the resharding pass, covered by the first). On memory every point; on
 * ZooKeeper and etcd a seeded sample (`SHARDLINE_SEED` reproduces one). Each case asserts that every
 * enabled item runs again within a bound, no marker is left, no item overlaps, no token goes back.
 */
export function describeJobInterleavingContract(
  factory: BackendFactory,
  sampleSize?: number,
): void {
  const seed = Number(process.env.SHARDLINE_SEED ?? Date.now() % 100_000);
  const cases = PROTOCOLS.flatMap(make => {
    const { name, points } = make();
    return points.flatMap(point => INTERFERENCES.map(event => ({ make, name, point, event })));
  });
  // SHARDLINE_INTERLEAVINGS=all runs every case on the real servers too (a longer run than npm test's).
  const all = sampleSize === undefined || process.env.SHARDLINE_INTERLEAVINGS === 'all';
  // The failover-claim cases stay out of the real-server sample: their precondition (a failover claim
  // happening before the items' new owner runs them at its next fire, 4 s apart) is a race with the cron.
  // On etcd it failed about one run in five until two lost wake-ups in the claim path were fixed (a
  // queue change during a claim, a claim transaction raced by a resharding); since then 20 of 21 cases
  // passed on a machine at load 17 (the one miss: the precondition, not an assertion). Memory runs them
  // all; SHARDLINE_INTERLEAVINGS=all runs them on the real servers too.
  const chosen = all
    ? cases
    : sample(
        cases.filter(c => c.name !== 'failover claim'),
        sampleSize,
        seed,
      );
  const title = all ? '' : ` (seed ${seed})`;

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

    for (const { make, name, point, event } of chosen) {
      it(`${name}, after write ${point}: ${event}`, async () => {
        const protocol = make();
        victimFactory = factory;
        const ledger = new RunLedger();
        const c = (cluster = new JobCluster(clients, 'job'));
        const observer = await c.observe();
        const job = JobCluster.define({
          name: 'job',
          cron: '* * * * * *',
          shardingTotalCount: ITEMS,
          ...protocol.job?.(factory.name),
          execute: ledger.execute,
        });
        const writeConfig = async (patch: Partial<JobConfig>): Promise<void> => {
          const stored = JSON.parse((await c.observer!.getDirectly(c.paths.config))!) as JobConfig;
          await c.observer!.update(c.paths.config, serializeJobConfig({ ...stored, ...patch }));
        };
        let expectedCount = protocol.items ?? ITEMS;
        const links = new Map<string, CuttableClient>();
        let armed = false;
        let seen = 0;
        let injected: Interference | undefined;

        const inject = async (writer: string): Promise<void> => {
          const link = links.get(writer)!;
          const peer = writer === 'w-a' ? 'w-b' : 'w-a';
          switch (event) {
            case 'request':
              await c.observer!.persist(c.paths.shardingNecessary, '');
              return;
            case 'join':
              await startMember('w-c');
              return;
            case 'leave':
              await c.member(peer).worker.stop({ timeoutMs: 2000 });
              c.members.delete(peer);
              return;
            case 'configChange':
              expectedCount += 2;
              await writeConfig({ shardingTotalCount: expectedCount });
              return;
            case 'leaderLoss': {
              const holderName = latchHolder(
                await c.observer!.getChildrenKeys(c.paths.electionLatch),
              );
              if (holderName !== undefined) {
                await c.observer!.remove(`${c.paths.electionLatch}/${holderName}`);
              }
              return;
            }
            case 'suspendReconnect': {
              const states = queueOf<ConnectionState>(push =>
                link.registry.on('connectionStateChanged', push),
              );
              link.cut();
              expect(await states.take(runMs, 'SUSPENDED')).to.equal('SUSPENDED');
              link.heal();
              let state: ConnectionState;
              do {
                state = await states.take(runMs, 'RECONNECTED');
              } while (state !== 'RECONNECTED');
              return;
            }
            case 'lost':
              await factory.expireSession(link.registry);
              return;
          }
        };
        async function startMember(id: string): Promise<CuttableClient> {
          const link = await clients.cuttable();
          links.set(id, link);
          const hook = (registry: DrivenRegistryCenter): DrivenRegistryCenter =>
            withWriteHook(registry, async write => {
              if (!armed || injected !== undefined || !protocol.matches(write, c.paths)) {
                return;
              }
              seen++;
              if (seen === point) {
                injected = event;
                await inject(id);
                protocol.settle?.(context);
              }
            });
          await c.start(id, job, { registry: link.registry, wrap: hook });
          return link;
        }
        const context: ProtocolContext = {
          c,
          ledger,
          writeConfig,
          startMember,
          waitMs: runMs,
          injected: () => injected !== undefined,
        };

        await startMember('w-a');
        await observer.waitFor(x => x.get(c.paths.electionInstance) === 'w-a', {
          timeoutMs: runMs,
        });
        await startMember('w-b');
        // Settled: both members own items and nothing is pending. The protocol runs from here.
        await observer.waitFor(
          x =>
            !x.has(c.paths.shardingNecessary) &&
            !x.has(c.paths.shardingProcessing) &&
            ['w-a', 'w-b'].every(id =>
              range(ITEMS).some(item => x.get(c.paths.itemInstance(item)) === id),
            ),
          { timeoutMs: runMs },
        );
        armed = true;
        await protocol.kick?.(context);
        await ledger.waitFor(() => injected !== undefined, runMs).catch(() => undefined);
        expect(
          injected,
          `the ${protocol.name} write ${point} happened and ${event} was injected`,
        ).to.equal(event);

        ledger.mark();
        await ledger.waitAllRun(range(expectedCount), runMs).catch((err: Error) => {
          // The registry as the observer sees it: which owners, running records and markers block what.
          const state = [...observer.entries()]
            .filter(([path]) => !path.endsWith('/config'))
            .map(([path, value]) => `${path}=${value.slice(0, 60)}`);
          throw new Error(`${err.message}; registry: ${state.join(' ')}`);
        });
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
