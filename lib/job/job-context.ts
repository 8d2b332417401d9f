import type { Logger } from '../logger';
import type { CoordinatorRegistryCenter, TreeCache } from '../registry/registry-center';
import type { JobPaths } from './job-paths';

/**
 * The narrow view of one job's runtime that its services get (bullmq's `LockManagerWorkerContext` idea):
 * who we are, where the job's nodes live, the registry and the job's tree cache. Services never reach for
 * the runtime itself.
 */
export interface JobContext {
  readonly jobName: string;
  readonly paths: JobPaths;
  readonly instanceId: string;
  /** The server (host ip) this instance runs on; the key of `servers/{ip}`. */
  readonly ip: string;
  readonly registry: CoordinatorRegistryCenter;
  readonly logger: Logger;
  /** The job's subtree cache; available once the runtime has started it. */
  cache(): TreeCache;
}
