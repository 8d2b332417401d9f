import { zk, ZkCode, zkCodeName, ZkManagerState } from './zookeeper-client-types';
import type { Socket } from 'net';
import { installFastDecoders } from './zookeeper-jute';
import { deliverOwnReply } from './zookeeper-own-requests';
import { LeanWatcherManager } from './zookeeper-watchers';
import type { ZkClient, ZkException, ZkTransaction } from './zookeeper-client-types';

/**
 * Runtime patches of node-zookeeper-client@1.1.3, for the defects of that version listed below. They are
 * installed once per process, idempotently, before the first client is created:
 *
 * 1. `Exception.create` for an unknown code (e.g. -125 QUOTA_EXCEEDED, -118 SESSION_MOVED, -127 THROTTLED)
 *    throws inside the socket `data` handler, which crashes the process (issue #70). The patched version
 *    builds a SYSTEM_ERROR exception and then carries the real code and name, so the error reaches the
 *    request's callback like any other.
 * 2. `Transaction.prototype.check/setData/remove` do `version || -1`, which turns version 0 into "any
 *    version" (issue #67). The patched versions treat only `undefined` as -1.
 *
 * `hardenClient` changes one client instance (not the prototype): its reconnect loop can be stopped for
 * good (issue #74: an unreachable first server loops forever, and `close()` while disconnected does not
 * stop it), the last socket error is kept for messages, incoming bytes are framed by us (see below), and the
 * watcher registry is replaced by a lean one (zookeeper-watchers.ts).
 */

let installed = false;

/** Pause before a reconnect attempt (random in this range; the Java client uses 0–1000 ms). */
const RECONNECT_PAUSE_MIN_MS = 50;
const RECONNECT_PAUSE_MAX_MS = 250;

export function installZooKeeperPatches(): void {
  if (installed) {
    return;
  }
  installed = true;
  patchExceptionCreate();
  patchTransactionVersions();
  installFastDecoders();
}

function patchExceptionCreate(): void {
  const exceptions = zk.Exception;
  const original = exceptions.create.bind(exceptions);
  exceptions.create = function createPatched(code: number, path?: string): ZkException {
    try {
      return original(code, path);
    } catch {
      const err = original(ZkCode.SYSTEM_ERROR, path);
      const name = zkCodeName(code);
      err.code = code;
      err.name = name;
      err.message = `Exception: ${name}[${code}]` + (path ? `@${path}` : '');
      return err;
    }
  };
}

interface TransactionProto {
  check: (this: ZkTransaction, path: string, version?: number) => ZkTransaction;
  setData: (this: ZkTransaction, path: string, data: Buffer, version?: number) => ZkTransaction;
  remove: (this: ZkTransaction, path: string, version?: number) => ZkTransaction;
}

function patchTransactionVersions(): void {
  // Transaction is not exported; reach its prototype through an unconnected client (no socket, no timer).
  const probe = zk.createClient('127.0.0.1:1', {
    sessionTimeout: 10_000,
    spinDelay: 1000,
    retries: 0,
  });
  const proto = Object.getPrototypeOf(probe.transaction()) as TransactionProto;
  const { check, setData, remove } = proto;

  const fixLastVersion = (tx: ZkTransaction, version: number | undefined): void => {
    const op = tx.ops[tx.ops.length - 1];
    if (op !== undefined) {
      op.version = version === undefined ? -1 : version;
    }
  };
  proto.check = function checkPatched(
    this: ZkTransaction,
    path: string,
    version?: number,
  ): ZkTransaction {
    check.call(this, path, -1);
    fixLastVersion(this, version);
    return this;
  };
  proto.setData = function setDataPatched(
    this: ZkTransaction,
    path: string,
    data: Buffer,
    version?: number,
  ): ZkTransaction {
    setData.call(this, path, data, -1);
    fixLastVersion(this, version);
    return this;
  };
  proto.remove = function removePatched(
    this: ZkTransaction,
    path: string,
    version?: number,
  ): ZkTransaction {
    remove.call(this, path, -1);
    fixLastVersion(this, version);
    return this;
  };
}

export interface HardenedClient {
  /** Stop the client for good: no reconnect, no timer, no socket. Idempotent. */
  disarm(): void;
  /** Destroy the current socket (read timeout / stuck handshake); the library reconnects by itself. */
  dropConnection(): void;
  /** True while the library is trying to (re)connect. */
  isConnecting(): boolean;
  /** The last socket error seen while connecting (for messages), e.g. 'ECONNREFUSED'. */
  lastSocketError(): string | null;
}

/**
 * Instance-level hardening of a fresh client (before `connect()`): a cancellable server-spin timer instead
 * of the library's untracked one, and a `disarm()` that really stops everything.
 */
export function hardenClient(client: ZkClient): HardenedClient {
  const cm = client.connectionManager;
  let dead = false;
  let spinTimer: NodeJS.Timeout | null = null;
  let lastError: string | null = null;
  cm.watcherManager = new LeanWatcherManager();

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
  // Replies to requests the library does not know (addWatch, multiRead, ...) are ours to decode
  // (zookeeper-own-requests.ts).
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
        if (!deliverOwnReply(cm, frame)) {
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
  };
}
