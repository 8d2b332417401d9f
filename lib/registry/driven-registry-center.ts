import { hostname } from 'node:os';
import {
  ClosedError,
  LeadershipLostError,
  RegistryConnectionError,
  ShardlineError,
} from '../errors';
import { abortReason, withProgressTimeout, withTimeout } from '../internal/async';
import { TypedEmitter } from '../internal/typed-emitter';
import { validateNodePath, validatePath } from '../internal/paths';
import { CacheManager } from './cache-manager';
import { ConnectionTracker } from './connection-tracker';
import type { RegistryDriver } from './driver';
import { LeaderLatch, latchIdentity } from './leader-latch';
import { resolveFacadeOptions, type DrivenRegistryCenterOptions } from './options';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  ExecuteInLeaderOptions,
  LeaderCallback,
  NodeStat,
  RegistryListener,
  RequestObserver,
  TreeCache,
  Unsubscribe,
} from './registry-center';
import { RequestObservers } from './request-observers';
import { checkValue, TxnCollector, type TransactionBuilder } from './txn';

const KNOWN_PATHS_MAX = 10_000;

export type { DrivenRegistryCenterOptions } from './options';

interface RegistryCenterEvents {
  connectionStateChanged: [ConnectionState];
  error: [Error];
}

/**
 * The one implementation of {@link CoordinatorRegistryCenter}, over a backend {@link RegistryDriver}.
 * Everything that must behave the same on every backend lives here: path and value validation before any
 * I/O, a deadline on every request, `ClosedError` after `close()`, the normalised connection-state
 * sequence and `sessionEpoch`, tree caches and watches, the coherent read cache, and `executeInLeader`.
 *
 * Background failures that have no caller (a feed that cannot resync yet) are emitted as `'error'`;
 * without an `'error'` listener they are dropped rather than crashing the process, since the feed keeps
 * retrying and the connection state already tells the story.
 */
export class DrivenRegistryCenter
  extends TypedEmitter<RegistryCenterEvents>
  implements CoordinatorRegistryCenter
{
  private readonly tracker: ConnectionTracker;
  private readonly caches: CacheManager;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly identity = latchIdentity(hostname(), process.pid);
  private initPromise: Promise<void> | undefined;
  private readonly requestObservers = new RequestObservers();
  /** Paths already validated by `get()`, so the hot path skips the checks (bounded). */
  private readonly knownPaths = new Set<string>();
  readonly hasCredentials: boolean;

  constructor(
    /** The backend; exposed for test hooks (session expiry, connection drop) only. */
    readonly driver: RegistryDriver,
    options: DrivenRegistryCenterOptions = {},
  ) {
    super();
    const resolved = resolveFacadeOptions(options);
    this.hasCredentials = resolved.hasCredentials;
    this.connectTimeoutMs = resolved.connectTimeoutMs;
    this.requestTimeoutMs = resolved.requestTimeoutMs;
    this.caches = new CacheManager(
      driver,
      resolved.readCacheSize,
      err => this.emitError(err),
      resolved.readCacheMaxBytes,
    );
    this.tracker = new ConnectionTracker(
      () => driver.sessionId(),
      state => this.onState(state),
    );
    driver.setStateListener(state => this.tracker.report(state));
  }

  get connectionState(): ConnectionState | 'LATENT' | 'CLOSED' {
    return this.tracker.state;
  }

  get sessionEpoch(): number {
    return this.tracker.sessionEpoch;
  }

  get lastContactAt(): number {
    return this.driver.sessionHealth().lastContactAt;
  }

  get sessionTimeoutMs(): number {
    return this.driver.sessionHealth().sessionTimeoutMs;
  }

  get description(): string {
    return this.driver.description;
  }

  async init(): Promise<void> {
    this.ensureOpen();
    this.initPromise ??= this.connect();
    return this.initPromise;
  }

  async close(): Promise<void> {
    if (this.tracker.state === 'CLOSED') {
      return;
    }
    this.tracker.close();
    this.caches.closeAll();
    try {
      await this.driver.close();
    } finally {
      this.removeAllListeners();
    }
  }

  // ---- reads ----

  get(path: string): Promise<string | null> {
    // Hot path, kept free of async machinery and timers: a cached subtree or a read-cache hit answers
    // without a round trip (the job layer reads its configuration and sharding this way).
    try {
      if (!this.knownPaths.has(path)) {
        validatePath(path);
        if (this.knownPaths.size >= KNOWN_PATHS_MAX) {
          this.knownPaths.clear();
        }
        this.knownPaths.add(path);
      }
      this.ensureOpen();
      const cache = this.caches.coveringCache(path);
      if (cache !== undefined) {
        return Promise.resolve(cache.get(path));
      }
      const hit = this.caches.cachedRead(path);
      if (hit !== undefined) {
        return Promise.resolve(hit);
      }
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return this.call('get', path, () => this.caches.readThrough(path));
  }

  async getDirectly(path: string): Promise<string | null> {
    validatePath(path);
    return this.call(
      'getDirectly',
      path,
      async () => (await this.driver.read(path))?.value ?? null,
    );
  }

  async getStat(path: string): Promise<NodeStat | null> {
    validatePath(path);
    return this.call('getStat', path, async () => {
      const data = await this.driver.read(path);
      return data === null
        ? null
        : {
            value: data.value,
            version: data.version,
            stamp: data.stamp,
            ephemeral: data.ephemeral,
          };
    });
  }

  async isExisted(path: string): Promise<boolean> {
    validatePath(path);
    return this.call('isExisted', path, () => this.driver.exists(path));
  }

  async getChildrenKeys(path: string): Promise<string[]> {
    validatePath(path);
    return this.call('getChildrenKeys', path, async () =>
      (await this.driver.children(path)).sort(),
    );
  }

  async getNumChildren(path: string): Promise<number> {
    validatePath(path);
    return this.call('getNumChildren', path, async () => (await this.driver.children(path)).length);
  }

  async getRegistryCenterTime(path: string): Promise<number> {
    validateNodePath(path);
    return this.call('getRegistryCenterTime', path, () => this.driver.serverTime(path));
  }

  // ---- writes ----

  async persist(path: string, value: string): Promise<void> {
    validateNodePath(path);
    checkValue(value);
    return this.write('persist', path, () => this.driver.put(path, value, 'PERSISTENT'));
  }

  async update(path: string, value: string): Promise<void> {
    validateNodePath(path);
    checkValue(value);
    return this.write('update', path, () => this.driver.update(path, value));
  }

  async persistEphemeral(path: string, value: string): Promise<void> {
    validateNodePath(path);
    checkValue(value);
    return this.write('persistEphemeral', path, () => this.driver.put(path, value, 'EPHEMERAL'));
  }

  async persistSequential(path: string, value: string): Promise<string> {
    validateNodePath(path);
    checkValue(value);
    return this.write('persistSequential', path, () =>
      this.driver.createSequential(path, value, false),
    );
  }

  async persistEphemeralSequential(path: string, value: string): Promise<string> {
    validateNodePath(path);
    checkValue(value);
    return this.write('persistEphemeralSequential', path, () =>
      this.driver.createSequential(path, value, true),
    );
  }

  async remove(path: string): Promise<void> {
    validateNodePath(path);
    this.ensureOpen();
    try {
      // The deadline applies to each step of the removal, not to the whole subtree, whatever its size.
      return await this.requestObservers.observe(
        'remove',
        withProgressTimeout(
          progress => this.driver.remove(path, progress),
          this.requestTimeoutMs,
          `remove(${path}), a step of the subtree removal,`,
        ),
      );
    } finally {
      this.caches.invalidate(path, true);
    }
  }

  async executeInTransaction(build: (tx: TransactionBuilder) => void): Promise<void> {
    this.ensureOpen();
    const collector = new TxnCollector();
    build(collector);
    if (collector.ops.length === 0) {
      return;
    }
    try {
      await this.call('executeInTransaction', undefined, () => this.driver.commit(collector.ops));
    } finally {
      for (const op of collector.ops) {
        this.caches.invalidate(op.path, op.type === 'delete');
      }
    }
  }

  // ---- caches and watches ----

  async addCacheData(path: string): Promise<void> {
    validatePath(path);
    this.ensureOpen();
    return withTimeout(
      this.caches.addCacheData(path),
      this.connectTimeoutMs,
      `addCacheData(${path})`,
    );
  }

  async evictCacheData(path: string): Promise<void> {
    validatePath(path);
    this.caches.evictCacheData(path);
    return Promise.resolve();
  }

  getRawCache(path: string): TreeCache | undefined {
    return this.caches.getRawCache(path);
  }

  async watch(path: string, listener: RegistryListener): Promise<Unsubscribe> {
    validatePath(path);
    this.ensureOpen();
    return withTimeout(this.caches.watch(path, listener), this.connectTimeoutMs, `watch(${path})`);
  }

  async executeInLeader<T>(
    latchPath: string,
    callback: LeaderCallback<T>,
    options: ExecuteInLeaderOptions = {},
  ): Promise<T> {
    validateNodePath(latchPath);
    this.ensureOpen();
    const latch = new LeaderLatch(this, latchPath, {
      value: this.identity,
      onError: err => this.emitError(err),
    });
    const onAbort = (): void => latch.revoke(abortReason(options.signal));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await latch.start();
      const hold = await latch.acquire(options);
      if (options.signal?.aborted) {
        onAbort(); // aborted between our last read and the hold
      }
      return await callback(hold.signal, { path: hold.path, fence: tx => hold.fence(tx) });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await latch.close(
        new LeadershipLostError(`latch ${latchPath} released`, { path: latchPath }),
      );
    }
  }

  // ---- internals ----

  private async connect(): Promise<void> {
    const what = this.driver.description;
    try {
      await withTimeout(
        this.driver.connect(),
        this.connectTimeoutMs,
        'init',
        () =>
          new RegistryConnectionError(
            `cannot connect to ${what} within ${this.connectTimeoutMs} ms`,
          ),
      );
    } catch (err) {
      await this.driver.close().catch(() => undefined);
      this.tracker.close();
      if (err instanceof ShardlineError) {
        throw err;
      }
      throw new RegistryConnectionError(`cannot connect to ${what}: ${String(err)}`, {
        cause: err,
      });
    }
  }

  private onState(state: ConnectionState): void {
    // Any state change may hide changes we were told nothing about: cached reads must go to the server.
    this.caches.invalidateAll();
    this.emit('connectionStateChanged', state);
  }

  private async write<T>(
    name: string,
    path: string,
    fn: () => Promise<T>,
    subtree = false,
  ): Promise<T> {
    try {
      return await this.call(name, path, fn);
    } finally {
      this.caches.invalidate(path, subtree);
    }
  }

  observeRequests(observer: RequestObserver): Unsubscribe {
    return this.requestObservers.add(observer);
  }

  private call<T>(name: string, path: string | undefined, fn: () => Promise<T>): Promise<T> {
    this.ensureOpen();
    const what = path === undefined ? name : `${name}(${path})`;
    return this.requestObservers.observe(name, withTimeout(fn(), this.requestTimeoutMs, what));
  }

  private ensureOpen(): void {
    if (this.tracker.state === 'CLOSED') {
      throw new ClosedError(`registry center ${this.driver.description}`);
    }
  }

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', err);
    }
  }
}
