import { TransactionError } from '../../errors';
import { joinPath } from '../../internal/paths';
import { latchIdentity, latchNodes } from '../../registry/leader-latch';
import type { JobContext } from '../job-context';

/**
 * Removes the latch nodes that a dead process (`pid` on this host) left in this job's latches — leader
 * election and failover — and returns their paths.
 *
 * Why: a SIGKILLed worker restarted under the same instance id replaces its earlier life's instance node
 * at once (instance-holder.ts), but that process's latch nodes are bound to its session too, and they
 * stay until the session expires at the server (the session timeout / lease TTL, plus the server's
 * expiry sweep). Were it the job's leader, nobody would reap its running records, reshard or claim
 * failover items meanwhile: measured on etcd at a 2 s lease, the items behind a killed leader ran again
 * 3.5–4.9 s after the restart instead of about 1 s.
 *
 * Safe: a latch node's value is its client's `host@pid`, and the caller has seen that process gone (its
 * pid no longer exists on this host), so the node can hold nothing any more: the next in the queue becomes
 * the head, and any write of the dead holder still in flight fails its fence (a check on the deleted node).
 * A node of ours (this pid) is never touched — the caller passes only a pid other than ours.
 *
 * Never throws: removal only shortens the wait; should a read or delete fail, the node goes with the dead
 * session as before, and the failure is logged as a warning.
 */
export async function removeDeadProcessLatches(
  ctx: JobContext,
  host: string,
  pid: number,
): Promise<string[]> {
  const { registry, paths, logger } = ctx;
  const identity = latchIdentity(host, pid);
  const removed: string[] = [];
  try {
    for (const dir of [paths.electionLatch, paths.failoverLatch]) {
      for (const name of latchNodes(await registry.getChildrenKeys(dir))) {
        const path = joinPath(dir, name);
        const stat = await registry.getStat(path);
        if (stat === null || !stat.ephemeral || stat.value !== identity) {
          continue;
        }
        try {
          await registry.executeInTransaction(tx => tx.delete(path, stat.version));
          removed.push(path);
        } catch (err) {
          if (!(err instanceof TransactionError)) {
            throw err; // a TransactionError: gone meanwhile (its session expired)
          }
        }
      }
    }
  } catch (err) {
    logger.warn(
      'latch nodes of a dead earlier process not removed: they go when its session expires',
      {
        process: identity,
        error: err,
      },
    );
  }
  if (removed.length > 0) {
    logger.info('latch nodes of a dead earlier process removed', { process: identity, removed });
  }
  return removed;
}
