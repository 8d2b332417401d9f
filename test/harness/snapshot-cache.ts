import { EventEmitter } from 'node:events';
import { parentOf } from '../../lib/internal/paths';
import type { NodeStat, TreeCache, TreeCacheEvents } from '../../lib/registry/registry-center';

/**
 * A {@link TreeCache} frozen at one moment, which a test may then edit: the view of a cache that is behind
 * the registry, or that shows a moment that never was (a load read in several batches), to hand to the
 * services that judge from their cache. It never changes by itself and emits nothing; `waitFor` answers
 * from the frozen view at once (it rejects when the predicate does not hold: nothing will change it).
 */
export class SnapshotCache implements TreeCache {
  readonly isInitialized = true;
  readonly isClosed = false;
  private readonly nodes = new Map<string, NodeStat>();
  private readonly emitter = new EventEmitter();

  private constructor(readonly root: string) {}

  /** A copy of what `cache` holds now. */
  static of(cache: TreeCache): SnapshotCache {
    const snapshot = new SnapshotCache(cache.root);
    for (const [path] of cache.entries()) {
      const data = cache.getData(path);
      if (data !== undefined) {
        snapshot.nodes.set(path, { ...data });
      }
    }
    return snapshot;
  }

  /** Sets a node of the view (its parents must be there, as in a real cache). */
  put(path: string, stat: NodeStat): this {
    this.nodes.set(path, { ...stat });
    return this;
  }

  /** Removes a node and its subtree from the view. */
  drop(path: string): this {
    for (const key of [...this.nodes.keys()]) {
      if (key === path || key.startsWith(`${path}/`)) {
        this.nodes.delete(key);
      }
    }
    return this;
  }

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): string | null {
    return this.nodes.get(path)?.value ?? null;
  }

  getData(path: string): Readonly<NodeStat> | undefined {
    return this.nodes.get(path);
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  children(path: string): string[] {
    const out: string[] = [];
    for (const key of this.nodes.keys()) {
      if (key !== path && parentOf(key) === path) {
        out.push(key.slice(path.length + 1));
      }
    }
    return out.sort();
  }

  *entries(): IterableIterator<[string, string]> {
    for (const [path, stat] of this.nodes) {
      yield [path, stat.value];
    }
  }

  waitFor(predicate: (cache: TreeCache) => boolean): Promise<void> {
    return predicate(this)
      ? Promise.resolve()
      : Promise.reject(new Error('a snapshot cache never changes: the predicate will not hold'));
  }

  on<K extends keyof TreeCacheEvents>(
    event: K,
    listener: (...args: TreeCacheEvents[K]) => void,
  ): this {
    this.emitter.on(event, listener);
    return this;
  }

  once<K extends keyof TreeCacheEvents>(
    event: K,
    listener: (...args: TreeCacheEvents[K]) => void,
  ): this {
    this.emitter.once(event, listener);
    return this;
  }

  off<K extends keyof TreeCacheEvents>(
    event: K,
    listener: (...args: TreeCacheEvents[K]) => void,
  ): this {
    this.emitter.off(event, listener);
    return this;
  }
}
