import { ZkCode } from '../zookeeper-client-types';
import type { ZkException } from '../zookeeper-client-types';
import { isLibraryCode, zkException } from './exceptions';
import { ZkManagerState } from './library';
import type { ZkConnectionManager } from './library';

/**
 * Requests that we encode and whose replies we decode ourselves, sent through one client's connection
 * manager all the same: the requests node-zookeeper-client@1.1.3 does not know (ZooKeeper ≥ 3.6 opcodes:
 * addWatch, removeWatches, multiRead) and our own, leaner encodings of those it does know (getData,
 * getChildren2, multi; see read-requests.ts and multi-request.ts).
 *
 * The library queues any object with a `header` ({xid, type}) and a `toBuffer()`: it assigns the xid, writes
 * the bytes and puts the packet on its pending queue. What it cannot do is read the reply of an opcode it does
 * not know (it destroys the socket). So our framing (client-hooks.ts) offers every reply frame to
 * {@link deliverFrame} first; when the oldest pending packet is one of ours, we take it off the queue, record
 * the zxid as the library would, decode the body with the request's own decoder and call back. Everything
 * else (notifications, pings, the library's own requests) goes to the library unchanged, except a reply
 * carrying an error code the library does not know (see exceptions.ts), which is completed here.
 */

export const OwnOpCode = {
  GET_DATA: 4,
  GET_CHILDREN2: 12,
  MULTI: 14,
  REMOVE_WATCHES: 18,
  MULTI_READ: 22,
  ADD_WATCH: 106,
} as const;

/** AddWatchRequest.mode. */
export const AddWatchMode = { PERSISTENT: 0, PERSISTENT_RECURSIVE: 1 } as const;

/** RemoveWatchesRequest.type (WatcherType). */
export const WatcherType = { CHILDREN: 1, DATA: 2, ANY: 3 } as const;

/** Reply bytes after the ReplyHeader: the frame and where the body starts. */
export type ReplyDecoder = (frame: Buffer, offset: number) => unknown;

/** Writes the request body at `offset`, returns the bytes written (exactly `bodyLength`). */
export type BodyWriter = (buffer: Buffer, offset: number) => number;

/** Called back with the decoded reply body, or the server's error. */
export type OwnCallback = (error: ZkException | null, payload: unknown) => void;

const REPLY_HEADER_END = 4 + 16; // length prefix + ReplyHeader {xid, zxid, err}

export class OwnRequest {
  /** Read by the library: it sets `xid` when it sends the packet. */
  readonly header: { xid: number; type: number };
  /** The library looks at `payload` for a chroot; our clients never have one (client-hooks.ts). */
  readonly payload = null;

  constructor(
    type: number,
    private readonly bodyLength: number,
    private readonly writeBody: BodyWriter,
    readonly decode: ReplyDecoder,
  ) {
    this.header = { xid: 0, type };
  }

  toBuffer(): Buffer {
    const size = 8 + this.bodyLength;
    const buffer = Buffer.allocUnsafe(4 + size);
    buffer.writeInt32BE(size, 0);
    buffer.writeInt32BE(this.header.xid, 4);
    buffer.writeInt32BE(this.header.type, 8);
    const written = this.writeBody(buffer, 12);
    if (written !== this.bodyLength) {
      throw new RangeError(`request body of ${written} bytes, ${this.bodyLength} announced`);
    }
    return buffer;
  }
}

/** Queue an own request on the connection; `callback` gets the decoded body or the server error. */
export function queueOwn(
  cm: ZkConnectionManager,
  request: OwnRequest,
  callback: OwnCallback,
): void {
  cm.queue(request, (error, response) =>
    callback(error, error === null ? response?.payload : undefined),
  );
}

/**
 * Called by our framing with every complete frame while connected. Returns true when the frame was handled
 * here (the reply to an own request, or a reply with an error code the library does not know), false to let
 * the library handle it. A body that does not decode fails the request and throws, which makes the framing
 * drop the connection.
 */
export function deliverFrame(cm: ZkConnectionManager, frame: Buffer): boolean {
  if (cm.state === ZkManagerState.CONNECTING || frame.length < REPLY_HEADER_END) {
    return false;
  }
  const xid = frame.readInt32BE(4);
  if (xid < 0) {
    return false; // notification, ping, auth
  }
  const packet = cm.pendingQueue[0];
  const request = packet?.request as { header?: { xid?: number } | null } | undefined;
  if (request?.header?.xid !== xid) {
    return false; // out of order: the library then drops the connection
  }
  const err = frame.readInt32BE(16);
  const own = request instanceof OwnRequest;
  if (!own && (err === 0 || isLibraryCode(err))) {
    return false; // the library's request, and a reply it can read
  }
  cm.pendingQueue.shift();
  if (frame.readBigInt64BE(8) > 0n) {
    cm.zxid = Buffer.from(frame.subarray(8, 16));
  }
  if (err !== 0) {
    packet?.callback?.(zkException(err), undefined);
    return true;
  }
  let payload: unknown;
  try {
    payload = (request as OwnRequest).decode(frame, REPLY_HEADER_END);
  } catch (e) {
    packet?.callback?.(zkException(ZkCode.MARSHALLING_ERROR), undefined);
    throw e;
  }
  packet?.callback?.(null, { payload });
  return true;
}

/** Length of a jute ustring (int length + UTF-8 bytes). */
export function ustringLength(value: string): number {
  return 4 + Buffer.byteLength(value, 'utf8');
}

export function writeUstring(buffer: Buffer, offset: number, value: string): number {
  const length = buffer.write(value, offset + 4, 'utf8');
  buffer.writeInt32BE(length, offset);
  return 4 + length;
}

const ignoreBody: ReplyDecoder = () => undefined;

/** AddWatchRequest {path, mode}; the reply body (ErrorResponse {err = 0}) is ignored. */
export function addWatchRequest(path: string, mode: number): OwnRequest {
  return pathIntRequest(OwnOpCode.ADD_WATCH, path, mode);
}

/** RemoveWatchesRequest {path, type}; no reply body (NO_WATCHER when there was none). */
export function removeWatchesRequest(path: string, type: number): OwnRequest {
  return pathIntRequest(OwnOpCode.REMOVE_WATCHES, path, type);
}

function pathIntRequest(op: number, path: string, value: number): OwnRequest {
  return new OwnRequest(
    op,
    ustringLength(path) + 4,
    (buffer, offset) => {
      const n = writeUstring(buffer, offset, path);
      buffer.writeInt32BE(value, offset + n);
      return n + 4;
    },
    ignoreBody,
  );
}
