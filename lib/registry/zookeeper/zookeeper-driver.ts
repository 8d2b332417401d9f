import { ClosedError, ConfigurationError, isRetryable, NodeExistsError } from '../../errors';
import { validatePath } from '../../internal/paths';
import type { FeedSink, NodeData, RegistryDriver, SessionHealth } from '../driver';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
} from '../options';
import type { ZooKeeperRegistryOptions } from '../options';
import type { ConnectionState } from '../registry-center';
import type { TxnOp } from '../txn';
import { nodeAcl } from './zookeeper-acl';
import { ZkCreateMode } from './zookeeper-client-types';
import type { ZkAcl } from './zookeeper-client-types';
import { ZooKeeperFeedHandle } from './zookeeper-feed-handle';
import type { FeedContext } from './zookeeper-feed-handle';
import { commitTransaction } from './zookeeper-multi';
import { sessionMultiReader } from './zookeeper-multi-read';
import { prepareNamespace } from './zookeeper-namespace';
import { sessionPersistentWatcher } from './zookeeper-persistent-watch';
import { ReadWatches } from './zookeeper-read-watch';
import { statMtimeMs, toNodeData, ZkPaths, ZkRequests } from './zookeeper-requests';
import { ZooKeeperSession } from './zookeeper-session';
import { EMPTY, ZkTreeWrites } from './zookeeper-tree-writes';

/**
 * The ZooKeeper backend (RegistryDriver over node-zookeeper-client@1.1.3). The namespace is a path prefix we
 * add and strip ourselves (no chroot: a chroot must exist before connecting). Every node we create gets our
 * ACL (digest id with ALL when credentials are configured).
 *
 * Where things are: session, connection states and request deadlines in zookeeper-session.ts (with
 * -connection.ts and -watchdog.ts); mkdirp, recursive delete and ephemeral replace in -tree-writes.ts;
 * namespace root and credential probe in -namespace.ts; multi in -multi.ts; the subtree mirror behind
 * `openFeed` in -feed-handle.ts (a persistent recursive watch + multiRead in -persistent-feed.ts on ZooKeeper
 * ≥ 3.6, per-node watches in -feed.ts otherwise); `readWatched` in -read-watch.ts; library patches in
 * -patches.ts, -jute.ts and -watchers.ts, requests the library does not know in -own-requests.ts; error
 * translation in -errors.ts.
 */

/** Rounds of set-or-create before a persistent upsert that keeps losing races gives up. */
const UPSERT_ATTEMPTS = 5;

export class ZooKeeperDriver implements RegistryDriver {
  readonly description: string;
  readonly servers: string[];
  private readonly paths: ZkPaths;
  private readonly session: ZooKeeperSession;
  private readonly requests: ZkRequests;
  /** Requests on server paths as they are (the namespace root and its ancestors). */
  private readonly rootRequests: ZkRequests;
  private readonly readWatches: ReadWatches;
  private readonly writes: ZkTreeWrites;
  private readonly acl: ZkAcl[];
  private readonly feeds = new Set<ZooKeeperFeedHandle>();
  private readonly feedContext: FeedContext;
  private readonly connectTimeoutMs: number;
  private connecting: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly options: ZooKeeperRegistryOptions) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new ConfigurationError(
        'ZooKeeper servers must be a non-empty list of host:port',
        'servers',
      );
    }
    for (const server of options.servers) {
      if (typeof server !== 'string' || !/^[^\s,/]+:\d+$/.test(server)) {
        throw new ConfigurationError(
          `invalid ZooKeeper server ${JSON.stringify(server)} (want host:port)`,
          'servers',
        );
      }
    }
    const namespace =
      typeof options.namespace === 'string' ? options.namespace.replace(/^\/+|\/+$/g, '') : '';
    try {
      validatePath('/' + namespace);
    } catch (e) {
      throw new ConfigurationError(
        `invalid namespace ${JSON.stringify(options.namespace)}: ${String(e)}`,
        'namespace',
      );
    }
    if (namespace === '' || namespace === 'zookeeper' || namespace.startsWith('zookeeper/')) {
      throw new ConfigurationError(
        `invalid namespace ${JSON.stringify(options.namespace)}`,
        'namespace',
      );
    }
    this.servers = [...options.servers];
    this.description = `zookeeper://${this.servers.join(',')}/${namespace}`;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.paths = new ZkPaths('/' + namespace);
    this.acl = nodeAcl(options.auth);
    this.session = new ZooKeeperSession({
      servers: this.servers,
      sessionTimeoutMs: options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      auth: options.auth,
    });
    this.requests = new ZkRequests(this.session, this.paths);
    this.rootRequests = new ZkRequests(this.session, new ZkPaths(''));
    this.readWatches = new ReadWatches(this.session, this.requests);
    this.writes = new ZkTreeWrites(this.session, this.requests, this.rootRequests, this.acl);
    this.feedContext = {
      session: this.session,
      requests: this.requests,
      read: sessionMultiReader(this.session, this.paths),
      watch: sessionPersistentWatcher(this.session),
      support: { persistentWatches: true },
    };
  }

  connect(): Promise<void> {
    if (this.closed) {
      return Promise.reject(new ClosedError('ZooKeeper driver'));
    }
    this.connecting ??= this.doConnect();
    return this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const feed of [...this.feeds]) {
      feed.close();
    }
    this.feeds.clear();
    this.readWatches.invalidateAll();
    await this.session.close();
  }

  setStateListener(listener: (state: ConnectionState) => void): void {
    this.session.setListener(listener);
  }

  sessionHealth(): SessionHealth {
    return {
      lastContactAt: this.session.lastContactAt,
      sessionTimeoutMs: this.session.sessionTimeoutMs,
    };
  }

  sessionId(): string | null {
    return this.session.sessionId();
  }

  /** Session id and password of the live session (tests use them to expire it, as Curator's KillSession). */
  sessionCredentials(): { sessionId: Buffer; password: Buffer } | null {
    return this.session.credentials();
  }

  /** The session timeout the server granted (the requested one before the first connection). */
  get sessionTimeoutMs(): number {
    return this.session.sessionTimeoutMs;
  }

  async read(path: string): Promise<NodeData | null> {
    const reply = await this.requests.getData(path);
    return reply === null ? null : toNodeData(reply);
  }

  async children(path: string): Promise<string[]> {
    return (await this.requests.getChildren(path)) ?? [];
  }

  async exists(path: string): Promise<boolean> {
    return (await this.requests.exists(path)) !== null;
  }

  async put(path: string, value: string, mode: 'PERSISTENT' | 'EPHEMERAL'): Promise<void> {
    const data = Buffer.from(value, 'utf8');
    if (mode === 'EPHEMERAL') {
      await this.writes.putEphemeral(path, data);
      return;
    }
    // An upsert racing with others' creates and deletes of the same node: set it if it exists, else
    // create it; a create that finds it created meanwhile sets it, and a set that finds it deleted
    // meanwhile creates it again (a few rounds; each loss means another client wrote the node).
    for (let attempt = 1; ; attempt++) {
      if (await this.writes.setIfExists(path, data)) {
        return;
      }
      try {
        await this.writes.createWithParents(path, data, ZkCreateMode.PERSISTENT);
        return;
      } catch (e) {
        if (!(e instanceof NodeExistsError) || attempt >= UPSERT_ATTEMPTS) {
          throw e;
        }
      }
    }
  }

  async update(path: string, value: string): Promise<void> {
    await this.requests.setData(path, Buffer.from(value, 'utf8'));
  }

  createSequential(path: string, value: string, ephemeral: boolean): Promise<string> {
    const mode = ephemeral ? ZkCreateMode.EPHEMERAL_SEQUENTIAL : ZkCreateMode.PERSISTENT_SEQUENTIAL;
    return this.writes.createWithParents(path, Buffer.from(value, 'utf8'), mode);
  }

  remove(path: string, progress?: () => void): Promise<void> {
    return this.writes.removeSubtree(path, progress);
  }

  commit(ops: readonly TxnOp[]): Promise<void> {
    return commitTransaction(this.session, this.requests, this.acl, ops);
  }

  async serverTime(path: string): Promise<number> {
    let stat = await this.writes.setIfExists(path, EMPTY);
    if (stat === null) {
      try {
        await this.writes.createWithParents(path, EMPTY, ZkCreateMode.PERSISTENT);
      } catch (e) {
        if (!(e instanceof NodeExistsError)) {
          throw e;
        }
      }
      stat = await this.requests.setData(path, EMPTY); // a fresh mtime, and create returns no stat
    }
    return statMtimeMs(stat);
  }

  openFeed(root: string, sink: FeedSink): ZooKeeperFeedHandle {
    if (this.closed) {
      throw new ClosedError('ZooKeeper driver');
    }
    const feed: ZooKeeperFeedHandle = new ZooKeeperFeedHandle(this.feedContext, root, sink, () =>
      this.feeds.delete(feed),
    );
    this.feeds.add(feed);
    return feed;
  }

  readWatched(path: string, onInvalidate: () => void): Promise<NodeData | null> {
    return this.readWatches.read(path, onInvalidate);
  }

  private async doConnect(): Promise<void> {
    this.session.start();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(this.session.connectError(this.connectTimeoutMs)),
        this.connectTimeoutMs,
      );
    });
    try {
      await Promise.race([this.prepare(), deadline]);
    } catch (e) {
      await this.close();
      // Closed from outside while a start-up request was pending: still a connection failure to the caller.
      throw e instanceof ClosedError ? this.session.connectError() : e;
    } finally {
      clearTimeout(timer);
    }
    this.session.markReady();
  }

  /** Wait for a connection, create the namespace root (with our ACL) and verify that we may write it. */
  private async prepare(): Promise<void> {
    for (;;) {
      await this.session.waitConnected();
      try {
        await prepareNamespace(
          this.rootRequests,
          this.paths.prefix,
          this.acl,
          this.servers,
          this.options.auth,
        );
        return;
      } catch (e) {
        if (!isRetryable(e) || this.session.isClosed) {
          throw e;
        }
      }
    }
  }
}
