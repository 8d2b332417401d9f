import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import {
  BadVersionError,
  ConnectionLossError,
  NoNodeError,
  PermissionDeniedError,
  RegistryAuthError,
  RegistryConnectionError,
  SessionExpiredError,
  SystemError,
  TransactionError,
} from '../../lib/errors';
import type { FeedHandle, NodeData } from '../../lib/registry/driver';
import type { ZooKeeperRegistryOptions } from '../../lib/registry/options';
import type { ConnectionState } from '../../lib/registry/registry-center';
import { digestAuth, digestId } from '../../lib/registry/zookeeper/zookeeper-acl';
import { zk, ZkCode } from '../../lib/registry/zookeeper/zookeeper-client-types';
import type { ZkAcl, ZkClient } from '../../lib/registry/zookeeper/zookeeper-client-types';
import { ZooKeeperDriver } from '../../lib/registry/zookeeper/zookeeper-driver';
import { translateZkError } from '../../lib/registry/zookeeper/zookeeper-errors';
import { ZooKeeperFeedHandle } from '../../lib/registry/zookeeper/zookeeper-feed-handle';
import type { FeedContext } from '../../lib/registry/zookeeper/zookeeper-feed-handle';
import { sessionMultiReader } from '../../lib/registry/zookeeper/zookeeper-multi-read';
import { createWireClient, zkException } from '../../lib/registry/zookeeper/wire';
import { sessionPersistentWatcher } from '../../lib/registry/zookeeper/zookeeper-persistent-watch';
import { ZkPaths, ZkRequests } from '../../lib/registry/zookeeper/zookeeper-requests';
import { ZooKeeperSession } from '../../lib/registry/zookeeper/zookeeper-session';
import { RecordingSink } from '../harness/recording-sink';
import { EventQueue } from '../harness/events';
import { freePort } from '../harness/free-port';
import { uniqueNamespace } from '../harness/namespace';
import { TcpProxy } from '../harness/tcp-proxy';
import { ms } from '../harness/timing';
import { expireZooKeeperSession } from '../harness/zookeeper-expire';
import { ZooKeeperServer } from '../harness/zookeeper-server';

/**
 * Driver-level tests of the ZooKeeper backend against a real ZooKeeper 3.8, one per pitfall of
 * node-zookeeper-client@1.1.3 the driver defends against (each test names the pitfall). The contract
 * suites run in zookeeper.test.ts.
 */

const TICK_MS = 500;
/** The server's minimum (2 × tick): short, so that partition tests take seconds. */
const SESSION_MS = 2000;
const REQUEST_MS = 2000;

/** Prints a measured number in the test output (for the reports; not an assertion). */
function measure(what: string, value: number, unit = 'ms'): void {
  console.log(`      [measure] ${what}: ${Math.round(value)} ${unit}`);
}

interface Timed {
  state: ConnectionState;
  at: number;
}

/** Promisified raw-client call, for checks from "another client" outside the driver. */
function rawCall<T>(fn: (done: (err: unknown, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    fn((err, value) =>
      err ? reject(translateZkError(err, { operation: 'raw' })) : resolve(value),
    ),
  );
}

describe('ZooKeeper driver (real ZooKeeper)', function () {
  this.timeout(ms(30_000));
  let server: ZooKeeperServer;
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    server = await ZooKeeperServer.start({ tickTimeMs: TICK_MS });
  });

  after(async () => {
    await server?.stop();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup();
    }
  });

  function create(
    options: Partial<ZooKeeperRegistryOptions> = {},
    servers: string[] = [server.connectString],
  ): { driver: ZooKeeperDriver; states: EventQueue<Timed> } {
    const driver = new ZooKeeperDriver({
      type: 'zookeeper',
      namespace: uniqueNamespace(),
      servers,
      sessionTimeoutMs: SESSION_MS,
      requestTimeoutMs: REQUEST_MS,
      connectTimeoutMs: ms(10_000),
      ...options,
    });
    cleanups.push(() => driver.close());
    const states = new EventQueue<Timed>();
    driver.setStateListener(state => states.push({ state, at: performance.now() }));
    return { driver, states };
  }

  async function connect(
    options: Partial<ZooKeeperRegistryOptions> = {},
    servers?: string[],
  ): Promise<{ driver: ZooKeeperDriver; states: EventQueue<Timed> }> {
    const created = create(options, servers);
    await created.driver.connect();
    expect((await created.states.take(ms(1000), 'CONNECTED')).state).to.equal('CONNECTED');
    return created;
  }

  async function proxy(): Promise<TcpProxy> {
    const p = await TcpProxy.start(server.port);
    cleanups.push(() => p.close());
    return p;
  }

  async function nextState(
    states: EventQueue<Timed>,
    expected: ConnectionState,
    timeoutMs: number,
  ): Promise<Timed> {
    const event = await states.take(timeoutMs, expected);
    expect(event.state, `state after ${states.seen.map(s => s.state).join(',')}`).to.equal(
      expected,
    );
    return event;
  }

  /**
   * The pieces `openFeed` is built from, on a session of its own in `namespace` (which must exist), so that a
   * test can pick the feed kind or play a server without addWatch / multiRead (ZooKeeper < 3.6), whose
   * answer to an unknown request is UNIMPLEMENTED.
   */
  async function feedContext(
    namespace: string,
    options: { persistent: boolean; unimplemented?: 'addWatch' | 'multiRead' },
  ): Promise<FeedContext> {
    const session = new ZooKeeperSession({
      servers: [server.connectString],
      sessionTimeoutMs: SESSION_MS,
      requestTimeoutMs: ms(10_000),
    });
    cleanups.push(() => session.close());
    session.start();
    await session.waitConnected();
    session.markReady();
    const paths = new ZkPaths(`/${namespace}`);
    const unimplemented = (op: string): Promise<never> =>
      Promise.reject(
        translateZkError(zk.Exception.create(ZkCode.UNIMPLEMENTED), { operation: op }),
      );
    const read = sessionMultiReader(session, paths);
    const watch = sessionPersistentWatcher(session);
    return {
      session,
      requests: new ZkRequests(session, paths),
      read: options.unimplemented === 'multiRead' ? () => unimplemented('multiRead') : read,
      watch: options.unimplemented === 'addWatch' ? () => unimplemented('addWatch') : watch,
      support: { persistentWatches: options.persistent },
    };
  }

  /** Paths of the server's watches, from the `wchp` four-letter word. */
  async function watchedPaths(): Promise<string[]> {
    const reply = await server.command('wchp');
    return reply.split('\n').filter(line => line.startsWith('/'));
  }

  /** A raw library client (another participant), optionally authenticated. */
  async function rawClient(auth?: { username: string; password: string }): Promise<ZkClient> {
    const { client, wire } = createWireClient(server.connectString, {
      sessionTimeout: SESSION_MS,
      spinDelay: 100,
      retries: 0,
    });
    cleanups.push(() => {
      client.close();
      wire.disarm();
    });
    if (auth !== undefined) {
      client.addAuthInfo('digest', digestAuth(auth));
    }
    await new Promise<void>(resolve => {
      client.on('connected', () => resolve());
      client.connect();
    });
    return client;
  }

  describe('library defects, per client', () => {
    it('turns a server error code the library does not know into an error instead of a crash', () => {
      const quota = zkException(ZkCode.QUOTA_EXCEEDED, '/q');
      expect(quota.code).to.equal(-125);
      expect(quota.name).to.equal('QUOTA_EXCEEDED');
      const unknown = zkException(-999);
      expect(unknown.code).to.equal(-999);
      const translated = translateZkError(quota, { operation: 'create', path: '/q' });
      expect(translated).to.be.instanceOf(SystemError);
      expect(translated.message).to.contain('QUOTA_EXCEEDED[-125]');
      expect(translateZkError(unknown, { operation: 'getData' })).to.be.instanceOf(SystemError);
    });

    describe('with quotas enforced by the server', () => {
      let quotaServer: ZooKeeperServer | undefined;

      before(async () => {
        quotaServer = await ZooKeeperServer.start({
          tickTimeMs: TICK_MS,
          jvmFlags: ['-Dzookeeper.enforceQuota=true'],
        });
      });

      after(async () => {
        await quotaServer?.stop();
      });

      it('fails a create over quota (-125 QUOTA_EXCEEDED) with SystemError and keeps working', async () => {
        const endpoint = (quotaServer as ZooKeeperServer).connectString;
        const namespace = uniqueNamespace();
        const { driver } = await connect({ namespace }, [endpoint]);
        await driver.put('/limited', '', 'PERSISTENT');
        // What `zkCli setquota -N 2` writes: a hard count limit of 2 (the node and one child).
        const { client: quotaClient, wire } = createWireClient(endpoint, {
          sessionTimeout: SESSION_MS,
          spinDelay: 100,
          retries: 0,
        });
        cleanups.push(() => {
          quotaClient.close();
          wire.disarm();
        });
        await new Promise<void>(resolve => {
          quotaClient.on('connected', () => resolve());
          quotaClient.connect();
        });
        const mk = (path: string, value: string): Promise<string> =>
          rawCall<string>(done =>
            quotaClient.create(path, Buffer.from(value), zk.ACL.OPEN_ACL_UNSAFE, 0, (e, p) =>
              done(e, p),
            ),
          );
        await mk(`/zookeeper/quota/${namespace}`, '');
        await mk(`/zookeeper/quota/${namespace}/limited`, '');
        await mk(
          `/zookeeper/quota/${namespace}/limited/zookeeper_limits`,
          'count=-1,bytes=-1,countHardLimit=2',
        );
        await mk(`/zookeeper/quota/${namespace}/limited/zookeeper_stats`, 'count=1,bytes=0');

        await driver.put('/limited/first', 'ok', 'PERSISTENT');
        const err = await driver.put('/limited/second', 'over', 'PERSISTENT').then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(SystemError);
        expect((err as Error).message).to.contain('QUOTA_EXCEEDED');
        expect(await driver.read('/limited/first')).to.include({ value: 'ok' });
      });
    });

    it('honours version 0 in transactions (check, setData, delete)', async () => {
      const { driver } = await connect();
      await driver.put('/v', 'a', 'PERSISTENT');
      await driver.update('/v', 'b'); // now at version 1
      for (const op of [
        { type: 'check', path: '/v', version: 0 },
        { type: 'setData', path: '/v', value: 'c', version: 0 },
        { type: 'delete', path: '/v', version: 0 },
      ] as const) {
        const err = await driver.commit([op]).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, op.type).to.be.instanceOf(TransactionError);
        expect((err as TransactionError).failedIndex).to.equal(0);
        expect((err as TransactionError).cause).to.be.instanceOf(BadVersionError);
      }
      expect(await driver.read('/v')).to.include({ value: 'b', version: 1 });
      await driver.put('/v0', 'fresh', 'PERSISTENT');
      await driver.commit([
        { type: 'check', path: '/v0', version: 0 },
        { type: 'setData', path: '/v', value: 'c', version: 1 },
      ]);
      expect(await driver.read('/v')).to.include({ value: 'c', version: 2 });
    });
  });

  describe('nodes', () => {
    it('creates missing parents as empty persistent nodes, never ephemeral ones', async () => {
      const namespace = uniqueNamespace();
      const { driver } = await connect({ namespace });
      await driver.put('/e/p/q/leaf', 'mine', 'EPHEMERAL');
      expect(await driver.read('/e/p/q/leaf')).to.include({ value: 'mine', ephemeral: true });
      for (const parent of ['/e', '/e/p', '/e/p/q']) {
        expect(await driver.read(parent), parent).to.include({ value: '', ephemeral: false });
      }
      await driver.close();
      const { driver: other } = await connect({ namespace });
      expect(await other.exists('/e/p/q')).to.equal(true);
      expect(await other.read('/e/p/q/leaf'), 'the ephemeral leaf went with the session').to.equal(
        null,
      );
    });

    it('deletes a subtree deeper than one level (remove and transaction delete)', async () => {
      const { driver } = await connect();
      for (const path of ['/r/a/b/c/d', '/r/a/x', '/r/y', '/t/1/2/3', '/t/1/4']) {
        await driver.put(path, path, 'PERSISTENT');
      }
      await driver.remove('/r');
      expect(await driver.exists('/r')).to.equal(false);
      await driver.remove('/r'); // absent: no error
      await driver.remove('/never');

      await driver.commit([{ type: 'delete', path: '/t' }]);
      expect(await driver.exists('/t')).to.equal(false);
      expect(await driver.children('/')).to.deep.equal([]);
    });

    it('maps a failed op back to the caller index after expanding subtree deletes; nothing applied', async () => {
      const { driver } = await connect();
      await driver.put('/t/a/b', 'x', 'PERSISTENT');
      await driver.put('/t/c', 'y', 'PERSISTENT');
      const err = await driver
        .commit([
          { type: 'delete', path: '/t' },
          { type: 'create', path: '/u', value: 'u', mode: 'PERSISTENT' },
          { type: 'check', path: '/missing' },
        ])
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err).to.be.instanceOf(TransactionError);
      expect((err as TransactionError).failedIndex).to.equal(2);
      expect((err as TransactionError).cause).to.be.instanceOf(NoNodeError);
      expect((err as TransactionError).message).to.contain('check /missing');
      expect(await driver.read('/t/a/b')).to.include({ value: 'x' });
      expect(await driver.exists('/u')).to.equal(false);

      const badVersion = await driver.commit([{ type: 'delete', path: '/t', version: 5 }]).then(
        () => null,
        (e: unknown) => e,
      );
      expect((badVersion as TransactionError).failedIndex).to.equal(0);
      expect((badVersion as TransactionError).cause).to.be.instanceOf(BadVersionError);
      expect(await driver.exists('/t/c')).to.equal(true);
    });

    it('puts an ephemeral node over an existing one (with children) atomically', async () => {
      const { driver } = await connect();
      await driver.put('/n/child', 'c', 'PERSISTENT');
      await driver.put('/n', 'persistent', 'PERSISTENT');
      await driver.put('/n', 'eph', 'EPHEMERAL');
      expect(await driver.read('/n')).to.include({ value: 'eph', ephemeral: true });
      expect(await driver.children('/n')).to.deep.equal([]);
      await driver.put('/n', 'eph2', 'EPHEMERAL');
      expect(await driver.read('/n')).to.include({ value: 'eph2', ephemeral: true, version: 0 });
      await driver.update('/n', 'eph3');
      expect(await driver.read('/n')).to.include({ value: 'eph3', ephemeral: true, version: 1 });
      await expect(driver.update('/absent', 'x')).to.be.rejectedWith(NoNodeError);
    });

    it('reads values, versions, stamps and children; absent is null / []', async () => {
      const { driver } = await connect({ namespace: `${uniqueNamespace()}/nested` });
      expect(await driver.read('/none')).to.equal(null);
      expect(await driver.children('/none')).to.deep.equal([]);
      expect(await driver.exists('/none')).to.equal(false);
      await driver.put('/k', '', 'PERSISTENT');
      const first = (await driver.read('/k')) as NodeData;
      expect(first).to.include({ value: '', version: 0, ephemeral: false });
      await driver.put('/k', 'ünïcödé', 'PERSISTENT');
      const second = (await driver.read('/k')) as NodeData;
      expect(second).to.include({ value: 'ünïcödé', version: 1 });
      expect(second.stamp > first.stamp).to.equal(true);
      await driver.put('/k/b', '', 'PERSISTENT');
      await driver.put('/k/a', '', 'PERSISTENT');
      expect([...(await driver.children('/k'))].sort()).to.deep.equal(['a', 'b']);
      expect(await driver.children('/')).to.deep.equal(['k']);
    });

    it('creates sequential nodes natively with parents, returning namespace-relative paths', async () => {
      const { driver } = await connect({ namespace: `${uniqueNamespace()}/seq` });
      const a = await driver.createSequential('/q/item-', 'a', false);
      const b = await driver.createSequential('/q/item-', 'b', true);
      expect(a).to.match(/^\/q\/item-\d{10}$/);
      expect(b).to.match(/^\/q\/item-\d{10}$/);
      expect(b > a).to.equal(true);
      expect(await driver.read(a)).to.include({ value: 'a', ephemeral: false });
      expect(await driver.read(b)).to.include({ value: 'b', ephemeral: true });
      expect(await driver.read('/q')).to.include({ ephemeral: false });
    });

    it('reads the server clock from the mtime of a node it writes', async () => {
      const { driver } = await connect();
      const before = Date.now();
      const time = await driver.serverTime('/clock/probe');
      expect(Math.abs(time - before)).to.be.lessThan(2000);
      expect(await driver.exists('/clock/probe')).to.equal(true);
      expect(await driver.serverTime('/clock/probe')).to.be.at.least(time);
    });

    it('ends the session at close(): our ephemeral nodes vanish at once for others', async () => {
      const namespace = uniqueNamespace();
      const { driver } = await connect({ namespace });
      const { driver: observer } = await connect({ namespace });
      await driver.put('/alive', 'x', 'EPHEMERAL');
      expect(await observer.exists('/alive')).to.equal(true);
      await driver.close();
      expect(await observer.exists('/alive')).to.equal(false);
    });
  });

  describe('connection states', () => {
    it('rejects connect() with RegistryConnectionError naming an unreachable endpoint', async () => {
      const port = await freePort();
      const { driver, states } = create({ connectTimeoutMs: 1000 }, [`127.0.0.1:${port}`]);
      const started = performance.now();
      const err = await driver.connect().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(RegistryConnectionError);
      expect((err as Error).message).to.contain(`127.0.0.1:${port}`);
      expect(performance.now() - started).to.be.lessThan(ms(3000));
      expect(states.seen).to.deep.equal([]);
    });

    it('stops reconnecting for good once closed after a failed connect (issue #74)', async () => {
      const p = await proxy();
      p.setMode('refuse');
      const { driver } = create({ connectTimeoutMs: 800 }, [p.endpoint]);
      await expect(driver.connect()).to.be.rejectedWith(RegistryConnectionError);
      await driver.close();
      const attempts = p.connections;
      expect(attempts).to.be.greaterThan(0);
      // Absence of an event: the library's spin delay is at most 1 s, so wait a little longer.
      await new Promise(resolve => setTimeout(resolve, 1500));
      expect(p.connections).to.equal(attempts);
    });

    it('notices a silent partition: SUSPENDED within 2/3 T, LOST at T, then a new session', async () => {
      const p = await proxy();
      const namespace = uniqueNamespace();
      const { driver, states } = await connect({ namespace }, [p.endpoint]);
      const { driver: observer } = await connect({ namespace });
      await driver.put('/owned', 'x', 'EPHEMERAL');
      const gone = new EventQueue<string>();
      await observer.readWatched('/owned', () => gone.push('/owned changed'));
      const oldSession = driver.sessionId();
      const t = driver.sessionTimeoutMs;
      expect(t).to.equal(SESSION_MS);

      const cutAt = performance.now();
      p.setMode('blackhole');
      const suspended = await nextState(states, 'SUSPENDED', ms(t));
      const lost = await nextState(states, 'LOST', ms(t));
      measure('blackhole → SUSPENDED', suspended.at - cutAt);
      measure('blackhole → LOST', lost.at - cutAt);
      expect(suspended.at - cutAt).to.be.within(
        (2 * t) / 3 - t / 10 - 50,
        (2 * t) / 3 + t / 10 + ms(400),
      );
      expect(lost.at - cutAt).to.be.within(t - t / 10 - 50, t + t / 10 + ms(600));

      // The old client is dead: requests fail fast, they do not wait for the request timeout.
      const requestedAt = performance.now();
      await expect(driver.read('/owned')).to.be.rejectedWith(SessionExpiredError);
      expect(performance.now() - requestedAt).to.be.lessThan(100);

      // The server expires the session T (+ ≤ one tick) after its last contact: the ephemeral goes.
      await gone.take(ms(TICK_MS + 1000), 'the server to delete the ephemeral');
      expect(await observer.exists('/owned')).to.equal(false);

      const healedAt = performance.now();
      p.setMode('pass');
      const reconnected = await nextState(states, 'RECONNECTED', ms(2 * t));
      measure('heal → RECONNECTED (new session)', reconnected.at - healedAt);
      expect(driver.sessionId()).to.be.a('string').and.not.equal(oldSession);
      await driver.put('/owned', 'again', 'EPHEMERAL');
      expect(await observer.read('/owned')).to.include({ value: 'again', ephemeral: true });
    });

    it('does not mistake a blocked event loop for a partition', async () => {
      const { driver, states } = await connect();
      const session = driver.sessionId();
      // Longer than 2/3 T: replies pile up unread in the socket meanwhile.
      const end = Date.now() + (3 * SESSION_MS) / 4;
      while (Date.now() < end) {
        // busy: the point of the test
      }
      expect(await driver.read('/')).to.include({ value: '' });
      // Absence of an event: give the watchdog a few periods (T/10 each) to (wrongly) react.
      await new Promise(resolve => setTimeout(resolve, SESSION_MS / 4));
      expect(states.seen.map(e => e.state)).to.deep.equal(['CONNECTED']);
      expect(driver.sessionId()).to.equal(session);
    });

    it('fails requests fast during a refused-connection outage and resumes the same session', async () => {
      const p = await proxy();
      const { driver, states } = await connect({}, [p.endpoint]);
      await driver.put('/owned', 'x', 'EPHEMERAL');
      const session = driver.sessionId();
      const inFlight = Array.from({ length: 50 }, () =>
        driver.read('/owned').then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );
      p.setMode('refuse');
      const settled = await Promise.race([
        Promise.all(inFlight),
        new Promise(resolve => setTimeout(() => resolve('hung'), REQUEST_MS + 500)),
      ]);
      expect(settled, 'requests in flight at the cut settle').not.to.equal('hung');
      await nextState(states, 'SUSPENDED', ms(1000));
      const started = performance.now();
      await expect(driver.read('/owned')).to.be.rejectedWith(ConnectionLossError);
      await expect(driver.put('/other', 'y', 'PERSISTENT')).to.be.rejectedWith(ConnectionLossError);
      expect(performance.now() - started).to.be.lessThan(REQUEST_MS);
      p.setMode('pass');
      await nextState(states, 'RECONNECTED', ms(SESSION_MS));
      expect(driver.sessionId()).to.equal(session);
      expect(await driver.read('/owned')).to.include({ value: 'x', ephemeral: true });
    });

    it('reports LOST and then RECONNECTED with a new session after a server-side expiry', async () => {
      const namespace = uniqueNamespace();
      const { driver, states } = await connect({ namespace });
      const { driver: observer } = await connect({ namespace });
      await driver.put('/owned', 'x', 'EPHEMERAL');
      const oldSession = driver.sessionId();
      await expireZooKeeperSession(driver);
      expect(await observer.exists('/owned'), 'the server deleted the ephemeral').to.equal(false);
      const seen = await states.takeUntil(e => e.state === 'LOST', ms(2 * SESSION_MS), 'LOST');
      expect(seen.map(e => e.state)).to.deep.equal(['SUSPENDED', 'LOST']);
      await nextState(states, 'RECONNECTED', ms(2 * SESSION_MS));
      expect(driver.sessionId()).to.be.a('string').and.not.equal(oldSession);
      await driver.put('/owned', 'y', 'EPHEMERAL');
      expect(await observer.read('/owned')).to.include({ value: 'y', ephemeral: true });
    });

    describe('across a server restart', () => {
      let own: ZooKeeperServer | undefined;

      before(async () => {
        own = await ZooKeeperServer.start({ tickTimeMs: TICK_MS });
      });

      after(async () => {
        await own?.stop();
      });

      it('reports SUSPENDED then RECONNECTED with the same session (kill + restart)', async () => {
        const restarting = own as ZooKeeperServer;
        // Long enough for a JVM restart on a busy machine: the session must outlive the outage.
        const { driver, states } = await connect({ sessionTimeoutMs: 10_000 }, [
          restarting.connectString,
        ]);
        await driver.put('/owned', 'x', 'EPHEMERAL');
        const session = driver.sessionId();
        const killedAt = performance.now();
        await restarting.kill();
        await nextState(states, 'SUSPENDED', ms(2000));
        await restarting.restart();
        const reconnected = await nextState(states, 'RECONNECTED', ms(10_000));
        measure('server kill → RECONNECTED (same session)', reconnected.at - killedAt);
        expect(driver.sessionId()).to.equal(session);
        expect(await driver.read('/owned')).to.include({ value: 'x', ephemeral: true });
      });
    });
  });

  describe('digest authentication', () => {
    const alice = { username: 'alice', password: 'secret' };

    it('gives every node it creates (parents too) a digest ACL only our credentials can modify', async () => {
      const namespace = uniqueNamespace();
      const { driver } = await connect({ namespace, auth: alice });
      await driver.put('/p/q/secret', 'x', 'PERSISTENT');
      const owner = await rawClient(alice);
      for (const path of [
        `/${namespace}`,
        `/${namespace}/p`,
        `/${namespace}/p/q`,
        `/${namespace}/p/q/secret`,
      ]) {
        const acls = await rawCall<ZkAcl[]>(done => owner.getACL(path, done));
        expect(
          acls.map(a => ({ perms: a.permission, scheme: a.id.scheme, id: a.id.id })),
          path,
        ).to.deep.equal([{ perms: zk.Permission.ALL, scheme: 'digest', id: digestId(alice) }]);
      }
      const mallory = await rawClient({ username: 'alice', password: 'guess' });
      const anonymous = await rawClient();
      for (const client of [mallory, anonymous]) {
        await expect(
          rawCall(done =>
            client.setData(`/${namespace}/p/q/secret`, Buffer.from('evil'), -1, done),
          ),
        ).to.be.rejectedWith(PermissionDeniedError);
        await expect(
          rawCall(done => client.remove(`/${namespace}/p/q/secret`, -1, e => done(e, undefined))),
        ).to.be.rejected;
      }
      expect(await driver.read('/p/q/secret')).to.include({ value: 'x' });
      const { driver: friend } = await connect({ namespace, auth: alice });
      await friend.update('/p/q/secret', 'y');
      expect(await driver.read('/p/q/secret')).to.include({ value: 'y' });
    });

    it('rejects connect() with RegistryAuthError for wrong credentials (a silent failure in ZooKeeper)', async () => {
      const namespace = uniqueNamespace();
      await connect({ namespace, auth: alice });
      for (const auth of [
        { username: 'alice', password: 'wrong' },
        { username: 'bob', password: 'secret' },
        undefined,
      ]) {
        const { driver, states } = create({ namespace, auth });
        const err = await driver.connect().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, JSON.stringify(auth)).to.be.instanceOf(RegistryAuthError);
        expect(states.seen).to.deep.equal([]);
      }
    });
  });

  describe('openFeed', () => {
    it('loads the subtree, then follows creates, updates and deletes in order', async () => {
      const { driver } = await connect();
      await driver.put('/f/a', '1', 'PERSISTENT');
      await driver.put('/f/a/deep', '2', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = driver.openFeed('/f', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      expect(feed.mode).to.equal('persistent');
      expect(sink.values()).to.deep.equal({ '/f': '', '/f/a': '1', '/f/a/deep': '2' });
      expect(sink.log).to.deep.equal(['reset']);

      await driver.put('/f/b/c/d', 'new', 'PERSISTENT');
      await sink.until(() => sink.state.has('/f/b/c/d'), ms(2000), '/f/b/c/d');
      const order = sink.log.filter(l => l.startsWith('upsert /f/b'));
      expect(order).to.deep.equal(['upsert /f/b=', 'upsert /f/b/c=', 'upsert /f/b/c/d=new']);
      await driver.update('/f/a', 'changed');
      await sink.until(() => sink.state.get('/f/a')?.value === 'changed', ms(2000), '/f/a changed');
      await driver.remove('/f/b');
      await sink.until(() => !sink.state.has('/f/b'), ms(2000), '/f/b removed');
      expect(sink.values()).to.deep.equal({ '/f': '', '/f/a': 'changed', '/f/a/deep': '2' });
      expect(sink.errors).to.deep.equal([]);
    });

    it('waits for an absent root, follows its creation, deletion and re-creation', async () => {
      const { driver } = await connect();
      const sink = new RecordingSink();
      const feed = driver.openFeed('/later', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      expect(sink.state.size).to.equal(0);
      await driver.put('/later/x', 'x', 'PERSISTENT');
      await sink.until(() => sink.state.has('/later/x'), ms(2000), '/later/x');
      await driver.remove('/later');
      await sink.until(() => sink.state.size === 0, ms(2000), 'root removed');
      await driver.put('/later', 'back', 'PERSISTENT');
      await sink.until(
        () => sink.state.get('/later')?.value === 'back',
        ms(2000),
        'root re-created',
      );
    });

    it('resets from a fresh snapshot after a new session (changes made meanwhile included)', async () => {
      const namespace = uniqueNamespace();
      const { driver, states } = await connect({ namespace });
      const { driver: other } = await connect({ namespace });
      await other.put('/s/keep', 'k', 'PERSISTENT');
      await other.put('/s/drop', 'd', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = driver.openFeed('/s', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      await expireZooKeeperSession(driver);
      await states.takeUntil(e => e.state === 'LOST', ms(2 * SESSION_MS), 'LOST');
      await other.remove('/s/drop');
      await other.put('/s/added', 'a', 'PERSISTENT');
      await nextState(states, 'RECONNECTED', ms(2 * SESSION_MS));
      await sink.until(() => sink.resets === 2, ms(2000), 'second reset');
      // The writes race with the resync: they are in its snapshot or arrive as events right after it.
      const expected = JSON.stringify({ '/s': '', '/s/added': 'a', '/s/keep': 'k' });
      await sink.until(() => JSON.stringify(sink.values()) === expected, ms(2000), expected);
      // The new session's watches work.
      await other.put('/s/after', 'z', 'PERSISTENT');
      await sink.until(() => sink.state.has('/s/after'), ms(2000), '/s/after');
    });

    it('stops calling the sink once closed', async () => {
      const { driver } = await connect();
      const sink = new RecordingSink();
      const feed = driver.openFeed('/c', sink);
      await feed.ready;
      feed.close();
      await driver.put('/c/x', 'x', 'PERSISTENT');
      await driver.put('/c/y', 'y', 'PERSISTENT');
      // Absence of a call: a round trip later, the watch events have been delivered (and ignored).
      await driver.read('/c/y');
      await driver.read('/c/y');
      expect(sink.log).to.deep.equal(['reset']);
    });

    it('loads 10 000 nodes in under 400 ms (persistent watch + multiRead)', async () => {
      const namespace = uniqueNamespace();
      const { driver } = await connect({ namespace, requestTimeoutMs: 10_000 });
      const leaves: string[] = [];
      for (let i = 0; i < 100; i++) {
        for (let j = 0; j < 99; j++) {
          leaves.push(`/big/p${String(i).padStart(2, '0')}/c${j}`);
        }
      }
      await driver.put('/big', '', 'PERSISTENT');
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          driver.put(`/big/p${String(i).padStart(2, '0')}`, '', 'PERSISTENT'),
        ),
      );
      for (let i = 0; i < leaves.length; i += 2000) {
        await Promise.all(
          leaves.slice(i, i + 2000).map(l => driver.put(l, `value of ${l}`, 'PERSISTENT')),
        );
      }
      const load = async (open: (sink: RecordingSink) => FeedHandle): Promise<number> => {
        const sink = new RecordingSink();
        const started = performance.now();
        const feed = open(sink);
        await feed.ready;
        const took = performance.now() - started;
        feed.close();
        expect(sink.state.size).to.equal(10_001);
        expect(sink.state.get('/big/p42/c7')?.value).to.equal('value of /big/p42/c7');
        return took;
      };
      const times: number[] = [];
      for (let round = 0; round < 3; round++) {
        times.push(
          await load(sink => {
            const feed = driver.openFeed('/big', sink);
            expect(feed.mode).to.equal('persistent');
            return feed;
          }),
        );
      }
      times.forEach((t, i) => measure(`feed initial load of 10 001 nodes, round ${i + 1}`, t));
      const median = [...times].sort((a, b) => a - b)[1] as number;
      expect(median).to.be.lessThan(ms(400));
      // The per-node feed (servers without addWatch) still loads it, only slower.
      const perNode = await feedContext(namespace, { persistent: false });
      const perNodeMs = await load(sink => new ZooKeeperFeedHandle(perNode, '/big', sink));
      measure('per-node feed initial load of 10 001 nodes', perNodeMs);
      expect(perNodeMs).to.be.lessThan(ms(5000));
      await driver.remove('/big');
    });
  });

  describe('openFeed with a persistent recursive watch (ZooKeeper ≥ 3.6)', () => {
    it('follows creations, updates and deletions deep in the subtree; a subtree created at once is seen whole', async () => {
      const namespace = uniqueNamespace();
      const { driver } = await connect({ namespace });
      await driver.put('/p/a/b/c', 'c0', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = driver.openFeed('/p', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      expect(feed.mode).to.equal('persistent');
      expect(await watchedPaths()).to.include(`/${namespace}/p`);

      // A whole subtree in one transaction: the node is read with its children already there.
      await driver.commit([
        { type: 'create', path: '/p/a/b/c/n', value: 'n', mode: 'PERSISTENT' },
        { type: 'create', path: '/p/a/b/c/n/x', value: 'x', mode: 'PERSISTENT' },
        { type: 'create', path: '/p/a/b/c/n/x/y', value: 'y', mode: 'PERSISTENT' },
        { type: 'create', path: '/p/a/b/c/n/z', value: 'z', mode: 'PERSISTENT' },
      ]);
      await sink.until(() => sink.state.size === 8, ms(2000), 'the new subtree');
      const upserts = sink.log.filter(l => l.startsWith('upsert'));
      expect(upserts.indexOf('upsert /p/a/b/c/n=n')).to.equal(0);
      expect(upserts.indexOf('upsert /p/a/b/c/n/x=x')).to.be.lessThan(
        upserts.indexOf('upsert /p/a/b/c/n/x/y=y'),
      );
      expect(upserts).to.have.length(4); // each node once, whatever the number of notifications

      await driver.update('/p/a/b/c/n/x/y', 'y2');
      await sink.until(() => sink.state.get('/p/a/b/c/n/x/y')?.value === 'y2', ms(2000), 'y2');
      await driver.remove('/p/a/b/c/n/x/y');
      await sink.until(() => !sink.state.has('/p/a/b/c/n/x/y'), ms(2000), 'y removed');
      await driver.remove('/p/a/b/c/n');
      await sink.until(() => !sink.state.has('/p/a/b/c/n'), ms(2000), 'n removed');
      expect(sink.values()).to.deep.equal({
        '/p': '',
        '/p/a': '',
        '/p/a/b': '',
        '/p/a/b/c': 'c0',
      });

      // Deleted and created again at once: the new incarnation replaces the old (removed, then added), and
      // the stale NodeDeleted does not remove it.
      sink.log.length = 0;
      await driver.commit([
        { type: 'delete', path: '/p/a/b/c' },
        { type: 'create', path: '/p/a/b/c', value: 'c1', mode: 'PERSISTENT' },
      ]);
      await sink.until(() => sink.state.get('/p/a/b/c')?.value === 'c1', ms(2000), 'c1');
      await driver.update('/p/a', 'a1'); // a later event: everything before it has been handled
      await sink.until(() => sink.state.get('/p/a')?.value === 'a1', ms(2000), 'a1');
      expect(sink.log).to.deep.equal(['remove /p/a/b/c', 'upsert /p/a/b/c=c1', 'upsert /p/a=a1']);
      expect(sink.errors).to.deep.equal([]);
    });

    it('follows the root itself: absent, created with children, deleted', async () => {
      const { driver } = await connect();
      const sink = new RecordingSink();
      const feed = driver.openFeed('/later', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      expect(sink.state.size).to.equal(0);
      await driver.commit([
        { type: 'create', path: '/later', value: 'r', mode: 'PERSISTENT' },
        { type: 'create', path: '/later/x', value: 'x', mode: 'PERSISTENT' },
      ]);
      await sink.until(() => sink.state.size === 2, ms(2000), 'root and child');
      await driver.remove('/later');
      await sink.until(() => sink.state.size === 0, ms(2000), 'root removed');
      expect(sink.log.slice(-1)).to.deep.equal(['remove /later']);
    });

    it('keeps following after a watched read of its root (ZooKeeper 3.8 lets it replace the watch)', async () => {
      const { driver } = await connect();
      await driver.put('/r/a', '1', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = driver.openFeed('/r', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      const invalidated = new EventQueue<string>();
      await driver.readWatched('/r', () => invalidated.push('/r'));
      await sink.until(() => sink.resets === 2, ms(2000), 'the resync that re-adds the watch');
      await driver.update('/r/a', '2');
      await sink.until(() => sink.state.get('/r/a')?.value === '2', ms(2000), '/r/a = 2');
      await driver.update('/r', 'root');
      await sink.until(() => sink.state.get('/r')?.value === 'root', ms(2000), '/r = root');
      expect(await invalidated.take(ms(2000), 'the read watch')).to.equal('/r');
    });

    it('converges on a burst of concurrent creates, deletes, re-creates and updates, parents first', async () => {
      const namespace = uniqueNamespace();
      const { driver } = await connect({ namespace });
      const { driver: writer } = await connect({ namespace });
      await writer.put('/b', '', 'PERSISTENT');
      const orphans: string[] = [];
      const sink = new (class extends RecordingSink {
        override upsert(path: string, data: NodeData): void {
          if (path !== '/b' && !this.state.has(path.slice(0, path.lastIndexOf('/')))) {
            orphans.push(path);
          }
          super.upsert(path, data);
        }
      })();
      const feed = driver.openFeed('/b', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      let seed = 7;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return Math.floor((seed / 2147483648) * n);
      };
      const somePath = (): string => {
        let path = '/b';
        for (let depth = 1 + random(4); depth > 0; depth--) {
          path += `/${'abcd'[random(4)] as string}`;
        }
        return path;
      };
      for (let round = 0; round < 20; round++) {
        const ops = Array.from({ length: 25 }, (_, i): Promise<unknown> => {
          const path = somePath();
          const value = `${round}.${i}`;
          switch (random(4)) {
            case 0:
              return driver.remove(path);
            case 1:
              return writer.commit([
                { type: 'delete', path },
                { type: 'create', path, value, mode: 'PERSISTENT' },
              ]);
            case 2:
              return writer.update(path, value);
            default:
              return writer.put(path, value, 'PERSISTENT');
          }
        });
        await Promise.allSettled(ops);
      }
      await writer.put('/b/zz', 'last', 'PERSISTENT');
      await sink.until(() => sink.state.has('/b/zz'), ms(5000), 'the last write');
      const direct = new Map<string, string>();
      const walk = async (path: string): Promise<void> => {
        const data = await writer.read(path);
        if (data !== null) {
          direct.set(path, data.value);
          for (const child of await writer.children(path)) {
            await walk(`${path}/${child}`);
          }
        }
      };
      await walk('/b');
      expect(new Map(Object.entries(sink.values()))).to.deep.equal(direct);
      expect(orphans).to.deep.equal([]);
      expect(sink.errors).to.deep.equal([]);
    });

    it('resyncs after a connection cut and adds its watch again (same session)', async () => {
      const namespace = uniqueNamespace();
      const p = await proxy();
      const { driver, states } = await connect({ namespace }, [p.endpoint]);
      const { driver: other } = await connect({ namespace });
      await other.put('/s/keep', 'k', 'PERSISTENT');
      await other.put('/s/deep/drop', 'd', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = driver.openFeed('/s', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      const session = driver.sessionId();
      p.setMode('refuse');
      await nextState(states, 'SUSPENDED', ms(1000));
      await other.remove('/s/deep/drop');
      await other.put('/s/deep/added', 'a', 'PERSISTENT');
      p.setMode('pass');
      await nextState(states, 'RECONNECTED', ms(2 * SESSION_MS));
      expect(driver.sessionId()).to.equal(session);
      await sink.until(() => sink.resets === 2, ms(2000), 'second reset');
      expect(sink.values()).to.deep.equal({
        '/s': '',
        '/s/deep': '',
        '/s/deep/added': 'a',
        '/s/keep': 'k',
      });
      await other.put('/s/deep/after/x', 'z', 'PERSISTENT');
      await sink.until(() => sink.state.has('/s/deep/after/x'), ms(2000), '/s/deep/after/x');
      expect(feed.mode).to.equal('persistent');
    });

    it('adds its watch again on the new session after an expiry', async () => {
      const namespace = uniqueNamespace();
      const { driver, states } = await connect({ namespace });
      const { driver: other } = await connect({ namespace });
      await other.put('/e/a/b', 'b', 'PERSISTENT');
      const sink = new RecordingSink();
      const feed = driver.openFeed('/e', sink);
      cleanups.push(() => feed.close());
      await feed.ready;
      await expireZooKeeperSession(driver);
      await states.takeUntil(e => e.state === 'LOST', ms(2 * SESSION_MS), 'LOST');
      await other.put('/e/a/b', 'b2', 'PERSISTENT');
      await nextState(states, 'RECONNECTED', ms(2 * SESSION_MS));
      await sink.until(() => sink.resets === 2, ms(2000), 'second reset');
      await sink.until(() => sink.state.get('/e/a/b')?.value === 'b2', ms(2000), 'b2');
      await other.put('/e/a/b/c/d', 'new', 'PERSISTENT');
      await sink.until(() => sink.state.has('/e/a/b/c/d'), ms(2000), '/e/a/b/c/d');
      expect(await watchedPaths()).to.include(`/${namespace}/e`);
    });

    it('removes its watch from the server when closed, unless another feed still needs it', async () => {
      const namespace = uniqueNamespace();
      const { driver } = await connect({ namespace });
      await driver.put('/w/x', '1', 'PERSISTENT');
      const first = driver.openFeed('/w', new RecordingSink());
      const second = driver.openFeed('/w', new RecordingSink());
      await Promise.all([first.ready, second.ready]);
      expect(await watchedPaths()).to.include(`/${namespace}/w`);
      first.close();
      await driver.read('/w'); // a round trip: a removal would have been processed
      expect(await watchedPaths()).to.include(`/${namespace}/w`);
      second.close();
      await driver.read('/w');
      expect(await watchedPaths()).not.to.include(`/${namespace}/w`);
    });

    for (const unimplemented of ['addWatch', 'multiRead'] as const) {
      it(`falls back to per-node watches when the server answers ${unimplemented} with UNIMPLEMENTED`, async () => {
        const namespace = uniqueNamespace();
        const { driver: writer } = await connect({ namespace });
        await writer.put('/fb/a', '1', 'PERSISTENT');
        const ctx = await feedContext(namespace, { persistent: true, unimplemented });
        const sink = new RecordingSink();
        const feed = new ZooKeeperFeedHandle(ctx, '/fb', sink);
        cleanups.push(() => feed.close());
        await feed.ready;
        expect(feed.mode).to.equal('per-node');
        expect(ctx.support.persistentWatches).to.equal(false);
        expect(sink.values()).to.deep.equal({ '/fb': '', '/fb/a': '1' });
        expect(sink.log).to.deep.equal(['reset']);
        expect(sink.errors).to.deep.equal([]);
        await writer.put('/fb/b/c', 'deep', 'PERSISTENT');
        await sink.until(() => sink.state.has('/fb/b/c'), ms(2000), '/fb/b/c');
        await writer.update('/fb/a', '2');
        await sink.until(() => sink.state.get('/fb/a')?.value === '2', ms(2000), '/fb/a = 2');

        // Later feeds of the same driver start per-node at once.
        const later = new ZooKeeperFeedHandle(ctx, '/fb', new RecordingSink());
        cleanups.push(() => later.close());
        expect(later.mode).to.equal('per-node');
        await later.ready;
      });
    }
  });

  describe('readWatched', () => {
    it('invalidates once on a change by another client, and on a disconnect', async () => {
      const namespace = uniqueNamespace();
      const p = await proxy();
      const { driver, states } = await connect({ namespace }, [p.endpoint]);
      const { driver: other } = await connect({ namespace });
      await other.put('/w', 'one', 'PERSISTENT');
      expect(await driver.readWatched('/absent', () => undefined)).to.equal(null);

      const invalidations = new EventQueue<string>();
      expect(await driver.readWatched('/w', () => invalidations.push('first'))).to.include({
        value: 'one',
      });
      expect(await driver.readWatched('/w', () => invalidations.push('second'))).to.include({
        value: 'one',
      });
      await other.update('/w', 'two');
      const got = [
        await invalidations.take(ms(2000), 'first'),
        await invalidations.take(ms(2000), 'second'),
      ];
      expect(got.sort()).to.deep.equal(['first', 'second']);
      await other.update('/w', 'three'); // the callbacks were one-shot
      expect(await driver.readWatched('/w', () => invalidations.push('third'))).to.include({
        value: 'three',
      });
      expect(invalidations.pending).to.deep.equal([]);

      p.setMode('refuse');
      await nextState(states, 'SUSPENDED', ms(1000));
      expect(await invalidations.take(ms(1000), 'third')).to.equal('third');
    });
  });
});
