import { CorruptedDataError } from '../errors';
import { joinPath } from '../internal/paths';
import { JobPaths, parseJobConfig } from './job-layer';
import type { RegistryReader } from './bounded-reader';
import { NotAJobError } from './ops-errors';

/**
 * The names a job's own nodes may have directly under `/{job}`: the first segment of every path
 * `JobPaths` builds (`config`, `servers`, `instances`, `sharding`, `leader`, `trigger`, `shutdown`, …).
 * Read from `JobPaths` itself, so a node the job layer adds there is known here without a second list.
 */
function jobNodeNames(): ReadonlySet<string> {
  const probe = new JobPaths('probe');
  const names = new Set<string>();
  for (const descriptor of Object.values(Object.getOwnPropertyDescriptors(JobPaths.prototype))) {
    const value: unknown = descriptor.get?.call(probe);
    if (typeof value === 'string' && value.startsWith(`${probe.root}/`)) {
      names.add(value.slice(probe.root.length + 1).split('/')[0] ?? '');
    }
  }
  return names;
}

const JOB_NODE_NAMES = jobNodeNames();

/**
 * Throws {@link NotAJobError} (naming the path) unless `/{job}` is a Shardline job and nothing else, so
 * that deleting its subtree deletes only that job:
 * - its `config` parses as a job configuration whose name is `job` (an unreadable or foreign `config` may
 *   be the root node of a job `config` of a namespace nested inside `job`);
 * - every child is one of a job's own nodes, and none of them holds a `config` node of its own (which is
 *   what a job of a namespace nested inside `job` looks like).
 * The caller has checked that `/{job}/config` exists.
 */
export async function assertRemovableJob(registry: RegistryReader, paths: JobPaths): Promise<void> {
  const job = paths.jobName;
  const raw = await registry.getDirectly(paths.config);
  if (raw !== null) {
    let name: string;
    try {
      name = parseJobConfig(paths.config, raw).name;
    } catch (err) {
      if (!(err instanceof CorruptedDataError)) {
        throw err;
      }
      throw new NotAJobError(
        job,
        paths.config,
        `is not a job configuration (${err.message}), so ${paths.root} may not be a Shardline job`,
      );
    }
    if (name !== job) {
      throw new NotAJobError(
        job,
        paths.config,
        `is the configuration of job ${JSON.stringify(name)}, not of ${JSON.stringify(job)}`,
      );
    }
  }
  const children = await registry.getChildrenKeys(paths.root);
  for (const child of children) {
    const path = joinPath(paths.root, child);
    if (!JOB_NODE_NAMES.has(child)) {
      throw new NotAJobError(
        job,
        path,
        'is no node of a Shardline job (another namespace nested inside the job name?)',
      );
    }
    if (child !== 'config' && (await registry.isExisted(joinPath(path, 'config')))) {
      throw new NotAJobError(
        job,
        path,
        'holds a config node: it is a job of another namespace nested inside the job name',
      );
    }
  }
}
