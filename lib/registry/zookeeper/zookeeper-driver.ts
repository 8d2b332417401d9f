import {
  BadVersionError,
  ClosedError,
  ConfigurationError,
  isRetryable,
  NodeExistsError,
  NoNodeError,
  NotEmptyError,
  PermissionDeniedError,
  RegistryAuthError,
} from '../../errors';
import type { CoordinationError } from '../../errors';
import { ancestorsOf, validatePath } from '../../internal/paths';
import type { FeedHandle, FeedSink, NodeData, RegistryDriver } from '../driver';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_SESSION_TIMEOUT_MS } from '../options';
import type { ZooKeeperRegistryOptions } from '../options';
import type { ConnectionState } from '../registry-center';
import type { TxnOp } from '../txn';
import { nodeAcl } from './zookeeper-acl';
import { ZkCreateMode } from './zookeeper-client-types';
import type { ZkAcl, ZkStat } from './zookeeper-client-types';
import { ZooKeeperFeed } from './zookeeper-feed';
import { commitTransaction, runMulti } from './zookeeper-multi';
import type { ZkMultiOp } from './zookeeper-multi';
import { ReadWatches } from './zookeeper-read-watch';
import { mapLimit, READ_CONCURRENCY, statMtimeMs, toNodeData, ZkPaths, ZkRequests } from './zookeeper-requests';
import { ZooKeeperSession } from './zookeeper-session';

/**
 * The ZooKeeper backend (RegistryDriver over node-zookeeper-client@1.1.3). The namespace is a path prefix we
 * add and strip ourselves (no chroot: a chroot must exist before connecting). Session, states and request
 * deadlines: zookeeper-session.ts; subtree mirror: zookeeper-feed.ts; multi: zookeeper-multi.ts.
 *
 * Own implementations instead of the library's broken helpers: mkdirp (parents are empty PERSISTENT nodes,
 * data and mode on the leaf only) and recursive delete (deepest first, NO_NODE ignored). Every node we create
 * gets our ACL (digest id with ALL when credentials are configured).
 */

const EMPTY = Buffer.alloc(0);
/** A version no node reaches: a write with it fails BAD_VERSION after the ACL check, changing nothing. */
const PROBE_VERSION = 2_147_483_647;
const REPLACE_ATTEMPTS = 3;
const REMOVE_ATTEMPTS = 5;

export class ZooKeeperDriver implements RegistryDriver {
  readonly description: string;
  readonly servers: string[];
  private readonly paths: ZkPaths;
  private readonly session: ZooKeeperSession;
  private readonly requests: ZkRequests;
  /** Requests on server paths as they are (the namespace root and its ancestors). */
  private readonly rootRequests: ZkRequests;
  private readonly readWatches: ReadWatches;
  private readonly acl: ZkAcl[];
  private readonly feeds = new Set<ZooKeeperFeed>();
  private readonly connectTimeoutMs: number;
  private connecting: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly options: ZooKeeperRegistryOptions) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new ConfigurationError('ZooKeeper servers must be a non-empty list of host:port', 'servers');
    }
    for (const server of options.servers) {
      if (typeof server !== 'string' || !/^[^\s,/]+:\d+$/.test(server)) {
        throw new ConfigurationError(`invalid ZooKeeper server ${JSON.stringify(server)} (want host:port)`, 'servers');
      }
    }
    const namespace = typeof options.namespace === 'string' ? options.namespace.replace(/^\/+|\/+$/g, '') : '';
    try {
      validatePath('/' + namespace);
    } catch (e) {
      throw new ConfigurationError(`invalid namespace ${JSON.stringify(options.namespace)}: ${String(e)}`, 'namespace');
    }
    if (namespace === '' || namespace === 'zookeeper' || namespace.startsWith('zookeeper/')) {
      throw new ConfigurationError(`invalid namespace ${JSON.stringify(options.namespace)}`, 'namespace');
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
      await this.putEphemeral(path, data);
      return;
    }
    if (await this.setIfExists(path, data)) {
      return;
    }
    try {
      await this.createWithParents(path, data, ZkCreateMode.PERSISTENT);
    } catch (e) {
      if (!(e instanceof NodeExistsError)) {
        throw e;
      }
      await this.requests.setData(path, data); // created meanwhile by someone else: still an upsert
    }
  }

  async update(path: string, value: string): Promise<void> {
    await this.requests.setData(path, Buffer.from(value, 'utf8'));
  }

  createSequential(path: string, value: string, ephemeral: boolean): Promise<string> {
    const mode = ephemeral ? ZkCreateMode.EPHEMERAL_SEQUENTIAL : ZkCreateMode.PERSISTENT_SEQUENTIAL;
    return this.createWithParents(path, Buffer.from(value, 'utf8'), mode);
  }

  async remove(path: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const subtree = await this.requests.listSubtree(path);
      if (subtree.length === 0) {
        return;
      }
      // Deepest first; one session's requests apply in order, so they can be pipelined.
      try {
        await mapLimit(subtree.reverse(), READ_CONCURRENCY, async p => {
          try {
            await this.requests.remove(p);
          } catch (e) {
            if (!(e instanceof NoNodeError)) {
              throw e;
            }
          }
        });
        return;
      } catch (e) {
        if (!(e instanceof NotEmptyError) || attempt >= REMOVE_ATTEMPTS) {
          throw e; // NOT_EMPTY: a child was added meanwhile; list again
        }
      }
    }
  }

  commit(ops: readonly TxnOp[]): Promise<void> {
    return commitTransaction(this.session, this.requests, this.acl, ops);
  }

  async serverTime(path: string): Promise<number> {
    let stat = await this.setIfExists(path, EMPTY);
    if (stat === null) {
      try {
        await this.createWithParents(path, EMPTY, ZkCreateMode.PERSISTENT);
      } catch (e) {
        if (!(e instanceof NodeExistsError)) {
          throw e;
        }
      }
      stat = await this.requests.setData(path, EMPTY); // a fresh mtime, and create returns no stat
    }
    return statMtimeMs(stat);
  }

  openFeed(root: string, sink: FeedSink): FeedHandle {
    if (this.closed) {
      throw new ClosedError('ZooKeeper driver');
    }
    const feed = new ZooKeeperFeed(this.session, this.requests, root, sink).start();
    this.feeds.add(feed);
    return {
      ready: feed.ready,
      close: () => {
        this.feeds.delete(feed);
        feed.close();
      },
    };
  }

  readWatched(path: string, onInvalidate: () => void): Promise<NodeData | null> {
    return this.readWatches.read(path, onInvalidate);
  }

  private async doConnect(): Promise<void> {
    this.session.start();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.session.connectError(this.connectTimeoutMs)), this.connectTimeoutMs);
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
        await this.ensureNamespace();
        return;
      } catch (e) {
        if (!isRetryable(e) || this.session.isClosed) {
          throw e;
        }
      }
    }
  }

  private async ensureNamespace(): Promise<void> {
    const prefix = this.paths.prefix;
    for (const p of [...ancestorsOf(prefix), prefix]) {
      if ((await this.rootRequests.exists(p)) !== null) {
        continue;
      }
      try {
        await this.rootRequests.create(p, EMPTY, this.acl, ZkCreateMode.PERSISTENT);
      } catch (e) {
        if (e instanceof PermissionDeniedError) {
          throw this.authError(p, e);
        }
        if (!(e instanceof NodeExistsError)) {
          throw e;
        }
      }
    }
    // A wrong digest password is silent in ZooKeeper: probe a write on the namespace root. The impossible
    // version makes an authorised write fail with BAD_VERSION (ACLs are checked first) and change nothing.
    try {
      await this.rootRequests.setData(prefix, EMPTY, PROBE_VERSION);
    } catch (e) {
      if (e instanceof BadVersionError) {
        return;
      }
      if (e instanceof PermissionDeniedError) {
        throw this.authError(prefix, e);
      }
      if (e instanceof NoNodeError) {
        return this.ensureNamespace(); // removed meanwhile
      }
      throw e;
    }
  }

  private authError(path: string, cause: Error): RegistryAuthError {
    const who =
      this.options.auth === undefined
        ? 'without credentials'
        : `with the credentials of user "${this.options.auth.username}"`;
    return new RegistryAuthError(
      `ZooKeeper at ${this.servers.join(',')} denies writing ${path} ${who} (wrong credentials?)`,
      { path, cause },
    );
  }

  /** setData when the node exists; `null` when it does not. */
  private async setIfExists(path: string, data: Buffer): Promise<ZkStat | null> {
    try {
      return await this.requests.setData(path, data);
    } catch (e) {
      if (e instanceof NoNodeError) {
        return null;
      }
      throw e;
    }
  }

  /** create; on NO_NODE create the missing parents (empty, PERSISTENT, our ACL) and try once more. */
  private async createWithParents(path: string, data: Buffer, mode: number): Promise<string> {
    try {
      return await this.requests.create(path, data, this.acl, mode);
    } catch (e) {
      if (!(e instanceof NoNodeError)) {
        throw e;
      }
    }
    await this.createParents(path);
    return this.requests.create(path, data, this.acl, mode);
  }

  /** Every ancestor (the namespace root and its own ancestors included), top-down, pipelined. */
  private async createParents(path: string): Promise<void> {
    const ignoreExists = (e: unknown): void => {
      if (!(e instanceof NodeExistsError)) {
        throw e;
      }
    };
    const prefix = this.paths.prefix;
    await Promise.all([
      ...[...ancestorsOf(prefix), prefix].map(p =>
        this.rootRequests.create(p, EMPTY, this.acl, ZkCreateMode.PERSISTENT).then(() => undefined, ignoreExists),
      ),
      ...ancestorsOf(path).map(p =>
        this.requests.create(p, EMPTY, this.acl, ZkCreateMode.PERSISTENT).then(() => undefined, ignoreExists),
      ),
    ]);
  }

  /**
   * Create an ephemeral node; when the node exists, replace it (and anything below it) by a new ephemeral
   * node of this session in one multi, so that readers never see it missing.
   */
  private async putEphemeral(path: string, data: Buffer): Promise<void> {
    let lastError: CoordinationError = new NodeExistsError(path);
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      try {
        await this.createWithParents(path, data, ZkCreateMode.EPHEMERAL);
        return;
      } catch (e) {
        if (!(e instanceof NodeExistsError)) {
          throw e;
        }
      }
      const subtree = await this.requests.listSubtree(path);
      const ops: ZkMultiOp[] = subtree.reverse().map(p => ({ kind: 'delete', path: p, source: 0 }));
      ops.push({ kind: 'create', path, data, mode: ZkCreateMode.EPHEMERAL, source: 0 });
      const outcome = await runMulti(this.session, this.requests, this.acl, ops);
      if (outcome.ok) {
        return;
      }
      // NO_NODE / NOT_EMPTY / NODE_EXISTS: the node changed between listing and commit; look again.
      lastError = outcome.cause;
      if (
        !(outcome.cause instanceof NoNodeError) &&
        !(outcome.cause instanceof NotEmptyError) &&
        !(outcome.cause instanceof NodeExistsError)
      ) {
        break;
      }
    }
    throw lastError;
  }
}
