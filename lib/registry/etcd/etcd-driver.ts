import type { Etcd3 } from 'etcd3';
import {
  ClosedError,
  ConfigurationError,
  type CoordinationError,
  RegistryConnectionError,
} from '../../errors';
import { delay } from '../../internal/async';
import { Backoff } from '../../internal/backoff';
import type { FeedHandle, FeedSink, NodeData, RegistryDriver, SessionHealth } from '../driver';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_LEASE_TTL_SECONDS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type EtcdRegistryOptions,
} from '../options';
import type { ConnectionState } from '../registry-center';
import type { TxnOp } from '../txn';
import { createEtcdClient } from './etcd-client';
import { isUnreachable } from './etcd-errors';
import { EtcdFeed } from './etcd-feed';
import { EtcdInvalidation } from './etcd-invalidation';
import { EtcdKeys } from './etcd-keys';
import { EtcdKv } from './etcd-kv';
import { EtcdSession } from './etcd-session';
import { TermWatch, termTrackedKv } from './etcd-term-watch';
import { commitTxn } from './etcd-txn';
import { type WatchHealth, WatchSource } from './etcd-watch';

/** etcd raises shorter lease TTLs to 2 s (1.5 × its election timeout). */
const MIN_LEASE_TTL_SECONDS = 2;
/** `connect()` tries again after these delays while the server is unreachable, up to its deadline. */
const CONNECT_BACKOFF = { initialMs: 100, maxMs: 1_000 };
/** How long `close()` waits for the server to confirm watch cancellations. */
const CLOSE_WATCH_WAIT_MS = 1_000;

/**
 * The etcd backend of the registry ({@link RegistryDriver}) over etcd3@1.1.2, defending against that
 * client's bugs (each reproduced by a test in etcd-driver.test.ts): own keepalive clock and LOST at ~TTL
 * (not 2 × TTL), own watch resume from applied revisions, snapshot resync on compaction, no etcd3 retries / circuit breaker,
 * lease-preserving updates, `key + '/'` ranges instead of byte prefixes.
 *
 * Pieces: {@link EtcdKeys} (key layout), {@link EtcdSession} (the lease and connection states),
 * {@link EtcdKv} (single-key ops), {@link commitTxn} (transactions), {@link EtcdFeed} (tree-cache feeds),
 * {@link EtcdInvalidation} (read-cache invalidation).
 *
 * `serverTime` returns the local clock: etcd v3 has no server timestamps (see {@link serverTime}).
 */
export class EtcdDriver implements RegistryDriver {
  readonly description: string;
  /** 'host:port' endpoints, as configured. */
  readonly hosts: string[];
  private readonly client: Etcd3;
  private readonly keys: EtcdKeys;
  private readonly session: EtcdSession;
  private readonly kv: EtcdKv;
  /** Follows the raft term in answers; ends KV requests stranded by a leader change (etcd-term-watch.ts). */
  private readonly terms = new TermWatch();
  private readonly invalidation: EtcdInvalidation;
  private readonly feeds = new Set<EtcdFeed>();
  private readonly health: WatchHealth;
  private readonly watchSource: WatchSource;
  private readonly connectTimeoutMs: number;
  private listener: (state: ConnectionState) => void = () => undefined;
  private readonly closeController = new AbortController();
  private closePromise: Promise<void> | undefined;

  constructor(options: EtcdRegistryOptions) {
    if (!Array.isArray(options.hosts) || options.hosts.length === 0) {
      throw new ConfigurationError(
        'etcd option "hosts" must list at least one "host:port"',
        'hosts',
      );
    }
    const ttl = options.leaseTtlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
    if (!Number.isFinite(ttl) || ttl <= 0) {
      throw new ConfigurationError(
        `etcd option "leaseTtlSeconds" must be a positive number, got ${ttl}`,
        'leaseTtlSeconds',
      );
    }
    const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.hosts = [...options.hosts];
    this.keys = new EtcdKeys(options.namespace);
    this.description = `etcd://${this.hosts.join(',')}/${options.namespace}`;
    this.client = createEtcdClient(options, requestTimeoutMs);
    this.health = new WatchHealthCounter(() => this.session);
    this.session = new EtcdSession({
      leaseClient: this.client.leaseClient,
      ttlSeconds: Math.max(MIN_LEASE_TTL_SECONDS, ttl),
      requestTimeoutMs,
      description: this.description,
      onState: state => this.onSessionState(state),
      onLost: () => this.invalidation.invalidateAll(),
      onAnswerHeader: header => this.terms.observe(header),
    });
    this.kv = new EtcdKv(termTrackedKv(this.client.kv, this.terms), this.keys, this.session, {
      description: this.description,
      requestTimeoutMs,
    });
    this.watchSource = new WatchSource(this.client);
    this.invalidation = new EtcdInvalidation(this.watchSource, this.kv, this.keys, this.health);
  }

  private onSessionState(state: ConnectionState): void {
    // Feeds resync after every SUSPENDED / LOST once the session is back, even when their watch stream
    // never noticed the gap (a short blackhole), so caches always emit 'reset' after a gap.
    for (const feed of this.feeds) {
      if (state === 'SUSPENDED' || state === 'LOST') {
        feed.markStale();
      } else if (state === 'RECONNECTED') {
        feed.sessionRestored();
      }
    }
    this.listener(state);
  }

  setStateListener(listener: (state: ConnectionState) => void): void {
    this.listener = listener;
  }

  sessionHealth(): SessionHealth {
    return this.session.health();
  }

  sessionId(): string | null {
    return this.session.leaseId();
  }

  /** The current lease id (decimal string), or null between LOST and the next grant. For tests. */
  currentLeaseId(): string | null {
    return this.session.leaseId();
  }

  /**
   * Verify reachability and credentials with real calls (a read of the namespace root, then the lease
   * grant), retrying while the server is unreachable until `connectTimeoutMs`; then CONNECTED.
   */
  async connect(): Promise<void> {
    this.ensureOpen();
    const deadline = Date.now() + this.connectTimeoutMs;
    const backoff = new Backoff(CONNECT_BACKOFF);
    for (;;) {
      try {
        await this.kv.currentRevision();
        await this.session.start();
        return;
      } catch (err) {
        const e = err as CoordinationError;
        this.ensureOpen();
        if (!isUnreachable(e)) {
          throw e;
        }
        const wait = backoff.next();
        if (Date.now() + wait >= deadline) {
          throw new RegistryConnectionError(
            `cannot reach etcd at ${this.hosts.join(', ')} within ${this.connectTimeoutMs} ms: ${e.message}`,
            { cause: e },
          );
        }
        await delay(wait, this.closeController.signal).catch(() => undefined);
        this.ensureOpen();
      }
    }
  }

  close(): Promise<void> {
    this.closePromise ??= this.doClose();
    return this.closePromise;
  }

  private async doClose(): Promise<void> {
    this.closeController.abort(new ClosedError(this.description));
    const watches = [...this.feeds].map(f => f.closeAndWait());
    watches.push(this.invalidation.close());
    const waited = new AbortController();
    await Promise.race([
      Promise.all(watches),
      delay(CLOSE_WATCH_WAIT_MS, waited.signal).catch(() => undefined),
    ]);
    waited.abort(); // no timer may outlive close()
    await this.session.close(); // revokes the lease: our ephemeral keys vanish now
    this.client.close();
  }

  read(path: string): Promise<NodeData | null> {
    return this.guard(() => this.kv.read(path));
  }

  children(path: string): Promise<string[]> {
    return this.guard(() => this.kv.children(path));
  }

  exists(path: string): Promise<boolean> {
    return this.guard(() => this.kv.exists(path));
  }

  put(path: string, value: string, mode: 'PERSISTENT' | 'EPHEMERAL'): Promise<void> {
    return this.guard(() => this.kv.put(path, value, mode));
  }

  update(path: string, value: string): Promise<void> {
    return this.guard(() => this.kv.update(path, value));
  }

  createSequential(path: string, value: string, ephemeral: boolean): Promise<string> {
    return this.guard(() => this.kv.createSequential(path, value, ephemeral));
  }

  remove(path: string): Promise<void> {
    return this.guard(() => this.kv.remove(path));
  }

  commit(ops: readonly TxnOp[]): Promise<void> {
    return this.guard(() => commitTxn(this.kv, this.keys, this.session, ops));
  }

  /**
   * etcd v3 keeps no server timestamps, so this returns the LOCAL clock (`Date.now()`); it is used only for
   * the max-time-difference check, which therefore cannot detect skew on etcd. Like ZooKeeper it still writes
   * the node (a round trip that proves the registry is reachable).
   */
  serverTime(path: string): Promise<number> {
    return this.guard(async () => {
      await this.kv.put(path, String(Date.now()), 'PERSISTENT');
      return Date.now();
    });
  }

  openFeed(root: string, sink: FeedSink): FeedHandle {
    this.ensureOpen();
    const feed = new EtcdFeed(this.watchSource, this.kv, this.keys, root, sink, this.health, f =>
      this.feeds.delete(f),
    );
    this.feeds.add(feed);
    return feed;
  }

  readWatched(path: string, onInvalidate: () => void): Promise<NodeData | null> {
    return this.guard(() => this.invalidation.readWatched(path, onInvalidate));
  }

  private ensureOpen(): void {
    if (this.closeController.signal.aborted) {
      throw new ClosedError(this.description);
    }
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    this.ensureOpen();
    return fn();
  }
}

/** Aggregates the health of all watches: SUSPENDED when the first one drops, restored when none is down. */
class WatchHealthCounter implements WatchHealth {
  private down = 0;

  constructor(private readonly session: () => EtcdSession) {}

  reportWatchLoss(): void {
    this.down++;
    if (this.down === 1) {
      this.session().reportWatchLoss();
    }
  }

  reportWatchRestored(): void {
    this.down = Math.max(0, this.down - 1);
    if (this.down === 0) {
      this.session().reportWatchRestored();
    }
  }
}
