import {
  type EtcdError,
  type Etcd3,
  EtcdInvalidAuthTokenError,
  type IEvent,
  type IWatchResponse,
  type Namespace,
  type Watcher,
} from 'etcd3';
import { BackoffTimer } from '../../internal/backoff-timer';
import type { KeyRange } from './etcd-keys';

/**
 * One range watch that resumes exactly where WE left off.
 *
 * etcd3's watcher resumes from `header.revision + 1` of the last response, which skips events when the stream
 * drops while the watcher is catching up on history (1501 of 2501 events lost, silently). So:
 * - `nextRevision` advances only from the events' own `mod_revision`s, after the whole response was handed
 *   to `onEvents` (a txn's events share one revision and arrive in one response);
 * - on 'disconnected' (deduplicated: etcd3 fires it twice) the etcd3 watcher is cancelled (never etcd3's own
 *   resume) and, when `resume` is set, a NEW watcher is created from `nextRevision` after a short backoff;
 *   otherwise the owner resyncs (tree-cache feeds emit the coalesced differences of a gap) and calls
 *   {@link restart};
 * - on 'error' (compaction, auth token expiry, permission: etcd3 drops the watcher) the owner is told via
 *   `onCanceled` and must resync from a snapshot and call {@link restart};
 * - every etcd3 watcher always has an 'error' listener, also after we stopped caring about it.
 */

export interface WatchHooks {
  /** One watch response's events, in order. */
  onEvents(events: readonly IEvent[]): void;
  /** The watch was cancelled by the server (compacted revision, invalid token …): resync, then `restart`. */
  onCanceled(err: Error): void;
  /** The stream dropped. A resuming watch goes on from the last applied revision by itself; otherwise the
   * owner must resync and call `restart`. */
  onDisconnected?(): void;
}

/** Tells the session about watch-stream health (SUSPENDED on loss). */
export interface WatchHealth {
  reportWatchLoss(): void;
  reportWatchRestored(): void;
}

/** A disconnected watcher that resumes by itself is created again after these delays. */
const RESUME_BACKOFF = { initialMs: 50, maxMs: 1_000 };

/**
 * Where watchers are created: normally the client's one root Namespace (one watch manager, one gRPC watch
 * stream for everything). Two etcd3 defects make a stream unusable for NEW watchers, and then {@link renew}
 * switches to a fresh Namespace, whose watch manager opens a new stream:
 * - etcd3 authenticates a watch stream once, with the token cached when the stream was opened, and etcd
 *   checks that token on every watch CREATE; once it expires (simple tokens, `--auth-token-ttl`, 300 s by
 *   default) every new or re-created watcher is cancelled with "invalid auth token" (seen with etcd 3.4
 *   and etcd3@1.1.2). The unary call of the resync refreshes the cached token, so the new stream carries a valid one.
 * - When etcd refuses a watch in its create response (created + canceled in one message: invalid token,
 *   permission denied), etcd3 never advances its attach queue: every watcher queued behind it on that stream
 *   waits forever. So such a refusal also renews the source, and watchers still waiting on the old stream
 *   are created again on the new one ({@link ResumableWatch} listens).
 * The old stream lives on for the watchers established on it and is cancelled by etcd3 when the last of them
 * is cancelled.
 */
export class WatchSource {
  private namespace: Namespace;
  private generation = 0;
  private readonly listeners = new Set<(oldGeneration: number) => void>();

  constructor(private readonly client: Etcd3) {
    this.namespace = client;
  }

  current(): { namespace: Namespace; generation: number } {
    return { namespace: this.namespace, generation: this.generation };
  }

  /** Called with the old generation after every {@link renew}; returns an unsubscribe function. */
  onRenewed(listener: (oldGeneration: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The stream of `generation` is unusable for new watchers: use a new stream from now on (once). */
  renew(generation: number): void {
    if (generation !== this.generation) {
      return;
    }
    this.generation++;
    this.namespace = this.client.namespace('');
    for (const listener of [...this.listeners]) {
      listener(generation);
    }
  }
}

export class ResumableWatch {
  private watcher: Watcher | null = null;
  private nextRevision: bigint;
  private readonly resumer = new BackoffTimer(RESUME_BACKOFF, () => {
    if (!this.closed && this.watcher === null) {
      this.create();
    }
  });
  private disconnected = false;
  private closed = false;
  /** The current watcher's stream generation, and whether etcd acknowledged its creation. */
  private watcherGeneration = -1;
  private acknowledged = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly source: WatchSource,
    private readonly range: KeyRange,
    startRevision: bigint,
    private readonly hooks: WatchHooks,
    private readonly health: WatchHealth,
    /** Resume by itself after a disconnect (else the owner resyncs and calls {@link restart}). */
    private readonly resume: boolean,
  ) {
    this.nextRevision = startRevision;
    this.unsubscribe = source.onRenewed(old => this.onSourceRenewed(old));
    this.create();
  }

  /** The first revision not yet applied. */
  get resumeRevision(): bigint {
    return this.nextRevision;
  }

  /** Start over from `revision` (after a resync from a snapshot taken at `revision − 1`). */
  restart(revision: bigint): void {
    if (this.closed) {
      return;
    }
    void this.detach();
    this.resumer.cancel();
    this.nextRevision = revision;
    this.create();
  }

  close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    this.resumer.cancel();
    this.setDisconnected(false);
    return this.detach();
  }

  private create(): void {
    const { namespace, generation } = this.source.current();
    const watcher = namespace
      .watch()
      .inRange({ start: this.range.start, end: this.range.end })
      .startRevision(this.nextRevision.toString())
      .watcher();
    this.watcher = watcher;
    this.watcherGeneration = generation;
    this.acknowledged = false;
    const current = (): boolean => this.watcher === watcher && !this.closed;
    watcher.on('data', (res: IWatchResponse) => {
      if (current()) {
        this.onData(res);
      }
    });
    watcher.on('connected', () => {
      if (current()) {
        this.acknowledged = true;
        this.resumer.reset();
        this.setDisconnected(false);
      }
    });
    watcher.on('disconnected', () => {
      if (current()) {
        this.onDisconnected();
      }
    });
    watcher.on('error', (err: EtcdError) => {
      if (current()) {
        this.watcher = null; // etcd3 has already dropped it
        this.setDisconnected(false);
        const refusedAtCreate = watcher.id === null; // created + canceled: etcd3's attach queue is stuck
        if (
          refusedAtCreate ||
          err instanceof EtcdInvalidAuthTokenError ||
          /invalid auth token/i.test(err.message)
        ) {
          this.source.renew(generation);
        }
        this.hooks.onCanceled(err);
      }
    });
  }

  /** The stream this watcher waits on was abandoned: a watcher not yet acknowledged there is created again. */
  private onSourceRenewed(oldGeneration: number): void {
    if (
      !this.closed &&
      this.watcher !== null &&
      this.watcherGeneration === oldGeneration &&
      !this.acknowledged
    ) {
      void this.detach();
      this.create();
    }
  }

  private onData(res: IWatchResponse): void {
    const events = res.events;
    if (events.length === 0) {
      return; // progress notification: its header revision says nothing while we are catching up
    }
    this.hooks.onEvents(events);
    let max = this.nextRevision - 1n;
    for (const ev of events) {
      const rev = BigInt(ev.kv.mod_revision);
      if (rev > max) {
        max = rev;
      }
    }
    this.nextRevision = max + 1n;
  }

  private onDisconnected(): void {
    void this.detach();
    this.setDisconnected(true);
    this.hooks.onDisconnected?.();
    if (!this.resume) {
      return;
    }
    this.resumer.reschedule();
  }

  private setDisconnected(value: boolean): void {
    if (this.disconnected === value) {
      return;
    }
    this.disconnected = value;
    if (value) {
      this.health.reportWatchLoss();
    } else {
      this.health.reportWatchRestored();
    }
  }

  /** Cancel the current etcd3 watcher (its listeners stay, ignoring everything). */
  private detach(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = null;
    if (watcher === null) {
      return Promise.resolve();
    }
    return watcher.cancel().catch(() => undefined);
  }
}
