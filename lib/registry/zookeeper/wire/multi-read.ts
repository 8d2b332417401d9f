import type { NodeData } from '../../driver';
import { OwnOpCode, OwnRequest, ustringLength, writeUstring } from './own-request';
import { STAT_BYTES } from './read-requests';

/**
 * multiRead (ZooKeeper ≥ 3.6, OpCode 22): many getData / getChildren in one request, answered in one reply.
 * The server's cost per request, not per read, is what bounds a cache load, so this is how feeds read.
 *
 * Request (MultiOperationRecord, as multi): per op a MultiHeader {type: int, done: boolean = false, err: int
 * = -1} and the op's request record ({path: ustring, watch: boolean}; GetData = 4, GetChildren = 8, never
 * watched here), then MultiHeader {-1, true, -1}. Reply (MultiResponse): per op a MultiHeader {type, done =
 * false, err} and GetDataResponse {data: buffer, Stat} / GetChildrenResponse {children: vector<ustring>}, or
 * type -1 with ErrorResponse {err: int} for an op that failed (e.g. NO_NODE); then a MultiHeader with done.
 * The reply header's err is 0 even when ops failed: each result says for itself.
 */

export const MultiReadOp = { GET_DATA: 4, GET_CHILDREN: 8 } as const;
const OP_ERROR = -1;

export interface ReadOp {
  kind: 'data' | 'children';
  /** Namespace-relative path. */
  path: string;
}

export type ReadResult =
  | {
      kind: 'data';
      data: NodeData;
      /** Creation zxid: tells one incarnation of a path from the next. */
      czxid: bigint;
      numChildren: number;
      /**
       * Zxid of the last creation or deletion of a child (Stat.pzxid): every child that existed when this
       * was read has a czxid at or below it, and a child created later has a higher one.
       */
      pzxid: bigint;
    }
  | { kind: 'children'; children: string[] }
  | { kind: 'error'; code: number };

/** Bytes of a MultiHeader {type: int, done: boolean, err: int}. */
export const MULTI_HEADER_BYTES = 4 + 1 + 4;

/** Bytes one op adds to a multiRead request for server path `fullPath`. */
export function multiReadOpBytes(fullPath: string): number {
  return MULTI_HEADER_BYTES + ustringLength(fullPath) + 1;
}

/** The request for server paths `fullPaths[i]` with op kinds `ops[i].kind`. */
export function multiReadRequest(ops: readonly ReadOp[], fullPaths: readonly string[]): OwnRequest {
  let length = MULTI_HEADER_BYTES;
  for (const path of fullPaths) {
    length += multiReadOpBytes(path);
  }
  return new OwnRequest(
    OwnOpCode.MULTI_READ,
    length,
    (buffer, start) => {
      let offset = start;
      ops.forEach((op, i) => {
        buffer.writeInt32BE(
          op.kind === 'data' ? MultiReadOp.GET_DATA : MultiReadOp.GET_CHILDREN,
          offset,
        );
        buffer.writeUInt8(0, offset + 4);
        buffer.writeInt32BE(-1, offset + 5);
        offset += MULTI_HEADER_BYTES;
        offset += writeUstring(buffer, offset, fullPaths[i] as string);
        buffer.writeUInt8(0, offset); // watch = false
        offset += 1;
      });
      buffer.writeInt32BE(-1, offset);
      buffer.writeUInt8(1, offset + 4);
      buffer.writeInt32BE(-1, offset + 5);
      return offset + MULTI_HEADER_BYTES - start;
    },
    decodeMultiRead,
  );
}

/** Decodes a MultiResponse of read ops. Throws on bytes that do not fit (the connection is then dropped). */
export function decodeMultiRead(frame: Buffer, start: number): ReadResult[] {
  const out: ReadResult[] = [];
  let offset = start;
  const need = (bytes: number): void => {
    if (offset + bytes > frame.length) {
      throw new RangeError('multiRead reply: record beyond the packet');
    }
  };
  for (;;) {
    need(MULTI_HEADER_BYTES);
    const type = frame.readInt32BE(offset);
    const done = frame.readUInt8(offset + 4) !== 0;
    offset += MULTI_HEADER_BYTES;
    if (done) {
      return out;
    }
    switch (type) {
      case MultiReadOp.GET_DATA: {
        need(4);
        const length = frame.readInt32BE(offset);
        offset += 4;
        let value = '';
        if (length > 0) {
          need(length);
          value = frame.toString('utf8', offset, offset + length);
          offset += length;
        }
        need(STAT_BYTES);
        out.push({
          kind: 'data',
          data: {
            value,
            version: frame.readInt32BE(offset + 32),
            stamp: frame.readBigInt64BE(offset + 8),
            ephemeral: frame.readBigInt64BE(offset + 44) !== 0n,
          },
          czxid: frame.readBigInt64BE(offset),
          numChildren: frame.readInt32BE(offset + 56),
          pzxid: frame.readBigInt64BE(offset + 60),
        });
        offset += STAT_BYTES;
        break;
      }
      case MultiReadOp.GET_CHILDREN: {
        need(4);
        let count = frame.readInt32BE(offset);
        offset += 4;
        const children: string[] = [];
        while (count > 0) {
          need(4);
          const length = frame.readInt32BE(offset);
          offset += 4;
          if (length < 0) {
            throw new RangeError('multiRead reply: negative name length');
          }
          need(length);
          children.push(frame.toString('utf8', offset, offset + length));
          offset += length;
          count -= 1;
        }
        out.push({ kind: 'children', children });
        break;
      }
      case OP_ERROR:
        need(4);
        out.push({ kind: 'error', code: frame.readInt32BE(offset) });
        offset += 4;
        break;
      default:
        throw new RangeError(`multiRead reply: unexpected result type ${type}`);
    }
  }
}
