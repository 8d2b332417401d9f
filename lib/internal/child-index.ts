import { basename, parentOf } from './paths';

/**
 * The child names of each parent, kept beside a flat map of `/a/b` node paths so that listing a node's children
 * scans nothing: the tree cache (registry/feed-tree-cache.ts) and the memory backend's store
 * (registry/memory/memory-store.ts) keep one each. The owner says when a node comes and goes; the index
 * does not look at the node map.
 */
export class ChildIndex {
  private readonly byParent = new Map<string, Set<string>>();

  /** `path` exists: list its name under its parent (not for the root `/`). */
  add(path: string): void {
    const parent = parentOf(path);
    let names = this.byParent.get(parent);
    if (names === undefined) {
      names = new Set();
      this.byParent.set(parent, names);
    }
    names.add(basename(path));
  }

  /** `path` is gone: drop its own list and its name under its parent. */
  remove(path: string): void {
    this.byParent.delete(path);
    this.byParent.get(parentOf(path))?.delete(basename(path));
  }

  /** The names listed under `path` (the live set: copy it before changing the index), if any. */
  names(path: string): ReadonlySet<string> | undefined {
    return this.byParent.get(path);
  }

  clear(): void {
    this.byParent.clear();
  }
}
