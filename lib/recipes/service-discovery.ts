import { ClosedError, CorruptedDataError, InvalidArgumentError } from '../errors';
import { basename, joinPath, parentOf, validateNodePath, validateSegment } from '../internal/paths';
import { TypedEmitter } from '../internal/typed-emitter';
import type {
  CoordinatorRegistryCenter,
  RegistryEvent,
  TreeCache,
} from '../registry/registry-center';
import { reportError } from './recipe-support';
import { DEFAULT_SERVICES_ROOT, type ServiceInstance } from './service-registration';

export interface ServiceDiscoveryOptions {
  /** How `pick()` chooses: `'round-robin'` (default, in id order) or `'random'`. */
  strategy?: 'round-robin' | 'random';
  /** Parent of the service directories. Default `/services`. */
  root?: string;
}

export interface ServiceDiscoveryEvents {
  /** An instance registered (or came back after its session was renewed). */
  added: [ServiceInstance];
  /** An instance changed its endpoint or metadata: `(now, before)`. */
  updated: [ServiceInstance, ServiceInstance];
  /** An instance deregistered or its session ended; carries its last known data. */
  removed: [ServiceInstance];
  /** An unreadable registration (named by its path) or a cache failure. */
  error: [Error];
}

/**
 * A live list of the instances of one service, mirrored by a tree cache of `root/<name>` (Curator's
 * ServiceCache, DolphinScheduler's `subscribe`).
 *
 * ```ts
 * const billing = await discoverServices(registry, 'billing');
 * billing.on('removed', i => console.log('gone:', i.id));
 * const target = billing.pick(); // round robin; undefined when none is registered
 * await billing.close();
 * ```
 *
 * Failure semantics: the list is eventually consistent (see TreeCache): after a disconnect it is
 * resynchronised and exactly the missed differences are emitted; intermediate values can be coalesced.
 * While the connection is down the list shows what was last known (an instance whose session expired
 * meanwhile is removed once the cache resyncs). An unreadable node is reported as `CorruptedDataError`
 * naming its path and left out of the list. The tree cache of `root/<name>` is started on this client if
 * it was not running yet, and stopped by `close()` in that case only.
 */
export class ServiceDiscovery extends TypedEmitter<ServiceDiscoveryEvents> {
  readonly dir: string;
  private readonly byId = new Map<string, ServiceInstance>();
  private cache: TreeCache | undefined;
  private ownsCache = false;
  private next = 0;
  private closed = false;
  private readonly onEvent = (event: RegistryEvent): void => this.apply(event);
  private readonly onCacheError = (err: Error): void => this.report(err);

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    readonly name: string,
    private readonly options: ServiceDiscoveryOptions = {},
  ) {
    super();
    validateSegment(name, 'service name');
    const strategy = options.strategy ?? 'round-robin';
    if (strategy !== 'round-robin' && strategy !== 'random') {
      throw new InvalidArgumentError(
        `strategy must be 'round-robin' or 'random', got ${String(strategy)}`,
      );
    }
    this.dir = joinPath(validateNodePath(options.root ?? DEFAULT_SERVICES_ROOT), name);
  }

  /** Start the cache; resolves after the initial load (which emits no `added` events). */
  async start(): Promise<void> {
    this.ensureOpen();
    this.ownsCache = this.registry.getRawCache(this.dir) === undefined;
    await this.registry.addCacheData(this.dir);
    const cache = this.registry.getRawCache(this.dir);
    if (cache === undefined) {
      throw new ClosedError(`tree cache ${this.dir}`);
    }
    this.cache = cache;
    cache.on('event', this.onEvent);
    cache.on('error', this.onCacheError);
    for (const id of cache.children(this.dir)) {
      const path = joinPath(this.dir, id);
      const instance = this.parse(path, cache.get(path));
      if (instance !== undefined) {
        this.byId.set(id, instance);
      }
    }
  }

  /** The instances known now, sorted by id. */
  list(): ServiceInstance[] {
    this.ensureOpen();
    return [...this.byId.keys()].sort().map(id => this.byId.get(id) as ServiceInstance);
  }

  /** One instance chosen by the strategy; `undefined` when none is registered. */
  pick(): ServiceInstance | undefined {
    const instances = this.list();
    if (instances.length === 0) {
      return undefined;
    }
    if (this.options.strategy === 'random') {
      return instances[Math.floor(Math.random() * instances.length)];
    }
    const chosen = instances[this.next % instances.length];
    this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER;
    return chosen;
  }

  /** Stop following (and stop the cache if this object started it). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    this.cache?.off('event', this.onEvent);
    this.cache?.off('error', this.onCacheError);
    this.byId.clear();
    if (this.ownsCache && this.registry.connectionState !== 'CLOSED') {
      await this.registry.evictCacheData(this.dir);
    }
  }

  private apply(event: RegistryEvent): void {
    if (parentOf(event.path) !== this.dir) {
      return; // the directory itself or something deeper
    }
    const id = basename(event.path);
    const before = this.byId.get(id);
    if (event.type === 'removed') {
      if (before !== undefined) {
        this.byId.delete(id);
        this.emit('removed', before);
      }
      return;
    }
    const now = this.parse(event.path, event.value);
    if (now === undefined) {
      if (before !== undefined) {
        this.byId.delete(id); // unreadable now: no longer a usable instance
        this.emit('removed', before);
      }
      return;
    }
    this.byId.set(id, now);
    if (before === undefined) {
      this.emit('added', now);
    } else {
      this.emit('updated', now, before);
    }
  }

  private parse(path: string, raw: string | null): ServiceInstance | undefined {
    if (raw === null) {
      return undefined;
    }
    try {
      const v = JSON.parse(raw) as Partial<ServiceInstance>;
      if (typeof v.id === 'string' && typeof v.endpoint === 'string') {
        return {
          id: v.id,
          name: typeof v.name === 'string' ? v.name : this.name,
          endpoint: v.endpoint,
          metadata: typeof v.metadata === 'object' && v.metadata !== null ? v.metadata : {},
          registeredAt: typeof v.registeredAt === 'number' ? v.registeredAt : 0,
        };
      }
      this.report(new CorruptedDataError(path, 'expected {"id": string, "endpoint": string, ...}'));
    } catch (err) {
      this.report(new CorruptedDataError(path, 'not JSON', { cause: err }));
    }
    return undefined;
  }

  private report(err: unknown): void {
    reportError(this, e => this.emit('error', e), err);
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new ClosedError(`service discovery ${this.dir}`);
    }
  }
}

/** Follow the instances of service `name`; resolves after the initial load. */
export async function discoverServices(
  registry: CoordinatorRegistryCenter,
  name: string,
  options: ServiceDiscoveryOptions = {},
): Promise<ServiceDiscovery> {
  const discovery = new ServiceDiscovery(registry, name, options);
  await discovery.start();
  return discovery;
}
