import { expect } from 'chai';
import {
  BadVersionError,
  InvalidArgumentError,
  NodeExistsError,
  NoNodeError,
  RegistryAuthError,
  RegistryConnectionError,
  SessionExpiredError,
  TransactionError,
} from '../../lib/errors';
import { createEtcdClient } from '../../lib/registry/etcd/etcd-client';
import { EtcdDriver } from '../../lib/registry/etcd/etcd-driver';
import { EtcdKeys } from '../../lib/registry/etcd/etcd-keys';
import { ResumableWatch, WatchSource } from '../../lib/registry/etcd/etcd-watch';
import type { EtcdRegistryOptions } from '../../lib/registry/options';
import type { ConnectionState } from '../../lib/registry/registry-center';
import type { TxnOp } from '../../lib/registry/txn';
import { expireEtcdSession } from '../harness/etcd-expire';
import { EtcdServer } from '../harness/etcd-server';
import { TlsEtcdServer } from '../harness/etcd-tls';
import { RecordingSink } from '../harness/recording-sink';
import { EventQueue } from '../harness/events';
import { freePort } from '../harness/free-port';
import { uniqueNamespace } from '../harness/namespace';
import { TcpProxy } from '../harness/tcp-proxy';
import { ms } from '../harness/timing';

/**
 * Driver-level tests of the etcd backend against a real etcd 3.4, one per pitfall of etcd3@1.1.2 that the
 * driver defends against (each test names the pitfall). The contract suites run in etcd.test.ts.
 */

const TTL_SECONDS = 2;

/** Prints a measured number in the test output (for the reports; not an assertion). */
function measure(what: string, value: number, unit = 'ms'): void {
  console.log(`      [measure] ${what}: ${value} ${unit}`);
}

/** A FeedSink that mirrors the subtree and queues every call, for event-driven waits. */

describe('etcd driver (real etcd)', function () {
  this.timeout(ms(30_000));
  let server: EtcdServer;
  const drivers: EtcdDriver[] = [];
  const proxies: TcpProxy[] = [];
  const extraServers: EtcdServer[] = [];
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    server = await EtcdServer.start();
  });

  after(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
    // Proxies first: resetting a proxied socket after its FIN was forwarded (a driver that closed cleanly a
    // moment before) hits a Node bug (end() then resetAndDestroy()) that hangs the process at exit.
    await Promise.all(proxies.splice(0).map(p => p.close()));
    await Promise.all(drivers.splice(0).map(d => d.close()));
    await Promise.all(extraServers.splice(0).map(s => s.stop()));
  });

  function create(
    namespace: string,
    options: Partial<EtcdRegistryOptions> = {},
  ): {
    driver: EtcdDriver;
    states: EventQueue<ConnectionState>;
  } {
    const driver = new EtcdDriver({
      type: 'etcd',
      namespace,
      hosts: [server.endpoint],
      leaseTtlSeconds: TTL_SECONDS,
      requestTimeoutMs: 2000,
      ...options,
    });
    drivers.push(driver);
    const states = new EventQueue<ConnectionState>();
    driver.setStateListener(s => states.push(s));
    return { driver, states };
  }

  async function connect(
    namespace: string,
    options: Partial<EtcdRegistryOptions> = {},
  ): Promise<{ driver: EtcdDriver; states: EventQueue<ConnectionState> }> {
    const made = create(namespace, options);
    await made.driver.connect();
    expect(await made.states.take(ms(1000), 'CONNECTED')).to.equal('CONNECTED');
    return made;
  }

  async function behindProxy(
    namespace: string,
    options: Partial<EtcdRegistryOptions> = {},
  ): Promise<{ driver: EtcdDriver; states: EventQueue<ConnectionState>; proxy: TcpProxy }> {
    const proxy = await TcpProxy.start(server.clientPort);
    proxies.push(proxy);
    const made = await connect(namespace, { hosts: [proxy.endpoint], ...options });
    return { ...made, proxy };
  }

  function expectNoRepeats(states: readonly ConnectionState[]): void {
    for (let i = 1; i < states.length; i++) {
      expect(states[i], `state #${i} of ${states.join(' → ')}`).to.not.equal(states[i - 1]);
    }
  }

  async function txnError(driver: EtcdDriver, ops: TxnOp[]): Promise<TransactionError> {
    try {
      await driver.commit(ops);
    } catch (err) {
      expect(err).to.be.instanceOf(TransactionError);
      return err as TransactionError;
    }
    throw new Error('the transaction unexpectedly succeeded');
  }

  describe('keys and nodes', () => {
    it('creates parents as empty persistent nodes and reads ZooKeeper-style data', async () => {
      const { driver } = await connect(uniqueNamespace());
      await driver.put('/a/b/c', 'v', 'PERSISTENT');
      expect(await driver.exists('/a')).to.equal(true);
      expect(await driver.exists('/a/b')).to.equal(true);
      expect(await driver.read('/a/b')).to.include({ value: '', version: 0, ephemeral: false });
      expect(await driver.children('/a')).to.deep.equal(['b']);
      expect(await driver.children('/')).to.deep.equal(['a']);
      expect(await driver.children('/missing')).to.deep.equal([]);
      expect(await driver.read('/missing')).to.equal(null);
      await driver.put('/a/b/c', 'v2', 'PERSISTENT');
      const data = await driver.read('/a/b/c');
      expect(data).to.include({ value: 'v2', version: 1, ephemeral: false });
      expect(typeof data?.stamp).to.equal('bigint');
    });

    it('never treats a byte prefix as a subtree: /a/1 vs /a/10, /servers vs /serversX', async () => {
      const { driver } = await connect(uniqueNamespace());
      await driver.put('/a/1', 'one', 'PERSISTENT');
      await driver.put('/a/1/x', 'x', 'PERSISTENT');
      await driver.put('/a/10', 'ten', 'PERSISTENT');
      await driver.put('/a/10/y', 'y', 'PERSISTENT');
      await driver.remove('/a/1');
      expect(await driver.read('/a/1')).to.equal(null);
      expect(await driver.read('/a/1/x')).to.equal(null);
      expect(await driver.read('/a/10')).to.include({ value: 'ten' });
      expect(await driver.read('/a/10/y')).to.include({ value: 'y' });

      await driver.put('/servers/s1', '', 'PERSISTENT');
      await driver.put('/serversX/s2', '', 'PERSISTENT');
      await driver.put('/servers-old', '', 'PERSISTENT');
      expect(await driver.children('/servers')).to.deep.equal(['s1']);
      await driver.remove('/servers');
      expect(await driver.exists('/serversX/s2')).to.equal(true);
      expect(await driver.exists('/servers-old')).to.equal(true);
      await driver.remove('/missing'); // no error when absent
    });

    it('update: NoNodeError when absent; keeps an ephemeral node ephemeral (gone after close)', async () => {
      const ns = uniqueNamespace();
      const { driver: owner } = await connect(ns);
      const { driver: other } = await connect(ns);
      await expect(owner.update('/nope', 'x')).to.be.rejectedWith(NoNodeError);
      await owner.put('/eph', 'v1', 'EPHEMERAL');
      await owner.update('/eph', 'v2'); // a plain etcd put would detach the key from the lease
      expect(await other.read('/eph')).to.include({ value: 'v2', version: 1, ephemeral: true });
      await owner.put('/eph', 'v3', 'EPHEMERAL');
      expect(await other.read('/eph')).to.include({ value: 'v3', ephemeral: true });
      await owner.close();
      expect(await other.read('/eph')).to.equal(null); // the lease was revoked at close: gone at once
    });

    it('put PERSISTENT over an ephemeral node makes it persistent, and back', async () => {
      const ns = uniqueNamespace();
      const { driver: owner } = await connect(ns);
      const { driver: other } = await connect(ns);
      await owner.put('/n', 'e', 'EPHEMERAL');
      await owner.put('/n', 'p', 'PERSISTENT');
      expect(await other.read('/n')).to.include({ value: 'p', ephemeral: false });
      await owner.put('/n', 'e2', 'EPHEMERAL');
      expect(await other.read('/n')).to.include({ value: 'e2', ephemeral: true });
      await owner.put('/keep', 'p', 'PERSISTENT');
      await owner.close();
      expect(await other.read('/n')).to.equal(null);
      expect(await other.read('/keep')).to.include({ value: 'p' });
    });

    it('sequential suffixes increase across two drivers and never show the counters', async () => {
      const ns = uniqueNamespace();
      const { driver: a } = await connect(ns);
      const { driver: b } = await connect(ns);
      const created: string[] = [];
      for (let i = 0; i < 5; i++) {
        created.push(await a.createSequential('/q/job-', `a${i}`, false));
        created.push(await b.createSequential('/q/job-', `b${i}`, i % 2 === 0));
      }
      const concurrent = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? a : b).createSequential('/q/job-', 'c', false),
        ),
      );
      expect(created[0]).to.equal('/q/job-0000000000');
      for (let i = 1; i < created.length; i++) {
        expect(created[i]! > created[i - 1]!, `${created[i]} after ${created[i - 1]}`).to.equal(
          true,
        );
      }
      expect(new Set([...created, ...concurrent]).size).to.equal(30);
      expect(await a.children('/q')).to.have.length(30);
      expect(await a.children('/')).to.deep.equal(['q']); // no metadata in listings
      expect(await b.read(created[1]!)).to.include({ ephemeral: true });
      expect(await b.read(created[3]!)).to.include({ ephemeral: false });
    });

    it('returns the local clock as server time and writes the node', async () => {
      const { driver } = await connect(uniqueNamespace());
      const before = Date.now();
      const time = await driver.serverTime('/time/probe');
      expect(time).to.be.within(before, Date.now());
      expect(await driver.exists('/time/probe')).to.equal(true);
    });

    it('one oversized request fails without breaking the next call (no circuit breaker)', async () => {
      const { driver } = await connect(uniqueNamespace());
      const big = 'x'.repeat(2.5 * 1024 * 1024);
      await expect(driver.put('/big', big, 'PERSISTENT')).to.be.rejectedWith(InvalidArgumentError);
      const started = Date.now();
      await driver.put('/small', 'ok', 'PERSISTENT');
      expect(await driver.read('/small')).to.include({ value: 'ok' });
      expect(Date.now() - started).to.be.below(ms(1000));
    });
  });

  describe('transactions', () => {
    it('applies all ops atomically, with parents created earlier in the same txn', async () => {
      const { driver } = await connect(uniqueNamespace());
      await driver.put('/t/old', 'o', 'PERSISTENT');
      await driver.put('/t/gone/child', 'c', 'PERSISTENT');
      await driver.commit([
        { type: 'check', path: '/t/old', version: 0 },
        { type: 'create', path: '/t/new', value: 'n', mode: 'PERSISTENT' },
        { type: 'create', path: '/t/new/leaf', value: 'l', mode: 'EPHEMERAL' },
        { type: 'setData', path: '/t/old', value: 'o2', version: 0 },
        { type: 'delete', path: '/t/gone' },
      ]);
      expect(await driver.read('/t/old')).to.include({ value: 'o2', version: 1 });
      expect(await driver.read('/t/new/leaf')).to.include({ value: 'l', ephemeral: true });
      expect(await driver.exists('/t/gone/child')).to.equal(false);
      expect((await driver.children('/t')).sort()).to.deep.equal(['new', 'old']);
    });

    it('reports the first failing op and applies nothing', async () => {
      const { driver } = await connect(uniqueNamespace());
      await driver.put('/t/a', 'a', 'PERSISTENT');
      await driver.put('/t/b', 'b', 'PERSISTENT');

      const missingParent = await txnError(driver, [
        { type: 'setData', path: '/t/a', value: 'changed' },
        { type: 'create', path: '/t/c', value: 'c', mode: 'PERSISTENT' },
        { type: 'create', path: '/nope/x', value: 'x', mode: 'PERSISTENT' },
      ]);
      expect(missingParent.failedIndex).to.equal(2);
      expect(missingParent.cause).to.be.instanceOf(NoNodeError);

      const exists = await txnError(driver, [
        { type: 'create', path: '/t/c', value: 'c', mode: 'PERSISTENT' },
        { type: 'create', path: '/t/b', value: 'b', mode: 'PERSISTENT' },
      ]);
      expect(exists.failedIndex).to.equal(1);
      expect(exists.cause).to.be.instanceOf(NodeExistsError);

      const badVersion = await txnError(driver, [
        { type: 'check', path: '/t/a', version: 0 },
        { type: 'delete', path: '/t/b', version: 3 },
      ]);
      expect(badVersion.failedIndex).to.equal(1);
      expect(badVersion.cause).to.be.instanceOf(BadVersionError);

      const afterDelete = await txnError(driver, [
        { type: 'delete', path: '/t' },
        { type: 'check', path: '/t/a' },
      ]);
      expect(afterDelete.failedIndex).to.equal(1);
      expect(afterDelete.cause).to.be.instanceOf(NoNodeError);

      expect(await driver.read('/t/a')).to.include({ value: 'a', version: 0 });
      expect(await driver.exists('/t/c')).to.equal(false);
      expect(await driver.exists('/t/b')).to.equal(true);
    });
  });

  describe('feeds', () => {
    it('loads a subtree at one revision, excluding byte-prefix siblings, then streams changes', async () => {
      const { driver } = await connect(uniqueNamespace(), { leaseTtlSeconds: 3 });
      await driver.put('/f/x', '1', 'PERSISTENT');
      await driver.put('/f-sibling/y', '2', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = driver.openFeed('/f', sink);
      await feed.ready;
      expect(sink.values()).to.deep.equal({ '/f': '', '/f/x': '1' });
      await driver.put('/f/z', '3', 'PERSISTENT');
      await driver.put('/f-sibling/w', '4', 'PERSISTENT');
      await driver.remove('/f/x');
      await sink.until(() => !sink.state.has('/f/x'), ms(2000), 'the remove of /f/x');
      expect(sink.values()).to.deep.equal({ '/f': '', '/f/z': '3' });
      expect(sink.upserts).to.deep.equal(['/f/z']);
      feed.close();
    });

    it('loads 10,000 keys', async function () {
      this.timeout(ms(60_000));
      const { driver } = await connect(uniqueNamespace(), { leaseTtlSeconds: 3 });
      await driver.put('/big', '', 'PERSISTENT');
      for (let i = 0; i < 10_000; i += 100) {
        await driver.commit(
          Array.from({ length: 100 }, (_, j) => ({
            type: 'create' as const,
            path: `/big/k${String(i + j).padStart(5, '0')}`,
            value: `value-${i + j}`,
            mode: 'PERSISTENT' as const,
          })),
        );
      }
      const sink = new RecordingSink();
      const started = Date.now();
      const feed = driver.openFeed('/big', sink);
      await feed.ready;
      measure('feed initial load of 10,000 keys', Date.now() - started);
      expect(sink.state.size).to.equal(10_001);
      expect(sink.state.get('/big/k09999')?.value).to.equal('value-9999');
      feed.close();
    });

    it('a resuming watch loses no event when the stream drops while catching up on > 1000 events', async function () {
      this.timeout(ms(60_000));
      const ns = uniqueNamespace();
      const { driver: writer } = await connect(ns);
      const proxy = await TcpProxy.start(server.clientPort);
      proxies.push(proxy);
      const client = createEtcdClient(
        { type: 'etcd', namespace: ns, hosts: [proxy.endpoint] },
        2000,
      );
      cleanups.push(() => client.close());
      const keys = new EtcdKeys(ns);
      const start = BigInt(
        (await client.kv.range({ key: keys.key('/'), count_only: true })).header.revision,
      );
      const N = 2500;
      const value = 'v'.repeat(1000); // ~2.5 MB of history: the catch-up spans many TCP reads
      for (let i = 0; i < N; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            writer.put(`/w/k${String(i + j).padStart(5, '0')}`, value, 'PERSISTENT'),
          ),
        );
      }
      const received: string[] = [];
      const revisions: bigint[] = [];
      const progress = new EventQueue<number>();
      let atCut = -1;
      const watch = new ResumableWatch(
        new WatchSource(client),
        keys.descendants('/w'),
        start + 1n,
        {
          onEvents: events => {
            for (const ev of events) {
              received.push(keys.pathOf(ev.kv.key) ?? '?');
              revisions.push(BigInt(ev.kv.mod_revision));
            }
            if (atCut === -1) {
              atCut = 0;
              proxy.reset(); // drop the stream right after the first catch-up batch
            }
            progress.push(received.length);
          },
          onCanceled: err => progress.push(-1000 - err.message.length),
          onDisconnected: () => {
            atCut = received.length;
          },
        },
        { reportWatchLoss: () => undefined, reportWatchRestored: () => undefined },
        true,
      );
      cleanups.push(() => watch.close());
      await progress.takeUntil(n => n === N || n < 0, ms(30_000), `all ${N} events`);
      expect(atCut, 'the cut landed in the middle of the catch-up').to.be.above(0).and.below(N);
      measure('catch-up events delivered before the cut (then resumed)', atCut, 'events');
      expect(received.length).to.equal(N);
      expect(new Set(received).size, 'no duplicates').to.equal(N);
      for (let i = 1; i < revisions.length; i++) {
        expect(revisions[i]! > revisions[i - 1]!, `revision order at #${i}`).to.equal(true);
      }
    });

    it('sees every write made while the feed was disconnected (also when cut again during the resync)', async function () {
      this.timeout(ms(60_000));
      const ns = uniqueNamespace();
      const { driver: reader, proxy } = await behindProxy(ns, { leaseTtlSeconds: 3 });
      const { driver: writer } = await connect(ns);
      await writer.put('/w/old', 'o', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = reader.openFeed('/w', sink);
      await feed.ready;

      proxy.setMode('refuse'); // the reader's watch stream drops
      const N = 1500;
      for (let i = 0; i < N; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) =>
            writer.put(`/w/k${String(i + j).padStart(5, '0')}`, 'v', 'PERSISTENT'),
          ),
        );
      }
      await writer.remove('/w/old');
      let cuts = 0;
      const cutOnce = (): void => {
        if (cuts === 0) {
          cuts++;
          proxy.reset();
        }
      };
      sink.onUpsert = cutOnce;
      sink.onReset = cutOnce;
      proxy.setMode('pass');
      await sink.until(
        () => sink.state.size === N + 1 && !sink.state.has('/w/old'),
        ms(30_000),
        `all ${N} keys`,
      );
      await writer.put('/w/after', 'a', 'PERSISTENT');
      await sink.until(() => sink.state.has('/w/after'), ms(5000), 'a change after the resync');
      expect(cuts).to.equal(1);
      expect(sink.resets).to.be.at.least(2);
      feed.close();
    });

    it('resyncs from a snapshot when the watch revision was compacted during a disconnect', async () => {
      const ns = uniqueNamespace();
      const { driver: reader, proxy } = await behindProxy(ns, { leaseTtlSeconds: 3 });
      const { driver: writer } = await connect(ns);
      await writer.put('/c/keep', 'k', 'PERSISTENT');
      await writer.put('/c/upd', 'u1', 'PERSISTENT');
      await writer.put('/c/del', 'd', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = reader.openFeed('/c', sink);
      await feed.ready;

      proxy.setMode('refuse');
      await writer.put('/c/new', 'n', 'PERSISTENT');
      await writer.update('/c/upd', 'u2');
      await writer.remove('/c/del');
      await writer.put('/c/tmp', 't', 'PERSISTENT');
      await writer.remove('/c/tmp');
      await server.compact();
      proxy.setMode('pass');

      await sink.until(() => sink.resets === 2, ms(10_000), 'the resync after compaction');
      expect(sink.values()).to.deep.equal({
        '/c': '',
        '/c/keep': 'k',
        '/c/upd': 'u2',
        '/c/new': 'n',
      });
      await writer.put('/c/after', 'a', 'PERSISTENT');
      await sink.until(() => sink.state.has('/c/after'), ms(5000), 'a change after the resync');
      feed.close();
    });

    it('readWatched invalidates on a change by another client and on session loss', async () => {
      const ns = uniqueNamespace();
      const { driver: reader, states } = await connect(ns);
      const { driver: writer } = await connect(ns);
      await writer.put('/r/a', '1', 'PERSISTENT');
      await writer.put('/r/b', '1', 'PERSISTENT');
      const invalidated = new EventQueue<string>();
      expect(await reader.readWatched('/r/a', () => invalidated.push('/r/a'))).to.include({
        value: '1',
      });
      expect(await reader.readWatched('/r/b', () => invalidated.push('/r/b'))).to.include({
        value: '1',
      });
      await writer.put('/r/a', '2', 'PERSISTENT');
      expect(await invalidated.take(ms(2000), 'invalidation of /r/a')).to.equal('/r/a');
      await writer.put('/r/a', '3', 'PERSISTENT'); // one-shot: no second call
      await expireEtcdSession(reader, server.endpoint);
      await states.takeUntil(s => s === 'LOST', ms(3000), 'LOST');
      expect(await invalidated.take(ms(1000), 'invalidation of /r/b')).to.equal('/r/b');
      expect(invalidated.seen).to.deep.equal(['/r/a', '/r/b']);
    });
  });

  describe('session', () => {
    it('detects lease loss within the TTL under a blackhole partition, then gets a new lease', async () => {
      const ns = uniqueNamespace();
      const { driver, states, proxy } = await behindProxy(ns, { requestTimeoutMs: 1000 });
      const { driver: observer } = await connect(ns, { leaseTtlSeconds: 10 });
      await driver.put('/live/me', 'x', 'EPHEMERAL');
      const sink = new RecordingSink();
      await observer.openFeed('/live', sink).ready;
      const oldLease = driver.currentLeaseId();

      const cutAt = Date.now();
      proxy.setMode('blackhole');
      expect(await states.take(ms(3000), 'SUSPENDED')).to.equal('SUSPENDED');
      const suspendedAfter = Date.now() - cutAt;
      expect(suspendedAfter).to.be.below(TTL_SECONDS * 1000 * 0.75);
      expect(await states.take(ms(3000), 'LOST')).to.equal('LOST');
      const lostAfter = Date.now() - cutAt;
      measure('blackhole → SUSPENDED', suspendedAfter);
      measure('blackhole → LOST (TTL 2 s)', lostAfter);
      expect(lostAfter).to.be.below(TTL_SECONDS * 1000); // etcd3's own 'lost' comes at 2 × TTL
      expect(driver.currentLeaseId()).to.equal(null);
      // No ephemeral write without a lease while partitioned.
      await expect(driver.put('/live/again', 'x', 'EPHEMERAL')).to.be.rejectedWith(
        SessionExpiredError,
      );

      await sink.until(
        () => !sink.state.has('/live/me'),
        ms(5000),
        'the server to delete the ephemeral',
      );
      measure('blackhole → server deleted the ephemeral', Date.now() - cutAt);
      proxy.setMode('pass');
      expect(await states.take(ms(10_000), 'RECONNECTED')).to.equal('RECONNECTED');
      expect(driver.currentLeaseId()).to.not.equal(null).and.to.not.equal(oldLease);
      expectNoRepeats(states.seen);
      await driver.put('/live/me', 'y', 'EPHEMERAL');
      expect(await observer.read('/live/me')).to.include({ value: 'y', ephemeral: true });
    });

    it('reports LOST then RECONNECTED with a new lease when another client revokes it', async () => {
      const ns = uniqueNamespace();
      const { driver, states } = await connect(ns);
      const { driver: observer } = await connect(ns);
      await driver.put('/eph', 'x', 'EPHEMERAL');
      const oldLease = driver.sessionId();
      await expireEtcdSession(driver, server.endpoint);
      expect(await observer.read('/eph')).to.equal(null);
      const seen = await states.takeUntil(s => s === 'RECONNECTED', ms(5000), 'RECONNECTED');
      expect(seen).to.deep.equal(['SUSPENDED', 'LOST', 'RECONNECTED']);
      expect(driver.sessionId()).to.not.equal(null).and.to.not.equal(oldLease);
      expect(await observer.read('/eph')).to.equal(null); // ephemerals are not re-created by the driver
    });

    it('reports SUSPENDED then RECONNECTED on the same lease after a short drop', async () => {
      const { driver, states, proxy } = await behindProxy(uniqueNamespace(), {
        leaseTtlSeconds: 3,
      });
      const lease = driver.currentLeaseId();
      proxy.setMode('refuse');
      expect(await states.take(ms(3000), 'SUSPENDED')).to.equal('SUSPENDED');
      proxy.setMode('pass');
      expect(await states.take(ms(3000), 'RECONNECTED')).to.equal('RECONNECTED');
      expect(driver.currentLeaseId()).to.equal(lease);
    });

    it('survives an etcd restart: back to RECONNECTED, feeds resync, writes work', async function () {
      this.timeout(ms(40_000));
      const restartable = await EtcdServer.start();
      extraServers.push(restartable);
      const ns = uniqueNamespace();
      const { driver, states } = await connect(ns, {
        hosts: [restartable.endpoint],
        leaseTtlSeconds: 5,
      });
      await driver.put('/r/before', '1', 'PERSISTENT');
      const sink = new RecordingSink();
      await driver.openFeed('/r', sink).ready;
      await restartable.kill();
      expect(await states.take(ms(5000), 'SUSPENDED')).to.equal('SUSPENDED');
      await restartable.restart();
      await states.takeUntil(s => s === 'RECONNECTED', ms(15_000), 'RECONNECTED');
      expectNoRepeats(states.seen);
      await driver.put('/r/after', '2', 'EPHEMERAL');
      await sink.until(() => sink.state.has('/r/after'), ms(5000), 'the feed to see /r/after');
      expect(sink.values()).to.deep.equal({ '/r': '', '/r/before': '1', '/r/after': '2' });
    });
  });

  describe('connecting', () => {
    it('rejects with RegistryConnectionError naming an unreachable endpoint', async () => {
      const port = await freePort();
      const { driver } = create(uniqueNamespace(), {
        hosts: [`127.0.0.1:${port}`],
        connectTimeoutMs: 1000,
      });
      const started = Date.now();
      const err = await driver.connect().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(RegistryConnectionError);
      expect((err as Error).message).to.include(`127.0.0.1:${port}`);
      expect(Date.now() - started).to.be.below(ms(3000));
    });

    it('rejects wrong credentials with RegistryAuthError and works with the right ones', async () => {
      const secured = await EtcdServer.start();
      extraServers.push(secured);
      await secured.enableAuth('rootpw', {
        name: 'shard',
        password: 'good',
        prefix: '/shardline/',
      });
      const ns = uniqueNamespace();
      const bad = create(ns, {
        hosts: [secured.endpoint],
        auth: { username: 'shard', password: 'bad' },
      });
      await expect(bad.driver.connect()).to.be.rejectedWith(RegistryAuthError);
      const { driver } = await connect(ns, {
        hosts: [secured.endpoint],
        auth: { username: 'shard', password: 'good' },
      });
      await driver.put('/secure/a', 'x', 'EPHEMERAL');
      const sink = new RecordingSink();
      await driver.openFeed('/secure', sink).ready;
      expect(sink.values()).to.deep.equal({ '/secure': '', '/secure/a': 'x' });
      expect(await driver.createSequential('/secure/s-', '', false)).to.equal(
        '/secure/s-0000000000',
      );
    });

    it('connects over mutual TLS with ca/cert/key, and fails without a client certificate', async function () {
      this.timeout(ms(40_000));
      const secured = await TlsEtcdServer.start();
      cleanups.push(() => secured.stop());
      const { ca, clientCert: cert, clientKey: key } = secured.tls;
      const ns = uniqueNamespace();
      // The server is still starting: connect() retries until it answers.
      const { driver } = await connect(ns, {
        hosts: [secured.endpoint],
        tls: { ca, cert, key },
        connectTimeoutMs: ms(20_000),
      });
      await driver.put('/tls/a', 'x', 'EPHEMERAL');
      const sink = new RecordingSink();
      await driver.openFeed('/tls', sink).ready;
      expect(sink.values()).to.deep.equal({ '/tls': '', '/tls/a': 'x' });
      await driver.put('/tls/b', 'y', 'PERSISTENT');
      await sink.until(() => sink.state.has('/tls/b'), ms(5000), 'a watch event over TLS');

      const anonymous = create(ns, {
        hosts: [secured.endpoint],
        tls: { ca },
        connectTimeoutMs: 1500,
      });
      const err = await anonymous.driver.connect().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(RegistryConnectionError);
      expect((err as Error).message).to.include(secured.endpoint);
    });

    it('works with a role limited to its namespace, and a refused watch does not stall the others', async function () {
      this.timeout(ms(40_000));
      const secured = await EtcdServer.start();
      extraServers.push(secured);
      const ns = uniqueNamespace();
      const auth = { username: 'scoped', password: 'pw' };
      await secured.enableAuth('rootpw', {
        name: auth.username,
        password: auth.password,
        prefix: `/shardline/${ns}/`,
      });
      await secured.etcdctl([
        'role',
        'grant-permission',
        'scoped-rw',
        'readwrite',
        `/shardline/__meta/${ns}/`,
        '--prefix=true',
      ]);
      const { driver } = await connect(ns, { hosts: [secured.endpoint], auth });
      const { driver: writer } = await connect(ns, { hosts: [secured.endpoint], auth });
      const sink = new RecordingSink();
      await driver.openFeed('/', sink).ready;
      await writer.put('/jobs/a', '1', 'EPHEMERAL');
      await sink.until(() => sink.state.has('/jobs/a'), ms(5000), 'a root feed event');
      expect(await driver.createSequential('/jobs/seq-', '', true)).to.equal(
        '/jobs/seq-0000000000',
      );
      const invalidated = new EventQueue<string>();
      await driver.readWatched('/jobs/a', () => invalidated.push('/jobs/a'));
      await writer.update('/jobs/a', '2');
      await invalidated.take(ms(5000), 'the invalidation of /jobs/a');

      // etcd refuses a watch outside the role in its create response; etcd3 would then never send the
      // creates queued behind it on the same stream.
      const client = createEtcdClient(
        { type: 'etcd', namespace: ns, hosts: [secured.endpoint], auth },
        2000,
      );
      cleanups.push(() => client.close());
      const source = new WatchSource(client);
      const keys = new EtcdKeys(ns);
      const all = keys.descendants('/');
      const start = BigInt(
        (await client.kv.range({ key: all.start, range_end: all.end, count_only: true })).header
          .revision,
      );
      const refused = new EventQueue<string>();
      const seen = new EventQueue<string>();
      const noHealth = { reportWatchLoss: () => undefined, reportWatchRestored: () => undefined };
      const forbidden = new ResumableWatch(
        source,
        new EtcdKeys(`${ns}-other`).descendants('/'),
        start + 1n,
        { onEvents: () => undefined, onCanceled: err => refused.push(err.message) },
        noHealth,
        true,
      );
      const allowed = new ResumableWatch(
        source,
        keys.descendants('/jobs'),
        start + 1n,
        {
          onEvents: events => events.forEach(ev => seen.push(keys.pathOf(ev.kv.key) ?? '?')),
          onCanceled: err => seen.push(`canceled ${err.message}`),
        },
        noHealth,
        true,
      );
      cleanups.push(
        () => forbidden.close(),
        () => allowed.close(),
      );
      expect(await refused.take(ms(5000), 'the refusal')).to.match(/permission denied/i);
      await writer.put('/jobs/b', '1', 'PERSISTENT');
      await seen.takeUntil(p => p === '/jobs/b', ms(5000), 'the allowed watch to see /jobs/b');
    });

    it('keeps watching after the auth token expired (new watch stream with a fresh token)', async function () {
      this.timeout(ms(40_000));
      const secured = await EtcdServer.start({ extraArgs: ['--auth-token-ttl=2'] });
      extraServers.push(secured);
      const auth = { username: 'shard', password: 'good' };
      await secured.enableAuth('rootpw', { name: auth.username, password: auth.password });
      const proxy = await TcpProxy.start(secured.clientPort);
      proxies.push(proxy);
      const ns = uniqueNamespace();
      const { driver: reader } = await connect(ns, {
        hosts: [proxy.endpoint],
        auth,
        leaseTtlSeconds: 3,
      });
      const { driver: writer } = await connect(ns, { hosts: [secured.endpoint], auth });
      const early = new RecordingSink();
      await reader.openFeed('/f', early).ready;
      // Token expiry is server-internal time with no event to await: let the 2 s token TTL pass.
      await new Promise(resolve => setTimeout(resolve, 3000));
      // A watch created on the old stream is refused ("invalid auth token") until a new stream is used.
      const late = new RecordingSink();
      await reader.openFeed('/f', late).ready;
      await writer.put('/f/a', '1', 'PERSISTENT');
      await late.until(() => late.state.has('/f/a'), ms(5000), 'the new feed to see /f/a');
      await early.until(() => early.state.has('/f/a'), ms(5000), 'the old feed to see /f/a');
      // And after the streams drop and reconnect with whatever token is cached.
      proxy.setMode('refuse');
      proxy.setMode('pass');
      await writer.put('/f/b', '2', 'PERSISTENT');
      await late.until(() => late.state.has('/f/b'), ms(10_000), 'the new feed to see /f/b');
      await early.until(() => early.state.has('/f/b'), ms(10_000), 'the old feed to see /f/b');
    });
  });
});
