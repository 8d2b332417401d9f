import type { CoordinationError } from '../errors';
import type { TransactionBuilder } from './txn';

/**
 * The registry contract every Shardline backend (memory, ZooKeeper, etcd) implements with identical
 * semantics; the job layer, the operations API and the recipes depend on this file only.
 *
 * In the contract:
 * - Paths are absolute, '/'-separated, no trailing slash, relative to the configured namespace.
 *   An invalid path is rejected with `InvalidPathError` before any I/O.
 * - "Absent" is a return value (`null`, `false`, `[]`); "unreachable" is always an error
 *   (`ConnectionLossError`, `OperationTimeoutError`, `SessionExpiredError`, `ClosedError`). Every request
 *   has a timeout (`requestTimeoutMs`); none can hang.
 * - Children are returned sorted ascending (JavaScript string order).
 * - Ephemeral nodes live as long as this client's session (ZooKeeper session, etcd lease, memory session)
 *   and vanish for every other client at `close()` and at session expiry.
 * - Sequential nodes get a 10-digit zero-padded suffix that increases per parent across all clients.
 * - Transactions apply all ops or none.
 * - Connection states follow Curator: CONNECTED (first connection), SUSPENDED (connection lost, the
 *   session may live), RECONNECTED (same or new session), LOST (session gone: ephemerals gone). After LOST
 *   the client builds a new session by itself and reports RECONNECTED with a larger `sessionEpoch`. It does
 *   NOT re-create ephemeral nodes: their owners do.
 *
 * Not guaranteed:
 * - Caches and watches coalesce: two quick changes of one node may surface as one event carrying the
 *   latest value, and a node created and deleted between two reads of a resync may never surface.
 * - A latch held in `executeInLeader` can be lost before the callback returns (session expiry, partition):
 *   the callback's signal aborts, and writes fenced with the latch fail, but the callback itself is not
 *   stopped by force.
 */
export interface CoordinatorRegistryCenter {
  /** Current connection state (`'LATENT'` before `init()`, `'CLOSED'` after `close()`). */
  readonly connectionState: ConnectionState | 'LATENT' | 'CLOSED';
  /** Grows each time the session (ZooKeeper) or lease (etcd) is replaced; 0 before `init()`. */
  readonly sessionEpoch: number;
  /**
   * Wall-clock time (epoch ms) of the newest server contact that renewed the session or lease (ZooKeeper:
   * any reply, heartbeats included; etcd: the send time of the newest answered keepalive); 0 before
   * `init()`. `Date.now() - lastContactAt` bounds how stale our claim to the session may be — also right
   * after a process was frozen (SIGSTOP, GC), before any timer of ours has run.
   */
  readonly lastContactAt: number;
  /** The session timeout / lease TTL the server holds this client to, in ms. */
  readonly sessionTimeoutMs: number;
  /** Endpoints and namespace, without credentials, for messages. */
  readonly description: string;
  /**
   * Whether this client presents credentials (ZooKeeper digest, etcd user/password or TLS client
   * certificate). False says nothing about the server: it may still be open to every client.
   */
  readonly hasCredentials: boolean;

  init(): Promise<void>;
  close(): Promise<void>;

  get(path: string): Promise<string | null>;
  getDirectly(path: string): Promise<string | null>;
  /** Value and version, always a round trip; `null` when absent. */
  getStat(path: string): Promise<NodeStat | null>;
  isExisted(path: string): Promise<boolean>;
  persist(path: string, value: string): Promise<void>;
  update(path: string, value: string): Promise<void>;
  persistEphemeral(path: string, value: string): Promise<void>;
  persistSequential(path: string, value: string): Promise<string>;
  persistEphemeralSequential(path: string, value: string): Promise<string>;
  remove(path: string): Promise<void>;
  getChildrenKeys(path: string): Promise<string[]>;
  getNumChildren(path: string): Promise<number>;
  getRegistryCenterTime(path: string): Promise<number>;

  addCacheData(path: string): Promise<void>;
  evictCacheData(path: string): Promise<void>;
  /**
   * The cache started by `addCacheData(path)` (exactly that path), as a read-only view; `undefined` when
   * there is none. The registry owns it: `evictCacheData` and `close()` stop it.
   */
  getRawCache(path: string): TreeCache | undefined;
  /** Subscribe to changes under `path` from now on; resolves once the watch is established. */
  watch(path: string, listener: RegistryListener): Promise<Unsubscribe>;

  executeInLeader<T>(
    latchPath: string,
    callback: LeaderCallback<T>,
    options?: ExecuteInLeaderOptions,
  ): Promise<T>;
  executeInTransaction(build: (tx: TransactionBuilder) => void): Promise<void>;

  /**
   * Calls `observer` after each round trip this client makes (not for answers from a cache), with the
   * operation's method name (`getDirectly`, `persist`, `executeInTransaction`, …), its duration and
   * whether it failed. For metrics; returns the unsubscribe function. Costs nothing while nobody observes.
   */
  observeRequests(observer: RequestObserver): Unsubscribe;

  on(event: 'connectionStateChanged', listener: (state: ConnectionState) => void): this;
  off(event: 'connectionStateChanged', listener: (state: ConnectionState) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  off(event: 'error', listener: (err: Error) => void): this;
}

export type ConnectionState = 'CONNECTED' | 'SUSPENDED' | 'RECONNECTED' | 'LOST';

export const CreateMode = {
  PERSISTENT: 'PERSISTENT',
  EPHEMERAL: 'EPHEMERAL',
  PERSISTENT_SEQUENTIAL: 'PERSISTENT_SEQUENTIAL',
  EPHEMERAL_SEQUENTIAL: 'EPHEMERAL_SEQUENTIAL',
} as const;
export type CreateMode = (typeof CreateMode)[keyof typeof CreateMode];

export interface NodeStat {
  value: string;
  /** Number of value changes since creation (0 at creation), as ZooKeeper's dataVersion. */
  version: number;
  /**
   * The registry's global modification order of this node's last write (ZooKeeper mzxid, etcd
   * mod_revision, memory revision): it only grows, whoever writes, also across a delete and re-create.
   */
  stamp: bigint;
  ephemeral: boolean;
}

export interface RegistryEvent {
  type: 'added' | 'updated' | 'removed';
  path: string;
  /** The new value; for `removed`, the last known value. */
  value: string | null;
  /** The value before an update (`null` for `added`; for `removed`, the last known value). */
  previous: string | null;
}

export interface TreeCacheEvents {
  /** A node under the root was added, updated or removed (after the initial load). */
  event: [RegistryEvent];
  /** The initial load is complete (once). */
  initialized: [];
  /** The cache resynchronised from a fresh read after a gap and emitted the differences. */
  reset: [];
  /** A background failure the feed could not repair by itself yet. */
  error: [CoordinationError];
}

/**
 * A local mirror of one subtree, kept current by the backend's feed (Curator's TreeCache / CuratorCache),
 * as callers see it: read-only. The registry owns and feeds it (`addCacheData` starts it, `evictCacheData`
 * and `close()` stop it); nothing here can change its content.
 *
 * `addCacheData` resolves after the initial load, which emits no events. From then on every change emits
 * one `event` ({ type, path, value, previous }) in the order the backend reports them. After any gap
 * (disconnect, new session, etcd compaction) the backend re-reads the subtree and the cache emits exactly
 * the differences between what it held and what it read, then `reset`: nothing lost, nothing duplicated.
 *
 * IMPORTANT: a cache is eventually consistent. Intermediate values between two reads can be coalesced
 * into one `updated`; a node created and deleted during a gap never surfaces; a write made by this client
 * is visible here only once the backend has reported it (no read-your-writes).
 *
 * Example:
 * ```ts
 * await registry.addCacheData('/order-sync');
 * const cache = registry.getRawCache('/order-sync')!;
 * cache.on('event', e => console.log(e.type, e.path, e.value));
 * cache.children('/order-sync/instances'); // sorted names, no round trip
 * ```
 */
export interface TreeCache {
  /** The subtree this cache mirrors. */
  readonly root: string;
  /** True once the initial load is complete. */
  readonly isInitialized: boolean;
  /** True once the registry stopped the cache (`evictCacheData`, `close()`); it then holds nothing. */
  readonly isClosed: boolean;
  /** Number of cached nodes. */
  readonly size: number;

  /** The cached value, or `null` when the node is absent from the cache. */
  get(path: string): string | null;
  /** The cached value with its version, stamp and ephemeral flag; `undefined` when absent. */
  getData(path: string): Readonly<NodeStat> | undefined;
  has(path: string): boolean;
  /** Names of the cached children of `path`, sorted ascending. */
  children(path: string): string[];
  /** Every cached [path, value] pair, in no particular order. */
  entries(): IterableIterator<[string, string]>;
  /**
   * Resolve once `predicate(cache)` holds, re-evaluated on every change; reject with
   * `OperationTimeoutError` after `timeoutMs`, or with the signal's reason when `signal` aborts. No polling.
   */
  waitFor(
    predicate: (cache: TreeCache) => boolean,
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<void>;

  on<K extends keyof TreeCacheEvents>(
    event: K,
    listener: (...args: TreeCacheEvents[K]) => void,
  ): this;
  once<K extends keyof TreeCacheEvents>(
    event: K,
    listener: (...args: TreeCacheEvents[K]) => void,
  ): this;
  off<K extends keyof TreeCacheEvents>(
    event: K,
    listener: (...args: TreeCacheEvents[K]) => void,
  ): this;
}

export type RegistryListener = (event: RegistryEvent) => void;
/** See `observeRequests`. Called synchronously as the request settles; must not throw. */
export type RequestObserver = (op: string, durationMs: number, failed: boolean) => void;
export type Unsubscribe = () => void;

/**
 * Handed to an `executeInLeader` callback. `fence(tx)` adds a check on the latch node to a transaction,
 * so a write made by a holder that has lost the latch fails with `TransactionError`.
 */
export interface LeaderFence {
  /** Path of the latch node this holder owns. */
  readonly path: string;
  fence(tx: TransactionBuilder): TransactionBuilder;
}

export type LeaderCallback<T> = (signal: AbortSignal, fence: LeaderFence) => Promise<T>;

export interface ExecuteInLeaderOptions {
  /** Give up waiting for the latch after this long with `LockTimeoutError` (default: wait). */
  timeoutMs?: number;
  /** Abort waiting (and the callback's signal) from outside. */
  signal?: AbortSignal;
}
