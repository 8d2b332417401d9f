import type { Socket } from 'net';
import { connectionManagerOf, ZkManagerState } from './library';
import type { ZkConnectionManager } from './library';
import { deliverFrame } from './own-request';
import { LeanWatcherManager } from './watcher-manager';
import type { ZkClient } from '../zookeeper-client-types';

/**
 * Per-client hooks on node-zookeeper-client@1.1.3's connection manager. `hardenClient` changes the members of
 * ONE client's connection manager (instance properties that shadow the prototype's), never the library's
 * prototypes or modules, so other clients in the process keep the library's behaviour:
 *
 * - its reconnect loop can be stopped for good (issue #74: an unreachable first server loops forever, and
 *   `close()` while disconnected does not stop it), with a short random pause before every reconnect;
 * - the last socket error is kept for messages;
 * - incoming bytes are framed by us and each frame is offered to own-request.ts first (replies to our own
 *   requests, and error codes the library does not know);
 * - the watcher registry is replaced by a lean one (watcher-manager.ts).
 */

/** Pause before a reconnect attempt (random in this range; the Java client uses 0–1000 ms). */
const RECONNECT_PAUSE_MIN_MS = 50;
const RECONNECT_PAUSE_MAX_MS = 250;

export interface HardenedClient {
  /** Stop the client for good: no reconnect, no timer, no socket. Idempotent. */
  disarm(): void;
  /** Destroy the current socket (read timeout / stuck handshake); the library reconnects by itself. */
  dropConnection(): void;
  /** True while the library is trying to (re)connect. */
  isConnecting(): boolean;
  /** The last socket error seen while connecting (for messages), e.g. 'ECONNREFUSED'. */
  lastSocketError(): string | null;
  /** The current socket, if any. */
  socket(): Socket | undefined;
  /** The client's watcher registry (one-shot and persistent watches). */
  readonly watches: LeanWatcherManager;
}

/**
 * Instance-level hardening of a fresh client (before `connect()`): a cancellable server-spin timer instead
 * of the library's untracked one, and a `disarm()` that really stops everything.
 */
export function hardenClient(client: ZkClient): HardenedClient {
  const cm: ZkConnectionManager = connectionManagerOf(client);
  if (cm.chrootPath) {
    throw new TypeError(
      'ZooKeeper clients of the wire layer take no chroot (own requests carry full paths)',
    );
  }
  let dead = false;
  let spinTimer: NodeJS.Timeout | null = null;
  let lastError: string | null = null;
  const watches = new LeanWatcherManager();
  cm.watcherManager = watches;

  // ConnectionManager.findNextServer, with our own (cancellable) timers, and a short random pause before every
  // reconnect as the Java client does (it sleeps up to 1 s): the library reconnects on the next tick, so a
  // bounced server gets every client back at once, and a session kill through a second connection (Curator's
  // KillSession) loses the race against the victim's immediate re-attach.
  let firstAttempt = true;
  cm.findNextServer = function findNextServerHardened(callback: (server: string) => void): void {
    cm.nextServerIndex %= cm.servers.length;
    const pick = (resetAttempts: boolean): void => {
      spinTimer = null;
      if (dead) {
        return;
      }
      const server = cm.servers[cm.nextServerIndex];
      cm.nextServerIndex += 1;
      if (resetAttempts) {
        cm.serverAttempts = 0;
      }
      if (server !== undefined) {
        callback(server);
      }
    };
    if (cm.serverAttempts === cm.servers.length) {
      spinTimer = setTimeout(() => pick(true), Math.random() * cm.spinDelay);
    } else {
      cm.serverAttempts += 1;
      if (firstAttempt) {
        firstAttempt = false;
        process.nextTick(() => pick(false));
      } else {
        const pause =
          RECONNECT_PAUSE_MIN_MS +
          Math.random() * (RECONNECT_PAUSE_MAX_MS - RECONNECT_PAUSE_MIN_MS);
        spinTimer = setTimeout(() => pick(false), pause);
      }
    }
  };

  // Framing. The library re-concatenates the rest of a chunk after every packet (O(n²) per chunk: a 10 000
  // node cache load copied hundreds of MB), and a malformed packet throws inside the socket handler (issue
  // #39). We cut exact frames and hand them over one by one; a throw drops the connection instead of the
  // process. The handler is bound when a socket is created, so this instance property is what sockets use.
  // Replies to our own requests (addWatch, multiRead, getData, ...) are ours to decode (own-request.ts).
  const originalOnSocketData = cm.onSocketData.bind(cm);
  let framingSocket: Socket | undefined;
  let chunks: Buffer[] = [];
  let buffered = 0;
  cm.onSocketData = function onSocketDataFramed(chunk: Buffer): void {
    const socket = cm.socket;
    if (socket !== framingSocket) {
      framingSocket = socket;
      chunks = [];
      buffered = 0;
    }
    if (chunk.length === 0) {
      return;
    }
    chunks.push(chunk);
    buffered += chunk.length;
    while (
      buffered >= 4 &&
      !dead &&
      socket !== undefined &&
      !socket.destroyed &&
      cm.socket === socket
    ) {
      let head = chunks[0] as Buffer;
      if (head.length < 4) {
        head = Buffer.concat(chunks, buffered);
        chunks = [head];
      }
      const frameLength = 4 + head.readInt32BE(0);
      if (frameLength < 4 + 16) {
        socket.destroy(); // shorter than a reply header: garbage; reconnect as for other protocol errors
        return;
      }
      if (buffered < frameLength) {
        return;
      }
      if (head.length < frameLength) {
        head = Buffer.concat(chunks, buffered);
        chunks = [head];
      }
      const frame = head.subarray(0, frameLength);
      if (head.length === frameLength) {
        chunks.shift();
      } else {
        chunks[0] = head.subarray(frameLength);
      }
      buffered -= frameLength;
      try {
        if (!deliverFrame(cm, frame)) {
          originalOnSocketData(frame);
        }
      } catch {
        socket.destroy();
        return;
      }
    }
  };

  const originalOnSocketConnected = cm.onSocketConnected.bind(cm);
  cm.onSocketConnected = function onSocketConnectedHardened(): void {
    if (dead) {
      if (cm.connectTimeoutHandler) {
        clearTimeout(cm.connectTimeoutHandler);
      }
      cm.socket?.destroy();
      return;
    }
    lastError = null;
    originalOnSocketConnected();
  };

  return {
    disarm(): void {
      if (dead) {
        return;
      }
      dead = true;
      cm.connect = () => undefined;
      if (spinTimer !== null) {
        clearTimeout(spinTimer);
        spinTimer = null;
      }
      if (cm.connectTimeoutHandler) {
        clearTimeout(cm.connectTimeoutHandler);
        cm.connectTimeoutHandler = null;
      }
      cm.socket?.destroy();
    },
    dropConnection(): void {
      if (!dead) {
        cm.socket?.destroy();
      }
    },
    isConnecting(): boolean {
      return (
        !dead &&
        (cm.state === ZkManagerState.CONNECTING || cm.state === ZkManagerState.DISCONNECTED)
      );
    },
    lastSocketError(): string | null {
      return lastError;
    },
    socket(): Socket | undefined {
      return cm.socket;
    },
    watches,
  };
}
