import type { IEvent } from 'etcd3';
import type { NodeData } from '../driver';
import type { EtcdKeys } from './etcd-keys';
import type { EtcdKv } from './etcd-kv';
import { ResumableWatch, type WatchHealth, type WatchSource } from './etcd-watch';
import { InvalidationCallbacks } from '../../internal/invalidation-callbacks';

/** Registered callbacks beyond which everything is invalidated at once (keeps the bookkeeping bounded). */
const MAX_CALLBACKS = 100_000;

/**
 * `readWatched` on etcd: ONE lazily started watch over the whole namespace, used only to invalidate the
 * facade's read cache. A callback is registered BEFORE its read is issued, so no change after the read can
 * be missed (over-invalidation is fine). Any event for the key, any watch gap (disconnect, cancellation)
 * and session loss call each affected callback exactly once.
 *
 * Coverage argument: the watch starts at R0 + 1 where R0 is the revision of a read made before any callback
 * is registered, and it resumes exactly from the last applied revision after a disconnect, so every change
 * after any later read is delivered. When the server cancels the watch (compaction), everything registered is
 * invalidated, a new start revision is read, and reads registered while that happens are invalidated too.
 */
export class EtcdInvalidation {
  /** Bounded by {@link MAX_CALLBACKS}. */
  private readonly entries = new InvalidationCallbacks(MAX_CALLBACKS);
  private watch: ResumableWatch | null = null;
  private starting: Promise<void> | null = null;
  /** Bumped when coverage breaks (cancellation); a registration from an older epoch is not trusted. */
  private epoch = 0;
  private restarting = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly source: WatchSource,
    private readonly kv: EtcdKv,
    private readonly keys: EtcdKeys,
    private readonly health: WatchHealth,
  ) {}

  async readWatched(path: string, onInvalidate: () => void): Promise<NodeData | null> {
    await this.ensureStarted();
    let fired = false;
    const callback = (): void => {
      if (!fired) {
        fired = true;
        onInvalidate();
      }
    };
    const epoch = this.epoch;
    const wasRestarting = this.restarting;
    this.add(path, callback);
    let data: NodeData | null;
    try {
      data = await this.kv.read(path);
    } catch (err) {
      this.delete(path, callback);
      throw err;
    }
    if (data === null) {
      this.delete(path, callback); // absent results are not cached by the facade
    } else if (wasRestarting || this.restarting || epoch !== this.epoch || this.closed) {
      this.delete(path, callback);
      callback();
    }
    return data;
  }

  /** Session lost or driver closing: every cached read may be stale. */
  invalidateAll(): void {
    this.entries.fireAll();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.invalidateAll();
    const watch = this.watch;
    this.watch = null;
    await watch?.close();
  }

  private ensureStarted(): Promise<void> {
    if (this.watch !== null) {
      return Promise.resolve();
    }
    this.starting ??= this.kv.currentRevision().then(
      revision => {
        this.starting = null;
        if (this.closed || this.watch !== null) {
          return;
        }
        const range = this.keys.subtreeWatchRange('/');
        this.watch = new ResumableWatch(
          this.source,
          range,
          revision + 1n,
          {
            onEvents: events => this.onEvents(events),
            onCanceled: () => this.onCanceled(),
            onDisconnected: () => this.invalidateAll(),
          },
          this.health,
          false,
        );
      },
      (err: unknown) => {
        this.starting = null;
        throw err;
      },
    );
    return this.starting;
  }

  private onEvents(events: readonly IEvent[]): void {
    for (const ev of events) {
      const path = this.keys.pathOf(ev.kv.key);
      if (path !== null) {
        this.entries.fire(path);
      }
    }
  }

  private onCanceled(): void {
    this.epoch++;
    this.restarting = true;
    this.invalidateAll();
    const restart = (): void => {
      if (this.closed || this.watch === null) {
        return;
      }
      this.kv.currentRevision().then(
        revision => {
          this.restarting = false;
          this.watch?.restart(revision + 1n);
        },
        () => {
          this.retryTimer = setTimeout(restart, 500);
        },
      );
    };
    restart();
  }

  private add(path: string, cb: () => void): void {
    if (this.entries.isFull) {
      // Entries the read cache evicted long ago are still registered here; over-invalidation is harmless.
      this.invalidateAll();
    }
    this.entries.add(path, cb);
  }

  private delete(path: string, cb: () => void): void {
    this.entries.delete(path, cb);
  }
}
