import { basename, joinPath, parentOf } from '../../internal/paths';
import { zkException } from './wire';
import { ZkCode } from './zookeeper-client-types';
import { translateZkError } from './zookeeper-errors';
import type { MultiReader, ReadOp, ReadResult } from './zookeeper-multi-read';
import type { MirrorNode } from './zookeeper-tree-load';

/**
 * Read a subtree without watches through multiRead batches (the persistent-watch feed's load; its watch is
 * armed before, so whatever changes after a read is notified).
 *
 * A pipeline rather than strict levels: getData of a node tells (Stat.numChildren) whether a getChildren is
 * needed at all, getChildren names the next getData ops, and up to {@link MAX_IN_FLIGHT} batches of up to
 * {@link MAX_BATCH_OPS} ops are in flight, child lists first (they widen the front). The top's getData and
 * getChildren go in the first batch together. A batch also stops at about {@link TARGET_REPLY_BYTES} of
 * expected reply, judged from the data sizes seen so far, so that large values make smaller batches.
 *
 * Resolves `null` when `top` does not exist; nodes that vanish during the walk are left out (their deletion
 * is notified). Parents come before their children in the map's order. Any other failed op rejects.
 */

export const MAX_BATCH_OPS = 1000;
const MAX_IN_FLIGHT = 4;
const TARGET_REPLY_BYTES = 1 << 20;
/** A GetDataResponse without its value, plus the MultiHeader: the part of a reply that is not data. */
const DATA_OVERHEAD_BYTES = 90;

/** A node whose getData the caller did already. */
export interface KnownTop {
  node: MirrorNode;
  numChildren: number;
}

export function loadSubtreeBulk(
  read: MultiReader,
  top: string,
  known?: KnownTop,
): Promise<Map<string, MirrorNode> | null> {
  return new Promise((resolve, reject) => {
    const tree = new Map<string, MirrorNode>();
    const needData = new Fifo();
    const needChildren = new Fifo();
    let inFlight = 0;
    let failed = false;
    let bytesPerData = DATA_OVERHEAD_BYTES;

    if (known === undefined) {
      needData.push(top);
      needChildren.push(top); // in the same first batch: saves a round trip
    } else {
      tree.set(top, known.node);
      if (known.numChildren > 0) {
        needChildren.push(top);
      }
    }

    /** Data results first (a batch may hold a node's getData and its getChildren), then child lists. */
    const apply = (ops: readonly ReadOp[], results: readonly ReadResult[]): void => {
      let dataBytes = 0;
      let dataCount = 0;
      for (const pass of ['data', 'children'] as const) {
        ops.forEach((op, i) => {
          if (op.kind !== pass) {
            return;
          }
          const result = results[i] as ReadResult;
          if (result.kind === 'error') {
            if (result.code !== ZkCode.NO_NODE) {
              throw translateZkError(zkException(result.code), {
                operation: op.kind === 'data' ? 'getData' : 'getChildren',
                path: op.path,
              });
            }
            drop(op.path);
          } else if (result.kind === 'data') {
            if (op.path !== top && !tree.has(parentOf(op.path))) {
              return; // the parent vanished meanwhile
            }
            dataBytes += DATA_OVERHEAD_BYTES + Buffer.byteLength(result.data.value);
            dataCount += 1;
            tree.set(op.path, { data: result.data, czxid: result.czxid, children: new Set() });
            if (result.numChildren > 0 && !(op.path === top && known === undefined)) {
              needChildren.push(op.path);
            }
          } else {
            const node = tree.get(op.path);
            for (const name of node === undefined ? [] : result.children) {
              node?.children.add(name);
              needData.push(joinPath(op.path, name));
            }
          }
        });
      }
      if (dataCount > 0) {
        bytesPerData = Math.max(DATA_OVERHEAD_BYTES, dataBytes / dataCount);
      }
    };

    /** A node gone during the walk: out of the tree, and out of its parent's children. */
    const drop = (path: string): void => {
      if (!tree.delete(path)) {
        return;
      }
      if (path !== top) {
        tree.get(parentOf(path))?.children.delete(basename(path));
      }
    };

    /** Child lists first (they widen the front), then getData up to the expected reply size. */
    const nextBatch = (): ReadOp[] => {
      const ops: ReadOp[] = [];
      while (ops.length < MAX_BATCH_OPS && needChildren.size > 0) {
        ops.push({ kind: 'children', path: needChildren.shift() });
      }
      const dataOps = Math.max(1, Math.floor(TARGET_REPLY_BYTES / bytesPerData));
      for (let n = 0; n < dataOps && ops.length < MAX_BATCH_OPS && needData.size > 0; n++) {
        ops.push({ kind: 'data', path: needData.shift() });
      }
      return ops;
    };

    const fail = (e: unknown): void => {
      if (!failed) {
        failed = true;
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };

    const pump = (): void => {
      if (failed) {
        return;
      }
      while (inFlight < MAX_IN_FLIGHT && (needData.size > 0 || needChildren.size > 0)) {
        const ops = nextBatch();
        inFlight += 1;
        read(ops).then(
          results => {
            inFlight -= 1;
            if (!failed) {
              try {
                apply(ops, results);
              } catch (e) {
                fail(e);
                return;
              }
              pump();
            }
          },
          (e: unknown) => {
            inFlight -= 1;
            fail(e);
          },
        );
      }
      if (inFlight === 0 && needData.size === 0 && needChildren.size === 0) {
        resolve(tree.has(top) ? tree : null);
      }
    };
    pump();
  });
}

/** A queue of paths (Array#shift on 10 000 entries would copy). */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: string): void {
    this.items.push(item);
  }

  shift(): string {
    const item = this.items[this.head] as string;
    this.head += 1;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }
}
