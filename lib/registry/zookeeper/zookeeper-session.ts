import type { Socket } from 'net';
import { performance } from 'perf_hooks';
import {
  ClosedError,
  ConnectionLossError,
  CoordinationError,
  OperationTimeoutError,
  RegistryAuthError,
  RegistryConnectionError,
  SessionExpiredError,
} from '../../errors';
import { Deferred } from '../../internal/async';
import type { Credentials } from '../options';
import type { ConnectionState } from '../registry-center';
import { digestAuth } from './zookeeper-acl';
import { zk, ZkCode } from './zookeeper-client-types';
import type { ZkClient } from './zookeeper-client-types';
import { translateZkError, zkErrorCode } from './zookeeper-errors';
import type { ZkErrorContext } from './zookeeper-errors';
import { hardenClient, installZooKeeperPatches } from './zookeeper-patches';
import type { HardenedClient } from './zookeeper-patches';

/**
 * Client lifecycle and connection-state machine of the ZooKeeper backend (reference §1.6, §1.9, §4.2).
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
 *   the session may live, SessionExpiredError after LOST), and is failed when its client is retired.
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
type Done<T> = (error: unknown, value: T) => void;

interface Pending {
  fail(err: CoordinationError): void;
}

interface ClientSlot {
  readonly client: ZkClient;
  readonly hardened: HardenedClient;
  readonly generation: number;
  readonly pending: Set<Pending>;
  connected: boolean;
  dead: boolean;
  sessionId: string | null;
  connectingSince: number | null;
  onSocketGone: (() => void) | null;
}

/** Grace for the closeSession round trip at `close()`. */
const CLOSE_GRACE_MS = 2000;

const monotonicNow = (): number => performance.now();

export class ZooKeeperSession {
  private slot: ClientSlot | null = null;
  private generationCounter = 0;
  private phase: Phase = 'LATENT';
  private ready = false;
  private closed = false;
  private closing: Promise<void> | null = null;
  private lastReported: ConnectionState | null = null;
  private listener: ((state: ConnectionState) => void) | null = null;
  private readonly hooks = new Set<(state: ConnectionState) => void>();
  private lastServerContact = 0;
  private negotiatedMs: number;
  private watchdog: NodeJS.Timeout | null = null;
  private watchdogPeriodMs = 0;
  private lastTickAt = 0;
  private heartbeatInFlight = false;
  private waiters: Deferred<void>[] = [];
  private connectFailure: CoordinationError | null = null;
  private corked: Socket | null = null;

  constructor(private readonly config: ZooKeeperSessionConfig) {
    installZooKeeperPatches();
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
    this.restartWatchdog();
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
    this.stopWatchdog();
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
    this.failPending(slot, new ClosedError('ZooKeeper driver'));
    if (slot.connected && !slot.dead) {
      // closeSession: the server deletes our ephemerals at once. Bounded: a dead link must not block close().
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, Math.min(CLOSE_GRACE_MS, this.config.requestTimeoutMs));
        slot.onSocketGone = () => {
          clearTimeout(timer);
          resolve();
        };
        try {
          slot.client.close();
        } catch {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    this.retire(slot);
  }

  private invoke<T>(
    slot: ClientSlot,
    ctx: ZkErrorContext,
    invoke: (client: ZkClient, done: Done<T>) => void,
    timeoutMs: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Pending = { fail: err => settle(err, undefined) };
      const timer = setTimeout(() => {
        const what = ctx.path === undefined ? ctx.op : `${ctx.op} ${ctx.path}`;
        settle(new OperationTimeoutError(`ZooKeeper ${what}`, timeoutMs, { path: ctx.path }), undefined);
      }, timeoutMs);
      function settle(err: CoordinationError | null, value: T | undefined): void {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        slot.pending.delete(entry);
        if (err === null) {
          resolve(value as T);
        } else {
          reject(err);
        }
      }
      slot.pending.add(entry);
      this.cork(slot);
      try {
        invoke(slot.client, (error, value) => {
          if (settled) {
            return;
          }
          if (error === null || error === undefined) {
            this.touch(slot);
            settle(null, value);
            return;
          }
          const code = zkErrorCode(error);
          if (code !== undefined && code !== ZkCode.CONNECTION_LOSS) {
            this.touch(slot);
          }
          if (code === ZkCode.SESSION_EXPIRED && slot === this.slot && !slot.dead) {
            queueMicrotask(() => this.sessionLost(slot));
          } else if (code === ZkCode.SESSION_MOVED && slot === this.slot) {
            slot.hardened.dropConnection();
          }
          settle(translateZkError(error, ctx), undefined);
        });
      } catch (e) {
        settle(translateZkError(e, ctx), undefined);
      }
    });
  }

  /**
   * Requests issued in one tick leave in one write: the library writes every packet separately, and 20 000
   * reads of a cache load spent most of their time in write syscalls.
   */
  private cork(slot: ClientSlot): void {
    const socket = slot.client.connectionManager.socket;
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

  private unavailable(ctx: ZkErrorContext): CoordinationError {
    const what = ctx.path === undefined ? ctx.op : `${ctx.op} ${ctx.path}`;
    if (this.phase === 'LOST') {
      return new SessionExpiredError(`${what}: the ZooKeeper session was lost; a new one is being established`, {
        path: ctx.path,
      });
    }
    return new ConnectionLossError(`${what}: not connected to ZooKeeper (${this.config.servers.join(',')})`, {
      path: ctx.path,
    });
  }

  private touch(slot: ClientSlot): void {
    if (slot === this.slot) {
      this.lastServerContact = monotonicNow();
    }
  }

  private newClient(): void {
    this.generationCounter += 1;
    const client = zk.createClient(this.config.servers.join(','), {
      sessionTimeout: this.config.sessionTimeoutMs,
      spinDelay: 1000,
      retries: 0, // never resend (duplicate sequential nodes, spurious NODE_EXISTS)
    });
    const slot: ClientSlot = {
      client,
      hardened: hardenClient(client),
      generation: this.generationCounter,
      pending: new Set(),
      connected: false,
      dead: false,
      sessionId: null,
      connectingSince: null,
      onSocketGone: null,
    };
    if (this.config.auth !== undefined) {
      client.addAuthInfo('digest', digestAuth(this.config.auth));
    }
    const current = (): boolean => !slot.dead && slot === this.slot && !this.closed;
    client.on('connected', () => {
      if (current()) {
        this.onConnected(slot);
      }
    });
    client.on('disconnected', () => {
      slot.onSocketGone?.();
      if (current()) {
        this.onDisconnected(slot);
      }
    });
    client.on('expired', () => {
      if (current()) {
        this.sessionLost(slot);
      }
    });
    client.on('authenticationFailed', () => {
      if (current()) {
        this.onAuthFailed(slot);
      }
    });
    this.slot = slot;
    client.connect();
  }

  private onConnected(slot: ClientSlot): void {
    slot.connected = true;
    slot.connectingSince = null;
    slot.sessionId = slot.client.getSessionId().toString('hex');
    this.lastServerContact = monotonicNow();
    const negotiated = slot.client.getSessionTimeout();
    if (negotiated > 0 && negotiated !== this.negotiatedMs) {
      this.negotiatedMs = negotiated;
      this.restartWatchdog();
    }
    if (this.ready && (this.phase === 'SUSPENDED' || this.phase === 'LOST')) {
      this.setPhase('RECONNECTED');
    }
    for (const w of this.waiters.splice(0)) {
      w.resolve();
    }
  }

  private onDisconnected(slot: ClientSlot): void {
    slot.connected = false;
    slot.connectingSince ??= monotonicNow();
    if (this.phase === 'CONNECTED' || this.phase === 'RECONNECTED') {
      this.setPhase('SUSPENDED');
    }
  }

  private onAuthFailed(slot: ClientSlot): void {
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
  private sessionLost(slot: ClientSlot): void {
    if (slot !== this.slot || slot.dead || this.closed) {
      return;
    }
    if (this.phase === 'CONNECTED' || this.phase === 'RECONNECTED') {
      this.setPhase('SUSPENDED');
    }
    slot.connected = false;
    this.retire(slot);
    if (this.ready) {
      this.setPhase('LOST');
    }
    this.newClient();
  }

  private retire(slot: ClientSlot): void {
    slot.dead = true;
    slot.connected = false;
    this.failPending(slot, new SessionExpiredError('the ZooKeeper session ended before the request completed'));
    slot.hardened.disarm();
  }

  private failPending(slot: ClientSlot, err: CoordinationError): void {
    for (const p of [...slot.pending]) {
      p.fail(err);
    }
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

  private restartWatchdog(): void {
    this.stopWatchdog();
    if (this.closed) {
      return;
    }
    this.watchdogPeriodMs = Math.max(20, Math.floor(this.negotiatedMs / 10));
    this.lastTickAt = monotonicNow();
    this.watchdog = setInterval(() => this.tick(), this.watchdogPeriodMs);
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) {
      clearInterval(this.watchdog);
      this.watchdog = null;
    }
  }

  private tick(): void {
    const slot = this.slot;
    if (this.closed || slot === null || slot.dead) {
      return;
    }
    const now = monotonicNow();
    const stalled = now - this.lastTickAt > 2 * this.watchdogPeriodMs;
    this.lastTickAt = now;
    if (stalled) {
      // Our event loop was blocked: replies may sit unread in the socket. Judge after the next I/O round.
      return;
    }
    const t = this.negotiatedMs;
    const silentFor = now - this.lastServerContact;
    if (slot.connected) {
      if (silentFor >= (2 * t) / 3) {
        // Read timeout: the library would sit on a silent socket forever.
        this.onDisconnected(slot);
        slot.connectingSince = now;
        slot.hardened.dropConnection();
        return;
      }
      this.heartbeat(slot);
      return;
    }
    if (slot.sessionId !== null && silentFor >= t && this.phase !== 'LOST') {
      this.sessionLost(slot);
      return;
    }
    if (slot.hardened.isConnecting()) {
      slot.connectingSince ??= now;
      if (now - slot.connectingSince >= Math.max(200, t / 3)) {
        slot.connectingSince = now;
        slot.hardened.dropConnection();
      }
    }
  }

  private heartbeat(slot: ClientSlot): void {
    if (this.heartbeatInFlight) {
      return;
    }
    this.heartbeatInFlight = true;
    this.invoke<unknown>(
      slot,
      { op: 'heartbeat' },
      (client, done) => client.exists('/zookeeper', undefined, done),
      this.negotiatedMs,
    )
      .catch(() => undefined)
      .finally(() => {
        this.heartbeatInFlight = false;
      });
  }
}
