import type { ICompare, IKeyValue, IRangeRequest, IRequestOp } from 'etcd3';
import { InvalidArgumentError, SystemError } from '../../errors';
import { parentOf } from '../../internal/paths';
import type { TxnOp } from '../txn';
import type { EtcdKeys } from './etcd-keys';
import type { EtcdKv } from './etcd-kv';
import {
  absent,
  deleteRange,
  deleteSubtree,
  put,
  putKeepingLease,
  rangeResponse,
} from './etcd-ops';
import { firstFailure, isSuperseded, MAX_ETCD_TXN_OPS, stateFrom } from './etcd-txn-replay';

/**
 * Attempts of the fenced commit: each failed attempt means that another client changed a key the
 * transaction depends on (or a key inside one of its compared ranges) between our read and our commit.
 */
const FENCED_ATTEMPTS = 8;

/** What the fenced form must keep true at commit, derived from the ops alone (before any read). */
interface Needs {
  /** Nodes that must exist, unchanged since the read (targets of check/setData/delete, parents of creates). */
  readonly exist: readonly string[];
  /** Nodes that must stay absent (targets of creates). */
  readonly absent: readonly string[];
  /** Deleted nodes (their gap `key` … `key + '/'` is read too). */
  readonly deleted: readonly string[];
}

/**
 * The commit of a transaction whose exact form needs more than etcd's 128 compares or writes in one txn
 * (`--max-txn-ops`) — e.g. 128 creates under an existing parent (128 absences + the parent), or 128 deletes
 * (each is the key plus its subtree range: two writes). Still ONE etcd txn, so still all-or-nothing:
 * 1. Read, at ONE revision R, every node the ops depend on, the number of keys between neighbouring such
 *    nodes (in key order) and each deleted node's gap; replay the ops on it with ZooKeeper semantics: a
 *    failing op is reported as `TransactionError`, exactly as by the single-txn form.
 * 2. Commit under compares that hold only if nothing the ops depend on changed since R. Neighbouring nodes
 *    with no key between them at R share one range compare: `Mod([first, last]) == m` when the range holds
 *    one node that must exist (its mod revision m at R: it still exists, unchanged, and nothing was created
 *    in the range), `Create([first, last]) == 0` when it holds only nodes that must stay absent. A delete whose
 *    gap was empty compares `Mod([key, key + '/')) == m` and is written as ONE range delete `[key, key + '0')`.
 *    Only if that is still too many, runs of absent-only ranges share `Mod([first, last]) < R + 1` (nothing in
 *    it created or modified since R), which also fails when an unrelated key inside it changes.
 * 3. A failed compare means another client changed something since R: nothing was applied; read again, at
 *    most {@link FENCED_ATTEMPTS} times.
 * A transaction that still needs more than 128 compares or writes (more than 127 distinct existing nodes that
 * cannot share a range, plus a create) fails with `InvalidArgumentError` before anything is written.
 */
export async function commitFenced(
  kv: EtcdKv,
  keys: EtcdKeys,
  ops: readonly TxnOp[],
  lease: string | null,
  compared: readonly string[],
): Promise<void> {
  const needs = needsOf(ops);
  const sorted = sortedNodes(keys, needs);
  for (let attempt = 1; attempt <= FENCED_ATTEMPTS; attempt++) {
    const snapshot = await readAtOneRevision(kv, keys, compared, needs.deleted, sorted);
    const failure = firstFailure(
      ops,
      stateFrom(
        compared,
        compared.map(p => snapshot.kvs.get(p)),
      ),
    );
    if (failure !== null) {
      throw failure;
    }
    const plan = fencedPlan(keys, ops, lease, needs, sorted, snapshot);
    const res = await kv.txn('transaction', ops[0]!.path, lease, { ...plan, failure: [] });
    if (res.succeeded) {
      return;
    }
  }
  throw new SystemError(
    `etcd transaction of ${ops.length} ops: the nodes it depends on changed between read and commit ` +
      `${FENCED_ATTEMPTS} times in a row; nothing was applied`,
    { path: ops[0]!.path },
  );
}

function needsOf(ops: readonly TxnOp[]): Needs {
  const exist = new Set<string>();
  const absentPaths = new Set<string>();
  const deleted = new Set<string>();
  for (const op of ops) {
    if (op.type === 'create') {
      const parent = parentOf(op.path);
      // The namespace root is virtual on etcd: it always exists and has no key to compare.
      if (parent !== '/' && !absentPaths.has(parent)) {
        exist.add(parent);
      }
      // A path also required to exist fails the replay (check then create); compare it once.
      if (!exist.has(op.path)) {
        absentPaths.add(op.path);
      }
    } else if (op.path !== '/') {
      exist.add(op.path);
      if (op.type === 'delete') {
        deleted.add(op.path);
      }
    }
  }
  return { exist: [...exist], absent: [...absentPaths], deleted: [...deleted] };
}

/** A node the fenced form compares, other than a range-deleted one; in key order. */
interface SortedNode {
  readonly path: string;
  readonly key: Buffer;
  readonly mustExist: boolean;
}

function sortedNodes(keys: EtcdKeys, needs: Needs): SortedNode[] {
  return [
    ...needs.exist.map(path => ({ path, key: keys.key(path), mustExist: true })),
    ...needs.absent.map(path => ({ path, key: keys.key(path), mustExist: false })),
  ].sort((a, b) => Buffer.compare(a.key, b.key));
}

/** The nodes the ops depend on, read at ONE revision. */
interface Snapshot {
  readonly revision: bigint;
  readonly kvs: ReadonlyMap<string, IKeyValue | undefined>;
  /** Deleted paths with no key strictly between `key` and `key + '/'` (a sibling such as `key-x`). */
  readonly gapEmpty: ReadonlySet<string>;
  /** `between[i]`: no key lies strictly between sorted node i and node i + 1. */
  readonly adjacent: readonly boolean[];
}

async function readAtOneRevision(
  kv: EtcdKv,
  keys: EtcdKeys,
  paths: readonly string[],
  deleted: readonly string[],
  sorted: readonly SortedNode[],
): Promise<Snapshot> {
  type Read = { kind: 'node' | 'gap' | 'between'; path: string; range: IRangeRequest };
  const reads: Read[] = [
    ...paths.map(path => ({ kind: 'node' as const, path, range: { key: keys.key(path) } })),
    ...deleted.map(path => ({
      kind: 'gap' as const,
      path,
      range: { ...gapOf(keys, path), count_only: true },
    })),
    ...sorted.slice(1).map((node, i) => ({
      kind: 'between' as const,
      path: node.path,
      range: { key: after(sorted[i]!.key), range_end: node.key, count_only: true },
    })),
  ];
  const kvs = new Map<string, IKeyValue | undefined>();
  const gapEmpty = new Set<string>();
  const adjacent: boolean[] = [];
  let revision: string | undefined;
  for (let i = 0; i < reads.length; i += MAX_ETCD_TXN_OPS) {
    const chunk = reads.slice(i, i + MAX_ETCD_TXN_OPS);
    const res = await kv.txn('transaction read', chunk[0]!.path, null, {
      // The first chunk fixes R (the store's revision when it is read); the others read at R.
      success: chunk.map(r => ({ request_range: { ...r.range, revision } })),
    });
    revision ??= res.header.revision;
    chunk.forEach((r, j) => {
      const range = rangeResponse(res.responses, j);
      if (r.kind === 'node') {
        kvs.set(r.path, range.kvs[0]);
      } else if (r.kind === 'gap') {
        if (Number(range.count) === 0) {
          gapEmpty.add(r.path);
        }
      } else {
        adjacent.push(Number(range.count) === 0);
      }
    });
  }
  return { revision: BigInt(revision ?? '0'), kvs, gapEmpty, adjacent };
}

/** The smallest key after `key`. */
function after(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}

/** Keys strictly between `key` and `key + '/'`: siblings such as `key-x` or `key.x`. */
function gapOf(keys: EtcdKeys, path: string): { key: Buffer; range_end: Buffer } {
  const base = keys.keyString(path);
  return { key: after(keys.key(path)), range_end: Buffer.from(`${base}/`, 'utf8') };
}

function fencedPlan(
  keys: EtcdKeys,
  ops: readonly TxnOp[],
  lease: string | null,
  needs: Needs,
  sorted: readonly SortedNode[],
  snapshot: Snapshot,
): { compare: ICompare[]; success: IRequestOp[] } {
  const modAtRead = (path: string): string => {
    const kv = snapshot.kvs.get(path);
    if (kv === undefined) {
      // The replay passed on this snapshot, so every node that must exist was read and exists.
      throw new SystemError(`etcd transaction: ${path} was not read`, { path });
    }
    return kv.mod_revision;
  };
  const opKeys = ops.map(op => keys.keyString(op.path));
  // One range delete [key, key + '0') also covers the gap, so only when the gap is empty at R and no other
  // op writes into it (etcd refuses a txn that writes one key twice).
  const rangeDeleted = new Set(
    needs.deleted.filter(path => {
      const base = keys.keyString(path);
      return snapshot.gapEmpty.has(path) && !opKeys.some(k => k > base && k < `${base}/`);
    }),
  );
  const compare: ICompare[] = [...rangeDeleted].map(path =>
    modEquals(keys.key(path), modAtRead(path), Buffer.from(`${keys.keyString(path)}/`, 'utf8')),
  );
  const { exact, absentOnly } = segmentCompares(sorted, snapshot.adjacent, rangeDeleted, modAtRead);
  compare.push(...exact);
  const excess = compare.length + absentOnly.length - MAX_ETCD_TXN_OPS;
  compare.push(...mergeAbsentOnly(absentOnly, excess, snapshot.revision));

  const success: IRequestOp[] = [];
  ops.forEach((op, i) => {
    if (isSuperseded(ops, i)) {
      return;
    }
    const key = keys.key(op.path);
    if (op.type === 'create') {
      success.push(put(key, op.value, op.mode === 'EPHEMERAL' && lease !== null ? lease : '0'));
    } else if (op.type === 'setData') {
      success.push(putKeepingLease(key, op.value));
    } else if (op.type === 'delete') {
      success.push(
        ...(rangeDeleted.has(op.path)
          ? [deleteRange(key, Buffer.from(`${keys.keyString(op.path)}0`, 'utf8'))]
          : deleteSubtree(keys, op.path)),
      );
    }
  });
  if (compare.length > MAX_ETCD_TXN_OPS || success.length > MAX_ETCD_TXN_OPS) {
    throw tooLarge(ops, compare.length, success.length);
  }
  return { compare, success };
}

/** A run of neighbouring nodes that must stay absent, with no key between them at R. */
interface AbsentRange {
  readonly first: Buffer;
  readonly last: Buffer;
}

/**
 * Groups the sorted nodes into ranges with no key between neighbours at R and at most one node that must
 * exist; returns the compares of ranges holding such a node, and the absent-only ranges (compared later).
 * A range-deleted node has its own compare and ends a range (its key lies between its neighbours).
 */
function segmentCompares(
  sorted: readonly SortedNode[],
  adjacent: readonly boolean[],
  rangeDeleted: ReadonlySet<string>,
  modAtRead: (path: string) => string,
): { exact: ICompare[]; absentOnly: AbsentRange[] } {
  const exact: ICompare[] = [];
  const absentOnly: AbsentRange[] = [];
  let run: SortedNode[] = [];
  const close = (): void => {
    const first = run[0];
    const last = run[run.length - 1];
    if (first !== undefined && last !== undefined) {
      const owner = run.find(n => n.mustExist);
      if (owner === undefined) {
        absentOnly.push({ first: first.key, last: last.key });
      } else {
        const end = run.length === 1 ? undefined : after(last.key);
        exact.push(modEquals(first.key, modAtRead(owner.path), end));
      }
    }
    run = [];
  };
  sorted.forEach((node, i) => {
    if (rangeDeleted.has(node.path)) {
      close();
      return;
    }
    const joins =
      i > 0 && adjacent[i - 1] === true && !(node.mustExist && run.some(n => n.mustExist));
    if (!joins) {
      close();
    }
    run.push(node);
  });
  close();
  return { exact, absentOnly };
}

/**
 * The compares of the absent-only ranges: `Create([first, last]) == 0` each (exact); when that exceeds the
 * budget by `excess`, runs of neighbouring ranges share one `Mod([first, last]) < R + 1`.
 */
function mergeAbsentOnly(
  ranges: readonly AbsentRange[],
  excess: number,
  revision: bigint,
): ICompare[] {
  const groups = excess > 0 ? Math.max(1, ranges.length - excess) : ranges.length;
  const out: ICompare[] = [];
  let start = 0;
  for (let g = 0; g < groups; g++) {
    const size = Math.floor(ranges.length / groups) + (g < ranges.length % groups ? 1 : 0);
    const run = ranges.slice(start, start + size);
    start += size;
    const first = run[0];
    const last = run[run.length - 1];
    if (first === undefined || last === undefined) {
      continue;
    }
    if (run.length === 1) {
      out.push(
        first.first.equals(first.last)
          ? absent(first.first)
          : {
              key: first.first,
              range_end: after(first.last),
              target: 'Create',
              result: 'Equal',
              create_revision: 0,
            },
      );
    } else {
      out.push({
        key: first.first,
        range_end: after(last.last),
        target: 'Mod',
        result: 'Less',
        mod_revision: (revision + 1n).toString(),
      });
    }
  }
  return out;
}

/** `Mod(key) == modRevision`, over `[key, end)` when `end` is given. */
function modEquals(key: Buffer, modRevision: string, end?: Buffer): ICompare {
  return end === undefined
    ? { key, target: 'Mod', result: 'Equal', mod_revision: modRevision }
    : { key, range_end: end, target: 'Mod', result: 'Equal', mod_revision: modRevision };
}

function tooLarge(ops: readonly TxnOp[], compares: number, writes: number): InvalidArgumentError {
  return new InvalidArgumentError(
    `etcd transaction of ${ops.length} ops needs ${compares} compares and ${writes} writes even with ` +
      `shared ranges; etcd takes at most ${MAX_ETCD_TXN_OPS} of each (--max-txn-ops): split it`,
    { path: ops[0]!.path },
  );
}
