import {
  ClosedError,
  ConnectionLossError,
  RegistryAuthError,
  RegistryConnectionError,
  SessionExpiredError,
} from '../../errors';
import type { CoordinationError } from '../../errors';
import { Deferred } from '../../internal/async';
import type { Credentials } from '../options';
import type { ConnectionState } from '../registry-center';
import { ZkCode } from './zookeeper-client-types';
import type { ZkClient } from './zookeeper-client-types';
import { ZkConnection } from './zookeeper-connection';
import type { Done } from './zookeeper-connection';
import type { ZkErrorContext } from './zookeeper-errors';
import { checkLibraryVersion } from './wire';
import { monotonicNow, ZkWatchdog } from './zookeeper-watchdog';
import type { WatchdogHost } from './zookeeper-watchdog';

/**
 * Client lifecycle and connection-state machine of the ZooKeeper backend.
 *
 * node-zookeeper-client never notices a silent partition, never builds a new session after expiry, and can
 * leave a callback pending forever. This class owns one library client at a time and fixes all three:
 *
 * - A heartbeat (`exists('/zookeeper')` every T/10, T = negotiated session timeout) keeps `lastServerContact`
 *   fresh (every server reply counts). No contact for ⅔·T → SUSPENDED and the socket is destroyed, which makes
 *   the library reconnect with the same session (the Java client's read timeout). A reconnect handshake that
 *   hangs is destroyed again every T/3.
 * - Not connected and no contact for T → LOST locally (Curator's injected expiry); so is an `expired` event or
 *   a SESSION_EXPIRED reply. After LOST the dead client is disarmed and a brand-new client builds a new
 *   session by itself; its first connection is reported as RECONNECTED with a new session id.
 * - Every request has a deadline, fails at once when no live connection exists (ConnectionLossError while
 *   the session may live, SessionExpiredError after LOST), and is failed when its client is retired
 *   (zookeeper-connection.ts).
 *
 * States are reported only after `markReady()` (the driver calls it once the namespace is usable), never
 * twice in a row, and never after `close()`.
 */

export interface ZooKeeperSessionConfig {
  servers: string[];
  sessionTimeoutMs: number;
  requestTimeoutMs: number;
  auth?: Credentials;
}

type Phase = 'LATENT' | ConnectionState | 'CLOSED';

export class ZooKeeperSession implements WatchdogHost {
  private slot: ZkConnection | null = null;
  private generationCounter = 0;
  private phase: Phase = 'LATENT';
  private ready = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private lastReported: ConnectionState | null = null;
  private listener: ((state: ConnectionState) => void) | null = null;
  private readonly hooks = new Set<(state: ConnectionState) => void>();
  private negotiatedMs: number;
  private readonly watchdog = new ZkWatchdog(this);
  private waiters: Deferred<void>[] = [];
  private connectFailure: CoordinationError | null = null;

  constructor(private readonly config: ZooKeeperSessionConfig) {
    checkLibraryVersion(); // at start-up, with a clear message, not at the first connection
    this.negotiatedMs = config.sessionTimeoutMs;
  }

  /** Bumps each time a new library client (hence possibly a new session) is created. */
  get generation(): number {
    return this.generationCounter;
  }

  /** True while requests can be sent. */
  get connected(): boolean {
    return this.slot !== null && this.slot.connected && !this.closed;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Wall-clock time of the newest server reply. */
  get lastContactAt(): number {
    return this.watchdog.lastContactAt;
  }

  /** The session timeout the server granted (the requested one before the first connection). */
  get sessionTimeoutMs(): number {
    return this.negotiatedMs;
  }

  setListener(listener: (state: ConnectionState) => void): void {
    this.listener = listener;
  }

  /** Internal observers (feeds, read watches), called after the listener for each reported state. */
  onState(hook: (state: ConnectionState) => void): () => void {
    this.hooks.add(hook);
    return () => {
      this.hooks.delete(hook);
    };
  }

  sessionId(): string | null {
    return this.slot?.sessionId ?? null;
  }

  credentials(): { sessionId: Buffer; password: Buffer } | null {
    const slot = this.slot;
    if (slot === null || slot.sessionId === null || slot.dead) {
      return null;
    }
    return { sessionId: slot.client.getSessionId(), password: slot.client.getSessionPassword() };
  }

  /** Create the first client and start connecting (idempotent). */
  start(): void {
    if (this.closed || this.slot !== null) {
      return;
    }
    this.newClient();
    this.watchdog.start(this.negotiatedMs);
  }

  /** Resolves once the current client is connected; rejects when connecting has failed for good or closed. */
  waitConnected(): Promise<void> {
    if (this.connectFailure !== null) {
      return Promise.reject(this.connectFailure);
    }
    if (this.closed) {
      return Promise.reject(this.connectError());
    }
    if (this.connected) {
      return Promise.resolve();
    }
    const waiter = new Deferred<void>();
    this.waiters.push(waiter);
    return waiter.promise;
  }

  /** The driver finished its start-up work: report CONNECTED (and SUSPENDED at once if it dropped meanwhile). */
  markReady(): void {
    if (this.closed || this.ready) {
      return;
    }
    this.ready = true;
    this.setPhase('CONNECTED');
    if (!this.connected) {
      this.setPhase('SUSPENDED');
    }
  }

  /** A RegistryConnectionError naming the endpoints and the last socket error. */
  connectError(timeoutMs?: number): RegistryConnectionError {
    const detail = this.slot?.hardened.lastSocketError() ?? null;
    return new RegistryConnectionError(
      `cannot connect to ZooKeeper at ${this.config.servers.join(',')}` +
        (timeoutMs === undefined ? '' : ` within ${timeoutMs} ms`) +
        (detail === null ? '' : ` (last error: ${detail})`),
    );
  }

  /**
   * Send one request through the current client. `invoke` calls the library; `done` may be called at most once
   * (later calls are ignored). Rejects with translated errors, `OperationTimeoutError` after `timeoutMs`.
   */
  call<T>(
    ctx: ZkErrorContext,
    invoke: (client: ZkClient, done: Done<T>) => void,
    timeoutMs: number = this.config.requestTimeoutMs,
  ): Promise<T> {
    if (this.closed) {
      return Promise.reject(new ClosedError('ZooKeeper driver'));
    }
    const slot = this.slot;
    if (slot === null || !slot.connected || slot.dead) {
      return Promise.reject(this.unavailable(ctx));
    }
    return this.invoke(slot, ctx, invoke, timeoutMs);
  }

  close(): Promise<void> {
    if (this.closing === null) {
      this.closing = this.doClose();
    }
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    this.phase = 'CLOSED';
    this.listener = null;
    this.hooks.clear();
    this.watchdog.stop();
    const waiters = this.waiters.splice(0);
    if (waiters.length > 0) {
      const err = this.connectFailure ?? this.connectError();
      for (const w of waiters) {
        w.reject(err);
      }
    }
    const slot = this.slot;
    if (slot === null) {
      return;
    }
    await slot.close(new ClosedError('ZooKeeper driver'), this.config.requestTimeoutMs);
  }

  private invoke<T>(
    slot: ZkConnection,
    ctx: ZkErrorContext,
    invoke: (client: ZkClient, done: Done<T>) => void,
    timeoutMs: number,
  ): Promise<T> {
    const sentAt = Date.now();
    return slot.request(ctx, invoke, timeoutMs, code => {
      if (slot !== this.slot || slot.dead) {
        return;
      }
      if (code !== ZkCode.CONNECTION_LOSS) {
        this.watchdog.contact(sentAt); // a reply from the server (CONNECTION_LOSS is local)
      }
      if (code === ZkCode.SESSION_EXPIRED) {
        queueMicrotask(() => this.sessionLost(slot));
      } else if (code === ZkCode.SESSION_MOVED) {
        slot.hardened.dropConnection();
      }
    });
  }

  private unavailable(ctx: ZkErrorContext): CoordinationError {
    const what = ctx.path === undefined ? ctx.operation : `${ctx.operation} ${ctx.path}`;
    if (this.phase === 'LOST') {
      return new SessionExpiredError(
        `${what}: the ZooKeeper session was lost; a new one is being established`,
        {
          path: ctx.path,
        },
      );
    }
    return new ConnectionLossError(
      `${what}: not connected to ZooKeeper (${this.config.servers.join(',')})`,
      {
        path: ctx.path,
      },
    );
  }

  private newClient(): void {
    this.generationCounter += 1;
    const slot = new ZkConnection(this.config, this.generationCounter);
    // The handshake of this connection is sent after now: a lower bound for the session's renewal.
    const createdAt = Date.now();
    let handshakeAnswered = false;
    const current = (): boolean => slot === this.slot && !this.closed;
    slot.on('connected', () => {
      if (current()) {
        // Reconnections of the same session keep the older bound until the next answered request.
        this.watchdog.contact(handshakeAnswered ? undefined : createdAt);
        handshakeAnswered = true;
        this.onConnected(slot);
      }
    });
    slot.on('disconnected', () => current() && this.onDisconnected(slot));
    slot.on('expired', () => current() && this.sessionLost(slot));
    slot.on('authenticationFailed', () => current() && this.onAuthFailed(slot));
    this.slot = slot;
    slot.connect();
  }

  private onConnected(slot: ZkConnection): void {
    slot.connected = true;
    slot.connectingSince = null;
    slot.sessionId = slot.client.getSessionId().toString('hex');
    this.watchdog.contact();
    const negotiated = slot.client.getSessionTimeout();
    if (negotiated > 0 && negotiated !== this.negotiatedMs) {
      this.negotiatedMs = negotiated;
      this.watchdog.start(negotiated);
    }
    if (this.ready && (this.phase === 'SUSPENDED' || this.phase === 'LOST')) {
      this.setPhase('RECONNECTED');
    }
    for (const w of this.waiters.splice(0)) {
      w.resolve();
    }
  }

  private onDisconnected(slot: ZkConnection): void {
    slot.connected = false;
    slot.connectingSince ??= monotonicNow();
    if (this.phase === 'CONNECTED' || this.phase === 'RECONNECTED') {
      this.setPhase('SUSPENDED');
    }
  }

  private onAuthFailed(slot: ZkConnection): void {
    if (!this.ready) {
      this.connectFailure = new RegistryAuthError(
        `ZooKeeper at ${this.config.servers.join(',')} rejected the credentials` +
          (this.config.auth === undefined ? '' : ` of user "${this.config.auth.username}"`),
      );
      for (const w of this.waiters.splice(0)) {
        w.reject(this.connectFailure);
      }
      slot.connected = false;
      return;
    }
    this.sessionLost(slot);
  }

  /** The session is gone (server said so, or no contact for T): report LOST and build a new client. */
  private sessionLost(slot: ZkConnection): void {
    if (slot !== this.slot || slot.dead || this.closed) {
      return;
    }
    if (this.phase === 'CONNECTED' || this.phase === 'RECONNECTED') {
      this.setPhase('SUSPENDED');
    }
    slot.retire(
      new SessionExpiredError('the ZooKeeper session ended before the request completed'),
    );
    if (this.ready) {
      this.setPhase('LOST');
    }
    this.newClient();
  }

  // WatchdogHost

  get connection(): ZkConnection | null {
    return this.closed ? null : this.slot;
  }

  get lost(): boolean {
    return this.phase === 'LOST';
  }

  readTimedOut(connection: ZkConnection): void {
    if (connection === this.slot) {
      this.onDisconnected(connection);
    }
  }

  sessionTimedOut(connection: ZkConnection): void {
    this.sessionLost(connection);
  }

  heartbeat(connection: ZkConnection, timeoutMs: number): Promise<unknown> {
    return this.invoke<unknown>(
      connection,
      { operation: 'heartbeat' },
      (client, done) => client.exists('/zookeeper', undefined, done),
      timeoutMs,
    );
  }

  private setPhase(state: ConnectionState): void {
    this.phase = state;
    if (!this.ready || this.closed || this.lastReported === state) {
      return;
    }
    this.lastReported = state;
    // We may run inside the library's socket handler: a throwing observer must not break the connection.
    for (const observer of [this.listener, ...this.hooks]) {
      try {
        observer?.(state);
      } catch {
        // the observer's own bug; the state machine goes on
      }
    }
  }
}
