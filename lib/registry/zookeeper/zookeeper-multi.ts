import { InvalidArgumentError, NotEmptyError, TransactionError } from '../../errors';
import type { CoordinationError } from '../../errors';
import { describeOp } from '../txn';
import type { TxnOp } from '../txn';
import * as wire from './wire';
import type { WireMultiOp } from './wire';
import { ZkCreateMode, ZkOpCode } from './zookeeper-client-types';
import type { ZkAcl, ZkMultiResult } from './zookeeper-client-types';
import { translateZkError } from './zookeeper-errors';
import type { ZkRequests } from './zookeeper-requests';
import type { ZooKeeperSession } from './zookeeper-session';

/**
 * ZooKeeper multi (all ops apply or none): our transactions, and the atomic replace of `put(EPHEMERAL)`.
 *
 * - Versions are passed as given (`undefined` becomes -1, "any"); the multi request is our own
 *   (wire/multi-request.ts), so the library Transaction's version-0 bug does not apply.
 * - `delete` removes a subtree: its descendants are listed first and deleted child-first in the same multi;
 *   the version applies to the named node only. A concurrent change of the subtree (a child added or gone
 *   between listing and commit) is retried a few times.
 * - On failure the failing index is the first non-zero error in the results, mapped back from the expanded
 *   multi to the caller's op. Nothing was applied.
 * - A multi over the server's jute.maxbuffer (1 MiB) makes the server drop the connection, so we refuse it.
 */

export type ZkMultiOp =
  | { kind: 'check'; path: string; version?: number; source: number }
  | { kind: 'create'; path: string; data: Buffer; mode: number; source: number }
  | { kind: 'setData'; path: string; data: Buffer; version?: number; source: number }
  | { kind: 'delete'; path: string; version?: number; source: number; descendant?: boolean };

export type MultiOutcome = { ok: true } | { ok: false; index: number; cause: CoordinationError };

/** Our estimate of the request size must stay below the server's jute.maxbuffer (1 048 575 bytes). */
export const MAX_MULTI_BYTES = 1_000_000;

interface CommitReply {
  error: Error | null;
  results: ZkMultiResult[] | undefined;
}

export async function runMulti(
  session: ZooKeeperSession,
  requests: ZkRequests,
  acl: ZkAcl[],
  ops: readonly ZkMultiOp[],
): Promise<MultiOutcome> {
  if (ops.length === 0) {
    return { ok: true };
  }
  let bytes = 0;
  for (const op of ops) {
    bytes += 32 + Buffer.byteLength(requests.paths.full(op.path));
    if (op.kind === 'create' || op.kind === 'setData') {
      bytes += op.data.length;
    }
    if (op.kind === 'create') {
      bytes += acl.reduce((n, a) => n + 16 + a.id.scheme.length + a.id.id.length, 0);
    }
  }
  if (bytes > MAX_MULTI_BYTES) {
    throw new InvalidArgumentError(
      `a ZooKeeper transaction must stay below ${MAX_MULTI_BYTES} bytes (this one has about ${bytes})`,
    );
  }
  const wireOps = ops.map((op): WireMultiOp => {
    const path = requests.paths.full(op.path);
    switch (op.kind) {
      case 'check':
        return { type: 'check', path, version: op.version ?? -1 };
      case 'create':
        return { type: 'create', path, data: op.data, acl, mode: op.mode };
      case 'setData':
        return { type: 'setData', path, data: op.data, version: op.version ?? -1 };
      case 'delete':
        return { type: 'delete', path, version: op.version ?? -1 };
    }
  });
  const reply = await session.call<CommitReply>({ operation: 'multi' }, (client, done) => {
    wire.multi(client, wireOps, (error, results) => {
      if (error !== null && results === undefined) {
        done(error, { error, results }); // no per-op results: connection loss and the like
      } else {
        done(null, { error, results });
      }
    });
  });
  if (reply.error === null) {
    return { ok: true };
  }
  let index = 0;
  let code: number | undefined;
  for (const [i, r] of (reply.results ?? []).entries()) {
    if (r.type === ZkOpCode.ERROR && r.err !== undefined && r.err !== 0) {
      index = i;
      code = r.err;
      break;
    }
  }
  const op = ops[Math.min(index, ops.length - 1)] as ZkMultiOp;
  const cause = translateZkError(code === undefined ? reply.error : wire.zkException(code), {
    operation: op.kind,
    path: op.path,
    version: 'version' in op ? op.version : undefined,
  });
  return { ok: false, index, cause };
}

/** Expand our transaction ops into multi ops (subtree deletes listed now). */
async function expand(requests: ZkRequests, ops: readonly TxnOp[]): Promise<ZkMultiOp[]> {
  const out: ZkMultiOp[] = [];
  for (const [source, op] of ops.entries()) {
    switch (op.type) {
      case 'check':
        out.push({ kind: 'check', path: op.path, version: op.version, source });
        break;
      case 'create':
        out.push({
          kind: 'create',
          path: op.path,
          data: Buffer.from(op.value, 'utf8'),
          mode: op.mode === 'EPHEMERAL' ? ZkCreateMode.EPHEMERAL : ZkCreateMode.PERSISTENT,
          source,
        });
        break;
      case 'setData':
        out.push({
          kind: 'setData',
          path: op.path,
          data: Buffer.from(op.value, 'utf8'),
          version: op.version,
          source,
        });
        break;
      case 'delete': {
        const subtree = await requests.listSubtree(op.path);
        for (const path of subtree.slice(1).reverse()) {
          out.push({ kind: 'delete', path, source, descendant: true });
        }
        out.push({ kind: 'delete', path: op.path, version: op.version, source });
        break;
      }
    }
  }
  return out;
}

const SUBTREE_RACE_ATTEMPTS = 3;

export async function commitTransaction(
  session: ZooKeeperSession,
  requests: ZkRequests,
  acl: ZkAcl[],
  ops: readonly TxnOp[],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const expanded = await expand(requests, ops);
    const outcome = await runMulti(session, requests, acl, expanded);
    if (outcome.ok) {
      return;
    }
    const failed = expanded[outcome.index] as ZkMultiOp;
    const subtreeRace =
      failed.kind === 'delete' &&
      (failed.descendant === true || outcome.cause instanceof NotEmptyError);
    if (subtreeRace && attempt < SUBTREE_RACE_ATTEMPTS) {
      continue;
    }
    const source = ops[failed.source] as TxnOp;
    throw new TransactionError(failed.source, describeOp(source), outcome.cause);
  }
}
