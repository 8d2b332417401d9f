import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * A short name that is unique per call, across the processes of one run and across runs against a server that
 * outlives them: prefix + pid + counter + 4 random hex digits. Only [a-z0-9-], so it is safe as a ZooKeeper
 * path segment and an etcd key segment. Callers build the root, e.g. `/${uniqueNamespace()}`.
 */
export function uniqueNamespace(prefix = 't'): string {
  counter += 1;
  return `${prefix}${process.pid.toString(36)}-${counter.toString(36)}-${randomBytes(2).toString('hex')}`;
}
