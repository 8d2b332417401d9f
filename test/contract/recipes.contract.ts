import { expect } from 'chai';
import {
  ClosedError,
  CorruptedDataError,
  InvalidArgumentError,
  LeadershipLostError,
  LockTimeoutError,
  NotLeaderError,
  TransactionError,
} from '../../lib/errors';
import { Deferred } from '../../lib/internal/async';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  NodeStat,
  RegistryEvent,
} from '../../lib/registry/registry-center';
import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import { createLock } from '../../lib/recipes/distributed-lock';
import { createLeaderElection, type LeaderInfo } from '../../lib/recipes/leader-election';
import { registerService, type ServiceInstance } from '../../lib/recipes/service-registration';
import { discoverServices } from '../../lib/recipes/service-discovery';
import { watchConfig, type ConfigChange } from '../../lib/recipes/config-watcher';
import { EventQueue } from '../harness/events';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients, queueOf } from './clients';
import { expectSuccessorOnlyWakes } from './latch-trace';

/** Same object, with some members replaced (to make a recipe miss a watch or read a stale version). */
function withOverrides(
  registry: DrivenRegistryCenter,
  overrides: Partial<CoordinatorRegistryCenter>,
): CoordinatorRegistryCenter {
  return new Proxy(registry, {
    get(target, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) {
        return (overrides as Record<string | symbol, unknown>)[prop];
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

async function watchQueue(
  registry: CoordinatorRegistryCenter,
  path: string,
): Promise<{ queue: EventQueue<RegistryEvent>; stop: () => void }> {
  const queue = new EventQueue<RegistryEvent>();
  const stop = await registry.watch(path, e => queue.push(e));
  return { queue, stop };
}

async function settle<T>(p: Promise<T>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

/** Lock, election, service discovery and config watcher over the registry contract (lib/recipes). */
export function describeRecipesContract(factory: BackendFactory): void {
  const T = factory.sessionTimeoutMs;

  describe(`recipes contract (${factory.name})`, function () {
    this.timeout(ms(T * 8 + 10_000));
    let clients: Clients;
    const closers: { close(): Promise<void> }[] = [];
    function track<C extends { close(): Promise<void> }>(c: C): C {
      closers.push(c);
      return c;
    }

    beforeEach(() => {
      clients = new Clients(factory);
    });
    afterEach(async () => {
      await Promise.all(closers.splice(0).map(c => c.close().catch(() => undefined)));
      await clients.closeAll();
    });

    describe('distributed lock', () => {
      it('excludes holders across clients and releases every node', async () => {
        const registries = await Promise.all([
          clients.connect(),
          clients.connect(),
          clients.connect(),
        ]);
        let inside = 0;
        let maxInside = 0;
        const runs = registries.flatMap(r =>
          [0, 1].map(async () => {
            const lock = track(createLock(r, '/locks/a'));
            await lock.withLock(async () => {
              inside++;
              maxInside = Math.max(maxInside, inside);
              await r.getDirectly('/locks/a');
              inside--;
            });
          }),
        );
        await Promise.all(runs);
        expect(maxInside).to.equal(1);
        expect(await registries[0]?.getChildrenKeys('/locks/a')).to.deep.equal([]);
      });

      it('grants the lock in FIFO order, each waiter waking on its predecessor', async () => {
        const [a, b, c] = await Promise.all([
          clients.connect(),
          clients.connect(),
          clients.connect(),
        ]);
        const { queue: added, stop } = await watchQueue(a, '/locks/fifo');
        const lockA = track(createLock(a, '/locks/fifo'));
        await lockA.acquire();
        const order: string[] = [];
        const lockB = track(createLock(b, '/locks/fifo'));
        const lockC = track(createLock(c, '/locks/fifo'));
        const waitAdded = () =>
          added.takeUntil(
            e => e.type === 'added' && e.path.startsWith('/locks/fifo/'),
            ms(T * 2),
            'a queue node',
          );
        await waitAdded(); // A's node
        const gotB = lockB.acquire().then(() => order.push('b'));
        await waitAdded();
        const gotC = lockC.acquire().then(() => order.push('c'));
        await waitAdded();
        stop();
        await lockA.release();
        await gotB;
        expect(order).to.deep.equal(['b']);
        await lockB.release();
        await gotC;
        expect(order).to.deep.equal(['b', 'c']);
        await lockC.release();
      });

      it('wakes only the successor of a released or abandoned acquisition (no herd)', async () => {
        const registries = await Promise.all([0, 1, 2, 3].map(() => clients.connect()));
        await expectSuccessorOnlyWakes(
          '/locks/herd',
          i => {
            const lock = track(createLock(registries[i]!, '/locks/herd'));
            const released = new Deferred<void>();
            const stop = new AbortController();
            return {
              done: settle(
                lock.acquire({ signal: stop.signal }).then(async () => {
                  await released.promise;
                  await lock.release();
                }),
              ),
              leave: () => stop.abort(new Error('left the queue')),
              release: () => released.resolve(),
            };
          },
          ms(T * 2),
        );
        expect(await registries[0]!.getChildrenKeys('/locks/herd')).to.deep.equal([]);
      });

      it('times out with LockTimeoutError naming the path and the holder', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        const held = track(createLock(a, '/locks/t', { holderId: 'holder-a' }));
        await held.acquire();
        const waiter = track(createLock(b, '/locks/t', { timeoutMs: 300 }));
        const err = await settle(waiter.acquire());
        expect(err).to.be.instanceOf(LockTimeoutError);
        expect((err as LockTimeoutError).message)
          .to.contain('/locks/t')
          .and.contain('holder-a');
        expect((err as LockTimeoutError).holder).to.equal('holder-a');
        expect(waiter.isHeld).to.equal(false);
        await held.release();
        expect(await b.getChildrenKeys('/locks/t')).to.deep.equal([]);
      });

      it('withLock releases when the callback throws; reentry and use after close are rejected', async () => {
        const r = await clients.connect();
        const lock = track(createLock(r, '/locks/w'));
        await expect(lock.withLock(() => Promise.reject(new Error('boom')))).to.be.rejectedWith(
          'boom',
        );
        expect(lock.isHeld).to.equal(false);
        expect(await r.getChildrenKeys('/locks/w')).to.deep.equal([]);
        await lock.acquire({ timeoutMs: ms(3000) });
        await expect(lock.acquire()).to.be.rejectedWith(InvalidArgumentError, /not reentrant/);
        const other = track(createLock(r, '/locks/w', { timeoutMs: 200 }));
        await expect(other.acquire()).to.be.rejectedWith(LockTimeoutError);
        await lock.close();
        await lock.close();
        expect(await r.getChildrenKeys('/locks/w')).to.deep.equal([]);
        await expect(lock.acquire()).to.be.rejectedWith(ClosedError);
        await expect(lock.release()).to.be.rejectedWith(ClosedError);
      });

      it('aborts the holder’s signal on session expiry, hands over, and fails the deposed holder’s fenced write', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        await a.persist('/data/owner', 'none');
        const states = queueOf<ConnectionState>(push => a.on('connectionStateChanged', push));
        const lockA = track(createLock(a, '/locks/x'));
        const signal = await lockA.acquire();
        const aborted = new Deferred<unknown>();
        signal.addEventListener('abort', () => aborted.resolve(signal.reason));
        const lockB = track(createLock(b, '/locks/x'));
        const gotB = lockB.acquire();
        await factory.expireSession(a);
        expect(await aborted.promise).to.be.instanceOf(LeadershipLostError);
        expect(lockA.isHeld).to.equal(false);
        await gotB;
        await b.executeInTransaction(tx => lockB.fence(tx).setData('/data/owner', 'b'));
        await states.takeUntil(s => s === 'RECONNECTED', ms(T * 4), 'RECONNECTED');
        const err = await settle(
          a.executeInTransaction(tx => lockA.fence(tx).setData('/data/owner', 'a')),
        );
        expect(err).to.be.instanceOf(TransactionError);
        expect(await b.getDirectly('/data/owner')).to.equal('b');
        await lockA.release();
      });
    });

    describe('leader election', () => {
      it('wakes only the successor of a resigned candidate (no herd)', async () => {
        const registries = await Promise.all([0, 1, 2, 3].map(() => clients.connect()));
        await expectSuccessorOnlyWakes(
          '/elect/herd',
          i => {
            const election = track(
              createLeaderElection(registries[i]!, '/elect/herd', { candidateId: `c${i}` }),
            );
            const released = new Deferred<void>();
            let resigning = Promise.resolve();
            return {
              done: settle(
                election.campaign().then(async () => {
                  await released.promise;
                  await election.resign();
                }),
              ).then(() => resigning),
              leave: () => {
                resigning = election.resign();
              },
              release: () => released.resolve(),
            };
          },
          ms(T * 2),
        );
        expect(await registries[0]!.getChildrenKeys('/elect/herd')).to.deep.equal([]);
      });

      it('elects one leader among N, reports it everywhere, and hands over on resign in queue order', async () => {
        const registries = await Promise.all([
          clients.connect(),
          clients.connect(),
          clients.connect(),
        ]);
        const elections = registries.map((r, i) =>
          track(createLeaderElection(r, '/elect/a', { candidateId: `c${i}`, value: `v${i}` })),
        );
        const changes = elections.map(e =>
          queueOf<LeaderInfo | null>(push => e.on('leaderChanged', push)),
        );
        const { queue: added, stop } = await watchQueue(registries[0], '/elect/a');
        const queued = () =>
          added.takeUntil(
            e => e.type === 'added' && e.path.startsWith('/elect/a/'),
            ms(T * 2),
            'a candidate node',
          );
        const first = await elections[0]!.campaign();
        expect(first.signal.aborted).to.equal(false);
        await queued();
        const others = [elections[1]!.campaign()];
        await queued();
        others.push(elections[2]!.campaign());
        await queued();
        stop();
        expect(elections.map(e => e.isLeader)).to.deep.equal([true, false, false]);
        expect(await elections[2]!.leader()).to.deep.equal({ candidateId: 'c0', value: 'v0' });
        for (const q of changes) {
          const seen = await q.takeUntil(l => l?.candidateId === 'c0', ms(T * 2), 'leader c0');
          expect(seen[seen.length - 1]).to.deep.equal({ candidateId: 'c0', value: 'v0' });
        }
        const revoked = queueOf<Error>(push => elections[0]!.on('revoked', push));
        const elected1 = queueOf<unknown>(push => elections[1]!.on('elected', push));
        await elections[0]!.resign();
        expect(await revoked.take(ms(T), 'revoked')).to.be.instanceOf(NotLeaderError);
        expect(first.signal.aborted).to.equal(true);
        await elected1.take(ms(T * 2), 'c1 elected');
        await others[0];
        expect(elections.map(e => e.isLeader)).to.deep.equal([false, true, false]);
        await changes[2]!.takeUntil(l => l?.candidateId === 'c1', ms(T * 2), 'leader c1');
        await elections[1]!.resign();
        await others[1];
        expect(await elections[0]!.leader()).to.deep.equal({ candidateId: 'c2', value: 'v2' });
        await elections[2]!.close();
        await changes[0]!.takeUntil(l => l === null, ms(T * 2), 'no leader');
        await expect(elections[2]!.campaign()).to.be.rejectedWith(ClosedError);
      });

      it('re-campaigns by itself after LOST, and a deposed leader’s fenced write fails', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        await a.persist('/data/leader', 'none');
        const ea = track(createLeaderElection(a, '/elect/b', { candidateId: 'a' }));
        const eb = track(createLeaderElection(b, '/elect/b', { candidateId: 'b' }));
        const termA = await ea.campaign();
        const electedA = queueOf<unknown>(push => ea.on('elected', push));
        const revokedA = queueOf<Error>(push => ea.on('revoked', push));
        const bLeads = eb.campaign();
        const states = queueOf<ConnectionState>(push => a.on('connectionStateChanged', push));
        await factory.expireSession(a);
        expect(await revokedA.take(ms(T * 3), 'a revoked')).to.be.instanceOf(LeadershipLostError);
        const termB = await bLeads;
        await b.executeInTransaction(tx => termB.fence(tx).setData('/data/leader', 'b'));
        await states.takeUntil(s => s === 'RECONNECTED', ms(T * 4), 'RECONNECTED');
        // The deposed leader writes through its old term: refused.
        const err = await settle(
          a.executeInTransaction(tx => termA.fence(tx).setData('/data/leader', 'a')),
        );
        expect(err).to.be.instanceOf(TransactionError);
        // a is back in the race by itself: it takes over when b resigns.
        await eb.resign();
        await electedA.take(ms(T * 4), 'a elected again');
        expect(ea.isLeader).to.equal(true);
        expect(await eb.leader()).to.deep.equal({ candidateId: 'a', value: '' });
        await a.executeInTransaction(tx => ea.fence(tx).setData('/data/leader', 'a'));
        expect(await b.getDirectly('/data/leader')).to.equal('a');
      });
    });

    describe('service registry and discovery', () => {
      it('reports added / updated / removed, deregisters on close, and picks round robin', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        const discovery = track(await discoverServices(b, 'billing'));
        expect(discovery.list()).to.deep.equal([]);
        expect(discovery.pick()).to.equal(undefined);
        const added = queueOf<ServiceInstance>(push => discovery.on('added', push));
        const updated = new EventQueue<[ServiceInstance, ServiceInstance]>();
        discovery.on('updated', (now, before) => updated.push([now, before]));
        const removed = queueOf<ServiceInstance>(push => discovery.on('removed', push));
        const regs = await Promise.all(
          ['s1', 's2', 's3'].map(id =>
            registerService(a, 'billing', {
              id,
              endpoint: `http://${id}:80`,
              metadata: { zone: 'z' },
            }),
          ),
        );
        regs.forEach(track);
        const ids = new Set<string>();
        for (let i = 0; i < 3; i++) {
          ids.add((await added.take(ms(T * 2), 'added')).id);
        }
        expect([...ids].sort()).to.deep.equal(['s1', 's2', 's3']);
        expect(discovery.list().map(s => s.endpoint)).to.deep.equal([
          'http://s1:80',
          'http://s2:80',
          'http://s3:80',
        ]);
        expect([1, 2, 3, 4].map(() => discovery.pick()?.id)).to.deep.equal([
          's1',
          's2',
          's3',
          's1',
        ]);
        await regs[1]!.update({ metadata: { zone: 'y' } });
        const [now, before] = await updated.take(ms(T * 2), 'updated');
        expect(now.metadata).to.deep.equal({ zone: 'y' });
        expect(before.metadata).to.deep.equal({ zone: 'z' });
        await regs[0]!.close();
        await regs[0]!.close();
        expect((await removed.take(ms(T * 2), 'removed')).id).to.equal('s1');
        expect(discovery.list().map(s => s.id)).to.deep.equal(['s2', 's3']);
        await expect(regs[0]!.update({ endpoint: 'x' })).to.be.rejectedWith(ClosedError);
        const errors = queueOf<Error>(push => discovery.on('error', push));
        await b.persist('/services/billing/bad', 'not json');
        const err = await errors.take(ms(T * 2), 'a corrupted registration');
        expect(err).to.be.instanceOf(CorruptedDataError);
        expect(err.message).to.contain('/services/billing/bad');
        await discovery.close();
        expect(() => discovery.list()).to.throw(ClosedError);
      });

      it('re-registers after the session expired', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        const discovery = track(await discoverServices(b, 'api'));
        const events = new EventQueue<string>();
        discovery.on('added', i => events.push(`added ${i.id}`));
        discovery.on('removed', i => events.push(`removed ${i.id}`));
        const reg = track(await registerService(a, 'api', { id: 'x', endpoint: 'http://x' }));
        const registered = queueOf<number>(push => reg.on('registered', push));
        expect(await events.take(ms(T * 2), 'added')).to.equal('added x');
        const epoch = a.sessionEpoch;
        await factory.expireSession(a);
        expect(await registered.take(ms(T * 4), 're-registration')).to.be.greaterThan(epoch);
        await events.takeUntil(e => e === 'added x', ms(T * 4), 'added again');
        expect(discovery.list().map(i => i.id)).to.deep.equal(['x']);
        expect(await b.getStat('/services/api/x')).to.include({ ephemeral: true });
      });
    });

    describe('config watcher', () => {
      it('emits changed with old and new values; keeps the last good value on a parse error', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        await b.persist('/cfg/app', '{"n":1}');
        const config = track(
          await watchConfig<{ n: number }>(a, '/cfg/app', { resyncIntervalMs: 0 }),
        );
        expect(config.value).to.deep.equal({ n: 1 });
        const changes = queueOf<ConfigChange<{ n: number }>>(push => config.on('changed', push));
        const errors = queueOf<Error>(push => config.on('error', push));
        await b.update('/cfg/app', '{"n":2}');
        const change = await changes.take(ms(T * 2), 'changed');
        expect(change).to.deep.include({
          path: '/cfg/app',
          value: { n: 2 },
          previous: { n: 1 },
          version: 1,
        });
        await b.update('/cfg/app', '{broken');
        const err = await errors.take(ms(T * 2), 'parse error');
        expect(err).to.be.instanceOf(CorruptedDataError);
        expect(err.message).to.contain('/cfg/app');
        expect(config.value).to.deep.equal({ n: 2 });
        expect(config.error).to.equal(err);
        await b.update('/cfg/app', '{"n":3}');
        expect((await changes.take(ms(T * 2), 'changed')).previous).to.deep.equal({ n: 2 });
        expect(config.error).to.equal(undefined);
        await config.close();
        await config.close();
        await expect(config.resync()).to.be.rejectedWith(ClosedError);
      });

      it('repairs a change its watch missed at the next periodic resync', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        await b.persist('/cfg/deaf', '"v1"');
        // The watcher's watch never fires: only the resync can see the change.
        const deaf = withOverrides(a, { watch: () => Promise.resolve(() => undefined) });
        const config = track(
          await watchConfig<string>(deaf, '/cfg/deaf', { resyncIntervalMs: 200 }),
        );
        const changes = queueOf<ConfigChange<string>>(push => config.on('changed', push));
        await b.update('/cfg/deaf', '"v2"');
        const change = await changes.take(ms(T + 2000), 'resync change');
        expect(change).to.deep.include({ value: 'v2', previous: 'v1' });
      });

      it('ignores a stale (older) version', async () => {
        const [a, b] = await Promise.all([clients.connect(), clients.connect()]);
        await b.persist('/cfg/s', '1');
        const old = await a.getStat('/cfg/s');
        const lag: { stale?: NodeStat | null } = {};
        const lagging = withOverrides(a, {
          getStat: (path: string) =>
            lag.stale !== undefined ? Promise.resolve(lag.stale) : a.getStat(path),
        });
        const config = track(await watchConfig<number>(lagging, '/cfg/s', { resyncIntervalMs: 0 }));
        const changes = queueOf<ConfigChange<number>>(push => config.on('changed', push));
        await b.update('/cfg/s', '2');
        expect((await changes.take(ms(T * 2), 'changed')).value).to.equal(2);
        lag.stale = old; // a late reply carrying version 0
        await config.resync();
        expect(config.value).to.equal(2);
        expect(config.currentVersion).to.equal(1);
        expect(changes.pending).to.deep.equal([]);
      });
    });
  });
}
