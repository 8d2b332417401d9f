import { NoNodeError } from '../../errors';
import * as wire from './wire';
import { MULTI_HEADER_BYTES, multiReadOpBytes } from './wire';
import type { ReadOp, ReadResult } from './wire';
import { ZkCode } from './zookeeper-client-types';
import { toNodeData } from './zookeeper-requests';
import type { DataReply, ZkPaths } from './zookeeper-requests';
import type { ZooKeeperSession } from './zookeeper-session';

export type { ReadOp, ReadResult } from './wire';

/** Reads a batch of ops in one round trip; results in op order (multiRead: wire/multi-read.ts). */
export type MultiReader = (ops: readonly ReadOp[]) => Promise<ReadResult[]>;

/** Requests stay well below the server's jute.maxbuffer (1 MiB): longer op lists are split. */
const MAX_REQUEST_BYTES = 256 * 1024;

/**
 * A {@link MultiReader} over the session's current client, for namespace-relative paths. Op lists whose
 * request would pass {@link MAX_REQUEST_BYTES} go out as several multiReads at once (pipelined). A lone
 * getData (a feed's usual notification) goes out as a plain getData: the server answers that a little faster.
 */
export function sessionMultiReader(session: ZooKeeperSession, paths: ZkPaths): MultiReader {
  const getData = async (path: string): Promise<ReadResult[]> => {
    const full = paths.full(path);
    try {
      const reply = await session.call<DataReply>({ operation: 'getData', path }, (client, done) =>
        wire.getData(client, full, undefined, (err, payload) => done(err, payload as DataReply)),
      );
      return [
        {
          kind: 'data',
          data: toNodeData(reply),
          czxid: reply.stat.czxid.readBigInt64BE(0),
          numChildren: reply.stat.numChildren,
          pzxid: reply.stat.pzxid.readBigInt64BE(0),
        },
      ];
    } catch (e) {
      if (e instanceof NoNodeError) {
        return [{ kind: 'error', code: ZkCode.NO_NODE }];
      }
      throw e;
    }
  };
  const send = (ops: readonly ReadOp[], fullPaths: readonly string[]): Promise<ReadResult[]> => {
    return session.call<ReadResult[]>(
      { operation: 'multiRead', path: ops[0]?.path },
      (client, done) =>
        wire.multiRead(client, ops, fullPaths, (err, results) => done(err, results ?? [])),
    );
  };
  return async ops => {
    if (ops.length === 1 && ops[0]?.kind === 'data') {
      return getData(ops[0].path);
    }
    const fullPaths = ops.map(op => paths.full(op.path));
    const chunks: Promise<ReadResult[]>[] = [];
    let start = 0;
    let bytes = MULTI_HEADER_BYTES;
    fullPaths.forEach((path, i) => {
      const opBytes = multiReadOpBytes(path);
      if (i > start && bytes + opBytes > MAX_REQUEST_BYTES) {
        chunks.push(send(ops.slice(start, i), fullPaths.slice(start, i)));
        start = i;
        bytes = MULTI_HEADER_BYTES;
      }
      bytes += opBytes;
    });
    if (start < ops.length) {
      chunks.push(send(ops.slice(start), fullPaths.slice(start)));
    }
    const results = (await Promise.all(chunks)).flat();
    if (results.length !== ops.length) {
      throw new RangeError(`multiRead: ${results.length} results for ${ops.length} reads`);
    }
    return results;
  };
}
