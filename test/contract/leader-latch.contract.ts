import { expect } from 'chai';
import { LeadershipLostError, LockTimeoutError, TransactionError } from '../../lib/errors';
import { Deferred } from '../../lib/internal/async';
import { EventQueue } from '../harness/events';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients, queueOf } from './clients';
import { expectSuccessorOnlyWakes } from './latch-trace';
import { LeaderLatch } from '../../lib/registry/leader-latch';
import type { ConnectionState } from '../../lib/registry/registry-center';

/** executeInLeader: mutual exclusion, FIFO handover, release in every path, abort signal, fencing. */
export function describeLeaderLatchContract(factory: BackendFactory): void {
  describe(`executeInLeader contract (${factory.name})`, function () {
    let clients: Clients;

    beforeEach(() => {
      clients = new Clients(factory);
    });
    afterEach(() => clients.closeAll());

    it('never lets two callbacks overlap, across clients and on one client', async () => {
      const registries = [
        await clients.connect(),
        await clients.connect(),
        await clients.connect(),
      ];
      let inside = 0;
      let maxInside = 0;
      const order: number[] = [];
      const runs = registries.flatMap((r, i) =>
        [0, 1].map(j =>
          r.executeInLeader('/latch', async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            order.push(i * 10 + j);
            await new Promise(resolve => setImmediate(resolve));
            await r.getDirectly('/latch'); // a round trip while holding it
            inside--;
            return i * 10 + j;
          }),
        ),
      );
      const results = await Promise.all(runs);
      expect(results).to.deep.equal([0, 1, 10, 11, 20, 21]);
      expect(maxInside).to.equal(1);
      expect(order).to.have.length(6);
      expect(await registries[0]?.getChildrenKeys('/latch')).to.deep.equal(
        [],
        'every latch node released',
      );
    });

    it('wakes only the successor of a removed node (no herd); a middle waiter leaving re-links its successor', async () => {
      const registries = await Promise.all([0, 1, 2, 3].map(() => clients.connect()));
      await expectSuccessorOnlyWakes(
        '/herd',
        i => {
          const released = new Deferred<void>();
          const stop = new AbortController();
          return {
            done: registries[i]!.executeInLeader('/herd', () => released.promise, {
              signal: stop.signal,
            }).then(
              () => null,
              (e: unknown) => e,
            ),
            leave: () => stop.abort(new Error('left the queue')),
            release: () => released.resolve(),
          };
        },
        ms(factory.sessionTimeoutMs * 2),
      );
      expect(await registries[0]!.getChildrenKeys('/herd')).to.deep.equal([]);
    });

    it('releases the latch when the callback throws', async () => {
      const r = await clients.connect();
      await expect(
        r.executeInLeader('/latch', () => Promise.reject(new Error('boom'))),
      ).to.be.rejectedWith('boom');
      expect(
        await r.executeInLeader('/latch', () => Promise.resolve('next'), { timeoutMs: ms(3000) }),
      ).to.equal('next');
    });

    it('times out with LockTimeoutError naming the holder, leaving no node behind', async () => {
      const a = await clients.connect();
      const b = await clients.connect();
      const held = new Deferred<void>();
      const release = new Deferred<void>();
      const holding = a.executeInLeader('/latch', async () => {
        held.resolve();
        await release.promise;
      });
      await held.promise;
      const err = await b
        .executeInLeader('/latch', () => Promise.resolve(), { timeoutMs: 300 })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(LockTimeoutError);
      expect((err as LockTimeoutError).message)
        .to.contain('/latch')
        .and.contain(`@${process.pid}`);
      release.resolve();
      await holding;
      expect(await b.getChildrenKeys('/latch')).to.deep.equal([]);
    });

    it('hands over when the holder’s session expires, aborting the holder’s signal and fencing its writes', async () => {
      const a = await clients.connect();
      const b = await clients.connect();
      await a.persist('/leader/data', 'init');
      const aborted = new EventQueue<unknown>();
      const states = queueOf<ConnectionState>(push => a.on('connectionStateChanged', push));
      const held = new Deferred<void>();
      const fenceLost = new Deferred<unknown>();
      const holding = a.executeInLeader('/latch', async (signal, fence) => {
        signal.addEventListener('abort', () => aborted.push(signal.reason));
        held.resolve();
        await new Promise(resolve => signal.addEventListener('abort', resolve));
        // A deposed holder tries to write anyway, once its client is usable again: the fence fails it.
        await states.takeUntil(
          s => s === 'RECONNECTED',
          ms(factory.sessionTimeoutMs * 4),
          'RECONNECTED',
        );
        fenceLost.resolve(
          await a
            .executeInTransaction(tx => fence.fence(tx).setData('/leader/data', 'stale'))
            .then(
              () => null,
              (e: unknown) => e,
            ),
        );
      });
      await held.promise;
      const waiting = b.executeInLeader('/latch', async (_signal, fence) => {
        await b.executeInTransaction(tx => fence.fence(tx).setData('/leader/data', 'b'));
        return 'b led';
      });
      await factory.expireSession(a);
      expect(
        await aborted.take(ms(factory.sessionTimeoutMs * 3), 'holder signal abort'),
      ).to.be.instanceOf(LeadershipLostError);
      expect(await waiting).to.equal('b led');
      await holding;
      expect(await fenceLost.promise).to.be.instanceOf(TransactionError);
      expect(await b.getDirectly('/leader/data')).to.equal('b');
    });

    it('aborts the holder’s signal as soon as the connection is cut', async () => {
      const c = await clients.cuttable();
      const aborted = new EventQueue<unknown>();
      const held = new Deferred<void>();
      const run = c.registry.executeInLeader('/latch', async signal => {
        signal.addEventListener('abort', () => aborted.push(signal.reason));
        held.resolve();
        await new Promise(resolve => signal.addEventListener('abort', resolve));
      });
      await held.promise;
      c.cut();
      expect(
        await aborted.take(ms(factory.sessionTimeoutMs * 2), 'abort on SUSPENDED'),
      ).to.be.instanceOf(LeadershipLostError);
      c.heal();
      await run;
    });

    it('deletes its node once the connection is back when the release failed while cut (guaranteed delete)', async () => {
      const c = await clients.cuttable();
      const observer = await clients.connect();
      const states = queueOf<ConnectionState>(push =>
        c.registry.on('connectionStateChanged', push),
      );
      const held = new Deferred<void>();
      const release = new Deferred<void>();
      const run = c.registry.executeInLeader('/latch', async () => {
        held.resolve();
        await release.promise;
      });
      await held.promise;
      const removed = new EventQueue<string>();
      const unwatch = await observer.watch('/latch', e => {
        if (e.type === 'removed') {
          removed.push(e.path);
        }
      });
      c.cut();
      await states.takeUntil(s => s === 'SUSPENDED', ms(factory.sessionTimeoutMs * 2), 'SUSPENDED');
      release.resolve();
      await run; // the delete failed: queued for the reconnection
      expect(await observer.getChildrenKeys('/latch')).to.have.length(1, 'node kept while cut');
      c.heal();
      const [state] = (
        await states.takeUntil(
          s => s === 'RECONNECTED' || s === 'LOST',
          ms(factory.sessionTimeoutMs * 2),
          'RECONNECTED',
        )
      ).slice(-1);
      expect(state).to.equal('RECONNECTED');
      await removed.take(ms(factory.sessionTimeoutMs * 2), 'the latch node deleted');
      unwatch();
      expect(await observer.getChildrenKeys('/latch')).to.deep.equal([]);
    });

    it('LeaderLatch: isLeader() and the isLeader/notLeader edges follow the hold; SUSPENDED ends it', async () => {
      const c = await clients.cuttable();
      const errors: Error[] = [];
      const latch = new LeaderLatch(c.registry, '/latch', {
        value: 'me',
        onError: e => errors.push(e),
      });
      const edges = new EventQueue<string>();
      latch.on('isLeader', () => edges.push('isLeader'));
      latch.on('notLeader', e => edges.push(`notLeader ${e.name}`));
      expect(latch.isLeader()).to.equal(false);
      expect(latch.signal.aborted).to.equal(true);
      await latch.start();
      const hold = await latch.acquire();
      expect(await edges.take(ms(1000), 'isLeader')).to.equal('isLeader');
      expect(latch.isLeader()).to.equal(true);
      expect(latch.signal).to.equal(hold.signal);
      expect(hold.path).to.equal(latch.path);
      c.cut();
      expect(await edges.take(ms(factory.sessionTimeoutMs * 2), 'notLeader')).to.equal(
        'notLeader LeadershipLostError',
      );
      expect(latch.isLeader()).to.equal(false);
      c.heal();
      await latch.close(new Error('done'));
      expect(edges.drain()).to.deep.equal([], 'one edge each way');
      expect(errors).to.deep.equal([]);
    });

    it('aborts waiting and the held signal through the caller’s signal', async () => {
      const r = await clients.connect();
      const controller = new AbortController();
      const run = r.executeInLeader(
        '/latch',
        signal =>
          new Promise<string>(resolve => {
            signal.addEventListener('abort', () => resolve('stopped'));
            controller.abort(new Error('caller stop'));
          }),
        { signal: controller.signal },
      );
      expect(await run).to.equal('stopped');
    });
  });
}
