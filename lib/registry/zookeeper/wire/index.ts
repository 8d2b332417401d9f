import { zk, ZkOpCode } from '../zookeeper-client-types';
import type {
  ZkClient,
  ZkClientOptions,
  ZkException,
  ZkMultiResult,
  ZkWatcher,
} from '../zookeeper-client-types';
import { hardenClient } from './client-hooks';
import type { HardenedClient } from './client-hooks';
import { zkException } from './exceptions';
import { checkLibraryVersion, connectionManagerOf } from './library';
import { multiReadRequest } from './multi-read';
import type { ReadOp, ReadResult } from './multi-read';
import { multiRequest } from './multi-request';
import type { WireMultiOp } from './multi-request';
import { addWatchRequest, queueOwn, removeWatchesRequest } from './own-request';
import { queueGetChildren, queueGetData } from './read-requests';
import type { ChildrenPayload, DataPayload } from './read-requests';
import type { LeanWatcherManager } from './watcher-manager';

/**
 * The ZooKeeper wire layer: everything Shardline adds below node-zookeeper-client's public API, behind this
 * one entry point. Nothing outside `wire/` reaches the library's private members.
 *
 * - {@link createWireClient} checks that the installed library is the version this layer was written against
 *   (library.ts), creates a client through the library's public `createClient` and hooks THAT client's
 *   connection manager (client-hooks.ts: reconnect control, framing, lean watcher registry). The library's
 *   modules, prototypes and classes are never changed, so a plain node-zookeeper-client used elsewhere in the
 *   process (by the application or another library) behaves exactly as without Shardline.
 * - Requests we encode and decode ourselves, on such a client only: getData / getChildren with lean decoders
 *   (read-requests.ts), multi without the version-0 bug (multi-request.ts), and the ZooKeeper ≥ 3.6 requests
 *   the library does not know: multiRead (multi-read.ts), addWatch and removeWatches (own-request.ts).
 * - Server error codes the library does not know become errors instead of crashes (exceptions.ts), for the
 *   replies of our clients only.
 *
 * Every other request (create, setData, delete, exists, getACL) goes through the library's public methods.
 */

export { checkLibraryVersion, EXPECTED_LIBRARY_VERSION } from './library';
export { zkException } from './exceptions';
export {
  decodeMultiRead,
  MULTI_HEADER_BYTES,
  multiReadOpBytes,
  multiReadRequest,
} from './multi-read';
export type { ReadOp, ReadResult } from './multi-read';
export type { WireMultiOp } from './multi-request';
export { AddWatchMode, WatcherType } from './own-request';
export type { PersistentWatchListener } from './persistent-routes';
export type { ChildrenPayload, DataPayload } from './read-requests';
export type { LeanWatcherManager } from './watcher-manager';

/** Control of one wire client's connection (see client-hooks.ts). */
export type ClientWire = HardenedClient;

const wires = new WeakMap<ZkClient, ClientWire>();

/** A node-zookeeper-client client with the wire layer's per-client hooks (not yet connected). */
export function createWireClient(
  connectString: string,
  options: ZkClientOptions,
): { client: ZkClient; wire: ClientWire } {
  checkLibraryVersion();
  const client = zk.createClient(connectString, options);
  const wire = hardenClient(client);
  wires.set(client, wire);
  return { client, wire };
}

/** The wire of a client made by {@link createWireClient}. */
export function wireOf(client: ZkClient): ClientWire {
  const wire = wires.get(client);
  if (wire === undefined) {
    throw new TypeError('not a ZooKeeper client of the wire layer (createWireClient)');
  }
  return wire;
}

/** getData with lean decoding; the watcher (if any) is registered when the read succeeds. */
export function getData(
  client: ZkClient,
  path: string,
  watcher: ZkWatcher | undefined,
  callback: (error: ZkException | null, payload: DataPayload | undefined) => void,
): void {
  wireOf(client);
  queueGetData(connectionManagerOf(client), path, watcher, callback);
}

/** getChildren (GET_CHILDREN2) with lean decoding; the watcher (if any) is registered on success. */
export function getChildren(
  client: ZkClient,
  path: string,
  watcher: ZkWatcher | undefined,
  callback: (error: ZkException | null, payload: ChildrenPayload | undefined) => void,
): void {
  wireOf(client);
  queueGetChildren(connectionManagerOf(client), path, watcher, callback);
}

/** One multiRead of server paths `fullPaths[i]` (op kinds from `ops[i]`); results in op order. */
export function multiRead(
  client: ZkClient,
  ops: readonly ReadOp[],
  fullPaths: readonly string[],
  callback: (error: ZkException | null, results: ReadResult[] | undefined) => void,
): void {
  wireOf(client);
  queueOwn(connectionManagerOf(client), multiReadRequest(ops, fullPaths), (error, payload) =>
    callback(error, payload as ReadResult[] | undefined),
  );
}

/**
 * multi, as the library's `transaction().commit()` reports it: `(error, undefined)` when the request failed
 * as a whole, `(error of the first failing op, results)` when an op failed (nothing applied), `(null,
 * results)` on success. Versions are sent as given (-1: any).
 */
export function multi(
  client: ZkClient,
  ops: readonly WireMultiOp[],
  callback: (error: ZkException | null, results: ZkMultiResult[] | undefined) => void,
): void {
  wireOf(client);
  queueOwn(connectionManagerOf(client), multiRequest(ops), (error, payload) => {
    if (error !== null) {
      callback(error, undefined);
      return;
    }
    const results = payload as ZkMultiResult[];
    const failed = results.find(
      r => r.type === ZkOpCode.ERROR && r.err !== undefined && r.err !== 0,
    );
    callback(failed?.err === undefined ? null : zkException(failed.err), results);
  });
}

/** The client's watcher registry (one-shot and persistent-recursive watches). */
export function watchRegistry(client: ZkClient): LeanWatcherManager {
  return wireOf(client).watches;
}

/** addWatch(path, mode); the listener side is {@link watchRegistry}'s `persistent` routes. */
export function addWatch(
  client: ZkClient,
  path: string,
  mode: number,
  callback: (error: ZkException | null) => void,
): void {
  wireOf(client);
  queueOwn(connectionManagerOf(client), addWatchRequest(path, mode), error => callback(error));
}

/** removeWatches(path, type); NO_WATCHER when there was none. */
export function removeWatches(
  client: ZkClient,
  path: string,
  type: number,
  callback: (error: ZkException | null) => void,
): void {
  wireOf(client);
  queueOwn(connectionManagerOf(client), removeWatchesRequest(path, type), error => callback(error));
}
