import { basename, joinPath, parentOf } from '../../internal/paths';
import type { FeedSink, NodeData } from '../driver';
import type { MirrorNode } from './zookeeper-tree-load';

/**
 * What a ZooKeeper feed holds of its subtree (each node's data, creation zxid and child names) and the sink
 * calls that keep the sink in line with it: a new subtree is upserted parents first, a removed one is reported
 * once, for its top node. Shared by both feeds (zookeeper-feed.ts, zookeeper-persistent-feed.ts), which decide
 * when a node is added, changed or removed.
 */
export class FeedMirror {
  private nodes = new Map<string, MirrorNode>();

  constructor(
    private readonly root: string,
    private readonly sink: FeedSink,
  ) {}

  get(path: string): MirrorNode | undefined {
    return this.nodes.get(path);
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  /**
   * A full load replaces the mirror (`null`: the root does not exist). Returns the snapshot for
   * `sink.reset`, which the caller hands over (FeedSteps.loaded).
   */
  replace(tree: Map<string, MirrorNode> | null): Map<string, NodeData> {
    this.nodes = tree ?? new Map<string, MirrorNode>();
    const snapshot = new Map<string, NodeData>();
    for (const [path, node] of this.nodes) {
      snapshot.set(path, node.data);
    }
    return snapshot;
  }

  /** Add a freshly loaded subtree (parents first in its order) and upsert its nodes in that order. */
  publish(subtree: ReadonlyMap<string, MirrorNode>): void {
    for (const [path, node] of subtree) {
      this.nodes.set(path, node);
      this.sink.upsert(path, node.data);
    }
  }

  /** A re-read of a mirrored node: keep and upsert `data` when it is newer (mzxid grew) than what we hold. */
  update(path: string, node: MirrorNode, data: NodeData): void {
    if (data.stamp > node.data.stamp) {
      node.data = data;
      this.sink.upsert(path, data);
    }
  }

  /**
   * Drop a node and its subtree and tell the sink (once, for the top node); nothing when the node is not
   * mirrored. `dropped` is called with every path taken out.
   */
  remove(path: string, dropped?: (path: string) => void): void {
    if (!this.nodes.has(path)) {
      return;
    }
    const stack = [path];
    while (stack.length > 0) {
      const p = stack.pop() as string;
      const n = this.nodes.get(p);
      this.nodes.delete(p);
      dropped?.(p);
      for (const child of n?.children ?? []) {
        stack.push(joinPath(p, child));
      }
    }
    if (path !== this.root) {
      this.nodes.get(parentOf(path))?.children.delete(basename(path));
    }
    this.sink.remove(path);
  }

  clear(): void {
    this.nodes = new Map();
  }
}
