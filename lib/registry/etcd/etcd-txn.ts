import type { ICompare, IKeyValue, IRequestOp } from 'etcd3';
import {
  BadVersionError,
  NodeExistsError,
  NoNodeError,
  SystemError,
  TransactionError,
} from '../../errors';
import { isUnder, parentOf } from '../../internal/paths';
import { describeOp, type TxnOp } from '../txn';
import type { EtcdKeys } from './etcd-keys';
import type { EtcdKv } from './etcd-kv';
import {
  absent,
  deleteSubtree,
  get,
  put,
  putKeepingLease,
  rangeResponse,
  versionEquals,
  versionGreaterThanZero,
} from './etcd-ops';
import type { EtcdSession } from './etcd-session';

/**
 * `commit` on etcd: one etcd Txn whose compares encode every op's precondition (zk-etcd-clients.md §4.4):
 * - check / setData / delete: `Version(k) > 0`, or `Version(k) == v + 1` when a ZooKeeper version v is given;
 * - create: `Create(k) == 0`, plus `Version(parent) > 0` unless the parent is created by an earlier op of the
 *   same txn (as ZooKeeper multi: a create never makes missing parents);
 * - writes: put (ephemeral creates carry the session lease), setData keeps the key's lease, delete removes
 *   the key and the range `key + '/'`.
 * etcd evaluates every compare against the state BEFORE the txn, while ZooKeeper applies ops in sequence.
 * Ops on a path that an earlier op deletes would fail on ZooKeeper, so such a txn is only evaluated (never
 * applied); writes below a path that a later op deletes are dropped (the delete covers them).
 * On failure, the compared keys are read back (in the failure branch: the same snapshot) and the ops are
 * replayed client-side to report the FIRST failing op as `TransactionError(index, …, NoNode|NodeExists|
 * BadVersion)`. Nothing is applied then.
 */

/** etcd's default `--max-txn-ops`: the failure branch reads at most this many keys; more are re-read after. */
const MAX_ETCD_TXN_OPS = 128;

export async function commitTxn(
  kv: EtcdKv,
  keys: EtcdKeys,
  session: EtcdSession,
  ops: readonly TxnOp[],
): Promise<void> {
  if (ops.length === 0) {
    return;
  }
  const compared = comparedPaths(ops);
  const doomed = ops.findIndex((op, i) =>
    ops.slice(0, i).some(d => d.type === 'delete' && isUnder(op.path, d.path)),
  );
  if (doomed !== -1) {
    // An op on a path an earlier op deletes: ZooKeeper fails this txn at that op (or earlier).
    const state = await readPaths(kv, keys, compared);
    throw (
      firstFailure(ops, state) ??
      new TransactionError(doomed, describeOp(ops[doomed]!), new NoNodeError(ops[doomed]!.path))
    );
  }
  const lease = ops.some(op => op.type === 'create' && op.mode === 'EPHEMERAL')
    ? await session.acquireLease()
    : null;

  const compare: ICompare[] = [];
  const success: IRequestOp[] = [];
  const created = new Set<string>();
  const comparedExisting = new Set<string>();
  ops.forEach((op, i) => {
    const key = keys.key(op.path);
    const supersededBy = ops
      .slice(i + 1)
      .some(d => d.type === 'delete' && isUnder(op.path, d.path));
    switch (op.type) {
      case 'create': {
        compare.push(absent(key));
        const parent = parentOf(op.path);
        if (parent !== '/' && !created.has(parent) && !comparedExisting.has(parent)) {
          compare.push(versionGreaterThanZero(keys.key(parent)));
          comparedExisting.add(parent);
        }
        created.add(op.path);
        if (!supersededBy) {
          success.push(put(key, op.value, op.mode === 'EPHEMERAL' && lease !== null ? lease : '0'));
        }
        break;
      }
      case 'check':
      case 'setData':
      case 'delete': {
        compare.push(
          op.version === undefined
            ? versionGreaterThanZero(key)
            : versionEquals(key, op.version + 1),
        );
        comparedExisting.add(op.path);
        if (supersededBy) {
          break;
        }
        if (op.type === 'setData') {
          success.push(putKeepingLease(key, op.value));
        } else if (op.type === 'delete') {
          success.push(...deleteSubtree(keys, op.path));
        }
        break;
      }
    }
  });

  const readBack = compared.length <= MAX_ETCD_TXN_OPS;
  const res = await kv.txn('transaction', ops[0]!.path, lease, {
    compare,
    success,
    failure: readBack ? compared.map(p => get(keys.key(p))) : [],
  });
  if (res.succeeded) {
    return;
  }
  const state = readBack
    ? stateFrom(
        compared,
        res.responses.map((_, i) => rangeResponse(res.responses, i).kvs[0]),
      )
    : await readPaths(kv, keys, compared);
  throw (
    firstFailure(ops, state) ??
    new SystemError(`etcd transaction failed but no op's precondition fails on re-read`, {
      path: ops[0]!.path,
    })
  );
}

/** Every path whose existence or version an op depends on: op paths and parents of creates. */
function comparedPaths(ops: readonly TxnOp[]): string[] {
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
type State = Map<string, number | null>;

function stateFrom(paths: readonly string[], kvs: readonly (IKeyValue | undefined)[]): State {
  const state: State = new Map();
  paths.forEach((p, i) => {
    const kv = kvs[i];
    state.set(p, kv === undefined ? null : Number(kv.version) - 1);
  });
  return state;
}

/** Read `paths` atomically (in chunks of the txn op limit when there are many). */
async function readPaths(kv: EtcdKv, keys: EtcdKeys, paths: readonly string[]): Promise<State> {
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
