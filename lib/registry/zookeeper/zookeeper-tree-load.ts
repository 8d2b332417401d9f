import { basename, joinPath, parentOf } from '../../internal/paths';
import type { NodeData } from '../driver';
import type { ZkWatcher } from './zookeeper-client-types';
import { mapLimit, READ_CONCURRENCY, toNodeData } from './zookeeper-requests';
import type { ZkRequests } from './zookeeper-requests';

/** One node of a feed's mirror. */
export interface MirrorNode {
  data: NodeData;
  /** Creation zxid: tells a re-created node from a stale NodeDeleted event. */
  czxid: bigint;
  children: Set<string>;
}

/**
 * Read the subtree at `top` with a data and a child watch on every node (getData + getChildren, the watcher
 * from `watcherFor`), level by level, the reads of a level in parallel (pipelined on the one connection).
 * Resolves `null` when `top` does not exist; nodes that vanish during the walk are left out (their parent's
 * child watch is armed). Parents come before their children in the map's order.
 */
export async function loadSubtree(
  requests: ZkRequests,
  top: string,
  watcherFor: (path: string) => ZkWatcher,
): Promise<Map<string, MirrorNode> | null> {
  const tree = new Map<string, MirrorNode>();
  let level = [top];
  while (level.length > 0) {
    const replies = await mapLimit(level, READ_CONCURRENCY, async path => {
      const watcher = watcherFor(path);
      const [data, children] = await Promise.all([
        requests.getData(path, watcher),
        requests.getChildren(path, watcher),
      ]);
      return { path, data, children };
    });
    const next: string[] = [];
    for (const { path, data, children } of replies) {
      if (data === null || children === null) {
        if (path === top) {
          return null;
        }
        tree.get(parentOf(path))?.children.delete(basename(path));
        continue;
      }
      tree.set(path, {
        data: toNodeData(data),
        czxid: data.stat.czxid.readBigInt64BE(0),
        children: new Set(children),
      });
      for (const child of children) {
        next.push(joinPath(path, child));
      }
    }
    level = next;
  }
  return tree;
}
