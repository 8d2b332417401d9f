import { TypedEmitter } from '../internal/typed-emitter';
import type { RegistryReader } from '../ops/bounded-reader';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  RegistryEvent,
  TreeCache,
} from '../registry/registry-center';

/** The namespace root: the console mirrors every job under it. */
export const NAMESPACE_ROOT = '/';

/** Changes arriving within this long are pushed to the browsers as one. */
export const COALESCE_MS = 50;

/** One coalesced batch of registry changes, as pushed to the browsers. */
export interface RegistryChange {
  /** Jobs with a changed node (the first path segment), sorted. */
  jobs: string[];
  /** An item finished (its `running` node went away) or its `last` record changed: history may have grown. */
  runs: boolean;
  /** The connection state changed (health view). */
  connection: boolean;
}

/**
 * Consoles sharing one registry client share its one cache of the root: it is evicted when the last of
 * them closes, and never when the application had started it itself.
 */
const cacheUsers = new WeakMap<CoordinatorRegistryCenter, { users: number; ours: boolean }>();

export interface RegistryFollowerEvents {
  change: [RegistryChange];
}

/**
 * Follows the namespace through ONE tree cache of the root (the registry's watches feed it; nothing is
 * polled) and answers the operations API's reads from it, so that every view is computed from memory with
 * the statuses `createOperations` uses. Changes are coalesced for {@link COALESCE_MS} and emitted as one
 * `change` naming the jobs touched.
 *
 * Not guaranteed (the cache's own caveat): intermediate values between two reads can be coalesced, so a
 * run shorter than a watch round trip may never show as RUNNING.
 */
export class RegistryFollower extends TypedEmitter<RegistryFollowerEvents> {
  private cache: TreeCache | undefined;
  private pending: RegistryChange | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  private readonly onEvent = (e: RegistryEvent): void => this.noteEvent(e);
  private readonly onReset = (): void =>
    this.note({ jobs: [], runs: true, connection: false }, true);
  private readonly onState = (_s: ConnectionState): void =>
    this.note({ jobs: [], runs: false, connection: true });

  constructor(private readonly registry: CoordinatorRegistryCenter) {
    super();
  }

  /** Starts the cache of the namespace; resolves after its initial load. */
  async start(): Promise<void> {
    const use = cacheUsers.get(this.registry) ?? {
      users: 0,
      ours: this.registry.getRawCache(NAMESPACE_ROOT) === undefined,
    };
    use.users += 1;
    cacheUsers.set(this.registry, use);
    this.started = true;
    await this.registry.addCacheData(NAMESPACE_ROOT);
    const cache = this.registry.getRawCache(NAMESPACE_ROOT);
    if (cache === undefined) {
      throw new Error('the registry did not keep the console cache of the namespace');
    }
    this.cache = cache;
    cache.on('event', this.onEvent);
    cache.on('reset', this.onReset);
    this.registry.on('connectionStateChanged', this.onState);
  }

  /** The reads of the operations API, answered from the cache (no round trip). */
  get reader(): RegistryReader {
    const cache = this.requireCache();
    return {
      getDirectly: path => Promise.resolve(cache.get(path)),
      getStat: path => {
        const stat = cache.getData(path);
        return Promise.resolve(stat === undefined ? null : { ...stat });
      },
      getChildrenKeys: path => Promise.resolve(cache.children(path)),
      isExisted: path => Promise.resolve(cache.has(path)),
    };
  }

  /** The cache itself (read-only), for values the operations API does not expose. */
  get view(): TreeCache {
    return this.requireCache();
  }

  /** Stops following (idempotent). */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    clearTimeout(this.timer);
    this.registry.off('connectionStateChanged', this.onState);
    if (this.cache !== undefined) {
      this.cache.off('event', this.onEvent);
      this.cache.off('reset', this.onReset);
    }
    const use = cacheUsers.get(this.registry);
    if (this.started && use !== undefined) {
      use.users -= 1;
      if (use.users === 0) {
        cacheUsers.delete(this.registry);
        if (use.ours) {
          void this.registry.evictCacheData(NAMESPACE_ROOT).catch(() => undefined);
        }
      }
    }
  }

  private requireCache(): TreeCache {
    if (this.cache === undefined) {
      throw new Error('the console is not started');
    }
    return this.cache;
  }

  private noteEvent(e: RegistryEvent): void {
    const [job = '', , , node] = e.path.split('/').slice(1);
    const runs =
      (node === 'running' && e.type === 'removed') ||
      (node === 'last' && e.type !== 'removed') ||
      false;
    this.note({ jobs: job === '' ? [] : [job], runs, connection: false });
  }

  private note(change: RegistryChange, everyJob = false): void {
    if (this.closed) {
      return;
    }
    const jobs = everyJob && this.cache !== undefined ? this.cache.children(NAMESPACE_ROOT) : [];
    const pending = this.pending ?? { jobs: [], runs: false, connection: false };
    this.pending = {
      jobs: [...new Set([...pending.jobs, ...change.jobs, ...jobs])].sort(),
      runs: pending.runs || change.runs,
      connection: pending.connection || change.connection,
    };
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), COALESCE_MS);
    }
  }

  private flush(): void {
    this.timer = undefined;
    const change = this.pending;
    this.pending = undefined;
    if (change !== undefined && !this.closed) {
      this.emit('change', change);
    }
  }
}
