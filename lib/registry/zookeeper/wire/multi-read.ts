import type { NodeData } from '../../driver';
import { decodeMultiFrame, MULTI_HEADER_BYTES, multiFrameRequest } from './multi-frame';
import type { ReplyReader } from './multi-frame';
import { OwnOpCode, ustringLength, writeUstring } from './own-request';
import type { OwnRequest } from './own-request';
import { STAT_BYTES } from './read-requests';

/**
 * multiRead (ZooKeeper ≥ 3.6, OpCode 22): many getData / getChildren in one request, answered in one reply.
 * The server's cost per request, not per read, is what bounds a cache load, so this is how feeds read.
 *
 * Framed as multi (multi-frame.ts). Each op's record is {path: ustring, watch: boolean} (GetData = 4,
 * GetChildren = 8, never watched here). Each result is GetDataResponse {data: buffer, Stat} /
 * GetChildrenResponse {children: vector<ustring>}, or type -1 with ErrorResponse {err: int} for an op that
 * failed (e.g. NO_NODE). The reply header's err is 0 even when ops failed: each result says for itself.
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

export { MULTI_HEADER_BYTES } from './multi-frame';

/** Bytes one op adds to a multiRead request for server path `fullPath`. */
export function multiReadOpBytes(fullPath: string): number {
  return MULTI_HEADER_BYTES + ustringLength(fullPath) + 1;
}

/** The request for server paths `fullPaths[i]` with op kinds `ops[i].kind`. */
export function multiReadRequest(ops: readonly ReadOp[], fullPaths: readonly string[]): OwnRequest {
  return multiFrameRequest(
    OwnOpCode.MULTI_READ,
    ops,
    {
      type: op => (op.kind === 'data' ? MultiReadOp.GET_DATA : MultiReadOp.GET_CHILDREN),
      recordBytes: (_op, i) => ustringLength(fullPaths[i] as string) + 1,
      writeRecord: (buffer, offset, _op, i) => {
        const n = writeUstring(buffer, offset, fullPaths[i] as string);
        buffer.writeUInt8(0, offset + n); // watch = false
        return n + 1;
      },
    },
    decodeMultiRead,
  );
}

/** Decodes a MultiResponse of read ops. Throws on bytes that do not fit (the connection is then dropped). */
export function decodeMultiRead(frame: Buffer, start: number): ReadResult[] {
  return decodeMultiFrame(frame, start, 'multiRead', decodeReadResult);
}

function decodeReadResult(type: number, reader: ReplyReader): ReadResult {
  switch (type) {
    case MultiReadOp.GET_DATA: {
      const length = reader.int();
      const value = length > 0 ? reader.utf8(length) : '';
      reader.need(STAT_BYTES);
      const { frame, offset } = reader;
      reader.offset += STAT_BYTES;
      return {
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
      };
    }
    case MultiReadOp.GET_CHILDREN: {
      let count = reader.int();
      const children: string[] = [];
      while (count > 0) {
        const length = reader.int();
        if (length < 0) {
          throw new RangeError('multiRead reply: negative name length');
        }
        children.push(reader.utf8(length));
        count -= 1;
      }
      return { kind: 'children', children };
    }
    case OP_ERROR:
      return { kind: 'error', code: reader.int() };
    default:
      throw new RangeError(`multiRead reply: unexpected result type ${type}`);
  }
}
