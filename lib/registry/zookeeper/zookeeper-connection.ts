import type { Socket } from 'net';
import { OperationTimeoutError } from '../../errors';
import type { CoordinationError } from '../../errors';
import type { Credentials } from '../options';
import { digestAuth } from './zookeeper-acl';
import type { ZkClient, ZkClientEvent } from './zookeeper-client-types';
import { translateZkError, zkErrorCode } from './zookeeper-errors';
import type { ZkErrorContext } from './zookeeper-errors';
import { createWireClient } from './wire';
import type { ClientWire } from './wire';

/**
 * One node-zookeeper-client instance (hence one session attempt) and the requests sent through it.
 *
 * Requests are promisified with a deadline (the library has no request timeout, and a request queued while
 * the session is dead never gets its callback), and all of a connection's pending requests can be failed at
 * once when the session gives it up (`retire`). After `retire` the library client is disarmed: no reconnect
 * loop, no timer, no socket. The session (zookeeper-session.ts) decides when; this class only does it.
 */

export type Done<T> = (error: unknown, value: T) => void;

/** Told about every reply: `code` is the server error code, or undefined for success. */
export type ReplyObserver = (code: number | undefined) => void;

export interface ZkConnectionConfig {
  servers: string[];
  sessionTimeoutMs: number;
  auth?: Credentials;
}

interface Pending {
  fail(err: CoordinationError): void;
}

/** Grace for the closeSession round trip at `close()`: a dead link must not block it. */
const CLOSE_GRACE_MS = 2000;

export class ZkConnection {
  readonly client: ZkClient;
  readonly hardened: ClientWire;
  /** True while the library reports the connection up (and the session has not declared it dead). */
  connected = false;
  /** Retired: never used again. */
  dead = false;
  /** Hex session id, once the first connection succeeded. */
  sessionId: string | null = null;
  /** Since when the library has been trying to (re)connect, for the session's stuck-handshake check. */
  connectingSince: number | null = null;
  private readonly pending = new Set<Pending>();
  private corked: Socket | null = null;
  private onSocketGone: (() => void) | null = null;

  constructor(
    config: ZkConnectionConfig,
    /** The session's client generation this connection belongs to. */
    readonly generation: number,
  ) {
    const { client, wire } = createWireClient(config.servers.join(','), {
      sessionTimeout: config.sessionTimeoutMs,
      spinDelay: 1000,
      retries: 0, // never resend (duplicate sequential nodes, spurious NODE_EXISTS)
    });
    this.client = client;
    this.hardened = wire;
    if (config.auth !== undefined) {
      this.client.addAuthInfo('digest', digestAuth(config.auth));
    }
    this.client.on('disconnected', () => this.onSocketGone?.());
  }

  /** Subscribe to a library event; the listener is not called once the connection is retired. */
  on(event: ZkClientEvent, listener: () => void): void {
    this.client.on(event, () => {
      if (!this.dead) {
        listener();
      }
    });
  }

  connect(): void {
    this.client.connect();
  }

  /**
   * Send one request. `invoke` calls the library; its `done` may be called at most once (later calls are
   * ignored). Rejects with translated errors, or `OperationTimeoutError` after `timeoutMs`.
   */
  request<T>(
    ctx: ZkErrorContext,
    invoke: (client: ZkClient, done: Done<T>) => void,
    timeoutMs: number,
    observe: ReplyObserver,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const pending = this.pending;
      const entry: Pending = { fail: err => settle(err, undefined) };
      const timer = setTimeout(() => {
        const what = ctx.path === undefined ? ctx.operation : `${ctx.operation} ${ctx.path}`;
        settle(
          new OperationTimeoutError(`ZooKeeper ${what}`, timeoutMs, { path: ctx.path }),
          undefined,
        );
      }, timeoutMs);
      function settle(err: CoordinationError | null, value: T | undefined): void {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        pending.delete(entry);
        if (err === null) {
          resolve(value as T);
        } else {
          reject(err);
        }
      }
      pending.add(entry);
      this.cork();
      try {
        invoke(this.client, (error, value) => {
          if (settled) {
            return;
          }
          if (error === null || error === undefined) {
            observe(undefined);
            settle(null, value);
            return;
          }
          const code = zkErrorCode(error);
          if (code !== undefined) {
            observe(code);
          }
          settle(translateZkError(error, ctx), undefined);
        });
      } catch (e) {
        settle(translateZkError(e, ctx), undefined);
      }
    });
  }

  /** Fail every request still waiting for its reply. */
  failPending(err: CoordinationError): void {
    for (const p of [...this.pending]) {
      p.fail(err);
    }
  }

  /** Give the connection up: fail its requests, stop the library client for good. Idempotent. */
  retire(err: CoordinationError): void {
    this.dead = true;
    this.connected = false;
    this.failPending(err);
    this.hardened.disarm();
  }

  /** closeSession when connected (the server deletes our ephemerals at once), bounded; then retire. */
  async close(err: CoordinationError, requestTimeoutMs: number): Promise<void> {
    this.failPending(err);
    if (this.connected && !this.dead) {
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, Math.min(CLOSE_GRACE_MS, requestTimeoutMs));
        this.onSocketGone = () => {
          clearTimeout(timer);
          resolve();
        };
        try {
          this.client.close();
        } catch {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    this.retire(err);
  }

  /**
   * Requests issued in one tick leave in one write: the library writes every packet separately, and the
   * 20 000 reads of a 10 000-node cache load spent much of their time in write syscalls.
   */
  private cork(): void {
    const socket = this.hardened.socket();
    if (socket === undefined || socket.destroyed || this.corked === socket) {
      return;
    }
    this.corked = socket;
    socket.cork();
    process.nextTick(() => {
      this.corked = null;
      socket.uncork();
    });
  }
}
