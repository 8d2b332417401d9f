import type {
  IDuplexStream,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  LeaseClient,
} from 'etcd3';
import { ClosedError, type CoordinationError, SessionExpiredError } from '../../errors';
import { Deferred } from '../../internal/async';
import type { ConnectionState } from '../registry-center';
import { translateEtcdError } from './etcd-errors';

/**
 * The session of one etcd driver: ONE lease that carries every ephemeral key (zk-etcd-clients.md §4.2, §4.4).
 *
 * etcd3's own Lease is not used: it reports `keepaliveFailed` only after a whole TTL of silence and `lost`
 * at 2 × TTL, long after the server has deleted our keys. Instead this class runs its own keepalive stream
 * and clock:
 * - a keepalive every `min(TTL/3, 1 s)`; `lastOk` is the SEND time of the newest acknowledged keepalive
 *   (the server renewed the lease no earlier than that);
 * - SUSPENDED when no keepalive was answered for one period + `clamp(TTL/4, 0.5 s, 2 s)`, or the stream
 *   breaks (or when the watch stream is lost: {@link reportWatchLoss});
 * - RECONNECTED when keepalives are answered again on the same lease;
 * - LOST as soon as `now − lastOk ≥ TTL − margin` (before the server can have deleted the keys), or at once
 *   when the server says the lease is gone (TTL 0 / not found, e.g. revoked by another client);
 * - after LOST: revoke the old lease (best effort, again after the next grant), grant a new one with
 *   backoff until it succeeds, then RECONNECTED with the new {@link leaseId}.
 * Never the same state twice in a row. Ops that need the lease wait for it ({@link acquireLease}) and fail
 * with `SessionExpiredError` when none comes: no ephemeral key is ever written without a lease.
 */

export interface EtcdSessionOptions {
  leaseClient: LeaseClient;
  /** Requested TTL (etcd may raise it, e.g. to its 2 s minimum). */
  ttlSeconds: number;
  requestTimeoutMs: number;
  description: string;
  onState(state: ConnectionState): void;
  /** The lease was lost (called after LOST is reported). */
  onLost(): void;
}

type SuspendReason = 'keepalive' | 'watch';
type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

const GRANT_BACKOFF_MIN_MS = 100;
const GRANT_BACKOFF_MAX_MS = 1_000;
const REVOKE_TIMEOUT_MS = 1_000;

export class EtcdSession {
  private lease: string | null = null;
  private ttlMs = 0;
  private lastOk = 0;
  private state: ConnectionState | null = null;
  private readonly reasons = new Set<SuspendReason>();
  private stream: KeepAliveStream | null = null;
  private opening = false;
  /** Send times of keepalives not yet answered, oldest first (responses come in order). */
  private pending: number[] = [];
  /** Bumped whenever the lease or the stream is replaced; callbacks of older ones are ignored. */
  private gen = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private lossTimer: NodeJS.Timeout | undefined;
  private suspendTimer: NodeJS.Timeout | undefined;
  private grantTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private closed = false;
  private readonly waiters = new Set<Deferred<string>>();
  /** Leases we gave up on whose revoke has not been confirmed. */
  private readonly toRevoke = new Set<string>();

  constructor(private readonly opts: EtcdSessionOptions) {}

  /** Current lease id, or null between LOST and the next grant. */
  leaseId(): string | null {
    return this.lease;
  }

  /** Grant the first lease (errors propagate, translated) and report CONNECTED. */
  async start(): Promise<void> {
    const sentAt = Date.now();
    const res = await this.grant();
    if (this.closed) {
      this.revokeQuietly(res.id);
      throw new ClosedError(this.opts.description);
    }
    this.install(res.id, res.ttlMs, sentAt);
    this.emit('CONNECTED');
  }

  /** The current lease, waiting up to `timeoutMs` for a new one after LOST. */
  async acquireLease(timeoutMs: number = this.opts.requestTimeoutMs): Promise<string> {
    if (this.closed) {
      throw new ClosedError(this.opts.description);
    }
    if (this.lease !== null) {
      return this.lease;
    }
    const waiter = new Deferred<string>();
    this.waiters.add(waiter);
    const timer = setTimeout(() => {
      this.waiters.delete(waiter);
      waiter.reject(
        new SessionExpiredError(
          `${this.opts.description}: the session lease was lost and no new one was granted yet`,
        ),
      );
    }, timeoutMs);
    try {
      return await waiter.promise;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(waiter);
    }
  }

  /** An op found `leaseId` gone at the server (lease not found): treat it as session loss. */
  leaseInvalid(leaseId: string): void {
    if (leaseId === this.lease) {
      this.declareLost();
    }
  }

  reportWatchLoss(): void {
    this.suspend('watch');
  }

  reportWatchRestored(): void {
    this.reasons.delete('watch');
    this.maybeReconnected();
  }

  /** Stop keepalives and revoke the lease so that our ephemeral keys vanish at once. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.stopKeepalive();
    clearTimeout(this.grantTimer);
    for (const waiter of this.waiters) {
      waiter.reject(new ClosedError(this.opts.description));
    }
    this.waiters.clear();
    const leases = [...this.toRevoke, ...(this.lease === null ? [] : [this.lease])];
    this.lease = null;
    this.toRevoke.clear();
    await Promise.all(leases.map(id => this.revoke(id).catch(() => undefined)));
  }

  // ---- lease grant / revoke ----

  private async grant(): Promise<{ id: string; ttlMs: number }> {
    try {
      const res = await this.opts.leaseClient.leaseGrant({
        TTL: Math.max(2, Math.ceil(this.opts.ttlSeconds)),
        ID: 0,
      });
      if (res.error !== '') {
        throw new Error(res.error);
      }
      return { id: res.ID, ttlMs: Number(res.TTL) * 1000 };
    } catch (err) {
      throw this.translate(err, 'lease grant');
    }
  }

  private async revoke(id: string): Promise<void> {
    try {
      await this.opts.leaseClient.leaseRevoke(
        { ID: id },
        { deadline: Date.now() + REVOKE_TIMEOUT_MS },
      );
      this.toRevoke.delete(id);
    } catch (err) {
      const e = this.translate(err, 'lease revoke');
      if (e instanceof SessionExpiredError) {
        this.toRevoke.delete(id); // already gone
        return;
      }
      throw e;
    }
  }

  private revokeQuietly(id: string): void {
    this.toRevoke.add(id);
    this.revoke(id).catch(() => undefined);
  }

  private install(id: string, ttlMs: number, sentAt: number): void {
    this.gen++;
    this.lease = id;
    this.ttlMs = ttlMs;
    this.lastOk = sentAt;
    this.pending = [];
    this.reasons.clear();
    for (const waiter of this.waiters) {
      waiter.resolve(id);
    }
    this.waiters.clear();
    this.tickTimer = setInterval(() => this.tick(), this.intervalMs);
    this.armLossTimer();
    this.armSuspendTimer();
    this.openStream();
    this.sendKeepalive();
  }

  // ---- keepalive ----

  /** Keepalive period: TTL/3 as etcd's Go client, at most 1 s (cheap, and quicker detection). */
  private get intervalMs(): number {
    return Math.min(this.ttlMs / 3, 1000);
  }

  /** Grace for one keepalive's answer before it counts as failed. */
  private get ackTimeoutMs(): number {
    return Math.min(2000, Math.max(500, this.ttlMs / 4));
  }

  private get lossMarginMs(): number {
    return Math.min(1000, Math.max(250, this.ttlMs / 10));
  }

  private tick(): void {
    if (this.lease === null || this.closed) {
      return;
    }
    if (this.stream === null) {
      this.openStream();
    }
    this.sendKeepalive();
  }

  private sendKeepalive(): void {
    const stream = this.stream;
    if (stream === null || this.lease === null) {
      return;
    }
    try {
      stream.write({ ID: this.lease });
      this.pending.push(Date.now());
    } catch {
      this.dropStream();
    }
  }

  private openStream(): void {
    if (this.opening || this.stream !== null || this.lease === null || this.closed) {
      return;
    }
    this.opening = true;
    const gen = this.gen;
    this.opts.leaseClient.leaseKeepAlive().then(
      stream => {
        this.opening = false;
        if (gen !== this.gen || this.closed || this.lease === null) {
          endStream(stream);
          return;
        }
        this.stream = stream;
        this.pending = [];
        stream.on('data', res => this.onKeepaliveResponse(stream, res));
        stream.on('error', () => this.onStreamBroken(stream));
        stream.on('end', () => this.onStreamBroken(stream));
        this.sendKeepalive();
      },
      (err: unknown) => {
        this.opening = false;
        if (gen === this.gen && !this.closed) {
          this.suspend('keepalive');
          if (this.translate(err, 'lease keepalive') instanceof SessionExpiredError) {
            this.declareLost();
          }
        }
      },
    );
  }

  private onKeepaliveResponse(stream: KeepAliveStream, res: ILeaseKeepAliveResponse): void {
    if (stream !== this.stream || res.ID !== this.lease) {
      return;
    }
    if (res.TTL === '0') {
      this.declareLost(); // revoked or expired at the server
      return;
    }
    const sentAt = this.pending.shift();
    if (sentAt !== undefined && sentAt > this.lastOk) {
      this.lastOk = sentAt;
      this.armLossTimer();
    }
    this.armSuspendTimer();
    this.reasons.delete('keepalive');
    this.maybeReconnected();
  }

  private onStreamBroken(stream: KeepAliveStream): void {
    if (stream !== this.stream) {
      return;
    }
    this.dropStream();
    this.suspend('keepalive');
  }

  private dropStream(): void {
    const stream = this.stream;
    this.stream = null;
    this.pending = [];
    if (stream !== null) {
      endStream(stream);
    }
  }

  private stopKeepalive(): void {
    this.gen++;
    clearInterval(this.tickTimer);
    clearTimeout(this.lossTimer);
    clearTimeout(this.suspendTimer);
    this.tickTimer = undefined;
    this.lossTimer = undefined;
    this.suspendTimer = undefined;
    this.dropStream();
  }

  /** SUSPENDED when no keepalive is answered for one period plus the answer grace (whatever the cause). */
  private armSuspendTimer(): void {
    clearTimeout(this.suspendTimer);
    this.suspendTimer = setTimeout(
      () => this.suspend('keepalive'),
      this.intervalMs + this.ackTimeoutMs,
    );
  }

  private armLossTimer(): void {
    clearTimeout(this.lossTimer);
    const due = this.lastOk + this.ttlMs - this.lossMarginMs - Date.now();
    this.lossTimer = setTimeout(() => this.declareLost(), Math.max(0, due));
  }

  // ---- states ----

  private suspend(reason: SuspendReason): void {
    if (this.closed || this.lease === null) {
      return;
    }
    this.reasons.add(reason);
    if (this.state === 'CONNECTED' || this.state === 'RECONNECTED') {
      this.emit('SUSPENDED');
    }
  }

  private maybeReconnected(): void {
    if (
      this.state === 'SUSPENDED' &&
      this.reasons.size === 0 &&
      this.lease !== null &&
      !this.closed
    ) {
      this.emit('RECONNECTED');
    }
  }

  private declareLost(): void {
    if (this.closed || this.lease === null) {
      return;
    }
    const old = this.lease;
    this.lease = null;
    this.stopKeepalive();
    this.reasons.clear();
    if (this.state === 'CONNECTED' || this.state === 'RECONNECTED') {
      this.emit('SUSPENDED');
    }
    this.emit('LOST');
    this.opts.onLost();
    this.revokeQuietly(old);
    this.renew(GRANT_BACKOFF_MIN_MS);
  }

  /** Grant a new lease, retrying with backoff until it works or the session closes. */
  private renew(backoffMs: number): void {
    if (this.renewing || this.closed) {
      return;
    }
    this.renewing = true;
    const sentAt = Date.now();
    this.grant().then(
      res => {
        this.renewing = false;
        if (this.closed) {
          this.revokeQuietly(res.id);
          return;
        }
        this.install(res.id, res.ttlMs, sentAt);
        this.emit('RECONNECTED');
        for (const id of this.toRevoke) {
          this.revokeQuietly(id);
        }
      },
      () => {
        this.renewing = false;
        if (this.closed) {
          return;
        }
        this.grantTimer = setTimeout(
          () => this.renew(Math.min(backoffMs * 2, GRANT_BACKOFF_MAX_MS)),
          backoffMs,
        );
      },
    );
  }

  private emit(state: ConnectionState): void {
    if (this.state === state || this.closed) {
      return;
    }
    this.state = state;
    this.opts.onState(state);
  }

  private translate(err: unknown, operation: string): CoordinationError {
    return translateEtcdError(err, {
      operation,
      timeoutMs: this.opts.requestTimeoutMs,
      description: this.opts.description,
    });
  }
}

/** Half-close (so etcd3 does not mark the host failed), then cancel so nothing stays open. */
function endStream(stream: KeepAliveStream): void {
  try {
    stream.end();
    stream.cancel();
  } catch {
    // already closed
  }
}
