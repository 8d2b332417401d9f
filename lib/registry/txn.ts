import { validateNodePath } from '../internal/paths';
import { InvalidArgumentError } from '../errors';

/**
 * Transaction operations (pure). A transaction applies all of its ops or none.
 *
 * - `check(path, version?)`: the node exists (and is at `version` when given).
 * - `create(path, value, mode)`: the node does not exist yet; its parent must exist or be created by an
 *   earlier op of the same transaction. Sequential modes are not allowed inside a transaction.
 * - `setData(path, value, version?)`: the node exists (at `version` when given) and gets `value`. An
 *   ephemeral node stays ephemeral.
 * - `delete(path, version?)`: the node exists (at `version` when given) and is deleted with everything
 *   below it.
 *
 * Versions count the node's value changes from 0 at creation (ZooKeeper's dataVersion).
 * Limits that hold on every backend: at most {@link MAX_TXN_OPS} ops; at most one write per path, and
 * checks of a path only before its write.
 */

export type TxnCreateMode = 'PERSISTENT' | 'EPHEMERAL';

export type TxnOp =
  | { readonly type: 'check'; readonly path: string; readonly version?: number }
  | {
      readonly type: 'create';
      readonly path: string;
      readonly value: string;
      readonly mode: TxnCreateMode;
    }
  | {
      readonly type: 'setData';
      readonly path: string;
      readonly value: string;
      readonly version?: number;
    }
  | { readonly type: 'delete'; readonly path: string; readonly version?: number };

/** etcd rejects more than 128 operations per transaction (`--max-txn-ops`); we hold every backend to it. */
export const MAX_TXN_OPS = 128;

/** The builder handed to `executeInTransaction(build)`. */
export interface TransactionBuilder {
  check(path: string, version?: number): this;
  create(path: string, value: string, mode?: TxnCreateMode): this;
  setData(path: string, value: string, version?: number): this;
  delete(path: string, version?: number): this;
}

export function describeOp(op: TxnOp): string {
  const version = 'version' in op && op.version !== undefined ? ` @v${op.version}` : '';
  return `${op.type} ${op.path}${version}`;
}

function checkVersion(version: number | undefined): number | undefined {
  if (version !== undefined && (!Number.isInteger(version) || version < 0)) {
    throw new InvalidArgumentError(
      `a node version must be a non-negative integer, got ${String(version)}`,
    );
  }
  return version;
}

/** Collects ops, validating paths and versions as they are added. */
export class TxnCollector implements TransactionBuilder {
  readonly ops: TxnOp[] = [];

  check(path: string, version?: number): this {
    return this.add({
      type: 'check',
      path: validateNodePath(path),
      version: checkVersion(version),
    });
  }

  create(path: string, value: string, mode: TxnCreateMode = 'PERSISTENT'): this {
    if (mode !== 'PERSISTENT' && mode !== 'EPHEMERAL') {
      throw new InvalidArgumentError(
        `transaction create supports PERSISTENT or EPHEMERAL, got ${String(mode)}`,
      );
    }
    return this.add({
      type: 'create',
      path: validateNodePath(path),
      value: checkValue(value),
      mode,
    });
  }

  setData(path: string, value: string, version?: number): this {
    return this.add({
      type: 'setData',
      path: validateNodePath(path),
      value: checkValue(value),
      version: checkVersion(version),
    });
  }

  delete(path: string, version?: number): this {
    return this.add({
      type: 'delete',
      path: validateNodePath(path),
      version: checkVersion(version),
    });
  }

  private add(op: TxnOp): this {
    if (this.ops.length >= MAX_TXN_OPS) {
      throw new InvalidArgumentError(`a transaction holds at most ${MAX_TXN_OPS} ops`);
    }
    // etcd evaluates every compare before any write and rejects two writes to one key: allow one write
    // per path, optionally preceded by checks of it, so that every backend accepts the same transactions.
    if (this.ops.some(o => o.path === op.path && o.type !== 'check')) {
      throw new InvalidArgumentError(
        `a transaction may write ${op.path} once, and may check it only before writing it`,
        { path: op.path },
      );
    }
    this.ops.push(op);
    return this;
  }
}

/** Values are strings (Shardline stores JSON); anything else is a caller bug caught before any I/O. */
export function checkValue(value: unknown): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`a node value must be a string, got ${typeof value}`);
  }
  return value;
}
