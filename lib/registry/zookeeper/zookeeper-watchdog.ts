import { performance } from 'perf_hooks';
import type { ZkConnection } from './zookeeper-connection';

/**
 * The read timeout and local expiry node-zookeeper-client@1.1.3 lacks (it never notices a silent partition
 * and never expires a session by itself), as a timer
 * every T/10 (T = negotiated session timeout):
 *
 * - connected: send a heartbeat (`exists('/zookeeper')`, at most one in flight); when no server reply of any
 *   kind came for ⅔·T, the connection is declared down (SUSPENDED) and its socket destroyed, so the library
 *   reconnects with the same session, as the Java client does on its read timeout;
 * - not connected, with a session: no reply for T → the session is given up locally (LOST), as Curator does,
 *   because the server cannot tell us during a partition;
 * - a reconnect handshake that hangs (the library has no timeout once TCP is up) is cut every T/3;
 * - a tick that comes late (our event loop was blocked, replies may sit unread in the socket) decides nothing.
 */
export interface WatchdogHost {
  /** The connection to watch (null before start / after close). */
  readonly connection: ZkConnection | null;
  /** True once the session is LOST and a new one is being built (no second LOST for it). */
  readonly lost: boolean;
  /** No reply for ⅔·T while connected. */
  readTimedOut(connection: ZkConnection): void;
  /** No reply for T while disconnected. */
  sessionTimedOut(connection: ZkConnection): void;
  /** Send a heartbeat request through `connection`; replies update `lastContact` via `contact()`. */
  heartbeat(connection: ZkConnection, timeoutMs: number): Promise<unknown>;
}

export const monotonicNow = (): number => performance.now();

export class ZkWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private periodMs = 0;
  private sessionTimeoutMs = 0;
  private lastTickAt = 0;
  private lastContact = 0;
  private lastContactWall = 0;
  private heartbeatInFlight = false;

  constructor(private readonly host: WatchdogHost) {}

  /** (Re)start with the negotiated session timeout. */
  start(sessionTimeoutMs: number): void {
    this.stop();
    this.sessionTimeoutMs = sessionTimeoutMs;
    this.periodMs = Math.max(20, Math.floor(sessionTimeoutMs / 10));
    this.lastTickAt = monotonicNow();
    this.timer = setInterval(() => this.tick(), this.periodMs);
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /**
   * The server answered (a reply, an error reply, or a connect response). `sentAt` is the wall-clock send
   * time of the request answered, when known: the server renewed the session no earlier than that, while
   * a reply read late (our process was frozen with it in the socket buffer) proves nothing about now.
   */
  contact(sentAt?: number): void {
    this.lastContact = monotonicNow();
    if (sentAt !== undefined && sentAt > this.lastContactWall) {
      this.lastContactWall = sentAt;
    }
  }

  /** Send time (epoch ms) of the newest answered request: the session was renewed no earlier. */
  get lastContactAt(): number {
    return this.lastContactWall;
  }

  private tick(): void {
    const connection = this.host.connection;
    const now = monotonicNow();
    const stalled = now - this.lastTickAt > 2 * this.periodMs;
    this.lastTickAt = now;
    if (connection === null || connection.dead || stalled) {
      return;
    }
    const t = this.sessionTimeoutMs;
    const silentFor = now - this.lastContact;
    if (connection.connected) {
      if (silentFor >= (2 * t) / 3) {
        connection.connectingSince = now;
        this.host.readTimedOut(connection);
        connection.hardened.dropConnection();
      } else {
        this.heartbeat(connection);
      }
      return;
    }
    if (connection.sessionId !== null && silentFor >= t && !this.host.lost) {
      this.host.sessionTimedOut(connection);
      return;
    }
    if (connection.hardened.isConnecting()) {
      connection.connectingSince ??= now;
      if (now - connection.connectingSince >= Math.max(200, t / 3)) {
        connection.connectingSince = now;
        connection.hardened.dropConnection();
      }
    }
  }

  private heartbeat(connection: ZkConnection): void {
    if (this.heartbeatInFlight) {
      return;
    }
    this.heartbeatInFlight = true;
    this.host
      .heartbeat(connection, this.sessionTimeoutMs)
      .catch(() => undefined)
      .finally(() => {
        this.heartbeatInFlight = false;
      });
  }
}
