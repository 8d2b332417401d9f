import { LRUCache } from 'lru-cache';
import { isUnder } from '../internal/paths';
import type { RegistryDriver } from './driver';
import { DEFAULT_READ_CACHE_MAX_BYTES } from './options';
import type { RegistryEvent, RegistryListener, TreeCache, Unsubscribe } from './registry-center';
import { FeedTreeCache } from './feed-tree-cache';

interface CacheEntry {
  cache: FeedTreeCache;
  /** Started by `addCacheData` (kept until `evictCacheData`). */
  explicit: boolean;
  /** Watches served by this cache. */
  watchers: number;
  started: Promise<void>;
}

/**
 * Owns the tree caches of one registry client, the watches served by them, and the bounded read cache
 * used by `get()` outside cached subtrees.
 *
 * Read cache coherence: an entry is stored only if no invalidation (its watch firing, a connection
 * state change, a write by this client) happened while it was being read, and it is dropped when the
 * backend's watch for it fires or the connection state changes. So a hit never returns a value older
 * than the last change the backend told us about.
 */
export class CacheManager {
  private readonly caches = new Map<string, CacheEntry>();
  /** The caches as an array, for the allocation-free scan in `coveringCache`. */
  private cacheList: FeedTreeCache[] = [];
  private readonly reads: LRUCache<string, string> | undefined;
  /** Paths with a read in flight → whether they were invalidated meanwhile. */
  private readonly inflight = new Map<string, { invalidated: boolean }[]>();

  constructor(
    private readonly driver: RegistryDriver,
    readCacheSize: number,
    private readonly onError: (err: Error) => void,
    readCacheMaxBytes = DEFAULT_READ_CACHE_MAX_BYTES,
  ) {
    // Bounded by entries AND by bytes: a few huge values must not hold memory that the entry count
    // alone would allow. A value larger than the byte bound is not kept at all (lru-cache refuses it).
    this.reads =
      readCacheSize > 0
        ? new LRUCache<string, string>({
            max: readCacheSize,
            maxSize: readCacheMaxBytes,
            sizeCalculation: readCacheEntryBytes,
          })
        : undefined;
  }

  /** Bytes the read cache holds now, as counted against its byte bound. */
  get readCacheBytes(): number {
    return this.reads?.calculatedSize ?? 0;
  }

  // ---- tree caches ----

  async addCacheData(path: string): Promise<void> {
    const entry = this.caches.get(path);
    if (entry !== undefined) {
      entry.explicit = true;
      await entry.started;
      return;
    }
    await this.open(path, true).started;
  }

  evictCacheData(path: string): void {
    const entry = this.caches.get(path);
    if (entry === undefined) {
      return;
    }
    entry.explicit = false;
    this.closeIfUnused(path, entry);
  }

  getRawCache(path: string): TreeCache | undefined {
    const entry = this.caches.get(path);
    return entry?.explicit === true ? entry.cache : undefined;
  }

  /** The initialised cache covering `path`, if any. */
  coveringCache(path: string): TreeCache | undefined {
    // A plain array scan: this runs on every cached get() and must not allocate.
    const list = this.cacheList;
    for (let i = 0; i < list.length; i++) {
      const cache = list[i] as FeedTreeCache;
      if (cache.isInitialized && isUnder(path, cache.root)) {
        return cache;
      }
    }
    return undefined;
  }

  async watch(path: string, listener: RegistryListener): Promise<Unsubscribe> {
    let root: string | undefined;
    for (const r of this.caches.keys()) {
      if (isUnder(path, r)) {
        root = r;
        break;
      }
    }
    const entry = root === undefined ? this.open(path, false) : this.caches.get(root);
    if (entry === undefined) {
      throw new Error('unreachable: cache entry vanished');
    }
    entry.watchers++;
    const filtered = (event: RegistryEvent): void => {
      if (isUnder(event.path, path)) {
        listener(event);
      }
    };
    entry.cache.on('event', filtered);
    let active = true;
    const unsubscribe = (): void => {
      if (!active) {
        return;
      }
      active = false;
      entry.cache.off('event', filtered);
      entry.watchers--;
      this.closeIfUnused(entry.cache.root, entry);
    };
    try {
      await entry.started;
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  closeAll(): void {
    for (const entry of this.caches.values()) {
      entry.cache.close();
    }
    this.caches.clear();
    this.refreshList();
    this.invalidateAll();
  }

  private open(path: string, explicit: boolean): CacheEntry {
    const cache = new FeedTreeCache(path, sink => this.driver.openFeed(path, sink));
    cache.on('error', err => this.onError(err));
    const entry: CacheEntry = { cache, explicit, watchers: 0, started: cache.start() };
    this.caches.set(path, entry);
    this.refreshList();
    entry.started.catch(() => {
      if (this.caches.get(path) === entry) {
        this.caches.delete(path);
        this.refreshList();
        cache.close();
      }
    });
    return entry;
  }

  private closeIfUnused(path: string, entry: CacheEntry): void {
    if (!entry.explicit && entry.watchers === 0 && this.caches.get(path) === entry) {
      this.caches.delete(path);
      this.refreshList();
      entry.cache.close();
    }
  }

  private refreshList(): void {
    this.cacheList = [...this.caches.values()].map(e => e.cache);
  }

  // ---- read cache ----

  /** The read-cache entry of `path`, if any (no I/O). */
  cachedRead(path: string): string | undefined {
    return this.reads?.get(path);
  }

  /** Value through the read cache; a miss reads with a watch that will invalidate the entry. */
  async readThrough(path: string): Promise<string | null> {
    const hit = this.reads?.get(path);
    if (hit !== undefined) {
      return hit;
    }
    if (this.reads === undefined) {
      return (await this.driver.read(path))?.value ?? null;
    }
    const ticket = { invalidated: false };
    let tickets = this.inflight.get(path);
    if (tickets === undefined) {
      tickets = [];
      this.inflight.set(path, tickets);
    }
    tickets.push(ticket);
    try {
      const data = await this.driver.readWatched(path, () => this.invalidate(path));
      if (data !== null && !ticket.invalidated) {
        this.reads.set(path, data.value);
      }
      return data?.value ?? null;
    } finally {
      const list = this.inflight.get(path);
      if (list !== undefined) {
        list.splice(list.indexOf(ticket), 1);
        if (list.length === 0) {
          this.inflight.delete(path);
        }
      }
    }
  }

  /** Drop the entry of `path` (and, with `subtree`, every entry below it). */
  invalidate(path: string, subtree = false): void {
    if (this.reads === undefined) {
      return;
    }
    this.reads.delete(path);
    for (const t of this.inflight.get(path) ?? []) {
      t.invalidated = true;
    }
    if (subtree) {
      for (const key of this.reads.keys()) {
        if (isUnder(key, path)) {
          this.reads.delete(key);
        }
      }
      for (const [key, list] of this.inflight) {
        if (isUnder(key, path)) {
          list.forEach(t => (t.invalidated = true));
        }
      }
    }
  }

  invalidateAll(): void {
    this.reads?.clear();
    for (const list of this.inflight.values()) {
      list.forEach(t => (t.invalidated = true));
    }
  }
}

/** The size of a read-cache entry counted against `readCacheMaxBytes`: 2 bytes per UTF-16 code unit. */
export function readCacheEntryBytes(value: string, path: string): number {
  // lru-cache needs a positive integer; an empty value still costs its path.
  return Math.max(1, 2 * (path.length + value.length));
}
