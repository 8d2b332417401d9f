import { TransactionError } from '../../errors';
import type { CoordinatorRegistryCenter } from '../../registry/registry-center';
import type { TxnCreateMode } from '../../registry/txn';

const ATTEMPTS = 3;

/**
 * Creates `path` (a child of `parent`) with `value` unless it exists, in ONE round trip in the common
 * cases: with `parentLikelyMissing` the parent is created in the same transaction (a fresh job), else
 * the transaction checks it. A wrong guess about the parent costs one more transaction. Resolves `true`
 * when this call created the node, `false` when it existed already; other failures are thrown. `mode` is the
 * node's (the parent is always persistent).
 */
export async function createIfAbsent(
  registry: CoordinatorRegistryCenter,
  parent: string,
  path: string,
  value: string,
  parentLikelyMissing: boolean,
  mode: TxnCreateMode = 'PERSISTENT',
): Promise<boolean> {
  let parentMissing = parentLikelyMissing;
  for (let attempt = 1; ; attempt++) {
    try {
      await registry.executeInTransaction(tx =>
        parentMissing
          ? tx.create(parent, '').create(path, value, mode)
          : tx.check(parent).create(path, value, mode),
      );
      return true;
    } catch (err) {
      if (!(err instanceof TransactionError) || attempt >= ATTEMPTS) {
        throw err;
      }
      if (err.failedIndex === 0) {
        parentMissing = !parentMissing; // the parent exists after all (or is missing after all)
        continue;
      }
      return false; // the parent is right, so the node itself exists
    }
  }
}
