import { ClosedError, type CoordinationError, OperationTimeoutError } from '../errors';
import { abortReason } from '../internal/async';
import { ChildIndex } from '../internal/child-index';
import { isUnder } from '../internal/paths';
import { TypedEmitter } from '../internal/typed-emitter';
import type { FeedHandle, FeedSink, NodeData } from './driver';
import type { TreeCache, TreeCacheEvents } from './registry-center';

/**
 * The one implementation of the {@link TreeCache} contract: a subtree mirror fed by a backend's feed
 * (`RegistryDriver.openFeed`). Internal to `lib/registry/`: callers get the read-only `TreeCache` view from
 * `getRawCache()`, and only the owner (`CacheManager`) constructs, starts and closes it.
 *
 * The feed's sink (`reset` / `upsert` / `remove` / `error`) is NOT a method of this class: it is an
 * ES-private (`#sink`) object handed to `openFeed` alone, so no holder of the cache — not even one that
 * casts the view to this class, or plain JavaScript — can inject or delete entries.
 */
export class FeedTreeCache extends TypedEmitter<TreeCacheEvents> implements TreeCache {
  private readonly nodes = new Map<string, NodeData>();
  private readonly childIndex = new ChildIndex();
  private handle: FeedHandle | undefined;
  private initialized = false;
  private closed = false;
  /** What the backend's feed writes to; never exposed. */
  readonly #sink: FeedSink = {
    reset: snapshot => this.applyReset(snapshot),
    upsert: (path, data) => this.applyUpsert(path, data),
    remove: path => this.applyRemove(path),
    error: err => this.reportError(err),
  };

  constructor(
    readonly root: string,
    private readonly openFeed: (sink: FeedSink) => FeedHandle,
  ) {
    super();
  }

  /** Open the feed; resolves after the initial load. */
  async start(): Promise<void> {
    if (this.closed) {
      throw new ClosedError(`tree cache ${this.root}`);
    }
    if (this.handle === undefined) {
      this.handle = this.openFeed(this.#sink);
    }
    await this.handle.ready;
  }

  /** Stop the feed and drop the data. Idempotent. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.handle?.close();
    this.nodes.clear();
    this.childIndex.clear();
    this.removeAllListeners();
  }

  get isInitialized(): boolean {
    return this.initialized;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get size(): number {
    return this.nodes.size;
  }

  /** The cached value, or `null` when the node is absent from the cache. */
  get(path: string): string | null {
    return this.nodes.get(path)?.value ?? null;
  }

  getData(path: string): Readonly<NodeData> | undefined {
    return this.nodes.get(path);
  }

  has(path: string): boolean {
    return this.nodes.has(path);
  }

  /** Names of the cached children of `path`, sorted ascending. */
  children(path: string): string[] {
    const names = this.childIndex.names(path);
    return names === undefined ? [] : [...names].sort();
  }

  /** Every cached [path, value] pair, in no particular order. */
  *entries(): IterableIterator<[string, string]> {
    for (const [path, data] of this.nodes) {
      yield [path, data.value];
    }
  }

  /**
   * Resolve once `predicate(this)` holds, re-evaluated on every change; reject after `timeoutMs` or when
   * `signal` aborts. No polling.
   */
  waitFor(
    predicate: (cache: TreeCache) => boolean,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (predicate(this)) {
        resolve();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const cleanup = (): void => {
        this.off('event', check);
        this.off('reset', check);
        options.signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) {
          clearTimeout(timer);
        }
      };
      const check = (): void => {
        if (predicate(this)) {
          cleanup();
          resolve();
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(abortReason(options.signal));
      };
      this.on('event', check);
      this.on('reset', check);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        const timeoutMs = options.timeoutMs;
        timer = setTimeout(() => {
          cleanup();
          reject(new OperationTimeoutError(`waiting on the cache of ${this.root}`, timeoutMs));
        }, timeoutMs);
      }
    });
  }

  // ---- the feed's sink (through `this.#sink` only) ----

  private applyReset(snapshot: ReadonlyMap<string, NodeData>): void {
    if (this.closed) {
      return;
    }
    const silent = !this.initialized;
    // Removed first, deepest first, so that listeners never see a child outlive its parent.
    const gone = [...this.nodes.keys()]
      .filter(p => !snapshot.has(p))
      .sort()
      .reverse();
    for (const path of gone) {
      this.delete(path, silent);
    }
    // Added / updated parents before children.
    for (const path of [...snapshot.keys()].sort()) {
      const data = snapshot.get(path);
      if (data !== undefined && isUnder(path, this.root)) {
        this.set(path, data, silent);
      }
    }
    if (silent) {
      this.initialized = true;
      this.emit('initialized');
    } else {
      this.emit('reset');
    }
  }

  private applyUpsert(path: string, data: NodeData): void {
    if (this.closed || !this.initialized || !isUnder(path, this.root)) {
      return;
    }
    this.set(path, data, false);
  }

  private applyRemove(path: string): void {
    if (this.closed || !this.initialized) {
      return;
    }
    const doomed = [...this.nodes.keys()]
      .filter(p => isUnder(p, path))
      .sort()
      .reverse();
    for (const p of doomed) {
      this.delete(p, false);
    }
  }

  private reportError(err: CoordinationError): void {
    if (!this.closed && this.listenerCount('error') > 0) {
      this.emit('error', err);
    }
  }

  private set(path: string, data: NodeData, silent: boolean): void {
    const previous = this.nodes.get(path);
    // Replies can be older than what we hold (ZooKeeper re-reads racing a change): keep the newest.
    if (previous !== undefined && data.stamp <= previous.stamp) {
      return;
    }
    this.nodes.set(path, data);
    if (path !== this.root) {
      this.childIndex.add(path);
    }
    if (!silent) {
      this.emit('event', {
        type: previous === undefined ? 'added' : 'updated',
        path,
        value: data.value,
        previous: previous === undefined ? null : previous.value,
      });
    }
  }

  private delete(path: string, silent: boolean): void {
    const previous = this.nodes.get(path);
    if (previous === undefined) {
      return;
    }
    this.nodes.delete(path);
    this.childIndex.remove(path);
    if (!silent) {
      this.emit('event', {
        type: 'removed',
        path,
        value: previous.value,
        previous: previous.value,
      });
    }
  }
}
