import type { IKeyValue } from 'etcd3';
import { BadVersionError, NodeExistsError, NoNodeError, TransactionError } from '../../errors';
import { isUnder, parentOf } from '../../internal/paths';
import { describeOp, type TxnOp } from '../txn';
import type { EtcdKeys } from './etcd-keys';
import type { EtcdKv } from './etcd-kv';
import { get, rangeResponse } from './etcd-ops';

/**
 * ZooKeeper multi semantics replayed client-side over a read-back of the keys a transaction depends on:
 * what tells which op of a failed etcd txn failed, and why (etcd only says "a compare failed").
 */

/** etcd's default `--max-txn-ops`: the failure branch reads at most this many keys; more are re-read after. */
export const MAX_ETCD_TXN_OPS = 128;

/** Writes of one op, or none when a later op deletes its path (the delete covers it). */
export function isSuperseded(ops: readonly TxnOp[], i: number): boolean {
  const path = ops[i]!.path;
  return ops.slice(i + 1).some(d => d.type === 'delete' && isUnder(path, d.path));
}

/** Every path whose existence or version an op depends on: op paths and parents of creates. */
export function comparedPaths(ops: readonly TxnOp[]): string[] {
  const out = new Set<string>();
  for (const op of ops) {
    out.add(op.path);
    if (op.type === 'create' && parentOf(op.path) !== '/') {
      out.add(parentOf(op.path));
    }
  }
  return [...out];
}

/** ZooKeeper version of each path, or null when absent. */
export type State = Map<string, number | null>;

export function stateFrom(
  paths: readonly string[],
  kvs: readonly (IKeyValue | undefined)[],
): State {
  const state: State = new Map();
  paths.forEach((p, i) => {
    const kv = kvs[i];
    state.set(p, kv === undefined ? null : Number(kv.version) - 1);
  });
  return state;
}

/** Read `paths` atomically (in chunks of the txn op limit when there are many). */
export async function readPaths(
  kv: EtcdKv,
  keys: EtcdKeys,
  paths: readonly string[],
): Promise<State> {
  const kvs: (IKeyValue | undefined)[] = [];
  for (let i = 0; i < paths.length; i += MAX_ETCD_TXN_OPS) {
    const chunk = paths.slice(i, i + MAX_ETCD_TXN_OPS);
    const res = await kv.txn('transaction read-back', chunk[0]!, null, {
      success: chunk.map(p => get(keys.key(p))),
    });
    res.responses.forEach((_, j) => kvs.push(rangeResponse(res.responses, j).kvs[0]));
  }
  return stateFrom(paths, kvs);
}

/** Replay the ops in order on `state` (ZooKeeper multi semantics); the first op that fails, or null. */
export function firstFailure(ops: readonly TxnOp[], initial: State): TransactionError | null {
  const state: State = new Map(initial);
  const version = (p: string): number | null => (p === '/' ? 0 : (state.get(p) ?? null));
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const fail = (cause: NoNodeError | NodeExistsError | BadVersionError): TransactionError =>
      new TransactionError(i, describeOp(op), cause);
    const current = version(op.path);
    if (op.type === 'create') {
      if (current !== null) {
        return fail(new NodeExistsError(op.path));
      }
      if (version(parentOf(op.path)) === null) {
        return fail(new NoNodeError(parentOf(op.path)));
      }
      state.set(op.path, 0);
      continue;
    }
    if (current === null) {
      return fail(new NoNodeError(op.path));
    }
    if (op.version !== undefined && op.version !== current) {
      return fail(new BadVersionError(op.path, op.version));
    }
    if (op.type === 'setData') {
      state.set(op.path, current + 1);
    } else if (op.type === 'delete') {
      for (const p of state.keys()) {
        if (isUnder(p, op.path)) {
          state.set(p, null);
        }
      }
    }
  }
  return null;
}
