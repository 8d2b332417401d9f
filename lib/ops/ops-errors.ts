import { CoordinationError } from '../errors';

/**
 * `remove(job)` refused: instances of the job are still alive. Stop them first (`shutdown(job)`, then
 * wait for them to leave) or pass `{ force: true }`. `path` is the job's `instances` node, which is not
 * empty (hence the `NOT_EMPTY` code); `instances` lists the live ids.
 */
export class JobInUseError extends CoordinationError {
  readonly jobName: string;
  readonly instances: readonly string[];

  constructor(jobName: string, path: string, instances: readonly string[]) {
    super(
      'NOT_EMPTY',
      `job ${jobName} still has ${instances.length} live instance(s): ${instances.join(', ')}; ` +
        'shut it down first (shutdown, then wait for the instances to leave) or remove with force',
      { path },
    );
    this.jobName = jobName;
    this.instances = [...instances];
  }
}
