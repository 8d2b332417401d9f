import { NodeExistsError, NoNodeError, NotEmptyError } from '../../errors';
import type { CoordinationError } from '../../errors';
import { ancestorsOf } from '../../internal/paths';
import { ZkCreateMode } from './zookeeper-client-types';
import type { ZkAcl, ZkStat } from './zookeeper-client-types';
import { runMulti } from './zookeeper-multi';
import type { ZkMultiOp } from './zookeeper-multi';
import { mapLimit, READ_CONCURRENCY } from './zookeeper-requests';
import type { ZkRequests } from './zookeeper-requests';
import type { ZooKeeperSession } from './zookeeper-session';

/**
 * Writes that touch more than one node, done by us instead of the library's broken helpers (their defects
 * in node-zookeeper-client@1.1.3 are named below):
 *
 * - mkdirp: parents are created as empty PERSISTENT nodes with our ACL; data and mode go on the leaf only
 *   (the library's mkdirp puts both on every level, so parents of an ephemeral node became ephemeral);
 * - recursive delete: deepest first, NO_NODE ignored (the library's removeRecursive stops at depth 1);
 * - ephemeral replace: delete the old node (and its subtree) and create ours in one multi.
 *
 * One session's requests are applied in order by the server, so the requests of each step are pipelined.
 */

export const EMPTY = Buffer.alloc(0);
const REPLACE_ATTEMPTS = 3;
const REMOVE_ATTEMPTS = 5;

export class ZkTreeWrites {
  constructor(
    private readonly session: ZooKeeperSession,
    private readonly requests: ZkRequests,
    /** Requests on server paths as they are (the namespace root and its ancestors). */
    private readonly rootRequests: ZkRequests,
    private readonly acl: ZkAcl[],
  ) {}

  /** setData when the node exists; `null` when it does not. */
  async setIfExists(path: string, data: Buffer): Promise<ZkStat | null> {
    try {
      return await this.requests.setData(path, data);
    } catch (e) {
      if (e instanceof NoNodeError) {
        return null;
      }
      throw e;
    }
  }

  /** create; on NO_NODE create the missing parents and try once more (never after an ambiguous failure). */
  async createWithParents(path: string, data: Buffer, mode: number): Promise<string> {
    try {
      return await this.requests.create(path, data, this.acl, mode);
    } catch (e) {
      if (!(e instanceof NoNodeError)) {
        throw e;
      }
    }
    await this.createParents(path);
    return this.requests.create(path, data, this.acl, mode);
  }

  /** Every ancestor (the namespace root and its own ancestors included), top-down, pipelined. */
  async createParents(path: string): Promise<void> {
    const ignoreExists = (e: unknown): void => {
      if (!(e instanceof NodeExistsError)) {
        throw e;
      }
    };
    const create = (requests: ZkRequests, p: string): Promise<void> =>
      requests
        .create(p, EMPTY, this.acl, ZkCreateMode.PERSISTENT)
        .then(() => undefined, ignoreExists);
    const prefix = this.requests.paths.prefix;
    await Promise.all([
      ...[...ancestorsOf(prefix), prefix].map(p => create(this.rootRequests, p)),
      ...ancestorsOf(path).map(p => create(this.requests, p)),
    ]);
  }

  /**
   * Delete the node and its subtree, deepest first; absent is fine. `progress` is called after the listing
   * and after each deleted node (one request each), so the caller's deadline can be per step.
   */
  async removeSubtree(path: string, progress: () => void = () => undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const subtree = await this.requests.listSubtree(path, progress);
      if (subtree.length === 0) {
        return;
      }
      try {
        await mapLimit(subtree.reverse(), READ_CONCURRENCY, async p => {
          try {
            await this.requests.remove(p);
          } catch (e) {
            if (!(e instanceof NoNodeError)) {
              throw e;
            }
          }
          progress();
        });
        return;
      } catch (e) {
        if (!(e instanceof NotEmptyError) || attempt >= REMOVE_ATTEMPTS) {
          throw e; // NOT_EMPTY: a child was added meanwhile; list again
        }
      }
    }
  }

  /**
   * Create an ephemeral node; when the node exists, replace it (and anything below it) by a new ephemeral
   * node of this session in one multi, so that readers never see it missing.
   */
  async putEphemeral(path: string, data: Buffer): Promise<void> {
    let lastError: CoordinationError = new NodeExistsError(path);
    for (let attempt = 0; attempt < REPLACE_ATTEMPTS; attempt++) {
      try {
        await this.createWithParents(path, data, ZkCreateMode.EPHEMERAL);
        return;
      } catch (e) {
        if (!(e instanceof NodeExistsError)) {
          throw e;
        }
      }
      const subtree = await this.requests.listSubtree(path);
      const ops: ZkMultiOp[] = subtree.reverse().map(p => ({ kind: 'delete', path: p, source: 0 }));
      ops.push({ kind: 'create', path, data, mode: ZkCreateMode.EPHEMERAL, source: 0 });
      const outcome = await runMulti(this.session, this.requests, this.acl, ops);
      if (outcome.ok) {
        return;
      }
      // NO_NODE / NOT_EMPTY / NODE_EXISTS: the node changed between listing and commit; look again.
      lastError = outcome.cause;
      const race =
        outcome.cause instanceof NoNodeError ||
        outcome.cause instanceof NotEmptyError ||
        outcome.cause instanceof NodeExistsError;
      if (!race) {
        break;
      }
    }
    throw lastError;
  }
}
