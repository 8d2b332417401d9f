import type { ICompare, IRequestOp } from 'etcd3';
import { NoNodeError, SystemError, TransactionError } from '../../errors';
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
import { commitFenced } from './etcd-fenced-txn';
import {
  comparedPaths,
  firstFailure,
  isSuperseded,
  MAX_ETCD_TXN_OPS,
  readPaths,
  stateFrom,
} from './etcd-txn-replay';

/**
 * `commit` on etcd: one etcd Txn whose compares encode every op's precondition:
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
 * Up to MAX_TXN_OPS (128) ops may need more than etcd's 128 compares or writes per txn (a create also checks
 * its parent; a delete is two writes): such a transaction is committed by {@link commitFenced}, still as one
 * etcd txn (etcd-fenced-txn.ts); the replay that names the failing op is etcd-txn-replay.ts.
 */
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
  const { compare, success } = exactPlan(keys, ops, lease);
  if (compare.length > MAX_ETCD_TXN_OPS || success.length > MAX_ETCD_TXN_OPS) {
    // Up to MAX_TXN_OPS ops can need more compares or writes than etcd takes in one txn.
    return commitFenced(kv, keys, ops, lease, compared);
  }

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

/** The single-txn form: one compare per precondition, exact (see the file comment). */
function exactPlan(
  keys: EtcdKeys,
  ops: readonly TxnOp[],
  lease: string | null,
): { compare: ICompare[]; success: IRequestOp[] } {
  const compare: ICompare[] = [];
  const success: IRequestOp[] = [];
  const created = new Set<string>();
  const comparedExisting = new Set<string>();
  ops.forEach((op, i) => {
    const key = keys.key(op.path);
    const supersededBy = isSuperseded(ops, i);
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
  return { compare, success };
}
