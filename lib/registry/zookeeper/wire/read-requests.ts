import type { ZkException, ZkStat, ZkWatcher } from '../zookeeper-client-types';
import { OwnOpCode, OwnRequest, queueOwn, ustringLength, writeUstring } from './own-request';
import type { ZkConnectionManager } from './library';

/**
 * getData and getChildren (GET_CHILDREN2) as own requests: the bulk reads of a cache load go this way.
 *
 * The library decodes every record generically: a regex per attribute and a fresh zero-filled, unpooled
 * `Buffer.alloc(8)` per 64-bit field, twice (constructor, then deserialize). A Stat has six of them, so
 * reading 10 000 nodes (20 000 replies) allocated ~300 000 ArrayBuffers and spent most of its time in GC.
 * These decoders read the same bytes into the same fields (longs as 8-byte Buffers, from Node's pool). The
 * request skips the library's retry machinery (an async.whilst loop per request, which we never use: retries
 * are 0) and a path validation our paths have passed already. The watcher is registered on success, as the
 * library does. Only requests sent through our clients are decoded here; the library's classes are untouched.
 */

export const STAT_BYTES = 68;

export interface DataPayload {
  data: Buffer | undefined;
  stat: ZkStat;
}

export interface ChildrenPayload {
  children: string[];
  stat: ZkStat;
}

function readLong(buffer: Buffer, offset: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  buffer.copy(out, 0, offset, offset + 8);
  return out;
}

/** Stat: czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid. */
export function decodeStat(buffer: Buffer, offset: number): ZkStat {
  if (offset + STAT_BYTES > buffer.length) {
    throw new RangeError('Stat beyond the packet');
  }
  return {
    czxid: readLong(buffer, offset),
    mzxid: readLong(buffer, offset + 8),
    ctime: readLong(buffer, offset + 16),
    mtime: readLong(buffer, offset + 24),
    version: buffer.readInt32BE(offset + 32),
    cversion: buffer.readInt32BE(offset + 36),
    aversion: buffer.readInt32BE(offset + 40),
    ephemeralOwner: readLong(buffer, offset + 44),
    dataLength: buffer.readInt32BE(offset + 52),
    numChildren: buffer.readInt32BE(offset + 56),
    pzxid: readLong(buffer, offset + 60),
  };
}

/** GetDataResponse {data: buffer, stat: Stat}. */
export function decodeGetData(buffer: Buffer, offset: number): DataPayload {
  const length = buffer.readInt32BE(offset);
  let read = 4;
  let data: Buffer | undefined;
  if (length >= 0) {
    if (offset + read + length > buffer.length) {
      throw new RangeError('GetDataResponse: data beyond the packet');
    }
    data = Buffer.allocUnsafe(length);
    buffer.copy(data, 0, offset + read, offset + read + length);
    read += length;
  }
  return { data, stat: decodeStat(buffer, offset + read) };
}

/** GetChildren2Response {children: vector<ustring>, stat: Stat}. */
export function decodeGetChildren2(buffer: Buffer, offset: number): ChildrenPayload {
  let count = buffer.readInt32BE(offset);
  let read = 4;
  const children: string[] = [];
  while (count > 0) {
    const length = buffer.readInt32BE(offset + read);
    read += 4;
    if (length < 0 || offset + read + length > buffer.length) {
      throw new RangeError('GetChildren2Response: name beyond the packet');
    }
    children.push(buffer.toString('utf8', offset + read, offset + read + length));
    read += length;
    count -= 1;
  }
  return { children, stat: decodeStat(buffer, offset + read) };
}

/** GetDataRequest / GetChildren2Request: `{ path: ustring, watch: boolean }`. */
function pathWatchRequest(
  op: number,
  path: string,
  watch: boolean,
  decode: (buffer: Buffer, offset: number) => unknown,
): OwnRequest {
  return new OwnRequest(
    op,
    ustringLength(path) + 1,
    (buffer, offset) => {
      const n = writeUstring(buffer, offset, path);
      buffer.writeUInt8(watch ? 1 : 0, offset + n);
      return n + 1;
    },
    decode,
  );
}

export function queueGetData(
  cm: ZkConnectionManager,
  path: string,
  watcher: ZkWatcher | undefined,
  callback: (error: ZkException | null, payload: DataPayload | undefined) => void,
): void {
  const request = pathWatchRequest(OwnOpCode.GET_DATA, path, watcher !== undefined, decodeGetData);
  queueOwn(cm, request, (error, payload) => {
    if (error === null && watcher !== undefined) {
      cm.registerDataWatcher(path, watcher);
    }
    callback(error, payload as DataPayload | undefined);
  });
}

export function queueGetChildren(
  cm: ZkConnectionManager,
  path: string,
  watcher: ZkWatcher | undefined,
  callback: (error: ZkException | null, payload: ChildrenPayload | undefined) => void,
): void {
  const request = pathWatchRequest(
    OwnOpCode.GET_CHILDREN2,
    path,
    watcher !== undefined,
    decodeGetChildren2,
  );
  queueOwn(cm, request, (error, payload) => {
    if (error === null && watcher !== undefined) {
      cm.registerChildWatcher(path, watcher);
    }
    callback(error, payload as ChildrenPayload | undefined);
  });
}
