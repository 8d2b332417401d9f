import { expect } from 'chai';
import {
  ClosedError,
  InvalidArgumentError,
  InvalidPathError,
  NodeExistsError,
  NoNodeError,
  BadVersionError,
  TransactionError,
} from '../../lib/errors';
import type { ConnectionState } from '../../lib/registry/registry-center';
import { MAX_TXN_OPS, type TransactionBuilder } from '../../lib/registry/txn';
import { waitFor } from '../harness/events';
import { ms } from '../harness/timing';
import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import type { BackendFactory } from './backend-factory';
import { Clients, queueOf } from './clients';

/** CRUD, ephemerals, sequential nodes, transactions, errors and session states on one backend. */
export function describeRegistryCenterContract(factory: BackendFactory): void {
  describe(`registry center contract (${factory.name})`, function () {
    let clients: Clients;

    beforeEach(() => {
      clients = new Clients(factory);
    });
    afterEach(() => clients.closeAll());

    describe('reads and writes', () => {
      it('persists with parents, reads back, and reports absence as null', async () => {
        const r = await clients.connect();
        expect(await r.get('/a/b/c')).to.equal(null);
        expect(await r.getDirectly('/a/b/c')).to.equal(null);
        await r.persist('/a/b/c', 'v1');
        expect(await r.getDirectly('/a/b/c')).to.equal('v1');
        expect(await r.get('/a/b/c')).to.equal('v1');
        expect(await r.isExisted('/a/b')).to.equal(true);
        expect(await r.getDirectly('/a/b')).to.equal('');
        await r.persist('/a/b/c', 'v2');
        expect(await r.get('/a/b/c')).to.equal('v2');
        expect((await r.getStat('/a/b/c'))?.version).to.equal(1);
      });

      it('persist stays an upsert while other clients create and delete the same node', async () => {
        const writers = [await clients.connect(), await clients.connect(), await clients.connect()];
        const [a, b, c] = writers as [
          DrivenRegistryCenter,
          DrivenRegistryCenter,
          DrivenRegistryCenter,
        ];
        // Races of set-vs-delete and create-vs-create: every persist must succeed all the same.
        for (let round = 0; round < 150; round++) {
          await Promise.all([
            a.persist('/race/flag', `a${round}`),
            b.remove('/race/flag'),
            c.persist('/race/flag', `c${round}`),
            b.persist('/race/flag', `b${round}`),
            a.remove('/race/flag'),
            c.remove('/race/flag'),
            a.persist('/race/flag', `d${round}`),
          ]);
        }
        await a.persist('/race/flag', 'last');
        expect(await b.getDirectly('/race/flag')).to.equal('last');
      });

      it('update sets an existing node and rejects an absent one with NoNodeError', async () => {
        const r = await clients.connect();
        await expect(r.update('/missing', 'x')).to.be.rejectedWith(NoNodeError, '/missing');
        await r.persist('/n', '1');
        await r.update('/n', '2');
        expect(await r.getDirectly('/n')).to.equal('2');
      });

      it('lists children sorted ascending and counts them; [] when absent', async () => {
        const r = await clients.connect();
        expect(await r.getChildrenKeys('/p')).to.deep.equal([]);
        expect(await r.getNumChildren('/p')).to.equal(0);
        for (const name of ['b', '10', 'a', '2', 'B']) {
          await r.persist(`/p/${name}`, name);
        }
        await r.persist('/p/a/deep', 'x');
        expect(await r.getChildrenKeys('/p')).to.deep.equal(['10', '2', 'B', 'a', 'b']);
        expect(await r.getNumChildren('/p')).to.equal(5);
      });

      it('removes a subtree, never a sibling that shares a prefix, and ignores absent nodes', async () => {
        const r = await clients.connect();
        await r.persist('/a/1/x/y', 'deep');
        await r.persist('/a/10', 'sibling');
        await r.persist('/a/1', 'one');
        await r.remove('/a/1');
        expect(await r.isExisted('/a/1')).to.equal(false);
        expect(await r.isExisted('/a/1/x/y')).to.equal(false);
        expect(await r.getDirectly('/a/10')).to.equal('sibling');
        expect(await r.getChildrenKeys('/a')).to.deep.equal(['10']);
        await r.remove('/a/1');
        await r.remove('/never/was');
      });

      it('removes a subtree of 4,000 nodes (thousands of requests on ZooKeeper) and nothing beside it', async () => {
        // The request timeout applies to each step of the removal, not to all of it (the deadline itself is
        // unit-tested with mock timers in remove-deadline.test.ts; here the default timeout keeps a loaded
        // machine from failing a single pipelined request).
        const r = await clients.connect();
        await r.persist('/wide', '');
        for (let branch = 0; branch < 40; branch++) {
          await r.executeInTransaction(tx => {
            tx.create(`/wide/b${branch}`, '');
            for (let leaf = 0; leaf < 99; leaf++) {
              tx.create(`/wide/b${branch}/l${leaf}`, 'x');
            }
          });
        }
        await r.persist('/wide-sibling', 'kept');
        expect(await r.getNumChildren('/wide')).to.equal(40);
        await r.remove('/wide');
        expect(await r.isExisted('/wide')).to.equal(false);
        expect(await r.getChildrenKeys('/wide/b0')).to.deep.equal([]);
        expect(await r.getDirectly('/wide-sibling')).to.equal('kept');
      });

      it('keeps children of /servers apart from /serversX', async () => {
        const r = await clients.connect();
        await r.persist('/servers/a', '1');
        await r.persist('/serversX/b', '2');
        expect(await r.getChildrenKeys('/servers')).to.deep.equal(['a']);
        expect(await r.getChildrenKeys('/')).to.deep.equal(['servers', 'serversX']);
      });

      it('rejects invalid paths with InvalidPathError naming the path', async () => {
        const r = await clients.connect();
        for (const bad of ['', 'relative', '/trailing/', '/a//b', '/ctl\u0001x', '/a/../b']) {
          const err = await r.get(bad).then(
            () => null,
            (e: unknown) => e,
          );
          expect(err, bad).to.be.instanceOf(InvalidPathError);
          expect((err as InvalidPathError).message).to.contain(JSON.stringify(bad));
        }
        await expect(r.persist('/', 'x')).to.be.rejectedWith(InvalidPathError);
      });

      it('reads the registry clock to within a few seconds of ours', async () => {
        const r = await clients.connect();
        const t = await r.getRegistryCenterTime('/systemTime/current');
        expect(Math.abs(t - Date.now())).to.be.lessThan(5_000);
      });

      it('get() sees another client’s change through its coherent read cache', async () => {
        const a = await clients.connect();
        const b = await clients.connect();
        await b.persist('/hot', '1');
        expect(await a.get('/hot')).to.equal('1');
        expect(await a.get('/hot')).to.equal('1'); // served from the read cache now
        await b.update('/hot', '2');
        // The read cache has no event of its own: its entry is dropped when the backend's watch fires.
        await waitFor(
          async () => (await a.get('/hot')) === '2',
          ms(5000),
          "a's get('/hot') to see '2'",
        );
        await a.persist('/hot', '3');
        expect(await a.get('/hot')).to.equal('3', 'own writes are visible at once');
      });
    });

    describe('ephemeral and sequential nodes', () => {
      it('ephemeral nodes are visible to others and vanish at close()', async () => {
        const a = await clients.connect();
        const b = await clients.connect();
        await a.persistEphemeral('/instances/a', 'alive');
        expect(await b.getDirectly('/instances/a')).to.equal('alive');
        expect((await b.getStat('/instances/a'))?.ephemeral).to.equal(true);
        await a.update('/instances/a', 'updated');
        expect((await b.getStat('/instances/a'))?.ephemeral).to.equal(
          true,
          'update keeps the node ephemeral',
        );
        await a.close();
        expect(await b.isExisted('/instances/a')).to.equal(false);
        expect(await b.isExisted('/instances')).to.equal(true, 'parents are persistent');
      });

      it('persistEphemeral upserts', async () => {
        const a = await clients.connect();
        await a.persistEphemeral('/e', '1');
        await a.persistEphemeral('/e', '2');
        expect(await a.getDirectly('/e')).to.equal('2');
        await a.persist('/p', 'persistent');
        await a.persistEphemeral('/p', 'now ephemeral');
        expect((await a.getStat('/p'))?.ephemeral).to.equal(true);
      });

      it('sequential nodes get increasing 10-digit suffixes across clients', async () => {
        const a = await clients.connect();
        const b = await clients.connect();
        const paths: string[] = [];
        for (let i = 0; i < 3; i++) {
          paths.push(await a.persistSequential('/seq/job-', `a${i}`));
          paths.push(await b.persistEphemeralSequential('/seq/job-', `b${i}`));
        }
        for (const p of paths) {
          expect(p).to.match(/^\/seq\/job-\d{10}$/);
        }
        expect([...paths].sort()).to.deep.equal(paths, 'creation order = string order');
        expect(new Set(paths).size).to.equal(6);
        expect(await a.getDirectly(paths[1] ?? '')).to.equal('b0');
        await b.close();
        expect(await a.getChildrenKeys('/seq')).to.have.length(3);
      });
    });

    describe('transactions', () => {
      it('applies all ops atomically', async () => {
        const r = await clients.connect();
        await r.persist('/t/a', 'a0');
        await r.persist('/t/b/c', 'c');
        await r.executeInTransaction(tx =>
          tx
            .check('/t/a', 0)
            .setData('/t/a', 'a1', 0)
            .create('/t/new', 'n')
            .create('/t/new/child', 'x')
            .delete('/t/b'),
        );
        expect(await r.getDirectly('/t/a')).to.equal('a1');
        expect(await r.getDirectly('/t/new/child')).to.equal('x');
        expect(await r.isExisted('/t/b')).to.equal(false);
      });

      it('applies nothing when one op fails, and names the failing op', async () => {
        const r = await clients.connect();
        await r.persist('/t/a', 'a0');
        await r.update('/t/a', 'a1'); // version 1
        const cases: [
          string,
          (tx: TransactionBuilder) => void,
          number,
          new (...args: never[]) => Error,
        ][] = [
          ['version 0 is honoured', tx => tx.setData('/t/x', 'x').check('/t/a', 0), 0, NoNodeError],
          ['bad version', tx => tx.create('/t/x', 'x').check('/t/a', 0), 1, BadVersionError],
          ['exists', tx => tx.create('/t/x', 'x').create('/t/a', 'dup'), 1, NodeExistsError],
          [
            'missing parent',
            tx => tx.create('/t/x', 'x').create('/t/no/parent', 'p'),
            1,
            NoNodeError,
          ],
          ['delete absent', tx => tx.create('/t/x', 'x').delete('/t/gone'), 1, NoNodeError],
          [
            'setData bad version',
            tx => tx.create('/t/x', 'x').setData('/t/a', 'z', 0),
            1,
            BadVersionError,
          ],
        ];
        for (const [name, build, index, cause] of cases) {
          const err = await r.executeInTransaction(build).then(
            () => null,
            (e: unknown) => e,
          );
          expect(err, name).to.be.instanceOf(TransactionError);
          expect((err as TransactionError).failedIndex, name).to.equal(index);
          expect((err as TransactionError).cause, name).to.be.instanceOf(cause);
          expect(await r.isExisted('/t/x'), `${name}: nothing applied`).to.equal(false);
        }
        expect(await r.getDirectly('/t/a')).to.equal('a1');
      });

      // The documented maximum is MAX_TXN_OPS (128) ops, whatever backend-specific compares or writes they
      // take (on etcd a create also checks its parent, and a delete removes the key and its subtree).
      it(`commits the documented maximum of ${MAX_TXN_OPS} ops: creates under an existing or a new parent, deletes, mixed`, async () => {
        const r = await clients.connect();
        const names = Array.from(
          { length: MAX_TXN_OPS },
          (_, i) => `c${String(i).padStart(3, '0')}`,
        );
        await r.persist('/max/existing', '');
        await r.executeInTransaction(tx => {
          for (const name of names) {
            tx.create(`/max/existing/${name}`, name);
          }
        });
        expect(await r.getNumChildren('/max/existing')).to.equal(MAX_TXN_OPS);
        expect(await r.getDirectly('/max/existing/c127')).to.equal('c127');

        await r.executeInTransaction(tx => {
          tx.create('/max/new', 'n');
          for (const name of names.slice(1)) {
            // The upper half gets children below; ZooKeeper allows no child under an ephemeral node.
            tx.create(`/max/new/${name}`, name, name < 'c064' ? 'EPHEMERAL' : 'PERSISTENT');
          }
        });
        expect(await r.getNumChildren('/max/new')).to.equal(MAX_TXN_OPS - 1);

        await r.executeInTransaction(tx => {
          for (const name of names.slice(0, MAX_TXN_OPS / 2)) {
            tx.setData(`/max/existing/${name}`, 'v1', 0);
          }
          for (const name of names.slice(MAX_TXN_OPS / 2)) {
            tx.create(`/max/new/${name}/child`, 'x');
          }
        });
        expect(await r.getDirectly('/max/existing/c000')).to.equal('v1');
        expect(await r.getDirectly('/max/new/c127/child')).to.equal('x');

        await r.executeInTransaction(tx => {
          for (const name of names) {
            tx.delete(`/max/existing/${name}`);
          }
        });
        expect(await r.getChildrenKeys('/max/existing')).to.deep.equal([]);
        expect(await r.isExisted('/max/existing')).to.equal(true);
      });

      it(`races two ${MAX_TXN_OPS}-op transactions on the same nodes: one applies whole, the other nothing`, async () => {
        const [a, b] = [await clients.connect(), await clients.connect()];
        await a.persist('/race', '');
        for (let round = 0; round < 5; round++) {
          const parent = `/race/r${round}`;
          await a.persist(parent, '');
          const commit = (r: typeof a, value: string): Promise<unknown> =>
            r
              .executeInTransaction(tx => {
                for (let i = 0; i < MAX_TXN_OPS; i++) {
                  tx.create(`${parent}/c${String(i).padStart(3, '0')}`, value);
                }
              })
              .then(
                () => value,
                (e: unknown) => e,
              );
          const outcomes = await Promise.all([commit(a, 'a'), commit(b, 'b')]);
          const winners = outcomes.filter(o => typeof o === 'string');
          expect(winners, `round ${round}: ${String(outcomes)}`).to.have.length(1);
          const loser = outcomes.find(o => typeof o !== 'string');
          expect(loser).to.be.instanceOf(TransactionError);
          expect((loser as TransactionError).cause).to.be.instanceOf(NodeExistsError);
          const children = await a.getChildrenKeys(parent);
          expect(children).to.have.length(MAX_TXN_OPS);
          const values = await Promise.all(children.map(c => a.getDirectly(`${parent}/${c}`)));
          expect(new Set(values)).to.deep.equal(new Set(winners));
        }
      });

      it(`names the failing op of a ${MAX_TXN_OPS}-op transaction and applies nothing`, async () => {
        const r = await clients.connect();
        await r.persist('/max/p/c127', 'taken');
        const err = await r
          .executeInTransaction(tx => {
            for (let i = 0; i < MAX_TXN_OPS; i++) {
              tx.create(`/max/p/c${String(i).padStart(3, '0')}`, 'x');
            }
          })
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(err).to.be.instanceOf(TransactionError);
        expect((err as TransactionError).failedIndex).to.equal(MAX_TXN_OPS - 1);
        expect((err as TransactionError).cause).to.be.instanceOf(NodeExistsError);
        expect(await r.getChildrenKeys('/max/p')).to.deep.equal(['c127']);
      });

      it(`refuses ${MAX_TXN_OPS + 1} ops with an error naming the limit, and applies nothing`, async () => {
        const r = await clients.connect();
        await r.persist('/max/over', '');
        const err = await r
          .executeInTransaction(tx => {
            for (let i = 0; i <= MAX_TXN_OPS; i++) {
              tx.create(`/max/over/c${i}`, 'x');
            }
          })
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(err).to.be.instanceOf(InvalidArgumentError);
        expect((err as Error).message).to.contain(`at most ${MAX_TXN_OPS} ops`);
        expect(await r.getChildrenKeys('/max/over')).to.deep.equal([]);
      });
    });

    describe('sessions and lifecycle', () => {
      it('reports SUSPENDED → LOST → RECONNECTED on session expiry, with a new epoch and ephemerals gone', async () => {
        const a = await clients.connect();
        const b = await clients.connect();
        await a.persistEphemeral('/instances/a', 'x');
        const epoch = a.sessionEpoch;
        const states = queueOf<ConnectionState>(push => a.on('connectionStateChanged', push));
        await factory.expireSession(a);
        const seen = await states.takeUntil(
          s => s === 'RECONNECTED',
          ms(factory.sessionTimeoutMs * 4),
          'RECONNECTED',
        );
        expect(seen).to.deep.equal(['SUSPENDED', 'LOST', 'RECONNECTED']);
        expect(a.sessionEpoch).to.be.greaterThan(epoch);
        expect(await b.isExisted('/instances/a')).to.equal(false);
        // The client is usable again and its new ephemerals live.
        await a.persistEphemeral('/instances/a', 'again');
        expect(await b.getDirectly('/instances/a')).to.equal('again');
      });

      it('reports SUSPENDED then RECONNECTED with the same session after a short cut', async () => {
        const c = await clients.cuttable();
        await c.registry.persistEphemeral('/short/cut', 'x');
        const epoch = c.registry.sessionEpoch;
        const states = queueOf<ConnectionState>(push =>
          c.registry.on('connectionStateChanged', push),
        );
        c.cut();
        expect(await states.take(ms(factory.sessionTimeoutMs * 2), 'SUSPENDED')).to.equal(
          'SUSPENDED',
        );
        c.heal();
        expect(await states.take(ms(factory.sessionTimeoutMs * 3), 'RECONNECTED')).to.equal(
          'RECONNECTED',
        );
        expect(c.registry.sessionEpoch).to.equal(epoch);
        expect(await c.registry.getDirectly('/short/cut')).to.equal('x');
      });

      it('reports the last server contact and the session timeout, frozen while cut (self-fencing)', async () => {
        const c = await clients.cuttable();
        expect(c.registry.sessionTimeoutMs).to.equal(factory.sessionTimeoutMs);
        // Connected: heartbeats / keepalives keep the contact well within half the timeout.
        expect(Date.now() - c.registry.lastContactAt).to.be.lessThan(factory.sessionTimeoutMs / 2);
        const states = queueOf<ConnectionState>(push =>
          c.registry.on('connectionStateChanged', push),
        );
        c.cut();
        expect(await states.take(ms(factory.sessionTimeoutMs * 2), 'SUSPENDED')).to.equal(
          'SUSPENDED',
        );
        const frozen = c.registry.lastContactAt;
        expect(await states.take(ms(factory.sessionTimeoutMs * 3), 'LOST')).to.equal('LOST');
        // No contact while cut: the session may have expired by now, and our clock says so.
        expect(c.registry.lastContactAt).to.equal(frozen);
        expect(Date.now() - frozen).to.be.greaterThan(factory.sessionTimeoutMs / 2);
        c.heal();
      });

      it('rejects calls after close() with ClosedError and closes idempotently', async () => {
        const r = await clients.connect();
        await r.close();
        await r.close();
        expect(r.connectionState).to.equal('CLOSED');
        await expect(r.get('/x')).to.be.rejectedWith(ClosedError);
        await expect(r.persist('/x', 'y')).to.be.rejectedWith(ClosedError);
        await expect(r.init()).to.be.rejectedWith(ClosedError);
      });
    });
  });
}
