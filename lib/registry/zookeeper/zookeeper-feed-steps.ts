import { ClosedError, isRetryable } from '../../errors';
import { Deferred, SerialQueue } from '../../internal/async';
import { BackoffTimer } from '../../internal/backoff-timer';
import type { FeedSink, NodeData } from '../driver';
import { translateZkError } from './zookeeper-errors';
import type { ZooKeeperSession } from './zookeeper-session';

/**
 * The step loop both ZooKeeper feeds run on (zookeeper-feed.ts per node, zookeeper-persistent-feed.ts with one
 * persistent watch); what they differ in (how a subtree is loaded, how a change is noticed) stays with them.
 *
 * - Every step (the load, each watch event or batch of notifications, each resync) runs through ONE serial
 *   queue, so replies of different steps cannot interleave and the sink sees changes in order. Steps of a
 *   closed feed do not run.
 * - A resync (the feed's full load, ending in {@link loaded}) runs at {@link start}, after every RECONNECTED,
 *   and after a failed step; a resync already queued and not yet started absorbs the next request.
 * - A failed step is offered to `takeFailure` first (the persistent feed takes UNIMPLEMENTED there and falls
 *   back). Otherwise the mirror may be behind: an error that retrying cannot fix goes to `sink.error`, and
 *   the resync is retried after a capped backoff while connected (else RECONNECTED schedules it). A completed
 *   resync starts the delays over.
 * - `ready` resolves at the first completed resync and rejects with {@link ClosedError} at close.
 */

/** A failed step resyncs again after these delays (while connected; else RECONNECTED does). */
const RESYNC_BACKOFF = { initialMs: 100, maxMs: 5000 };

export interface FeedStepsOptions {
  session: ZooKeeperSession;
  /** The feed's root, named in errors. */
  root: string;
  sink: FeedSink;
  /** The feed's full load; ends in {@link FeedSteps.loaded} unless the feed was closed meanwhile. */
  resync: () => Promise<void>;
  /** Offered every failed step first; true when it handled the failure (no report, no resync). */
  takeFailure?: (e: unknown) => boolean;
  /** Called once by {@link FeedSteps.close}: the feed drops its watches and mirror. */
  dropState: () => void;
}

export class FeedSteps {
  readonly ready: Promise<void>;
  private readonly readyDeferred = new Deferred<void>();
  private readonly queue = new SerialQueue();
  private isClosed = false;
  private resyncQueued = false;
  private readonly resyncLater = new BackoffTimer(RESYNC_BACKOFF, () => this.scheduleResync());
  private unhook: (() => void) | null = null;

  constructor(private readonly options: FeedStepsOptions) {
    this.ready = this.readyDeferred.promise;
    this.ready.catch(() => undefined);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Resync now and after every RECONNECTED. */
  start(): void {
    this.unhook = this.options.session.onState(state => {
      if (state === 'RECONNECTED') {
        this.scheduleResync();
      }
    });
    this.scheduleResync();
  }

  /** Idempotent: no step runs after this; the feed drops its state (`dropState`). */
  close(): void {
    if (this.isClosed) {
      return;
    }
    this.isClosed = true;
    this.unhook?.();
    this.unhook = null;
    this.resyncLater.cancel();
    this.options.dropState();
    this.readyDeferred.reject(new ClosedError(`feed of ${this.options.root}`));
  }

  scheduleResync(): void {
    if (this.isClosed || this.resyncQueued) {
      return;
    }
    this.resyncQueued = true;
    this.enqueue(() => {
      this.resyncQueued = false;
      return this.options.resync();
    });
  }

  /** Queue a step; a failure goes through the failure rules above. */
  enqueue(step: () => Promise<void>): void {
    void this.queue.run(async () => {
      if (this.isClosed) {
        return;
      }
      try {
        await step();
      } catch (e) {
        this.failed(e);
      }
    });
  }

  /** A resync read the whole subtree: the delays start over, the sink gets the snapshot, `ready` resolves. */
  loaded(snapshot: ReadonlyMap<string, NodeData>): void {
    this.resyncLater.reset();
    this.options.sink.reset(snapshot);
    this.readyDeferred.resolve();
  }

  /** A step failed: the mirror may be behind. Resync when possible, report what retrying cannot fix. */
  private failed(e: unknown): void {
    if (this.isClosed || this.options.takeFailure?.(e) === true) {
      return;
    }
    const err = translateZkError(e, { operation: 'feed', path: this.options.root });
    if (!isRetryable(err)) {
      this.options.sink.error(err);
    }
    if (this.options.session.connected) {
      this.resyncLater.schedule();
    }
    // Otherwise RECONNECTED schedules the resync.
  }
}
