import { CorruptedDataError, UnknownJobError } from '../errors';
import { boundedReader, type RegistryReader } from './bounded-reader';
import { JobPaths, type JobConfig } from './job-layer';
import {
  corruptedNode,
  liveInstanceIds,
  readConfig,
  readDisabledServers,
  readInstances,
  readOptional,
  requireJob,
} from './job-reader';
import type {
  CorruptedNode,
  ItemInfo,
  ItemStatus,
  JobBrief,
  JobStatus,
  JobStatusInfo,
} from './ops-types';

/**
 * Read-only views of jobs (ElasticJob's statistics APIs), computed from direct reads of the node
 * layout (`config`, `servers/`, `instances/`, `sharding/`, `leader/`) at the moment of the call. The status
 * rules are documented on {@link JobStatus} and {@link ItemStatus}. Every function throws `UnknownJobError` for a job without a `config` node and
 * `CorruptedDataError` (naming the path) for an unreadable configuration; unreadable instance nodes are
 * reported (`corrupted`), and `listJobs` lists a job with an unreadable configuration as `CORRUPTED`.
 * Each call reads through {@link boundedReader}: its reads fan out, but never more than
 * `OPS_READ_CONCURRENCY` at once. They take any {@link RegistryReader}: the registry (direct reads), or a
 * reader over a tree cache (the web console computes its views from its cache with the same rules).
 */

/** Everything a status needs, read once. */
interface JobSnapshot {
  config: JobConfig;
  leader: string | null;
  instances: string[];
  items: ItemInfo[];
  /** Live instances whose server is not DISABLED. */
  enabledInstances: number;
  /** `leader/sharding/necessary` exists. */
  resharding: boolean;
  /** Nodes under `instances/` that are no instance. */
  corrupted: CorruptedNode[];
}

async function readSnapshot(registry: RegistryReader, paths: JobPaths): Promise<JobSnapshot> {
  const config = await readConfig(registry, paths);
  const [ids, disabledServers, leader, resharding] = await Promise.all([
    liveInstanceIds(registry, paths),
    readDisabledServers(registry, paths),
    readOptional(registry, paths.electionInstance),
    registry.isExisted(paths.shardingNecessary),
  ]);
  const { ips, corrupted } = await readInstances(registry, paths, ids);
  const enabled = new Set([...ips].filter(([, ip]) => !disabledServers.has(ip)).map(([id]) => id));
  const items = await Promise.all(
    Array.from({ length: config.shardingTotalCount }, (_v, item) =>
      readItem(registry, paths, item, { enabled, resharding }),
    ),
  );
  return {
    config,
    leader,
    instances: [...ips.keys()],
    items,
    enabledInstances: enabled.size,
    resharding,
    corrupted,
  };
}

async function readItem(
  registry: RegistryReader,
  paths: JobPaths,
  item: number,
  context: { enabled: ReadonlySet<string>; resharding: boolean },
): Promise<ItemInfo> {
  const nodes = new Set(await registry.getChildrenKeys(paths.item(item)));
  const instanceId = nodes.has('instance')
    ? await readOptional(registry, paths.itemInstance(item))
    : null;
  let status: ItemStatus;
  if (nodes.has('disabled')) {
    status = 'DISABLED';
  } else if (nodes.has('running')) {
    status = 'RUNNING';
  } else if (context.resharding || instanceId === null || !context.enabled.has(instanceId)) {
    status = 'SHARDING_FLAG';
  } else {
    status = 'PENDING';
  }
  return { item, instanceId, status, failover: nodes.has('failover') };
}

function jobStatusOf(snapshot: JobSnapshot): JobStatus {
  if (snapshot.config.disabled) {
    return 'DISABLED';
  }
  if (snapshot.instances.length === 0) {
    return 'CRASHED';
  }
  if (snapshot.enabledInstances === 0) {
    return 'DISABLED';
  }
  if (snapshot.resharding || snapshot.items.some(i => i.status === 'SHARDING_FLAG')) {
    return 'SHARDING_FLAG';
  }
  return 'OK';
}

/** Status, leader, live instances and items of one job. */
export async function getJobStatus(registry: RegistryReader, job: string): Promise<JobStatusInfo> {
  const reader = boundedReader(registry);
  const paths = await requireJob(reader, job);
  const snapshot = await readSnapshot(reader, paths);
  const status: JobStatusInfo = {
    job,
    status: jobStatusOf(snapshot),
    leader: snapshot.leader,
    instances: snapshot.instances,
    items: snapshot.items,
  };
  if (snapshot.corrupted.length > 0) {
    status.corrupted = snapshot.corrupted;
  }
  return status;
}

/** The items of one job (`getJobStatus(job).items`). */
export async function getShardingInfo(registry: RegistryReader, job: string): Promise<ItemInfo[]> {
  const reader = boundedReader(registry);
  const paths = await requireJob(reader, job);
  return (await readSnapshot(reader, paths)).items;
}

/**
 * Every job of the namespace (a child of the root with a `config` node), sorted by name. Other nodes
 * under the root (recipes' locks, services, …) are not jobs and are skipped. A job whose configuration
 * cannot be read is listed as `CORRUPTED` with the path and the reason, and the others are listed as
 * usual: one bad node must not hide every job from the operator who has to find it.
 */
export async function listJobs(registry: RegistryReader): Promise<JobBrief[]> {
  const reader = boundedReader(registry);
  const names = await reader.getChildrenKeys('/');
  const jobs = await Promise.all(names.map(name => readBrief(reader, name)));
  return jobs.filter(j => j !== undefined);
}

async function readBrief(reader: RegistryReader, name: string): Promise<JobBrief | undefined> {
  const paths = new JobPaths(name);
  let snapshot: JobSnapshot;
  try {
    snapshot = await readSnapshot(reader, paths);
  } catch (err) {
    if (err instanceof UnknownJobError) {
      return undefined; // not a job, or removed meanwhile
    }
    if (err instanceof CorruptedDataError && err.path === paths.config) {
      const ids = await liveInstanceIds(reader, paths);
      const { ips } = await readInstances(reader, paths, ids);
      return {
        job: name,
        status: 'CORRUPTED',
        cron: null,
        shardingTotalCount: null,
        instances: ips.size,
        ...corruptedNode(err, paths.config),
      };
    }
    throw err;
  }
  return {
    job: name,
    status: jobStatusOf(snapshot),
    cron: snapshot.config.cron,
    shardingTotalCount: snapshot.config.shardingTotalCount,
    instances: snapshot.instances.length,
  };
}
