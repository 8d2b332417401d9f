import { connect } from 'node:net';
import type { ZooKeeperDriver } from '../../lib/registry/zookeeper/zookeeper-driver';

const TIMEOUT_MS = 10_000;
const OP_CLOSE_SESSION = -11;
const KILL_ATTEMPTS = 10;

/**
 * Expire the driver's ZooKeeper session at the server, as Curator's old KillSession did: attach a second
 * connection to the same session (id + password) and close the session through it. The server deletes the
 * session's ephemeral nodes at once; the driver finds out on its next contact (the server drops its
 * connection when the session is attached elsewhere, and its reconnect is answered "expired") and reports
 * LOST, then RECONNECTED with a new session.
 *
 * The connect request and closeSession go out in ONE write, on a raw socket: with a real client the driver's
 * own reconnect (a few ms) re-attaches the session before a separate closeSession arrives, and the session
 * survived (measured). Resolves once the server refuses to attach the session (it is gone).
 */
export async function expireZooKeeperSession(driver: ZooKeeperDriver): Promise<void> {
  const credentials = driver.sessionCredentials();
  if (credentials === null) {
    throw new Error('expireZooKeeperSession: the driver has no live session');
  }
  const server = driver.servers[0];
  if (server === undefined) {
    throw new Error('expireZooKeeperSession: the driver has no server');
  }
  const colon = server.lastIndexOf(':');
  const host = server.slice(0, colon);
  const port = Number(server.slice(colon + 1));

  // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd (length-prefixed).
  const connectBody = Buffer.alloc(4 + 8 + 4 + 8 + 4 + credentials.password.length);
  let offset = 0;
  offset = connectBody.writeInt32BE(0, offset);
  offset += 8; // lastZxidSeen = 0
  offset = connectBody.writeInt32BE(driver.sessionTimeoutMs, offset);
  offset += credentials.sessionId.copy(connectBody, offset);
  offset = connectBody.writeInt32BE(credentials.password.length, offset);
  credentials.password.copy(connectBody, offset);
  // closeSession: RequestHeader(xid, type) and no body.
  const closeBody = Buffer.alloc(8);
  closeBody.writeInt32BE(1, 0);
  closeBody.writeInt32BE(OP_CLOSE_SESSION, 4);
  const frame = (body: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeInt32BE(body.length, 0);
    return Buffer.concat([length, body]);
  };

  // A kill can lose the race against the driver's own reconnect (it re-attaches the session within a few ms
  // of being cut off): repeat until the server refuses to attach the session, i.e. it is really gone.
  const request = Buffer.concat([frame(connectBody), frame(closeBody)]);
  for (let attempt = 1; attempt <= KILL_ATTEMPTS; attempt++) {
    const timeOut = await attachAndClose(host, port, request);
    if (timeOut !== null && timeOut <= 0) {
      return;
    }
  }
  throw new Error(`expireZooKeeperSession: the session survived ${KILL_ATTEMPTS} kills`);
}

/**
 * Send connect + closeSession; resolves with the timeOut of the connect reply (<= 0: no such session), or
 * null when the server dropped the connection without a reply (the driver took the session back meanwhile).
 */
function attachAndClose(host: string, port: number, request: Buffer): Promise<number | null> {
  return new Promise<number | null>((resolve, reject) => {
    const socket = connect(port, host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`expireZooKeeperSession: ${host}:${port} did not answer within ${TIMEOUT_MS} ms`),
      );
    }, TIMEOUT_MS);
    socket.on('connect', () => {
      socket.write(request);
    });
    // The connect reply (length, protocolVersion, timeOut, ...), the close reply; then the server closes.
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    socket.on('error', err => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received.length >= 12 ? received.readInt32BE(8) : null);
    });
  });
}
