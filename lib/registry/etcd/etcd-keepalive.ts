import type {
  IDuplexStream,
  IResponseHeader,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  LeaseClient,
} from 'etcd3';

/**
 * The keepalive clock of ONE granted lease. etcd3's own Lease reports
 * `keepaliveFailed` only after a whole TTL of silence and `lost` at 2 × TTL, long after the server deleted
 * our keys, so this runs its own bidi keepalive stream and timers:
 * - a keepalive every `min(TTL/6, 1 s)` on one stream (reopened when it breaks);
 * - `lastOk` is the SEND time of the newest answered keepalive: the server renewed the lease no earlier;
 * - `onSilent` when nothing was answered for `min(TTL/3, 1 s)` + `clamp(TTL/4, 0.5 s, 2 s)` (what the first
 *   failed keepalive took when the period was TTL/3: sending more often must not report SUSPENDED sooner),
 *   or at once when the stream breaks or cannot be opened;
 * - `onExpired` once `now − lastOk ≥ TTL − margin` (margin `clamp(TTL/10, 0.25 s, 1 s)`), i.e. before the
 *   server can have deleted our keys, or at once when the server answers TTL 0 (revoked / expired);
 * - `onAnswered` for every good answer, with its header.
 * `stop()` ends everything; the owner creates a new clock for the next lease.
 */

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

export interface KeepaliveHooks {
  /** With the answer's header (its raft term tells a leader change). */
  onAnswered(header: IResponseHeader): void;
  onSilent(): void;
  onExpired(): void;
  /** Opening the stream failed (already translated by the owner if it wants to). */
  onOpenFailed(err: unknown): void;
}

export class LeaseKeepalive {
  private stream: KeepAliveStream | null = null;
  private opening = false;
  /** Send times of keepalives not yet answered, oldest first (answers come in order on one stream). */
  private pending: number[] = [];
  private lastOk: number;
  private tickTimer: NodeJS.Timeout | undefined;
  private silentTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: LeaseClient,
    private readonly leaseId: string,
    private readonly ttlMs: number,
    /** When the grant request was sent: the lease lives at least TTL from then. */
    grantedAt: number,
    private readonly hooks: KeepaliveHooks,
  ) {
    this.lastOk = grantedAt;
    this.tickTimer = setInterval(() => this.tick(), this.intervalMs);
    this.armExpiryTimer();
    this.armSilentTimer();
    this.openStream();
  }

  /** Send time of the newest answered keepalive (epoch ms): the server renewed the lease no earlier. */
  get lastRenewedAt(): number {
    return this.lastOk;
  }

  get leaseTtlMs(): number {
    return this.ttlMs;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearTimeout(this.silentTimer);
    clearTimeout(this.expiryTimer);
    this.dropStream();
  }

  /**
   * Keepalive period: TTL/6, at most 1 s. etcd's Go client uses TTL/3, but our executions self-fence once
   * the newest answered keepalive is older than half the TTL (OwnershipGuard): at TTL/3 that left only
   * TTL/6 for a late timer or a reply queued behind other requests, and a loaded machine crossed it
   * (runs aborted with a healthy lease, seen at TTL 2 s). Cheap: one small message per period.
   */
  private get intervalMs(): number {
    return Math.min(this.ttlMs / 6, 1000);
  }

  /** Silence that reports SUSPENDED: a TTL/3 period plus the answer timeout, whatever the period is. */
  private get silentAfterMs(): number {
    return Math.min(this.ttlMs / 3, 1000) + this.ackTimeoutMs;
  }

  /** Grace for one keepalive's answer before it counts as failed. */
  private get ackTimeoutMs(): number {
    return Math.min(2000, Math.max(500, this.ttlMs / 4));
  }

  private get expiryMarginMs(): number {
    return Math.min(1000, Math.max(250, this.ttlMs / 10));
  }

  private tick(): void {
    if (this.stream === null) {
      this.openStream();
    }
    this.send();
  }

  private send(): void {
    const stream = this.stream;
    if (stream === null || this.stopped) {
      return;
    }
    try {
      stream.write({ ID: this.leaseId });
      this.pending.push(Date.now());
    } catch {
      this.dropStream();
    }
  }

  private openStream(): void {
    if (this.opening || this.stream !== null || this.stopped) {
      return;
    }
    this.opening = true;
    this.client.leaseKeepAlive().then(
      stream => {
        this.opening = false;
        if (this.stopped) {
          endStream(stream);
          return;
        }
        this.stream = stream;
        this.pending = [];
        stream.on('data', res => this.onAnswer(stream, res));
        stream.on('error', () => this.onBroken(stream));
        stream.on('end', () => this.onBroken(stream));
        this.send();
      },
      (err: unknown) => {
        this.opening = false;
        if (!this.stopped) {
          this.hooks.onOpenFailed(err);
        }
      },
    );
  }

  private onAnswer(stream: KeepAliveStream, res: ILeaseKeepAliveResponse): void {
    if (stream !== this.stream || this.stopped || res.ID !== this.leaseId) {
      return;
    }
    if (res.TTL === '0') {
      this.hooks.onExpired(); // revoked or expired at the server
      return;
    }
    const sentAt = this.pending.shift();
    if (sentAt !== undefined && sentAt > this.lastOk) {
      this.lastOk = sentAt;
      this.armExpiryTimer();
    }
    this.armSilentTimer();
    this.hooks.onAnswered(res.header);
  }

  private onBroken(stream: KeepAliveStream): void {
    if (stream === this.stream) {
      this.dropStream();
      this.hooks.onSilent();
    }
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = null;
    this.pending = [];
    if (stream !== null) {
      endStream(stream);
    }
  }

  private armSilentTimer(): void {
    clearTimeout(this.silentTimer);
    this.silentTimer = setTimeout(() => this.hooks.onSilent(), this.silentAfterMs);
  }

  private armExpiryTimer(): void {
    clearTimeout(this.expiryTimer);
    const due = this.lastOk + this.ttlMs - this.expiryMarginMs - Date.now();
    this.expiryTimer = setTimeout(() => this.hooks.onExpired(), Math.max(0, due));
  }
}

/** Half-close first (so etcd3 does not mark the host failed: the stream is no longer writable), then cancel. */
function endStream(stream: KeepAliveStream): void {
  try {
    stream.end();
    stream.cancel();
  } catch {
    // already closed
  }
}
