import { ZkOpCode } from '../zookeeper-client-types';
import type { ZkAcl, ZkMultiResult } from '../zookeeper-client-types';
import { OwnOpCode, OwnRequest, ustringLength, writeUstring } from './own-request';
import { decodeStat } from './read-requests';

/**
 * multi (OpCode 14) encoded by us: all ops apply or none.
 *
 * The library's Transaction builder does `version || -1`, which turns version 0 into "any version" (issue
 * #67: a check at version 0 passes against a node at version 1). Our ops carry their version as given, with
 * -1 meaning "any". The reply has the shape of the library's commit results: `{type: 1, path}` for a create,
 * `{type: 5, stat}` for setData, `{type: 2}` / `{type: 13}` for delete / check, and, when the multi failed,
 * `{type: -1, err}` for every op (0 before the failing op, its code, then RUNTIME_INCONSISTENCY).
 *
 * Request (MultiOperationRecord): per op a MultiHeader {type: int, done: boolean = false, err: int = -1} and
 * the op's record (CreateRequest {path, data: buffer, acl: vector<ACL {perms, id {scheme, id}}>, flags},
 * DeleteRequest / CheckVersionRequest {path, version}, SetDataRequest {path, data, version}), then
 * MultiHeader {-1, true, -1}.
 */

export type WireMultiOp =
  | { type: 'check'; path: string; version: number }
  | { type: 'create'; path: string; data: Buffer; acl: readonly ZkAcl[]; mode: number }
  | { type: 'setData'; path: string; data: Buffer; version: number }
  | { type: 'delete'; path: string; version: number };

const MULTI_HEADER_BYTES = 4 + 1 + 4;

function opCode(op: WireMultiOp): number {
  switch (op.type) {
    case 'check':
      return ZkOpCode.CHECK;
    case 'create':
      return ZkOpCode.CREATE;
    case 'setData':
      return ZkOpCode.SET_DATA;
    case 'delete':
      return ZkOpCode.DELETE;
  }
}

function recordLength(op: WireMultiOp): number {
  const path = ustringLength(op.path);
  switch (op.type) {
    case 'check':
    case 'delete':
      return path + 4;
    case 'setData':
      return path + 4 + op.data.length + 4;
    case 'create':
      return (
        path +
        4 +
        op.data.length +
        4 +
        op.acl.reduce((n, a) => n + 4 + ustringLength(a.id.scheme) + ustringLength(a.id.id), 0) +
        4
      );
  }
}

function writeHeader(buffer: Buffer, offset: number, type: number, done: boolean): number {
  buffer.writeInt32BE(type, offset);
  buffer.writeUInt8(done ? 1 : 0, offset + 4);
  buffer.writeInt32BE(-1, offset + 5);
  return MULTI_HEADER_BYTES;
}

function writeBuffer(buffer: Buffer, offset: number, data: Buffer): number {
  buffer.writeInt32BE(data.length, offset);
  data.copy(buffer, offset + 4);
  return 4 + data.length;
}

function writeRecord(buffer: Buffer, start: number, op: WireMultiOp): number {
  let offset = start + writeUstring(buffer, start, op.path);
  switch (op.type) {
    case 'check':
    case 'delete':
      buffer.writeInt32BE(op.version, offset);
      return offset + 4 - start;
    case 'setData':
      offset += writeBuffer(buffer, offset, op.data);
      buffer.writeInt32BE(op.version, offset);
      return offset + 4 - start;
    case 'create':
      offset += writeBuffer(buffer, offset, op.data);
      buffer.writeInt32BE(op.acl.length, offset);
      offset += 4;
      for (const acl of op.acl) {
        buffer.writeInt32BE(acl.permission, offset);
        offset += 4;
        offset += writeUstring(buffer, offset, acl.id.scheme);
        offset += writeUstring(buffer, offset, acl.id.id);
      }
      buffer.writeInt32BE(op.mode, offset);
      return offset + 4 - start;
  }
}

export function multiRequest(ops: readonly WireMultiOp[]): OwnRequest {
  let length = MULTI_HEADER_BYTES;
  for (const op of ops) {
    length += MULTI_HEADER_BYTES + recordLength(op);
  }
  return new OwnRequest(
    OwnOpCode.MULTI,
    length,
    (buffer, start) => {
      let offset = start;
      for (const op of ops) {
        offset += writeHeader(buffer, offset, opCode(op), false);
        offset += writeRecord(buffer, offset, op);
      }
      offset += writeHeader(buffer, offset, -1, true);
      return offset - start;
    },
    decodeMulti,
  );
}

/** Decodes a MultiResponse. Throws on bytes that do not fit (the connection is then dropped). */
export function decodeMulti(frame: Buffer, start: number): ZkMultiResult[] {
  const results: ZkMultiResult[] = [];
  let offset = start;
  const need = (bytes: number): void => {
    if (offset + bytes > frame.length) {
      throw new RangeError('multi reply: record beyond the packet');
    }
  };
  for (;;) {
    need(MULTI_HEADER_BYTES);
    const type = frame.readInt32BE(offset);
    const done = frame.readUInt8(offset + 4) !== 0;
    offset += MULTI_HEADER_BYTES;
    if (done) {
      return results;
    }
    switch (type) {
      case ZkOpCode.CREATE: {
        need(4);
        const length = frame.readInt32BE(offset);
        offset += 4;
        need(Math.max(length, 0));
        const path = length < 0 ? '' : frame.toString('utf8', offset, offset + length);
        offset += Math.max(length, 0);
        results.push({ type, path });
        break;
      }
      case ZkOpCode.SET_DATA:
        results.push({ type, stat: decodeStat(frame, offset) });
        offset += 68;
        break;
      case ZkOpCode.DELETE:
      case ZkOpCode.CHECK:
        results.push({ type });
        break;
      case ZkOpCode.ERROR:
        need(4);
        results.push({ type, err: frame.readInt32BE(offset) });
        offset += 4;
        break;
      default:
        throw new RangeError(`multi reply: unexpected result type ${type}`);
    }
  }
}
