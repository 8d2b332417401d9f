import { JobError } from '../errors';

/**
 * `remove(job)` refused: instances of the job are still alive. Stop them first (`shutdown(job)`, then
 * wait for them to leave) or pass `{ force: true }`. `path` is the job's `instances` node; `instances`
 * lists the live ids. Code `JOB_IN_USE`.
 */
export class JobInUseError extends JobError {
  readonly jobName: string;
  readonly instances: readonly string[];

  constructor(jobName: string, path: string, instances: readonly string[]) {
    super(
      'JOB_IN_USE',
      `job ${jobName} still has ${instances.length} live instance(s): ${instances.join(', ')}; ` +
        'shut it down first (shutdown, then wait for the instances to leave) or remove with force',
      { path },
    );
    this.jobName = jobName;
    this.instances = [...instances];
  }
}

/**
 * `remove(job)` refused: the node `/{job}` is not (only) a Shardline job, so deleting its subtree could
 * wipe something else — its `config` does not parse as this job's configuration, or it holds a node that
 * is no part of a job, such as another namespace nested inside the job's name (namespace `team/sync`
 * lives under job `sync` of namespace `team`). `path` is the offending node; nothing was deleted.
 * Code `NOT_A_JOB` (an `UnknownJobError` is a job name with nothing at all under it).
 */
export class NotAJobError extends JobError {
  readonly jobName: string;

  constructor(jobName: string, path: string, reason: string) {
    super(
      'NOT_A_JOB',
      `refusing to remove ${jobName}: ${path} ${reason}; nothing was deleted (check the node with the ` +
        "registry's own tools and delete it there if it really is garbage)",
      { path },
    );
    this.jobName = jobName;
  }
}
