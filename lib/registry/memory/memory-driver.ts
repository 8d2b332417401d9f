import { ConnectionLossError, SessionExpiredError } from '../../errors';
import { isUnder } from '../../internal/paths';
import type { FeedHandle, FeedSink, NodeData, RegistryDriver, SessionHealth } from '../driver';
import type { MemoryRegistryOptions } from '../options';
import { DEFAULT_SESSION_TIMEOUT_MS } from '../options';
import type { ConnectionState } from '../registry-center';
import type { TxnOp } from '../txn';
import { MemoryStore, type StoreChange } from './memory-store';

const stores = new Map<string, MemoryStore>();

/** The store shared by every `memory://<namespace>` client of this process. */
export function sharedMemoryStore(namespace: string): MemoryStore {
  let store = stores.get(namespace);
  if (store === undefined) {
    store = new MemoryStore();
    stores.set(namespace, store);
  }
  return store;
}

/**
 * The embedded backend: one client of a {@link MemoryStore}, with a real session (its ephemerals vanish
 * at `close()` and at expiry) and test hooks that simulate what the network does to ZooKeeper and etcd
 * clients: `expireSession()`, `suspend()` (the connection drops; the session expires after
 * `sessionTimeoutMs` unless `resume()` comes first) and `resume()`. Changes reach feeds asynchronously, in
 * order, as they would over a socket; while suspended a client sees nothing and resyncs on resume.
 */
export class MemoryDriver implements RegistryDriver {
  readonly description: string;
  private readonly store: MemoryStore;
  private readonly sessionTimeoutMs: number;
  private session: number | null = null;
  private suspended = false;
  private lastContactAt = 0;
  private closed = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private stateListener: (state: ConnectionState) => void = () => undefined;
  private readonly feeds = new Set<MemoryFeed>();
  private readonly invalidations = new Map<string, Set<() => void>>();
  private unsubscribe: (() => void) | undefined;

  constructor(options: MemoryRegistryOptions, store?: MemoryStore) {
    this.description = `memory://${options.namespace}`;
    this.store = store ?? sharedMemoryStore(options.namespace);
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
  }

  setStateListener(listener: (state: ConnectionState) => void): void {
    this.stateListener = listener;
  }

  /** In-process: every moment connected counts as contact; a suspended client's clock stops at the cut. */
  sessionHealth(): SessionHealth {
    return {
      lastContactAt: this.suspended || this.session === null ? this.lastContactAt : Date.now(),
      sessionTimeoutMs: this.sessionTimeoutMs,
    };
  }

  sessionId(): string | null {
    return this.session === null ? null : `memory-${this.session}`;
  }

  connect(): Promise<void> {
    this.session = this.store.newSessionId();
    this.unsubscribe = this.store.subscribe(changes => this.onChanges(changes));
    this.stateListener('CONNECTED');
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      clearTimeout(this.expiryTimer);
      this.unsubscribe?.();
      for (const feed of [...this.feeds]) {
        feed.close();
      }
      this.invalidations.clear();
      if (this.session !== null) {
        this.store.dropOwner(this.session);
        this.session = null;
      }
    }
    return Promise.resolve();
  }

  // ---- test hooks ----

  /** The session ends now (as a server-side expiry): ephemerals vanish, LOST, then a new session. */
  expireSession(): void {
    if (this.session === null || this.closed) {
      return;
    }
    this.endSession();
    if (!this.suspended) {
      setImmediate(() => this.startSession());
    }
  }

  /** The connection drops: SUSPENDED now, LOST after `sessionTimeoutMs` unless resumed. */
  suspend(): void {
    if (this.suspended || this.closed) {
      return;
    }
    this.suspended = true;
    this.lastContactAt = Date.now();
    this.invalidateAll();
    this.stateListener('SUSPENDED');
    this.expiryTimer = setTimeout(() => this.endSession(), this.sessionTimeoutMs);
  }

  /** The connection comes back: the same session if it lived, else a new one; feeds resync. */
  resume(): void {
    if (!this.suspended || this.closed) {
      return;
    }
    this.suspended = false;
    clearTimeout(this.expiryTimer);
    if (this.session === null) {
      this.startSession();
    } else {
      this.stateListener('RECONNECTED');
    }
    for (const feed of this.feeds) {
      feed.resync();
    }
  }

  // ---- RegistryDriver ----

  read(path: string): Promise<NodeData | null> {
    return this.guard(() => this.store.read(path));
  }

  children(path: string): Promise<string[]> {
    return this.guard(() => this.store.children(path));
  }

  exists(path: string): Promise<boolean> {
    return this.guard(() => this.store.read(path) !== null);
  }

  put(path: string, value: string, mode: 'PERSISTENT' | 'EPHEMERAL'): Promise<void> {
    return this.guard(owner => this.store.put(path, value, mode === 'EPHEMERAL' ? owner : null));
  }

  update(path: string, value: string): Promise<void> {
    return this.guard(() => this.store.update(path, value));
  }

  createSequential(path: string, value: string, ephemeral: boolean): Promise<string> {
    return this.guard(owner => this.store.createSequential(path, value, ephemeral ? owner : null));
  }

  remove(path: string): Promise<void> {
    return this.guard(() => this.store.remove(path));
  }

  commit(ops: readonly TxnOp[]): Promise<void> {
    return this.guard(owner => this.store.commit(ops, owner));
  }

  serverTime(path: string): Promise<number> {
    return this.guard(() => {
      this.store.put(path, String(Date.now()), null);
      return Date.now();
    });
  }

  openFeed(root: string, sink: FeedSink): FeedHandle {
    const feed = new MemoryFeed(
      this.store,
      root,
      sink,
      () => this.suspended,
      f => this.feeds.delete(f),
    );
    this.feeds.add(feed);
    return feed;
  }

  readWatched(path: string, onInvalidate: () => void): Promise<NodeData | null> {
    return this.guard(() => {
      const data = this.store.read(path);
      if (data !== null) {
        let set = this.invalidations.get(path);
        if (set === undefined) {
          set = new Set();
          this.invalidations.set(path, set);
        }
        set.add(onInvalidate);
      }
      return data;
    });
  }

  private guard<T>(fn: (owner: number) => T): Promise<T> {
    try {
      if (this.suspended) {
        throw new ConnectionLossError(`${this.description} is disconnected`);
      }
      if (this.session === null) {
        throw new SessionExpiredError(
          `${this.description}: the session expired; a new one is being created`,
        );
      }
      return Promise.resolve(fn(this.session));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private startSession(): void {
    if (this.closed || this.session !== null) {
      return;
    }
    this.session = this.store.newSessionId();
    this.stateListener('RECONNECTED');
  }

  private endSession(): void {
    if (this.session === null) {
      return;
    }
    this.store.dropOwner(this.session);
    this.session = null;
    this.stateListener('LOST');
  }

  private onChanges(changes: readonly StoreChange[]): void {
    if (this.suspended) {
      return;
    }
    for (const change of changes) {
      const set = this.invalidations.get(change.path);
      if (set !== undefined) {
        this.invalidations.delete(change.path);
        set.forEach(cb => cb());
      }
    }
  }

  private invalidateAll(): void {
    const all = [...this.invalidations.values()];
    this.invalidations.clear();
    all.forEach(set => set.forEach(cb => cb()));
  }
}

/** One subtree feed: snapshot at open, then the store's changes, delivered asynchronously in order. */
class MemoryFeed implements FeedHandle {
  readonly ready: Promise<void>;
  private pending: StoreChange[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly store: MemoryStore,
    private readonly root: string,
    private readonly sink: FeedSink,
    private readonly isSuspended: () => boolean,
    private readonly onClose: (feed: MemoryFeed) => void,
  ) {
    const snapshot = store.snapshot(root);
    this.unsubscribe = store.subscribe(changes => this.enqueue(changes));
    this.ready = Promise.resolve().then(() => {
      if (!this.closed) {
        sink.reset(snapshot);
      }
    });
  }

  /** After a gap: forget what was queued and hand the sink a fresh snapshot to diff against. */
  resync(): void {
    const snapshot = this.store.snapshot(this.root);
    this.pending = [];
    void this.ready.then(() => {
      if (!this.closed) {
        this.sink.reset(snapshot);
      }
    });
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
    }
    this.onClose(this);
  }

  private enqueue(changes: readonly StoreChange[]): void {
    if (this.isSuspended()) {
      return;
    }
    for (const change of changes) {
      if (isUnder(change.path, this.root)) {
        this.pending.push(change);
      }
    }
    if (this.pending.length > 0 && this.scheduled === undefined) {
      this.scheduled = setImmediate(() => void this.ready.then(() => this.flush()));
    }
  }

  private flush(): void {
    this.scheduled = undefined;
    const batch = this.pending;
    this.pending = [];
    if (this.closed || this.isSuspended()) {
      return;
    }
    for (const change of batch) {
      if (change.type === 'put') {
        this.sink.upsert(change.path, change.data);
      } else {
        this.sink.remove(change.path);
      }
    }
  }
}
