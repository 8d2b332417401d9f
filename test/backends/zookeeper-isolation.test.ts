// A plain node-zookeeper-client in the same process as a Shardline ZooKeeper registry behaves exactly as
// without Shardline: the wire layer (lib/registry/zookeeper/wire) hooks its own client objects only, never
// the library's modules or prototypes.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import * as zookeeper from 'node-zookeeper-client';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, RegistryEvent } from '../../lib/registry/registry-center';
import { uniqueNamespace } from '../harness/namespace';
import { ms } from '../harness/timing';
import { ZooKeeperServer } from '../harness/zookeeper-server';

const load = createRequire(__filename);
const LIBRARY_DIR = dirname(load.resolve('node-zookeeper-client/package.json'));
const SESSION_MS = 4000;

/** A plain client of the library, as an application would create it. */
interface PlainClient {
  connect(): void;
  close(): void;
  once(event: 'connected' | 'disconnected', listener: () => void): void;
  create(path: string, data: Buffer, callback: (err: Error | null, path: string) => void): void;
  getData(
    path: string,
    watcher: ((event: PlainEvent) => void) | undefined,
    callback: (err: Error | null, data: Buffer | undefined, stat: PlainStat | undefined) => void,
  ): void;
  setData(path: string, data: Buffer, callback: (err: Error | null) => void): void;
  transaction(): PlainTransaction;
}

interface PlainEvent {
  getType(): number;
  getName(): string;
  getPath(): string;
}

interface PlainStat {
  version: number;
  czxid: Buffer;
}

interface PlainTransaction {
  check(path: string, version?: number): PlainTransaction;
  setData(path: string, data: Buffer, version?: number): PlainTransaction;
  commit(callback: (err: Error | null, results: unknown) => void): void;
}

type PlainException = Error & { getCode(): number; getName(): string; getPath(): string };

function plainClient(connectString: string): PlainClient {
  return zookeeper.createClient(connectString, {
    sessionTimeout: SESSION_MS,
    retries: 0,
  }) as unknown as PlainClient;
}

function call<T>(fn: (done: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

/** The outcome of `fn`: its value or its error, in a comparable form. */
async function outcome<T>(fn: () => Promise<T>): Promise<unknown> {
  try {
    return { value: await fn() };
  } catch (e) {
    const err = e as PlainException;
    return {
      error: {
        isLibraryException: err instanceof zookeeper.Exception,
        code: err.getCode?.(),
        name: err.name,
        message: err.message,
      },
    };
  }
}

/**
 * What a plain client sees for a fixed script under `root`: the errors, the transaction results (including
 * the library's documented version-0 behaviour), how often a watch fires, the classes of what it returns.
 */
async function observe(client: PlainClient, root: string): Promise<unknown> {
  const out: Record<string, unknown> = {};
  out.missing = await outcome(() =>
    call<Buffer | undefined>(d => client.getData(`${root}/none`, undefined, d)),
  );
  await call<string>(d => client.create(root, Buffer.from('r'), d));
  await call<string>(d => client.create(`${root}/n`, Buffer.from('a'), d));
  out.createAgain = await outcome(() =>
    call<string>(d => client.create(`${root}/n`, Buffer.from('b'), d)),
  );
  await call<null>(d => client.setData(`${root}/n`, Buffer.from('b'), err => d(err, null))); // version 1

  // A one-shot watch fires once, however many changes follow.
  const events: string[] = [];
  const first = await call<PlainStat | undefined>(d =>
    client.getData(
      `${root}/n`,
      event => events.push(`${event.getName()}[${event.getType()}]@${event.getPath()}`),
      (err, _data, stat) => d(err, stat),
    ),
  );
  out.statClass = first?.constructor.name;
  out.statVersion = first?.version;
  out.czxidIsBuffer = Buffer.isBuffer(first?.czxid);
  await call<null>(d => client.setData(`${root}/n`, Buffer.from('c'), err => d(err, null)));
  await call<null>(d => client.setData(`${root}/n`, Buffer.from('d'), err => d(err, null)));
  // Replies come in order after notifications on one connection: a second event would be here by now.
  await call<Buffer | undefined>(d => client.getData(`${root}/n`, undefined, d));
  out.events = events.map(e => e.replace(root, '<root>'));

  // Transactions through client.transaction(), with the library's own `version || -1` (issue #67): a check
  // at version 0 passes against a node at version 3.
  out.versionZero = await outcome(() =>
    call<unknown>(d => client.transaction().check(`${root}/n`, 0).commit(d)),
  );
  out.badVersion = await outcome(() =>
    call<unknown>(d =>
      client
        .transaction()
        .check(`${root}/n`, 7)
        .setData(`${root}/n`, Buffer.from('x'), 3)
        .commit(d),
    ),
  );
  out.badVersionResults = await new Promise(resolve =>
    client
      .transaction()
      .check(`${root}/n`, 7)
      .commit((_err, results) => resolve(results)),
  );
  // The library's Exception.create throws for a code it does not know (e.g. -125 QUOTA_EXCEEDED).
  out.unknownCode = await outcome(() =>
    Promise.resolve().then(() =>
      (zookeeper.Exception as unknown as { create(code: number): Error }).create(-125),
    ),
  );
  return out;
}

/** The library's JavaScript sources, concatenated. */
const LIBRARY_SOURCE = [
  'index.js',
  'lib/jute/index.js',
  ...readdirSync(join(LIBRARY_DIR, 'lib'))
    .filter(f => f.endsWith('.js'))
    .map(f => `lib/${f}`),
]
  .map(file => readFileSync(join(LIBRARY_DIR, file), 'utf8'))
  .join('\n');

/** Every function of `target` (own properties) is the library's own code, found verbatim in its sources. */
function expectLibraryCode(target: object, what: string): void {
  for (const key of Object.getOwnPropertyNames(target)) {
    const value = (target as Record<string, unknown>)[key];
    if (typeof value === 'function' && key !== 'constructor' && key !== 'super_') {
      const source = Function.prototype.toString.call(value);
      expect(LIBRARY_SOURCE.includes(source), `${what}: ${key}`).to.equal(true);
    }
  }
}

type Constructor = { prototype: object };

/** The library's modules, classes and prototypes are its own: nothing replaced, nothing added. */
function expectPristineLibrary(client: PlainClient): void {
  const jute = load('node-zookeeper-client/lib/jute') as {
    Request: Constructor;
    Response: Constructor;
    TransactionRequest: Constructor;
    TransactionResponse: Constructor;
    [module: string]: unknown;
  };
  const spec = load('node-zookeeper-client/lib/jute/specification.json') as Record<
    string,
    Record<string, unknown>
  >;
  for (const [module, classes] of Object.entries(spec)) {
    const exported = jute[module] as Record<string, Constructor>;
    expect(Object.keys(exported).sort(), module).to.deep.equal(Object.keys(classes).sort());
    for (const name of Object.keys(classes)) {
      const cls = exported[name] as Constructor;
      expectLibraryCode({ [name]: cls }, 'lib/jute/index.js');
      expectLibraryCode(cls.prototype, 'lib/jute/index.js');
      expectLibraryCode(Object.getPrototypeOf(cls.prototype) as object, 'lib/jute/index.js');
    }
  }
  for (const cls of [
    jute.Request,
    jute.Response,
    jute.TransactionRequest,
    jute.TransactionResponse,
  ]) {
    expectLibraryCode(cls.prototype, 'lib/jute/index.js');
  }
  // Every module of the library: its exports and, for a class, its prototype.
  for (const file of [
    'index.js',
    ...readdirSync(join(LIBRARY_DIR, 'lib'))
      .filter(f => f.endsWith('.js'))
      .map(f => `lib/${f}`),
  ]) {
    const exported = load(join(LIBRARY_DIR, file)) as object;
    expectLibraryCode(exported, file);
    for (const value of [exported, ...(Object.values(exported) as unknown[])]) {
      if (typeof value === 'function') {
        expectLibraryCode({ [file]: value }, file);
        const prototype = (value as Partial<Constructor>).prototype;
        if (prototype !== undefined) {
          expectLibraryCode(prototype, file);
        }
      }
    }
  }
  expectLibraryCode(Object.getPrototypeOf(client) as object, 'index.js');
  expectLibraryCode(Object.getPrototypeOf(client.transaction()) as object, 'lib/Transaction.js');
  const cm = (client as unknown as { connectionManager: { watcherManager: object } })
    .connectionManager;
  expectLibraryCode(Object.getPrototypeOf(cm) as object, 'lib/ConnectionManager.js');
  expectLibraryCode(cm, 'lib/ConnectionManager.js'); // no instance overrides
  const WatcherManager = load('node-zookeeper-client/lib/WatcherManager.js') as Constructor;
  expect(cm.watcherManager).to.be.instanceOf(WatcherManager);
  expectLibraryCode(WatcherManager.prototype, 'lib/WatcherManager.js');
}

describe('ZooKeeper: a plain node-zookeeper-client next to Shardline', function () {
  this.timeout(ms(60_000));
  let server: ZooKeeperServer;
  const plains: PlainClient[] = [];
  const registries: CoordinatorRegistryCenter[] = [];

  async function connectPlain(): Promise<PlainClient> {
    const client = plainClient(server.connectString);
    plains.push(client);
    await new Promise<void>(resolve => {
      client.once('connected', resolve);
      client.connect();
    });
    return client;
  }

  before(async () => {
    server = await ZooKeeperServer.start({ tickTimeMs: 500 });
  });

  after(async () => {
    for (const client of plains.splice(0)) {
      const gone = new Promise<void>(resolve => client.once('disconnected', resolve));
      client.close();
      await gone;
    }
    for (const registry of registries.splice(0)) {
      await registry.close();
    }
    await server?.stop();
  });

  it('sees the same errors, transactions, watches and classes as without Shardline', async () => {
    const plain = await connectPlain();
    expectPristineLibrary(plain);
    const without = await observe(plain, `/${uniqueNamespace('plain')}`);

    // Shardline in the same process, busy on the same server: writes, version-0 transactions, a tree cache
    // (multiRead, persistent watch), direct reads, a watch.
    const namespace = uniqueNamespace('shardline');
    const registry = createRegistryCenter({
      type: 'zookeeper',
      servers: [server.connectString],
      namespace,
      sessionTimeoutMs: SESSION_MS,
    });
    registries.push(registry);
    await registry.init();
    await registry.persist('/job/config', 'v0');
    await registry.executeInTransaction(tx => {
      tx.check('/job/config', 0);
      tx.setData('/job/config', 'v1', 0);
    });
    await expect(
      registry.executeInTransaction(tx => {
        tx.check('/job/config', 0); // now at version 1: refused, unlike the library's transaction
      }),
    ).to.be.rejected;
    await registry.addCacheData('/job');
    const seen: RegistryEvent[] = [];
    const unsubscribe = await registry.watch('/job', event => seen.push(event));
    await registry.update('/job/config', 'v2');
    expect(await registry.getDirectly('/job/config')).to.equal('v2');
    await registry.getRawCache('/job')?.waitFor(cache => cache.get('/job/config') === 'v2', {
      timeoutMs: ms(10_000),
    });

    const plainAfter = await connectPlain();
    const withShardline = await observe(plainAfter, `/${uniqueNamespace('plain')}`);
    expect(withShardline).to.deep.equal(without);
    expectPristineLibrary(plainAfter);
    expectPristineLibrary(plain);
    // The first plain client, connected all along, still works as before.
    expect(await observe(plain, `/${uniqueNamespace('plain')}`)).to.deep.equal(without);
    unsubscribe();
  });

  it('shows the expected library behaviour (the baseline above is the library’s, not ours)', async () => {
    const plain = await connectPlain();
    const seen = (await observe(plain, `/${uniqueNamespace('plain')}`)) as Record<string, unknown>;
    expect(seen.missing).to.deep.equal({
      error: {
        isLibraryException: true,
        code: -101,
        name: 'NO_NODE',
        message: 'Exception: NO_NODE[-101]',
      },
    });
    expect(seen.createAgain).to.deep.include({
      error: {
        isLibraryException: true,
        code: -110,
        name: 'NODE_EXISTS',
        message: 'Exception: NODE_EXISTS[-110]',
      },
    });
    expect(seen.events).to.deep.equal(['NODE_DATA_CHANGED[3]@<root>/n']);
    expect(seen.statClass).to.equal('constructor'); // the library's generated jute class
    expect(seen.versionZero).to.deep.equal({ value: [{ type: 13 }] });
    expect(seen.badVersionResults).to.deep.equal([{ type: -1, err: -103 }]);
    expect(seen.unknownCode).to.deep.include({
      error: {
        isLibraryException: false,
        code: undefined,
        name: 'Error',
        message: 'Unknown code: -125',
      },
    });
  });
});
