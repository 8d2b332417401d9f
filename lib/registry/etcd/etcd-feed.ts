import type { IEvent } from 'etcd3';
import type { CoordinationError } from '../../errors';
import { Deferred } from '../../internal/async';
import { BackoffTimer } from '../../internal/backoff-timer';
import { isUnder } from '../../internal/paths';
import type { FeedHandle, FeedSink } from '../driver';
import type { EtcdKv } from './etcd-kv';
import { toNodeData } from './etcd-ops';
import type { EtcdKeys } from './etcd-keys';
import { ResumableWatch, type WatchHealth, type WatchSource } from './etcd-watch';

/**
 * `openFeed` on etcd (the tree cache's source): one paged snapshot of the subtree at one
 * revision R → `sink.reset`; then ONE range watch from R + 1 whose events are applied in order.
 *
 * After any gap the feed resyncs: a fresh snapshot at R', `sink.reset` (the sink emits exactly the coalesced
 * differences, as on every backend), and a NEW etcd3 watcher from R' + 1. Gaps are: the watch stream dropped
 * ('disconnected': etcd3's own resume is never used, it loses events while catching up), the server
 * cancelled the watch ('error': compaction, auth token expiry), or the session was SUSPENDED / LOST (a
 * blackhole the watch stream may not even notice) and is back. While the server is unreachable the snapshot
 * is retried with backoff. Because every gap ends in a snapshot, the watch never has to catch up on more
 * than the few revisions after R', and never resumes on its own.
 */

/** A failed resync, a disconnect or a repeated cancellation resyncs again after these delays. */
const RESYNC_BACKOFF = { initialMs: 100, maxMs: 1_000 };
/** A watch cancelled again within this long after the previous cancellation resyncs with backoff. */
const CANCEL_QUIET_MS = 1_000;

export class EtcdFeed implements FeedHandle {
  private readonly readyDeferred = new Deferred<void>();
  readonly ready: Promise<void> = this.readyDeferred.promise;
  private watch: ResumableWatch | null = null;
  private started = false;
  private closed = false;
  private resyncing = false;
  private readonly resyncLater = new BackoffTimer(RESYNC_BACKOFF, () => this.resync());
  private lastCancelAt = 0;
  /** A gap happened that no snapshot has covered yet. */
  private stale = false;

  constructor(
    private readonly source: WatchSource,
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
    this.resyncLater.cancel();
    void this.watch?.close();
    this.watch = null;
    this.readyDeferred.reject(new Error('feed closed before its initial load'));
    this.onClose(this);
  }

  /** The session was SUSPENDED or LOST: resync once it is back (see {@link sessionRestored}). */
  markStale(): void {
    this.stale = true;
  }

  /** The session is back (RECONNECTED): resync if a gap is still uncovered. */
  sessionRestored(): void {
    if (this.stale && this.started) {
      this.resync();
    }
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
          this.resyncLater.reset();
        }
        this.stale = false;
        this.sink.reset(nodes);
        if (this.watch === null) {
          this.watch = new ResumableWatch(
            this.source,
            this.keys.subtreeWatchRange(this.root),
            revision + 1n,
            {
              onEvents: events => this.apply(events),
              onCanceled: err => this.onCanceled(err),
              onDisconnected: () => this.onDisconnected(),
            },
            this.health,
            false,
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
    this.resyncLater.reschedule();
  }

  private onDisconnected(): void {
    this.stale = true;
    this.scheduleResync();
  }

  private onCanceled(_err: Error): void {
    // Compacted past our revision, or the server cancelled the watch (auth token, permission): the events
    // in between are gone, so take a fresh snapshot and let the sink compute the differences. Repeated
    // cancellations (a watch the server keeps refusing) back off instead of spinning.
    const now = Date.now();
    const repeated = now - this.lastCancelAt < CANCEL_QUIET_MS;
    this.lastCancelAt = now;
    this.stale = true;
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
