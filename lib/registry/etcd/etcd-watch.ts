import {
  type EtcdError,
  type Etcd3,
  EtcdInvalidAuthTokenError,
  type IEvent,
  type IWatchResponse,
  type Namespace,
  type Watcher,
} from 'etcd3';
import type { KeyRange } from './etcd-keys';

/**
 * One range watch that resumes exactly where WE left off (zk-etcd-clients.md §0.7, §0.8, §2.5).
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

const RESUME_BACKOFF_MIN_MS = 50;
const RESUME_BACKOFF_MAX_MS = 1_000;

/**
 * Where watchers are created: normally the client's one root Namespace (one watch manager, one gRPC watch
 * stream for everything). etcd3 authenticates a watch stream once, with the token cached when the stream was
 * opened, and etcd checks that token on every watch CREATE on the stream; once it expires (simple tokens,
 * `--auth-token-ttl`, 300 s by default) every new or re-created watcher is cancelled with "invalid auth
 * token" forever (zk-etcd-clients.md §0.14). Then {@link renew} switches to a fresh Namespace: its watch
 * manager opens a new stream with the token that the next unary call refreshed. The old stream lives on for
 * the watchers still on it and is cancelled by etcd3 when the last of them is cancelled.
 */
export class WatchSource {
  private namespace: Namespace;
  private generation = 0;

  constructor(private readonly client: Etcd3) {
    this.namespace = client;
  }

  current(): { namespace: Namespace; generation: number } {
    return { namespace: this.namespace, generation: this.generation };
  }

  /** The stream of `generation` has a stale token: use a new stream from now on (once per generation). */
  renew(generation: number): void {
    if (generation === this.generation) {
      this.generation++;
      this.namespace = this.client.namespace('');
    }
  }
}

export class ResumableWatch {
  private watcher: Watcher | null = null;
  private nextRevision: bigint;
  private backoffMs = RESUME_BACKOFF_MIN_MS;
  private resumeTimer: NodeJS.Timeout | undefined;
  private disconnected = false;
  private closed = false;

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
    clearTimeout(this.resumeTimer);
    this.nextRevision = revision;
    this.create();
  }

  close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.resumeTimer);
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
    const current = (): boolean => this.watcher === watcher && !this.closed;
    watcher.on('data', (res: IWatchResponse) => {
      if (current()) {
        this.onData(res);
      }
    });
    watcher.on('connected', () => {
      if (current()) {
        this.backoffMs = RESUME_BACKOFF_MIN_MS;
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
        if (err instanceof EtcdInvalidAuthTokenError || /invalid auth token/i.test(err.message)) {
          this.source.renew(generation);
        }
        this.hooks.onCanceled(err);
      }
    });
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
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, RESUME_BACKOFF_MAX_MS);
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      if (!this.closed && this.watcher === null) {
        this.create();
      }
    }, delay);
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
