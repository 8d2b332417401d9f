import { CorruptedDataError, UnknownJobError } from '../errors';
import type { RegistryReader } from './bounded-reader';
import { JobPaths, parseInstanceInfo, parseJobConfig, type JobConfig } from './job-layer';
import type { CorruptedNode } from './ops-types';

/**
 * Direct reads shared by the operations (ops is a short-lived client: every read is a round trip,
 * nothing is cached). Each function that takes a job name throws `UnknownJobError` when the job has no
 * `config` node, and `CorruptedDataError` (naming the path) when the configuration is unreadable; unreadable
 * instance nodes are reported, not thrown ({@link readInstances}).
 */

/** The job's paths, after checking that the job exists (its `config` node does). */
export async function requireJob(registry: RegistryReader, job: string): Promise<JobPaths> {
  const paths = new JobPaths(job);
  if (!(await registry.isExisted(paths.config))) {
    throw new UnknownJobError(job);
  }
  return paths;
}

/** The job's stored configuration. */
export async function readConfig(registry: RegistryReader, paths: JobPaths): Promise<JobConfig> {
  const raw = await registry.getDirectly(paths.config);
  if (raw === null) {
    throw new UnknownJobError(paths.jobName);
  }
  return parseJobConfig(paths.config, raw);
}

/** Ids of the job's live instances (its ephemeral `instances/{id}` nodes), sorted ascending. */
export function liveInstanceIds(registry: RegistryReader, paths: JobPaths): Promise<string[]> {
  return registry.getChildrenKeys(paths.instances);
}

/** The readable instances of a job, and the nodes under `instances/` that are no instance. */
export interface InstanceReading {
  /** Instance id → its server IP, in the order of the ids given. */
  ips: Map<string, string>;
  corrupted: CorruptedNode[];
}

/**
 * Reads each instance node of `ids`. An instance that leaves between the listing and the read is left
 * out; a node that is not valid instance JSON, or that is persistent (an instance's node lives and dies
 * with its session, so a persistent one is a leftover or was written by hand), is reported in `corrupted`
 * and is not an instance.
 */
export async function readInstances(
  registry: RegistryReader,
  paths: JobPaths,
  ids: readonly string[],
): Promise<InstanceReading> {
  const reading: InstanceReading = { ips: new Map(), corrupted: [] };
  const stats = await Promise.all(ids.map(id => registry.getStat(paths.instance(id))));
  ids.forEach((id, i) => {
    const stat = stats[i];
    const path = paths.instance(id);
    if (stat === null || stat === undefined) {
      return;
    }
    if (!stat.ephemeral) {
      reading.corrupted.push({
        path,
        reason: 'a persistent node: an instance node is ephemeral (bound to its session)',
      });
      return;
    }
    try {
      reading.ips.set(id, parseInstanceInfo(path, stat.value).ip);
    } catch (err) {
      if (!(err instanceof CorruptedDataError)) {
        throw err;
      }
      reading.corrupted.push(corruptedNode(err, path));
    }
  });
  return reading;
}

/** `{ path, reason }` of a `CorruptedDataError` about `path` (its message without the path prefix). */
export function corruptedNode(err: CorruptedDataError, path: string): CorruptedNode {
  const prefix = `unreadable data at ${path}: `;
  const reason = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return { path, reason };
}

/** IPs whose `servers/{ip}` node says `DISABLED`. */
export async function readDisabledServers(
  registry: RegistryReader,
  paths: JobPaths,
): Promise<Set<string>> {
  const ips = await registry.getChildrenKeys(paths.servers);
  const values = await Promise.all(ips.map(ip => registry.getDirectly(paths.server(ip))));
  return new Set(ips.filter((_ip, i) => values[i] === 'DISABLED'));
}

/** A node's value with '' and absence both meaning "none". */
export async function readOptional(registry: RegistryReader, path: string): Promise<string | null> {
  const value = await registry.getDirectly(path);
  return value === null || value === '' ? null : value;
}
