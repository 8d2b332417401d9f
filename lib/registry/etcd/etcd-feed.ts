import type { Etcd3, IEvent } from 'etcd3';
import type { CoordinationError } from '../../errors';
import { Deferred } from '../../internal/async';
import { isUnder } from '../../internal/paths';
import type { FeedHandle, FeedSink } from '../driver';
import type { EtcdKv } from './etcd-kv';
import { toNodeData } from './etcd-ops';
import type { EtcdKeys } from './etcd-keys';
import { ResumableWatch, type WatchHealth } from './etcd-watch';

/**
 * `openFeed` on etcd (zk-etcd-clients.md §4.4 "Tree cache"): one paged snapshot of the subtree at one
 * revision R → `sink.reset`; then ONE range watch from R + 1 (with previous KVs) whose events are applied in
 * order. Disconnects resume from the last applied revision + 1 ({@link ResumableWatch}); a cancelled watch
 * (compaction, auth) triggers a fresh snapshot at R', `sink.reset` (the sink diffs) and a watch from R' + 1.
 */

const RESYNC_BACKOFF_MIN_MS = 100;
const RESYNC_BACKOFF_MAX_MS = 2_000;
/** A watch cancelled again within this long after the previous cancellation resyncs with backoff. */
const CANCEL_QUIET_MS = 1_000;

export class EtcdFeed implements FeedHandle {
  private readonly readyDeferred = new Deferred<void>();
  readonly ready: Promise<void> = this.readyDeferred.promise;
  private watch: ResumableWatch | null = null;
  private started = false;
  private closed = false;
  private resyncing = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private backoffMs = RESYNC_BACKOFF_MIN_MS;
  private lastCancelAt = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly kv: EtcdKv,
    private readonly keys: EtcdKeys,
    private readonly root: string,
    private readonly sink: FeedSink,
    private readonly health: WatchHealth,
    private readonly onClose: (feed: EtcdFeed) => void,
  ) {
    // Never an unhandled rejection when nobody awaits `ready`.
    this.ready.catch(() => undefined);
    this.resync();
  }

  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    clearTimeout(this.resyncTimer);
    void this.watch?.close();
    this.watch = null;
    this.readyDeferred.reject(new Error('feed closed before its initial load'));
    this.onClose(this);
  }

  /** For `close()` of the driver: cancel the etcd3 watcher and wait for the cancellation. */
  async closeAndWait(): Promise<void> {
    const watch = this.watch;
    this.close();
    await watch?.close();
  }

  /** Snapshot at R, reset the sink, watch from R + 1. Retries with backoff on failure. */
  private resync(): void {
    if (this.closed || this.resyncing) {
      return;
    }
    this.resyncing = true;
    this.kv.snapshot(this.root).then(
      ({ nodes, revision }) => {
        this.resyncing = false;
        if (this.closed) {
          return;
        }
        if (Date.now() - this.lastCancelAt >= CANCEL_QUIET_MS) {
          this.backoffMs = RESYNC_BACKOFF_MIN_MS;
        }
        this.sink.reset(nodes);
        if (this.watch === null) {
          this.watch = new ResumableWatch(
            this.client,
            this.keys.subtreeWatchRange(this.root),
            revision + 1n,
            {
              onEvents: events => this.apply(events),
              onCanceled: err => this.onCanceled(err),
            },
            this.health,
            true,
          );
        } else {
          this.watch.restart(revision + 1n);
        }
        if (!this.started) {
          this.started = true;
          this.readyDeferred.resolve();
        }
      },
      (err: CoordinationError) => {
        this.resyncing = false;
        if (this.closed) {
          return;
        }
        if (!this.started) {
          // The initial load failed: the caller (addCacheData / watch) gets the error and closes the feed.
          this.readyDeferred.reject(err);
          this.close();
          return;
        }
        this.sink.error(err);
        this.scheduleResync();
      },
    );
  }

  private scheduleResync(): void {
    clearTimeout(this.resyncTimer);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, RESYNC_BACKOFF_MAX_MS);
    this.resyncTimer = setTimeout(() => this.resync(), delay);
  }

  private onCanceled(_err: Error): void {
    // Compacted past our revision, or the server cancelled the watch (auth token, permission): the events
    // in between are gone, so take a fresh snapshot and let the sink compute the differences. Repeated
    // cancellations (a watch the server keeps refusing) back off instead of spinning.
    const now = Date.now();
    const repeated = now - this.lastCancelAt < CANCEL_QUIET_MS;
    this.lastCancelAt = now;
    if (repeated) {
      this.scheduleResync();
    } else {
      this.resync();
    }
  }

  private apply(events: readonly IEvent[]): void {
    for (const ev of events) {
      const path = this.keys.pathOf(ev.kv.key);
      if (path === null || !isUnder(path, this.root)) {
        continue; // a sibling such as '/a-b' inside the watched byte range of '/a'
      }
      if (ev.type === 'Put') {
        this.sink.upsert(
          path,
          toNodeData(ev.kv.value, ev.kv.version, ev.kv.mod_revision, ev.kv.lease),
        );
      } else {
        this.sink.remove(path);
      }
    }
  }
}
