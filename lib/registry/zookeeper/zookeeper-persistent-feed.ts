import { basename, parentOf } from '../../internal/paths';
import type { FeedHandle, FeedSink } from '../driver';
import { loadSubtreeBulk, MAX_BATCH_OPS } from './zookeeper-bulk-load';
import { zkException } from './wire';
import { ZkCode } from './zookeeper-client-types';
import { translateZkError, zkErrorCode } from './zookeeper-errors';
import { FeedMirror } from './zookeeper-feed-mirror';
import { FeedSteps } from './zookeeper-feed-steps';
import type { MultiReader, ReadResult } from './zookeeper-multi-read';
import type { PersistentWatchListener } from './wire';
import type { PersistentWatch, PersistentWatcher } from './zookeeper-persistent-watch';
import type { ZkPaths } from './zookeeper-requests';
import type { ZooKeeperSession } from './zookeeper-session';
import type { MirrorNode } from './zookeeper-tree-load';

/**
 * `openFeed` on ZooKeeper ≥ 3.6: one persistent recursive watch on the root and multiRead batches, after
 * Curator's CuratorCache, fed to a {@link FeedSink}.
 *
 * - Everything (load, notifications, resyncs) runs through ONE serial queue, so the sink sees changes in order
 *   (zookeeper-feed-steps.ts).
 * - Load (at open, after every reconnect, new session or failed step): `addWatch(root, PERSISTENT_RECURSIVE)`
 *   FIRST, then the subtree through multiRead batches without watches (zookeeper-bulk-load.ts), then
 *   `sink.reset(snapshot)`. The watch is armed before the reads, so whatever changes after a read is notified.
 *   A missing root needs nothing more: the watch reports its creation.
 * - Notifications (NodeCreated / NodeDataChanged / NodeDeleted anywhere below the root, routed by path by our
 *   watcher registry) queue the path. A queued step takes every queued path, reads them all in one multiRead
 *   (getData) and reconciles each with what the mirror holds, in the order of their last notifications:
 *   absent → `remove` (subtree); same incarnation (czxid) → `upsert` when mzxid grew; new or re-created (other
 *   czxid: the old one is removed first) → load its subtree when Stat.numChildren > 0 (a whole subtree may
 *   appear before we look) and `upsert` parents first. A stale NodeDeleted of a re-created node thus never
 *   removes it: we act on what the read shows, not on the event type. No subtree read when the batch itself
 *   holds every one of those children after the node ({@link childrenCovered}): the usual case, a transaction
 *   that creates nodes with their children, is then one read per batch, however many nodes it creates.
 * - A server without addWatch / multiRead (UNIMPLEMENTED: ZooKeeper < 3.6, which then also closes the
 *   connection) or that cannot serve them (MARSHALLING_ERROR: e.g. a watch manager without persistent watches,
 *   or a reply we cannot decode) makes the feed call `onUnsupported` once and stop; the caller switches to the
 *   per-node feed (zookeeper-feed-handle.ts). Those are the only requests this feed sends.
 * - Notifications of a closed feed, or of an older client, are dropped.
 */

export interface PersistentFeedDeps {
  session: ZooKeeperSession;
  paths: ZkPaths;
  read: MultiReader;
  watch: PersistentWatcher;
}

export class ZooKeeperPersistentFeed implements FeedHandle {
  readonly ready: Promise<void>;
  private readonly steps: FeedSteps;
  private readonly listener: PersistentWatchListener;
  private readonly mirror: FeedMirror;
  /** Notified paths (namespace-relative) not yet reconciled. */
  private pending: string[] = [];
  /** Paths the last batch left for the next one (notified again while it read them). */
  private deferred = new Set<string>();
  private drainQueued = false;
  private watchHandle: PersistentWatch | null = null;
  private generation = -1;

  constructor(
    private readonly deps: PersistentFeedDeps,
    private readonly root: string,
    sink: FeedSink,
    private readonly onUnsupported: (err: unknown) => void,
  ) {
    this.mirror = new FeedMirror(root, sink);
    this.steps = new FeedSteps({
      session: deps.session,
      root,
      sink,
      resync: () => this.resync(),
      takeFailure: e => this.unsupported(e),
      dropState: () => {
        this.watchHandle?.release();
        this.watchHandle = null;
        this.pending = [];
        this.mirror.clear();
      },
    });
    this.ready = this.steps.ready;
    this.listener = {
      onEvent: (_type, fullPath) => {
        if (!this.steps.closed) {
          this.pending.push(deps.paths.rel(fullPath));
          this.scheduleDrain();
        }
      },
      onReplaced: () => this.steps.scheduleResync(),
    };
  }

  start(): this {
    this.steps.start();
    return this;
  }

  close(): void {
    this.steps.close();
  }

  private scheduleDrain(): void {
    if (this.drainQueued) {
      return;
    }
    this.drainQueued = true;
    this.steps.enqueue(() => {
      this.drainQueued = false;
      return this.drain();
    });
  }

  /** A server that cannot serve addWatch / multiRead: hand over to the per-node feed (true: handled). */
  private unsupported(e: unknown): boolean {
    const code = zkErrorCode(e);
    if (code === ZkCode.UNIMPLEMENTED || code === ZkCode.MARSHALLING_ERROR) {
      this.onUnsupported(e);
      return true;
    }
    return false;
  }

  private async resync(): Promise<void> {
    this.pending = []; // the load below supersedes them
    this.deferred = new Set();
    this.generation = this.deps.session.generation;
    // Armed before the reads; on the same client the route and the server's watch are simply set again.
    this.watchHandle = await this.deps.watch(this.deps.paths.full(this.root), this.listener);
    if (this.steps.closed) {
      this.watchHandle.release();
      return;
    }
    const tree = await loadSubtreeBulk(this.deps.read, this.root);
    if (this.steps.closed) {
      return;
    }
    this.steps.loaded(this.mirror.replace(tree));
  }

  /**
   * Reconcile a batch of notified paths with one read, in the order the changes were made as far as we can
   * tell. A path is handled at its LAST notification in the batch (the read shows its state after that one,
   * so handling it earlier would move e.g. a deletion ahead of changes to other nodes made before it), and a
   * path notified again while we read waits for the next batch. A step that had to read more (a subtree)
   * mirrors state newer than the batch's read, so the rest of the batch goes back to the front of the queue
   * and is read again.
   */
  private async drain(): Promise<void> {
    if (this.generation !== this.deps.session.generation) {
      this.pending = []; // an older client's: the new session's resync reads everything
      return;
    }
    const batch = this.pending.splice(0, MAX_BATCH_OPS);
    if (this.pending.length > 0) {
      this.scheduleDrain();
    }
    const paths = [...new Set(batch.reverse())].reverse();
    const results = await this.deps.read(paths.map(path => ({ kind: 'data' as const, path })));
    // Notified again meanwhile: the read may show a change made after others still queued. Those paths are
    // read again with their later notification (once: a path changing faster than a round trip must not
    // starve).
    const again = new Set(this.pending);
    const deferredBefore = this.deferred;
    this.deferred = new Set();
    const waits = paths.map(path => again.has(path) && !deferredBefore.has(path));
    const covered = childrenCovered(paths, results, waits);
    for (const [i, path] of paths.entries()) {
      if (this.steps.closed) {
        return;
      }
      if (waits[i] === true) {
        this.deferred.add(path);
        continue;
      }
      if (await this.reconcile(path, results[i] as ReadResult, covered[i] === true)) {
        const rest = paths.slice(i + 1);
        if (rest.length > 0) {
          this.pending.unshift(...rest);
          this.scheduleDrain();
        }
        return;
      }
    }
  }

  /**
   * Bring the mirror (and the sink) in line with what a read of `path` just showed. Resolves true when it had
   * to read more (a new node's subtree). `covered`: the batch itself reconciles, after this path, every
   * child the read counted (see {@link childrenCovered}), so a new node needs no subtree read.
   */
  private async reconcile(path: string, result: ReadResult, covered: boolean): Promise<boolean> {
    const node = this.mirror.get(path);
    if (result.kind === 'error') {
      if (result.code !== ZkCode.NO_NODE) {
        throw translateZkError(zkException(result.code), { operation: 'getData', path });
      }
      if (node !== undefined) {
        this.mirror.remove(path);
      }
      return false;
    }
    if (result.kind !== 'data') {
      throw new RangeError(`multiRead: a ${result.kind} result for getData ${path}`);
    }
    if (node !== undefined) {
      if (node.czxid === result.czxid) {
        this.mirror.update(path, node, result.data);
        return false;
      }
      this.mirror.remove(path); // deleted and created again since: the old incarnation goes first
    }
    return this.addNode(path, result, covered);
  }

  /**
   * A node we do not mirror exists: publish it (and what is below it), parents first. Resolves true when that
   * took more reads. With `covered`, its children come from the rest of the batch instead of a subtree read.
   */
  private async addNode(
    path: string,
    result: ReadResult & { kind: 'data' },
    covered: boolean,
  ): Promise<boolean> {
    // Its parent is mirrored unless a race we do not foresee hid it: then load from the highest missing one.
    let top = path;
    while (top !== this.root && !this.mirror.has(parentOf(top))) {
      top = parentOf(top);
    }
    const node: MirrorNode = { data: result.data, czxid: result.czxid, children: new Set() };
    let subtree: Map<string, MirrorNode> | null = new Map([[path, node]]);
    let loaded = false;
    if (top !== path || (result.numChildren > 0 && !covered)) {
      loaded = true;
      subtree = await loadSubtreeBulk(
        this.deps.read,
        top,
        top === path ? { node, numChildren: result.numChildren } : undefined,
      );
    }
    if (subtree === null || this.steps.closed || this.mirror.has(top)) {
      return loaded; // gone again: its deletion is queued
    }
    if (top !== this.root) {
      const parent = this.mirror.get(parentOf(top));
      if (parent === undefined) {
        return loaded;
      }
      parent.children.add(basename(top));
    }
    this.mirror.publish(subtree);
    return loaded;
  }
}

/**
 * For each path of a batch (`paths[i]`, read as `results[i]`), whether the batch itself reconciles every child
 * the read counted, so that adding the node needs no subtree read.
 *
 * The children that count are those later in the batch (reconciled after their parent is mirrored), not
 * deferred (`waits`), read as existing, with a czxid at or below the parent's pzxid: such a child existed
 * when the parent was read (it was created no later than the parent's last child change and still existed
 * at its own read, which is not older: multiRead chunks of one session are served in order). So when their
 * number equals the parent's Stat.numChildren they ARE its children at that read, and each is reconciled
 * (and its own subtree judged the same way) later in this batch or, when the batch stops early for a
 * subtree read, in the next one, its parent mirrored by then. Anything created after that read is notified
 * and queued on its own.
 *
 * Without this, each new node with children cost one subtree read plus a re-read of the rest of the batch:
 * a resharding creating 300 item nodes, each with its owner node, took 300 sequential round trips re-reading
 * up to 600 paths each, and on a loaded machine every cache fell seconds behind the registry.
 */
export function childrenCovered(
  paths: readonly string[],
  results: readonly ReadResult[],
  waits: readonly boolean[],
): boolean[] {
  const index = new Map<string, number>();
  paths.forEach((path, i) => index.set(path, i));
  const counted = new Array<number>(paths.length).fill(0);
  paths.forEach((path, i) => {
    const child = results[i];
    const parentAt = index.get(parentOf(path));
    if (waits[i] === true || child?.kind !== 'data' || parentAt === undefined || parentAt >= i) {
      return;
    }
    const parent = results[parentAt];
    if (parent?.kind === 'data' && child.czxid <= parent.pzxid) {
      counted[parentAt] = (counted[parentAt] ?? 0) + 1;
    }
  });
  return results.map(
    (result, i) =>
      result.kind === 'data' && result.numChildren > 0 && counted[i] === result.numChildren,
  );
}
