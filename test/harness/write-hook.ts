import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import type { TransactionBuilder } from '../../lib/registry/txn';

/** One registry write a client made, as the hook sees it (after the server applied it). */
export interface ObservedWrite {
  /** 1-based count of this client's writes so far. */
  index: number;
  method: string;
  /** The path of a single-node write; for a transaction, every op's path. */
  paths: string[];
  /** For a transaction: `create:/a`, `delete:/b`… in order. */
  ops: string[];
}

export type WriteHook = (write: ObservedWrite) => void | Promise<void>;

const WRITES = new Set([
  'persist',
  'update',
  'persistEphemeral',
  'persistSequential',
  'persistEphemeralSequential',
  'remove',
  'executeInTransaction',
]);

/**
 * A view of `registry` that calls `hook` after each write of the job layer has been applied and before
 * the writer goes on: the seam of the interleaving tests, which inject a competing event (a request, a
 * join, a session loss…) at exactly that point of a multi-write protocol. Reads, caches and latches go
 * to the registry untouched (the registry's own internal writes are not hooked).
 */
export function withWriteHook(
  registry: DrivenRegistryCenter,
  hook: WriteHook,
  /** Awaited before each write is sent (a test may hold a writer there, e.g. a leader that hangs). */
  before: (method: string) => void | Promise<void> = () => undefined,
): DrivenRegistryCenter {
  let index = 0;
  return new Proxy(registry, {
    get(target, prop, receiver): unknown {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') {
        return value;
      }
      const method = value as (...args: unknown[]) => unknown;
      if (typeof prop !== 'string' || !WRITES.has(prop)) {
        return method.bind(target);
      }
      return async (...args: unknown[]): Promise<unknown> => {
        const ops: string[] = [];
        let callArgs = args;
        if (prop === 'executeInTransaction') {
          const build = args[0] as (tx: TransactionBuilder) => void;
          callArgs = [(tx: TransactionBuilder) => build(recording(tx, ops))];
        }
        await before(prop);
        const result = await method.apply(target, callArgs);
        index++;
        const paths =
          prop === 'executeInTransaction'
            ? ops.map(op => op.slice(op.indexOf(':') + 1))
            : [String(args[0])];
        await hook({ index, method: prop, paths, ops });
        return result;
      };
    },
  });
}

function recording(tx: TransactionBuilder, ops: string[]): TransactionBuilder {
  const proxy: TransactionBuilder = new Proxy(tx, {
    get(target, prop, receiver): unknown {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') {
        return value;
      }
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]): TransactionBuilder => {
        ops.push(`${prop}:${String(args[0])}`);
        method.apply(target, args);
        return proxy;
      };
    },
  });
  return proxy;
}
