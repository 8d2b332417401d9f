import type { InstanceIdHolder } from '../../errors';
import type { NodeStat } from '../../registry/registry-center';
import { parseInstanceInfo, serializeInstanceInfo, type InstanceInfo } from '../job-instance';

/**
 * Who holds an instance id, judged from its `instances/{id}` node (read directly) against this worker's
 * life (`self`: host, pid, startedAt):
 *
 * - `free`: no node.
 * - `ours`: the node holds this very life's value (this worker registered it): kept as it is.
 * - `notAnInstance`: the node is persistent or unreadable — no process holds the id through it.
 * - `earlierLife`: a dead earlier life of this id whose session has not expired yet: the holder names our
 *   host and our pid (a previous worker of this process, or a restarted container whose pid repeats) and
 *   no worker of this process is living that life; or it names our host and a pid that no longer exists
 *   — then `deadPid` is that pid: its whole process is gone, so every node its registry client left (its
 *   latch nodes) is as dead as the instance node. (With our own pid, `deadPid` is undefined: nodes named
 *   `host@pid` may be this process's live ones.)
 * - `live`: certainly another live holder: a worker of this very process (same host, pid, and a startedAt
 *   of a life that has not stopped).
 * - `maybeLive`: another host, or a live pid of our host: alive as far as we can tell. Only the registry
 *   can settle it — a dead holder's node vanishes when its session / lease expires; a live one's stays.
 *
 * `free`, `notAnInstance` and `earlierLife` may be (re)written; `live` is a conflict; `maybeLive` is a
 * conflict once it has outlived the wait the caller allows for a session to expire.
 */
export type HolderVerdict =
  'free' | 'ours' | 'notAnInstance' | 'earlierLife' | 'live' | 'maybeLive';

export type JudgedHolder =
  | { verdict: 'free' | 'ours' | 'notAnInstance' }
  | { verdict: 'earlierLife'; deadPid: number | undefined }
  | { verdict: 'live' | 'maybeLive'; holder: InstanceIdHolder; stat: NodeStat };

/** startedAt of every worker life of this process that has not stopped (unique within the process). */
const livingLives = new Set<number>();
let lastLife = 0;

/**
 * Starts a worker life: returns its `startedAt` (epoch ms, made unique within this process, so that two
 * workers of one process are told apart by their instance nodes). End it with {@link endLife}.
 */
export function beginLife(now = Date.now()): number {
  const startedAt = Math.max(now, lastLife + 1);
  lastLife = startedAt;
  livingLives.add(startedAt);
  return startedAt;
}

/** The worker of this life stopped: a node it left behind is an earlier life from now on. */
export function endLife(startedAt: number): void {
  livingLives.delete(startedAt);
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function judgeHolder(
  stat: NodeStat | null,
  self: InstanceInfo,
  pidAlive: (pid: number) => boolean = isPidAlive,
): JudgedHolder {
  if (stat === null) {
    return { verdict: 'free' };
  }
  if (!stat.ephemeral) {
    return { verdict: 'notAnInstance' };
  }
  if (stat.value === serializeInstanceInfo(self)) {
    return { verdict: 'ours' };
  }
  let info: InstanceInfo;
  try {
    info = parseInstanceInfo('', stat.value);
  } catch {
    return { verdict: 'notAnInstance' };
  }
  const holder: InstanceIdHolder = { host: info.host, pid: info.pid, since: info.startedAt };
  if (info.host === self.host && info.pid === self.pid) {
    return livingLives.has(info.startedAt)
      ? { verdict: 'live', holder, stat }
      : { verdict: 'earlierLife', deadPid: undefined };
  }
  if (info.host === self.host && !pidAlive(info.pid)) {
    return { verdict: 'earlierLife', deadPid: info.pid };
  }
  return { verdict: 'maybeLive', holder, stat };
}
