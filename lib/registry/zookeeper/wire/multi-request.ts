import { ZkOpCode } from '../zookeeper-client-types';
import type { ZkAcl, ZkMultiResult } from '../zookeeper-client-types';
import { decodeMultiFrame, multiFrameRequest } from './multi-frame';
import type { ReplyReader } from './multi-frame';
import { OwnOpCode, ustringLength, writeUstring } from './own-request';
import type { OwnRequest } from './own-request';
import { decodeStat, STAT_BYTES } from './read-requests';

/**
 * multi (OpCode 14) encoded by us: all ops apply or none.
 *
 * The library's Transaction builder does `version || -1`, which turns version 0 into "any version" (issue
 * #67: a check at version 0 passes against a node at version 1). Our ops carry their version as given, with
 * -1 meaning "any". The reply has the shape of the library's commit results: `{type: 1, path}` for a create,
 * `{type: 5, stat}` for setData, `{type: 2}` / `{type: 13}` for delete / check, and, when the multi failed,
 * `{type: -1, err}` for every op (0 before the failing op, its code, then RUNTIME_INCONSISTENCY).
 *
 * Framing in multi-frame.ts. The op records: CreateRequest {path, data: buffer, acl: vector<ACL {perms, id
 * {scheme, id}}>, flags}, DeleteRequest / CheckVersionRequest {path, version}, SetDataRequest {path, data,
 * version}.
 */

export type WireMultiOp =
  | { type: 'check'; path: string; version: number }
  | { type: 'create'; path: string; data: Buffer; acl: readonly ZkAcl[]; mode: number }
  | { type: 'setData'; path: string; data: Buffer; version: number }
  | { type: 'delete'; path: string; version: number };

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
  return multiFrameRequest(
    OwnOpCode.MULTI,
    ops,
    { type: opCode, recordBytes: recordLength, writeRecord },
    decodeMulti,
  );
}

/** Decodes a MultiResponse. Throws on bytes that do not fit (the connection is then dropped). */
export function decodeMulti(frame: Buffer, start: number): ZkMultiResult[] {
  return decodeMultiFrame(frame, start, 'multi', decodeMultiResult);
}

function decodeMultiResult(type: number, reader: ReplyReader): ZkMultiResult {
  switch (type) {
    case ZkOpCode.CREATE: {
      const length = reader.int();
      return { type, path: length < 0 ? '' : reader.utf8(length) };
    }
    case ZkOpCode.SET_DATA: {
      const stat = decodeStat(reader.frame, reader.offset);
      reader.offset += STAT_BYTES;
      return { type, stat };
    }
    case ZkOpCode.DELETE:
    case ZkOpCode.CHECK:
      return { type };
    case ZkOpCode.ERROR:
      return { type, err: reader.int() };
    default:
      throw new RangeError(`multi reply: unexpected result type ${type}`);
  }
}
