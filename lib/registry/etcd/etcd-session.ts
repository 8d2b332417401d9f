import type { IResponseHeader, LeaseClient } from 'etcd3';
import { ClosedError, type CoordinationError, SessionExpiredError } from '../../errors';
import { Deferred } from '../../internal/async';
import { BackoffTimer } from '../../internal/backoff-timer';
import type { ConnectionState } from '../registry-center';
import { translateEtcdError } from './etcd-errors';
import { LeaseKeepalive } from './etcd-keepalive';

/**
 * The session of one etcd driver: ONE lease that carries every ephemeral key,
 * and the connection states derived from it. The lease's keepalive clock ({@link LeaseKeepalive}) drives:
 * - SUSPENDED at the first failed keepalive (or when a watch stream is lost: {@link reportWatchLoss});
 * - RECONNECTED when keepalives are answered again on the same lease (and no watch stream is down);
 * - LOST locally once `now − lastOk ≥ TTL − margin` (etcd3 would say so only at 2 × TTL), or at once when
 *   the server says the lease is gone (TTL 0 / not found, e.g. revoked by another client);
 * - after LOST: revoke the old lease (best effort, again after the next grant), grant a new one with
 *   backoff until it succeeds, then RECONNECTED with the new {@link leaseId}.
 * Never the same state twice in a row, and SUSPENDED always comes before LOST. Ops that need the lease wait
 * for it ({@link acquireLease}) and fail with `SessionExpiredError` when none comes: no ephemeral key is
 * ever written without a lease.
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
  /** Every answered keep-alive's header (the driver follows the raft term with it). */
  onAnswerHeader?(header: IResponseHeader): void;
}

type SuspendReason = 'keepalive' | 'watch';

/** After LOST, a grant that failed is tried again after these delays. */
const GRANT_BACKOFF = { initialMs: 100, maxMs: 1_000 };
const REVOKE_TIMEOUT_MS = 1_000;

export class EtcdSession {
  private lease: string | null = null;
  private keepalive: LeaseKeepalive | null = null;
  private state: ConnectionState | null = null;
  private readonly reasons = new Set<SuspendReason>();
  private readonly regrant = new BackoffTimer(GRANT_BACKOFF, () => this.renew());
  private renewing = false;
  private closed = false;
  private readonly waiters = new Set<Deferred<string>>();
  /** Leases we gave up on whose revoke has not been confirmed. */
  private readonly toRevoke = new Set<string>();

  constructor(private readonly opts: EtcdSessionOptions) {}

  /** Send time of the newest answered keepalive and the granted TTL (0 / requested TTL before a grant). */
  health(): { lastContactAt: number; sessionTimeoutMs: number } {
    const k = this.keepalive;
    return k === null
      ? { lastContactAt: this.lastRenewedAt, sessionTimeoutMs: this.lastTtlMs }
      : { lastContactAt: k.lastRenewedAt, sessionTimeoutMs: k.leaseTtlMs };
  }

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

  /**
   * The current lease, waiting up to `timeoutMs` for a new one after LOST (by default ¾ of the request
   * timeout, so the caller sees `SessionExpiredError` rather than the facade's request timeout).
   */
  async acquireLease(timeoutMs: number = this.opts.requestTimeoutMs * 0.75): Promise<string> {
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
    this.regrant.cancel();
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
    this.lease = id;
    this.reasons.clear();
    for (const waiter of this.waiters) {
      waiter.resolve(id);
    }
    this.waiters.clear();
    const keepalive: LeaseKeepalive = new LeaseKeepalive(this.opts.leaseClient, id, ttlMs, sentAt, {
      onAnswered: header => {
        this.opts.onAnswerHeader?.(header);
        this.reasons.delete('keepalive');
        this.maybeReconnected();
      },
      onSilent: () => this.suspend('keepalive'),
      onExpired: () => {
        if (this.keepalive === keepalive) {
          this.declareLost();
        }
      },
      onOpenFailed: err => {
        this.suspend('keepalive');
        if (this.translate(err, 'lease keepalive') instanceof SessionExpiredError) {
          this.leaseInvalid(id);
        }
      },
    });
    this.keepalive = keepalive;
  }

  private lastRenewedAt = 0;
  private lastTtlMs = 0;

  private stopKeepalive(): void {
    if (this.keepalive !== null) {
      this.lastRenewedAt = this.keepalive.lastRenewedAt;
      this.lastTtlMs = this.keepalive.leaseTtlMs;
    }
    this.keepalive?.stop();
    this.keepalive = null;
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
    this.regrant.reset();
    this.renew();
  }

  /** Grant a new lease, retrying with backoff until it works or the session closes. */
  private renew(): void {
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
        this.regrant.schedule();
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
