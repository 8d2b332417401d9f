import { UnknownJobError } from '../errors';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import { JobPaths, parseInstanceInfo, parseJobConfig, type JobConfig } from './job-layer';

/**
 * Direct reads shared by the operations (ops is a short-lived client: every read is a round trip,
 * nothing is cached). Each function that takes a job name throws `UnknownJobError` when the job has no
 * `config` node, and `CorruptedDataError` (naming the path) when a node it parses is unreadable.
 */

/** The job's paths, after checking that the job exists (its `config` node does). */
export async function requireJob(
  registry: CoordinatorRegistryCenter,
  job: string,
): Promise<JobPaths> {
  const paths = new JobPaths(job);
  if (!(await registry.isExisted(paths.config))) {
    throw new UnknownJobError(job);
  }
  return paths;
}

/** The job's stored configuration. */
export async function readConfig(
  registry: CoordinatorRegistryCenter,
  paths: JobPaths,
): Promise<JobConfig> {
  const raw = await registry.getDirectly(paths.config);
  if (raw === null) {
    throw new UnknownJobError(paths.jobName);
  }
  return parseJobConfig(paths.config, raw);
}

/** Ids of the job's live instances (its ephemeral `instances/{id}` nodes), sorted ascending. */
export function liveInstanceIds(
  registry: CoordinatorRegistryCenter,
  paths: JobPaths,
): Promise<string[]> {
  return registry.getChildrenKeys(paths.instances);
}

/**
 * Live instance id → its server IP, read from each instance's JSON. An instance that leaves between
 * the listing and the read is left out.
 */
export async function readInstanceIps(
  registry: CoordinatorRegistryCenter,
  paths: JobPaths,
  ids: readonly string[],
): Promise<Map<string, string>> {
  const entries = await Promise.all(
    ids.map(async id => {
      const path = paths.instance(id);
      const raw = await registry.getDirectly(path);
      return raw === null ? undefined : ([id, parseInstanceInfo(path, raw).ip] as const);
    }),
  );
  return new Map(entries.filter(e => e !== undefined));
}

/** IPs whose `servers/{ip}` node says `DISABLED`. */
export async function readDisabledServers(
  registry: CoordinatorRegistryCenter,
  paths: JobPaths,
): Promise<Set<string>> {
  const ips = await registry.getChildrenKeys(paths.servers);
  const values = await Promise.all(ips.map(ip => registry.getDirectly(paths.server(ip))));
  return new Set(ips.filter((_ip, i) => values[i] === 'DISABLED'));
}

/** A node's value with '' and absence both meaning "none". */
export async function readOptional(
  registry: CoordinatorRegistryCenter,
  path: string,
): Promise<string | null> {
  const value = await registry.getDirectly(path);
  return value === null || value === '' ? null : value;
}
