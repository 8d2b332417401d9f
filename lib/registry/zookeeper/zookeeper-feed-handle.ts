import { ClosedError } from '../../errors';
import { Deferred } from '../../internal/async';
import type { FeedHandle, FeedSink } from '../driver';
import { ZooKeeperFeed } from './zookeeper-feed';
import type { MultiReader } from './zookeeper-multi-read';
import { ZooKeeperPersistentFeed } from './zookeeper-persistent-feed';
import type { PersistentWatcher } from './zookeeper-persistent-watch';
import type { ZkRequests } from './zookeeper-requests';
import type { ZooKeeperSession } from './zookeeper-session';

/**
 * What `openFeed` returns on ZooKeeper: the persistent-watch feed (zookeeper-persistent-feed.ts) while the
 * server supports addWatch and multiRead (ZooKeeper ≥ 3.6), the per-node watch feed (zookeeper-feed.ts)
 * otherwise. The first UNIMPLEMENTED (or MARSHALLING_ERROR) answer switches this feed over (the sink gets its
 * reset from the per-node feed) and, through the driver-wide {@link FeedSupport}, makes every later feed start
 * per-node.
 */

export interface FeedSupport {
  /** False once the server could not serve addWatch or multiRead. */
  persistentWatches: boolean;
}

export interface FeedContext {
  session: ZooKeeperSession;
  requests: ZkRequests;
  read: MultiReader;
  watch: PersistentWatcher;
  support: FeedSupport;
}

export type ZooKeeperFeedMode = 'persistent' | 'per-node';

export class ZooKeeperFeedHandle implements FeedHandle {
  readonly ready: Promise<void>;
  private readonly readyDeferred = new Deferred<void>();
  private current: ZooKeeperPersistentFeed | ZooKeeperFeed;
  private closed = false;

  constructor(
    private readonly ctx: FeedContext,
    private readonly root: string,
    private readonly sink: FeedSink,
    private readonly onClose: () => void = () => undefined,
  ) {
    this.ready = this.readyDeferred.promise;
    this.ready.catch(() => undefined);
    this.current = ctx.support.persistentWatches ? this.startPersistent() : this.startPerNode();
  }

  /** Which kind of feed mirrors the subtree now. */
  get mode(): ZooKeeperFeedMode {
    return this.current instanceof ZooKeeperPersistentFeed ? 'persistent' : 'per-node';
  }

  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.current.close();
    this.readyDeferred.reject(new ClosedError(`feed of ${this.root}`));
    this.onClose();
  }

  private startPersistent(): ZooKeeperPersistentFeed {
    const { session, requests, read, watch } = this.ctx;
    const feed = new ZooKeeperPersistentFeed(
      { session, paths: requests.paths, read, watch },
      this.root,
      this.sink,
      () => this.fallBack(feed),
    );
    feed.ready.then(
      () => this.readyDeferred.resolve(),
      () => undefined,
    );
    return feed.start();
  }

  private startPerNode(): ZooKeeperFeed {
    const feed = new ZooKeeperFeed(this.ctx.session, this.ctx.requests, this.root, this.sink);
    feed.ready.then(
      () => this.readyDeferred.resolve(),
      () => undefined,
    );
    return feed.start();
  }

  private fallBack(feed: ZooKeeperPersistentFeed): void {
    if (this.closed || this.current !== feed) {
      return;
    }
    this.ctx.support.persistentWatches = false;
    feed.close();
    this.current = this.startPerNode();
  }
}
