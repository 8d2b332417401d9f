import { ClosedError, CorruptedDataError, InvalidArgumentError } from '../errors';
import { SerialQueue } from '../internal/async';
import { validateNodePath } from '../internal/paths';
import { TypedEmitter } from '../internal/typed-emitter';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
  NodeStat,
  Unsubscribe,
} from '../registry/registry-center';
import { isUsable, reportError } from './recipe-support';

/** Default period of the direct-read resync. */
export const DEFAULT_RESYNC_INTERVAL_MS = 30_000;

export interface ConfigWatcherOptions<T> {
  /** Turns the stored string into a value; throw to reject it. Default `JSON.parse`. */
  parse?: (raw: string) => T;
  /** Period of the resync against a direct read, in ms (default 30 000; 0 disables it). */
  resyncIntervalMs?: number;
}

export interface ConfigChange<T> {
  path: string;
  /** The new value; `undefined` when the node was deleted. */
  value: T | undefined;
  /** The value before the change (`undefined` when there was none). */
  previous: T | undefined;
  /** The node's version (value changes since creation); -1 when absent. */
  version: number;
}

export interface ConfigWatcherEvents<T> {
  /** A newer value was parsed (or the node was deleted). */
  changed: [ConfigChange<T>];
  /** Unparseable data (`CorruptedDataError` naming the path; the last good value is kept) or a failed read. */
  error: [Error];
}

/**
 * Follows one configuration node: a watch triggers a direct versioned read (`getStat`), a periodic resync
 * repeats that read so that a change the watch missed is repaired, and only newer versions are applied
 * (DolphinScheduler's `subscribe` + reload, jetcd's watch with a revision check).
 *
 * ```ts
 * const config = await watchConfig(registry, '/config/billing', { parse: s => Schema.parse(JSON.parse(s)) });
 * config.on('changed', ({ value, previous }) => reconfigure(value, previous));
 * config.on('error', err => log.warn(err.message)); // CorruptedDataError names the path
 * use(config.value);
 * await config.close();
 * ```
 *
 * Failure semantics:
 * - Intermediate values can be skipped (two quick writes may surface as one `changed`), never reordered:
 *   a read that returns a lower version than the one applied is ignored as stale. A lower version seen by
 *   two consecutive reads is a deleted and re-created node and is adopted.
 * - Unparseable data is reported once per version as `CorruptedDataError` and the last good value is kept
 *   (`value` is unchanged, `error` holds the problem until a good version arrives).
 * - While disconnected the last value is kept; the node is re-read on RECONNECTED and on every resync.
 * - The resync timer is unref'd and cleared by `close()` (idempotent; later calls reject with ClosedError).
 */
export class ConfigWatcher<T = unknown> extends TypedEmitter<ConfigWatcherEvents<T>> {
  private current: T | undefined;
  private version = -1;
  private raw: string | null = null;
  private lastError: Error | undefined;
  private lowerSeen: NodeStat | undefined;
  private closed = false;
  private unwatch: Unsubscribe | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly reads = new SerialQueue();
  private readQueued: Promise<void> | undefined;
  private readonly parse: (raw: string) => T;
  private readonly onState = (state: ConnectionState): void => {
    if (state === 'RECONNECTED') {
      this.readInBackground();
    }
  };

  constructor(
    private readonly registry: CoordinatorRegistryCenter,
    readonly path: string,
    private readonly options: ConfigWatcherOptions<T> = {},
  ) {
    super();
    validateNodePath(path);
    const interval = options.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;
    if (!Number.isFinite(interval) || interval < 0) {
      throw new InvalidArgumentError(`resyncIntervalMs must be >= 0, got ${String(interval)}`);
    }
    this.parse = options.parse ?? ((raw: string) => JSON.parse(raw) as T);
  }

  /** The last good value; `undefined` while the node is absent or never parsed. */
  get value(): T | undefined {
    return this.current;
  }

  /** Version of the data last read (-1 when absent). */
  get currentVersion(): number {
    return this.version;
  }

  /** Why the latest stored version was rejected, if it was (cleared by the next good version). */
  get error(): Error | undefined {
    return this.lastError;
  }

  /** Watch, read once, start the resync timer. Resolves once the first read is applied. */
  async start(): Promise<void> {
    this.ensureOpen();
    this.registry.on('connectionStateChanged', this.onState);
    this.unwatch = await this.registry.watch(this.path, event => {
      if (event.path === this.path) {
        this.readInBackground();
      }
    });
    const interval = this.options.resyncIntervalMs ?? DEFAULT_RESYNC_INTERVAL_MS;
    if (interval > 0) {
      this.timer = setInterval(() => {
        if (isUsable(this.registry.connectionState)) {
          this.readInBackground();
        }
      }, interval);
      this.timer.unref();
    }
    await this.resync();
  }

  /** Read the node directly now and apply it if newer (what the periodic resync does). */
  resync(): Promise<void> {
    if (this.closed) {
      return Promise.reject(new ClosedError(`config watcher ${this.path}`));
    }
    // Coalesce: one read waiting behind the running one covers every trigger that came meanwhile.
    this.readQueued ??= this.reads.run(async () => {
      this.readQueued = undefined;
      if (!this.closed) {
        this.apply(await this.registry.getStat(this.path));
      }
    });
    return this.readQueued;
  }

  /** Stop watching and clear the resync timer. Idempotent. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      clearInterval(this.timer);
      this.unwatch?.();
      this.registry.off('connectionStateChanged', this.onState);
    }
    return Promise.resolve();
  }

  private readInBackground(): void {
    if (this.closed) {
      return;
    }
    this.resync().catch((err: unknown) => {
      if (!this.closed) {
        this.report(err);
      }
    });
  }

  private apply(stat: NodeStat | null): void {
    if (stat === null) {
      this.lowerSeen = undefined;
      if (this.version === -1 && this.raw === null) {
        return;
      }
      const previous = this.current;
      this.version = -1;
      this.raw = null;
      this.current = undefined;
      this.lastError = undefined;
      this.emit('changed', { path: this.path, value: undefined, previous, version: -1 });
      return;
    }
    if (stat.version < this.version) {
      const confirmed =
        this.lowerSeen !== undefined &&
        this.lowerSeen.version === stat.version &&
        this.lowerSeen.value === stat.value;
      if (!confirmed) {
        this.lowerSeen = stat; // stale until a later read confirms it
        return;
      }
    }
    this.lowerSeen = undefined;
    if (stat.version === this.version && stat.value === this.raw) {
      return; // nothing new
    }
    this.version = stat.version;
    this.raw = stat.value;
    let parsed: T;
    try {
      parsed = this.parse(stat.value);
    } catch (err) {
      this.lastError = new CorruptedDataError(
        this.path,
        `version ${stat.version} rejected by parse: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
      this.report(this.lastError);
      return;
    }
    const previous = this.current;
    this.current = parsed;
    this.lastError = undefined;
    this.emit('changed', { path: this.path, value: parsed, previous, version: stat.version });
  }

  private report(err: unknown): void {
    reportError(this, e => this.emit('error', e), err);
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new ClosedError(`config watcher ${this.path}`);
    }
  }
}

/**
 * Follow the configuration node `path`; resolves once its current value is loaded (`value` is
 * `undefined` when the node is absent). An unparseable initial value is reported like any other.
 */
export async function watchConfig<T = unknown>(
  registry: CoordinatorRegistryCenter,
  path: string,
  options: ConfigWatcherOptions<T> = {},
): Promise<ConfigWatcher<T>> {
  const watcher = new ConfigWatcher<T>(registry, path, options);
  try {
    await watcher.start();
  } catch (err) {
    await watcher.close();
    throw err;
  }
  return watcher;
}
