import { basename, joinPath, parentOf } from '../../internal/paths';
import type { FeedHandle, FeedSink } from '../driver';
import { ZkEventType } from './zookeeper-client-types';
import type { ZkEvent, ZkWatcher } from './zookeeper-client-types';
import { FeedMirror } from './zookeeper-feed-mirror';
import { FeedSteps } from './zookeeper-feed-steps';
import { loadSubtree } from './zookeeper-tree-load';
import type { MirrorNode } from './zookeeper-tree-load';
import { toNodeData } from './zookeeper-requests';
import type { ZkRequests } from './zookeeper-requests';
import type { ZooKeeperSession } from './zookeeper-session';

/**
 * `openFeed` on ZooKeeper < 3.6 (no addWatch / multiRead; on newer servers zookeeper-persistent-feed.ts does
 * it, see zookeeper-feed-handle.ts): a mirror of one subtree kept with per-node data and child watches, after
 * Curator's TreeCache, fed to a {@link FeedSink}.
 *
 * - Everything (the initial load, every watch event, every resync) runs through ONE serial queue, so replies
 *   of different steps cannot interleave and the sink sees changes in order (zookeeper-feed-steps.ts).
 * - Load: the whole subtree, level by level, reads of a level in parallel (getData + getChildren with watches
 *   on every node), then `sink.reset(snapshot)`. A missing root gets an exists watch that notices creation.
 * - NodeDataChanged → re-read → `upsert` (only when mzxid grew); NodeChildrenChanged → re-read the children,
 *   load new child subtrees (`upsert` parents first), `remove` gone ones; NodeDeleted → look again (the
 *   event may be stale: same czxid → plain refresh, re-created → `remove` + load) → `remove`.
 * - Watches are one-shot: one watcher function per node and client generation, re-armed by every read.
 * - After any reconnect (RECONNECTED: same session, whose watches SetWatches may replay, or a new session,
 *   whose watches are all gone) and after any failed step, a full re-read ends in `sink.reset(snapshot)`.
 * - Watchers of a closed feed or of an older client generation are ignored.
 */

/** Attempts to catch a root that is created and deleted again while we look. */
const ROOT_ATTEMPTS = 5;

export class ZooKeeperFeed implements FeedHandle {
  readonly ready: Promise<void>;
  private readonly steps: FeedSteps;
  private readonly nodes: FeedMirror;
  private readonly watchers = new Map<string, ZkWatcher>();
  private generation = -1;

  constructor(
    private readonly session: ZooKeeperSession,
    private readonly requests: ZkRequests,
    private readonly root: string,
    sink: FeedSink,
  ) {
    this.nodes = new FeedMirror(root, sink);
    this.steps = new FeedSteps({
      session,
      root,
      sink,
      resync: () => this.resync(),
      dropState: () => {
        this.watchers.clear();
        this.nodes.clear();
      },
    });
    this.ready = this.steps.ready;
  }

  start(): this {
    this.steps.start();
    return this;
  }

  close(): void {
    this.steps.close();
  }

  /** True when watch events belong to the current client and steps may go on. */
  private current(): boolean {
    return !this.steps.closed && this.generation === this.session.generation;
  }

  private async resync(): Promise<void> {
    if (this.generation !== this.session.generation) {
      this.generation = this.session.generation;
      this.watchers.clear();
    }
    let tree: Map<string, MirrorNode> | null = null;
    for (let attempt = 0; attempt < ROOT_ATTEMPTS && tree === null; attempt++) {
      tree = await this.loadTree(this.root);
      if (
        tree === null &&
        (await this.requests.exists(this.root, this.watcherFor(this.root))) === null
      ) {
        break; // absent, and the exists watch will tell us when it appears
      }
    }
    if (this.steps.closed) {
      return;
    }
    this.steps.loaded(this.nodes.replace(tree));
  }

  /** The subtree at `top` with our watches armed on every node; `null` when `top` does not exist. */
  private loadTree(top: string): Promise<Map<string, MirrorNode> | null> {
    return loadSubtree(this.requests, top, path => this.watcherFor(path));
  }

  private watcherFor(path: string): ZkWatcher {
    let watcher = this.watchers.get(path);
    if (watcher === undefined) {
      const generation = this.generation;
      watcher = (event: ZkEvent) => this.onWatch(generation, path, event);
      this.watchers.set(path, watcher);
    }
    return watcher;
  }

  private onWatch(generation: number, path: string, event: ZkEvent): void {
    if (
      this.steps.closed ||
      generation !== this.generation ||
      generation !== this.session.generation
    ) {
      return;
    }
    switch (event.type) {
      case ZkEventType.NODE_DATA_CHANGED:
        this.steps.enqueue(() => this.refreshData(path));
        break;
      case ZkEventType.NODE_CHILDREN_CHANGED:
        this.steps.enqueue(() => this.refreshChildren(path));
        break;
      case ZkEventType.NODE_DELETED:
        this.steps.enqueue(() => this.onDeleted(path));
        break;
      case ZkEventType.NODE_CREATED:
        this.steps.enqueue(() => this.onRootCreated());
        break;
      default:
        break;
    }
  }

  private async refreshData(path: string): Promise<void> {
    if (!this.current() || !this.nodes.has(path)) {
      return; // a watch of a node we no longer mirror; its parent's child watch covers re-creation
    }
    const reply = await this.requests.getData(path, this.watcherFor(path));
    const node = this.nodes.get(path);
    if (this.steps.closed || node === undefined) {
      return;
    }
    if (reply === null) {
      await this.onGone(path);
      return;
    }
    this.nodes.update(path, node, toNodeData(reply));
  }

  private async refreshChildren(path: string): Promise<void> {
    if (!this.current() || !this.nodes.has(path)) {
      return;
    }
    const children = await this.requests.getChildren(path, this.watcherFor(path));
    const node = this.nodes.get(path);
    if (this.steps.closed || node === undefined) {
      return;
    }
    if (children === null) {
      await this.onGone(path);
      return;
    }
    const fresh = new Set(children);
    for (const name of [...node.children]) {
      if (!fresh.has(name)) {
        this.removeNode(joinPath(path, name));
      }
    }
    const added = children.filter(name => !node.children.has(name));
    const subtrees = await Promise.all(added.map(name => this.loadTree(joinPath(path, name))));
    if (this.steps.closed || this.nodes.get(path) !== node) {
      return;
    }
    added.forEach((name, i) => {
      const subtree = subtrees[i];
      if (subtree === null || subtree === undefined) {
        return; // gone again; our parent's child watch is armed
      }
      node.children.add(name);
      this.nodes.publish(subtree);
    });
  }

  /**
   * NodeDeleted (or NO_NODE on a re-read). The event may be stale (a node re-created since, e.g. replayed by
   * SetWatches after a resync), so look again: absent → remove; same incarnation (czxid) → plain data
   * refresh; re-created → remove and load the new subtree.
   */
  private async onDeleted(path: string): Promise<void> {
    const node = this.nodes.get(path);
    if (!this.current() || node === undefined) {
      return;
    }
    const reply = await this.requests.getData(path, this.watcherFor(path));
    if (this.steps.closed || this.nodes.get(path) !== node) {
      return;
    }
    if (reply !== null && reply.stat.czxid.readBigInt64BE(0) === node.czxid) {
      this.nodes.update(path, node, toNodeData(reply));
      return;
    }
    this.removeNode(path);
    if (path === this.root) {
      await this.onRootCreated();
      return;
    }
    if (reply !== null) {
      const subtree = await this.loadTree(path);
      const parent = this.nodes.get(parentOf(path));
      if (subtree !== null && parent !== undefined && !this.steps.closed && !this.nodes.has(path)) {
        parent.children.add(basename(path));
        this.nodes.publish(subtree);
      }
    }
  }

  /** A re-read found the node absent. */
  private async onGone(path: string): Promise<void> {
    this.removeNode(path);
    if (path === this.root) {
      await this.onRootCreated();
    }
  }

  /** The root may exist (again): load it, or leave an exists watch when it does not. */
  private async onRootCreated(): Promise<void> {
    if (!this.current() || this.nodes.has(this.root)) {
      return;
    }
    for (let attempt = 0; attempt < ROOT_ATTEMPTS; attempt++) {
      const subtree = await this.loadTree(this.root);
      if (this.steps.closed || this.nodes.has(this.root)) {
        return;
      }
      if (subtree !== null) {
        this.nodes.publish(subtree);
        return;
      }
      if ((await this.requests.exists(this.root, this.watcherFor(this.root))) === null) {
        return;
      }
    }
    this.steps.scheduleResync();
  }

  /** Drop a node and its subtree from the mirror (and its watchers) and tell the sink. */
  private removeNode(path: string): void {
    this.nodes.remove(path, p => this.watchers.delete(p));
  }
}
