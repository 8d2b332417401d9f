import type { CoordinationError } from '../errors';
import type { ConnectionState } from './registry-center';
import type { TxnOp } from './txn';

/**
 * The backend seam. A backend (memory, ZooKeeper, etcd) implements this narrow interface; the shared
 * {@link DrivenRegistryCenter} builds the public contract on top of it (path validation, request
 * timeouts, closed checks, state-sequence normalisation, tree caches, watches, the read cache and
 * `executeInLeader`), so that every backend behaves the same where it matters.
 *
 * Driver rules:
 * - Paths are already validated and namespace-relative ('/a/b'); the driver maps them to its store.
 * - Every method translates its driver's errors into `CoordinationError` subclasses; no driver error
 *   type escapes. A method never hangs forever on its own (the facade adds a deadline anyway).
 * - "Absent" is a return value; "unreachable" is an error.
 * - Writes never retry by themselves after an ambiguous failure (duplicate sequential nodes).
 */
export interface RegistryDriver {
  /** Endpoints and namespace without credentials, e.g. `zookeeper://127.0.0.1:2181/ns`. */
  readonly description: string;

  /**
   * Connect and resolve once usable (state CONNECTED emitted first). Reject with
   * `RegistryConnectionError` / `RegistryAuthError`. The facade enforces `connectTimeoutMs` and calls
   * `close()` when it gives up.
   */
  connect(): Promise<void>;
  /** End the session so that ephemerals vanish at once; stop every timer, socket and feed. Idempotent. */
  close(): Promise<void>;
  /**
   * Register the state listener (called once, before `connect()`). The driver reports CONNECTED once,
   * then SUSPENDED / LOST / RECONNECTED as they happen; a new session after LOST is reported as
   * RECONNECTED with a new `sessionId()`.
   */
  setStateListener(listener: (state: ConnectionState) => void): void;
  /** Identifier of the current session / lease; changes when it is replaced. */
  sessionId(): string | null;
  /**
   * What proves the session alive: the wall-clock time (epoch ms) of the newest server contact that
   * renewed it, and the session timeout / lease TTL the server holds us to. Used for self-fencing.
   */
  sessionHealth(): SessionHealth;

  read(path: string): Promise<NodeData | null>;
  /** Direct children names, any order; `[]` when absent. */
  children(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Upsert, creating missing parents as empty persistent nodes. EPHEMERAL binds the node to the session. */
  put(path: string, value: string, mode: 'PERSISTENT' | 'EPHEMERAL'): Promise<void>;
  /** Set the value of an existing node (`NoNodeError` when absent); an ephemeral node stays ephemeral. */
  update(path: string, value: string): Promise<void>;
  /** Create `path` + 10-digit suffix (parents created); returns the full path. */
  createSequential(path: string, value: string, ephemeral: boolean): Promise<string>;
  /**
   * Delete the node and its subtree; no error when absent. A driver that needs several requests for a large
   * subtree calls `progress` after each completed one: the facade's deadline then runs from the last
   * step, so the whole removal may take as long as its size needs, while one hung step still fails.
   */
  remove(path: string, progress?: () => void): Promise<void>;
  /** Apply all ops or none; `TransactionError` (with `failedIndex`) when one fails. */
  commit(ops: readonly TxnOp[]): Promise<void>;
  /** The registry's clock in epoch ms (ZooKeeper: mtime of a node written for it). */
  serverTime(path: string): Promise<number>;

  /**
   * Mirror the subtree at `root` into `sink`. The driver calls `sink.reset(snapshot)` with the full subtree
   * first, then `upsert`/`remove` for every change in order; after any gap (disconnect, new session,
   * compaction) it calls `reset` again with a fresh snapshot, from which the sink computes the differences.
   * `ready` resolves after the first `reset`.
   */
  openFeed(root: string, sink: FeedSink): FeedHandle;

  /**
   * Read `path` and arm a one-shot invalidation: `onInvalidate` is called (at most once) when the node may
   * have changed after this read, or when the driver can no longer tell (disconnect, session loss).
   * Used by the facade's bounded read cache; `null` (absent) results are not cached by the facade.
   */
  readWatched(path: string, onInvalidate: () => void): Promise<NodeData | null>;
}

export interface SessionHealth {
  /** Epoch ms of the newest server contact that renewed the session (0 before the first). */
  lastContactAt: number;
  /** Negotiated ZooKeeper session timeout / etcd lease TTL / memory session timeout, in ms. */
  sessionTimeoutMs: number;
}

export interface NodeData {
  value: string;
  /** Value changes since creation (ZooKeeper dataVersion; etcd `version - 1`). */
  version: number;
  /** Global modification order (ZooKeeper mzxid, etcd mod_revision, memory revision). */
  stamp: bigint;
  ephemeral: boolean;
}

export interface FeedSink {
  /** The complete subtree (root included when it exists) as of now. */
  reset(snapshot: ReadonlyMap<string, NodeData>): void;
  upsert(path: string, data: NodeData): void;
  /** The node and everything below it are gone. */
  remove(path: string): void;
  /** A background failure the feed could not repair by itself (it keeps trying). */
  error(err: CoordinationError): void;
}

export interface FeedHandle {
  readonly ready: Promise<void>;
  close(): void;
}
