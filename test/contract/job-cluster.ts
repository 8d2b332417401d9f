import { defineJob, type JobDefinition, type SimpleJobOptions } from '../../lib/job/define-job';
import type { ExecutedEvent, WorkerEvents } from '../../lib/job/job-events';
import { JobPaths } from '../../lib/job/job-paths';
import { startWorker, type Worker, type WorkerOptions } from '../../lib/job/worker';
import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';
import type { TreeCache } from '../../lib/registry/registry-center';
import { EventQueue } from '../harness/events';
import type { Clients } from './clients';

/** One worker of a contract test: its own registry client, its worker, and queues of its events. */
export interface Member {
  id: string;
  registry: DrivenRegistryCenter;
  worker: Worker;
  executed: EventQueue<ExecutedEvent>;
  errors: EventQueue<WorkerEvents['error'][0]>;
}

/**
 * Several workers of one job in one process, each on its own registry client (its own session), plus an
 * observer client whose tree cache of the job lets tests await registry states without polling.
 */
export class JobCluster {
  readonly members = new Map<string, Member>();
  readonly paths: JobPaths;
  private observerCache: TreeCache | undefined;
  observer: DrivenRegistryCenter | undefined;

  constructor(
    private readonly clients: Clients,
    readonly jobName: string,
  ) {
    this.paths = new JobPaths(jobName);
  }

  static define(
    options: Partial<SimpleJobOptions> & Pick<SimpleJobOptions, 'name'>,
  ): JobDefinition {
    return defineJob({ execute: () => undefined, ...options });
  }

  async observe(): Promise<TreeCache> {
    if (this.observerCache === undefined) {
      this.observer = await this.clients.connect();
      await this.observer.persist(this.paths.root, '');
      await this.observer.addCacheData(this.paths.root);
      this.observerCache = this.observer.getRawCache(this.paths.root)!;
    }
    return this.observerCache;
  }

  /**
   * Starts a worker on a new client, or on `options.registry` (connected beforehand, so that a start can
   * follow another within microseconds); `options.wrap` may hand it a view of that client (a write hook).
   */
  async start(
    id: string,
    job: JobDefinition,
    options: {
      wrap?: (registry: DrivenRegistryCenter) => DrivenRegistryCenter;
      registry?: DrivenRegistryCenter;
      worker?: Partial<WorkerOptions>;
    } = {},
  ): Promise<Member> {
    const registry = options.registry ?? (await this.clients.connect());
    const wrap = options.wrap ?? ((r: DrivenRegistryCenter) => r);
    const worker = await startWorker({
      ...options.worker,
      registry: wrap(registry),
      jobs: [job],
      instanceId: id,
    });
    const executed = new EventQueue<ExecutedEvent>();
    const errors = new EventQueue<WorkerEvents['error'][0]>();
    worker.on('executed', e => executed.push(e));
    worker.on('error', e => errors.push(e));
    const member = { id, registry, worker, executed, errors };
    this.members.set(id, member);
    return member;
  }

  member(id: string): Member {
    const m = this.members.get(id);
    if (m === undefined) {
      throw new Error(`no member ${id}`);
    }
    return m;
  }

  /** The stored owner of each item 0..count-1 (null when unassigned), from the observer's cache. */
  owners(count: number): (string | null)[] {
    const cache = this.observerCache!;
    return Array.from({ length: count }, (_, item) => cache.get(this.paths.itemInstance(item)));
  }

  /** Resolves when the stored assignment equals `expected` (item → owner) and no resharding is pending. */
  async awaitAssignment(expected: (string | null)[], timeoutMs: number): Promise<void> {
    const cache = await this.observe();
    try {
      await cache.waitFor(
        c =>
          !c.has(this.paths.shardingNecessary) &&
          this.owners(expected.length).every((o, i) => o === expected[i]) &&
          c.children(this.paths.sharding).filter(n => Number(n) >= expected.length).length === 0,
        { timeoutMs },
      );
    } catch (err) {
      throw new Error(
        `assignment ${JSON.stringify(this.owners(expected.length))} never became ${JSON.stringify(expected)}: ${String(err)}`,
      );
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.members.values()].map(m => m.worker.stop({ timeoutMs: 2000 })));
  }
}

/** AVG_ALLOCATION's expected owner per item for sorted `ids`. */
export function averageOwners(ids: string[], count: number): string[] {
  const sorted = [...ids].sort();
  const n = sorted.length;
  const q = Math.floor(count / n);
  const owners: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = i * q; k < (i + 1) * q; k++) {
      owners[k] = sorted[i]!;
    }
  }
  for (let r = 0; r < count % n; r++) {
    owners[n * q + r] = sorted[r]!;
  }
  return owners;
}
