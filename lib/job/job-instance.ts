import { networkInterfaces } from 'node:os';
import { z } from 'zod';
import { ConfigurationError, CorruptedDataError } from '../errors';
import { parseStoredJson } from './stored-json';
import { SAFE_NODE_NAME } from './job-config';

/**
 * Instance identity: the id is `{ip}@-@{pid}` by default and may be set (e.g. a pod name); the
 * value of the ephemeral `instances/{instanceId}` node is {@link InstanceInfo} as JSON.
 */

/** Separator of the default instance id, as in ElasticJob: `10.0.0.5@-@1234`. */
export const INSTANCE_ID_SEPARATOR = '@-@';
const DEFAULT_INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*@-@[0-9]+$/;

/** The first non-internal IPv4 address of this host (interfaces in the order the OS lists them), else 127.0.0.1. */
export function localIp(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) {
        return address.address;
      }
    }
  }
  return '127.0.0.1';
}

/** `${ip}@-@${pid}`: ElasticJob's default instance id. */
export function defaultInstanceId(ip: string = localIp(), pid: number = process.pid): string {
  return `${ip}${INSTANCE_ID_SEPARATOR}${pid}`;
}

/**
 * Returns `id` when it is a safe node name (letters, digits, '.', '_', '-', ≤ 128 characters, starting with a
 * letter or digit) or a default `{ip}@-@{pid}` id; otherwise throws ConfigurationError('instanceId').
 */
export function validateInstanceId(id: unknown): string {
  if (
    typeof id === 'string' &&
    id.length <= 128 &&
    (SAFE_NODE_NAME.test(id) || DEFAULT_INSTANCE_ID.test(id))
  ) {
    return id;
  }
  throw new ConfigurationError(
    `instanceId: must be 1-128 characters of letters, digits, '.', '_' or '-' (or '{ip}@-@{pid}'), got ${JSON.stringify(id)}`,
    'instanceId',
  );
}

/** The server ip part of a default `{ip}@-@{pid}` id, or null for a custom id. */
export function ipOfInstanceId(id: string): string | null {
  const at = id.indexOf(INSTANCE_ID_SEPARATOR);
  return at > 0 && DEFAULT_INSTANCE_ID.test(id) ? id.slice(0, at) : null;
}

/** The value of `instances/{instanceId}`. */
export interface InstanceInfo {
  host: string;
  ip: string;
  pid: number;
  labels: Record<string, string>;
  /** Epoch milliseconds. */
  startedAt: number;
  /** Shardline version of the worker. */
  version: string;
}

// Unknown extra fields are tolerated (a newer worker may add some); the known ones must be well-formed.
const instanceInfoSchema = z.object({
  host: z.string(),
  ip: z.string().min(1),
  pid: z.number().int().nonnegative(),
  labels: z.record(z.string(), z.string()),
  startedAt: z.number().int().nonnegative(),
  version: z.string(),
});

/** JSON with a stable key order. */
export function serializeInstanceInfo(info: InstanceInfo): string {
  const { host, ip, pid, labels, startedAt, version } = info;
  return JSON.stringify({ host, ip, pid, labels, startedAt, version });
}

/** Parses the value of an instance node; CorruptedDataError(path, reason naming the field) when unreadable. */
export function parseInstanceInfo(path: string, raw: string): InstanceInfo {
  const input = parseStoredJson(path, raw);
  const parsed = instanceInfoSchema.safeParse(input);
  if (!parsed.success) {
    const reason = parsed.error.issues
      .map(i => `${i.path.map(String).join('.') || 'value'}: ${i.message}`)
      .join('; ');
    throw new CorruptedDataError(path, reason);
  }
  const { host, ip, pid, labels, startedAt, version } = parsed.data;
  return { host, ip, pid, labels: { ...labels }, startedAt, version };
}
