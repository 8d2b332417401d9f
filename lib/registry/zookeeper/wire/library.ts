import { readFileSync } from 'fs';
import { ConfigurationError } from '../../../errors';
import type { Socket } from 'net';
import type { ZkClient, ZkException, ZkWatcher } from '../zookeeper-client-types';

/**
 * The private parts of node-zookeeper-client@1.1.3 that the wire layer touches, and the check that the
 * installed library is that version.
 *
 * Everything here is reached through ONE client object (`client.connectionManager`), never through the
 * library's modules or prototypes: other clients in the process, ours or not, are not affected.
 */

/** The node-zookeeper-client version the wire layer was written and tested against. */
export const EXPECTED_LIBRARY_VERSION = '1.1.3';

/** Connection-manager states (private to the library). */
export const ZkManagerState = {
  DISCONNECTED: 0,
  CONNECTING: 1,
  CONNECTED: 2,
  CONNECTED_READ_ONLY: 3,
  CLOSING: -1,
  CLOSED: -2,
  SESSION_EXPIRED: -3,
  AUTHENTICATION_FAILED: -4,
} as const;

/** One entry of the connection manager's queues. */
export interface ZkPendingPacket {
  request: unknown;
  callback?: (error: ZkException | null, response: { payload: unknown } | undefined) => void;
}

/** The library's private connection manager: only what the wire layer touches. */
export interface ZkConnectionManager {
  state: number;
  watcherManager: unknown;
  socket: Socket | undefined;
  servers: string[];
  chrootPath: string | undefined;
  spinDelay: number;
  nextServerIndex: number;
  serverAttempts: number;
  connectTimeoutHandler: NodeJS.Timeout | null;
  /** Requests sent and awaiting their reply, oldest first (replies come in this order). */
  pendingQueue: ZkPendingPacket[];
  /** Last zxid seen (8 bytes), sent again at reconnect. */
  zxid: Buffer;
  connect(): void;
  findNextServer(callback: (server: string) => void): void;
  onSocketConnected(): void;
  onSocketError(error: Error): void;
  onSocketData(chunk: Buffer): void;
  queue(
    request: unknown,
    callback: (error: ZkException | null, response: { payload: unknown } | undefined) => void,
  ): void;
  registerDataWatcher(path: string, watcher: ZkWatcher): void;
  registerChildWatcher(path: string, watcher: ZkWatcher): void;
}

/** The connection manager of one client (a private field of the library's Client). */
export function connectionManagerOf(client: ZkClient): ZkConnectionManager {
  return (client as unknown as { connectionManager: ZkConnectionManager }).connectionManager;
}

let checked: { version: string; file: string } | null = null;

/**
 * Throws a ConfigurationError unless the installed node-zookeeper-client is {@link EXPECTED_LIBRARY_VERSION}.
 * The wire layer reads and replaces private members of the library's connection manager, whose shape only
 * that version is known to have. Checked once per process (the installed package cannot change).
 */
export function checkLibraryVersion(read?: () => { version: string; file: string }): void {
  const found = read === undefined ? (checked ?? installedLibrary()) : read();
  if (found.version !== EXPECTED_LIBRARY_VERSION) {
    throw new ConfigurationError(
      `the ZooKeeper backend needs node-zookeeper-client ${EXPECTED_LIBRARY_VERSION} (its wire layer is ` +
        `written against that version's internals), found ${found.version} (${found.file}); install ` +
        `node-zookeeper-client@${EXPECTED_LIBRARY_VERSION}`,
    );
  }
  if (read === undefined) {
    checked = found;
  }
}

function installedLibrary(): { version: string; file: string } {
  const file = require.resolve('node-zookeeper-client/package.json');
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
  return { version: typeof parsed.version === 'string' ? parsed.version : '(none)', file };
}
