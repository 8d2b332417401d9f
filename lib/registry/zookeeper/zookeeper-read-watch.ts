import type { NodeData } from '../driver';
import type { ZkWatcher } from './zookeeper-client-types';
import { toNodeData } from './zookeeper-requests';
import type { DataReply, ZkRequests } from './zookeeper-requests';
import type { ZooKeeperSession } from './zookeeper-session';
import { InvalidationCallbacks } from '../../internal/invalidation-callbacks';

/**
 * Registered callbacks beyond which everything is invalidated at once (as on etcd). A callback stays
 * registered until its node changes, also after the read cache evicted its entry, so without a cap reads of
 * nodes that never change would grow this without bound. Over-invalidation is harmless: a cache miss.
 */
export const MAX_READ_WATCH_CALLBACKS = 100_000;

/**
 * `readWatched` for the facade's read cache: getData with a one-shot data watch, and an `onInvalidate`
 * callback called at most once when the node may have changed after the read (watch event), or when the
 * driver can no longer tell (SUSPENDED, LOST, a new client).
 *
 * One watcher function per path and client generation (the library keeps one EventEmitter per path and warns
 * past 10 listeners); callbacks of all reads of a path hang off that one function. A callback is attached
 * only after its read's reply; when a watch event or a state change slipped in between reply and
 * continuation, the callback is called at once instead (conservative: a cache miss, never a stale entry).
 */
export class ReadWatches {
  private generation = -1;
  private readonly watchers = new Map<string, ZkWatcher>();
  /** Bounded by `maxCallbacks`. */
  private readonly callbacks: InvalidationCallbacks;
  /** Reads in flight per path, and watch events seen for the path meanwhile (only while reads are in flight). */
  private readonly reading = new Map<string, number>();
  private readonly fired = new Map<string, number>();
  private epoch = 0;

  constructor(
    private readonly session: Pick<ZooKeeperSession, 'generation' | 'connected' | 'onState'>,
    private readonly requests: Pick<ZkRequests, 'getData'>,
    maxCallbacks = MAX_READ_WATCH_CALLBACKS,
  ) {
    this.callbacks = new InvalidationCallbacks(maxCallbacks);
    session.onState(state => {
      if (state !== 'CONNECTED') {
        this.invalidateAll();
      }
    });
  }

  async read(path: string, onInvalidate: () => void): Promise<NodeData | null> {
    this.syncGeneration();
    const generation = this.generation;
    const epoch = this.epoch;
    const firedBefore = this.fired.get(path) ?? 0;
    this.reading.set(path, (this.reading.get(path) ?? 0) + 1);
    let reply: DataReply | null;
    let firedDuring: boolean;
    try {
      reply = await this.requests.getData(path, this.watcherFor(path));
    } finally {
      firedDuring = (this.fired.get(path) ?? 0) !== firedBefore;
      const left = (this.reading.get(path) ?? 1) - 1;
      if (left === 0) {
        this.reading.delete(path);
        this.fired.delete(path);
      } else {
        this.reading.set(path, left);
      }
    }
    if (reply === null) {
      return null;
    }
    const stale =
      generation !== this.session.generation ||
      epoch !== this.epoch ||
      firedDuring ||
      !this.session.connected;
    if (stale) {
      queueMicrotask(() => safeCall(onInvalidate));
    } else {
      if (this.callbacks.isFull) {
        // The watch this read just set stays in place, so registering after the flush misses nothing.
        this.invalidateAll();
      }
      this.callbacks.add(path, onInvalidate);
    }
    return toNodeData(reply);
  }

  /** Callbacks registered and not yet called (bounded by the cap given to the constructor). */
  get pendingCallbacks(): number {
    return this.callbacks.size;
  }

  /** Call and drop every pending callback (disconnect, session loss, close, or the cap reached). */
  invalidateAll(): void {
    this.epoch += 1;
    this.callbacks.fireAll();
  }

  private syncGeneration(): void {
    if (this.generation !== this.session.generation) {
      this.invalidateAll();
      this.watchers.clear();
      this.generation = this.session.generation;
    }
  }

  private watcherFor(path: string): ZkWatcher {
    let watcher = this.watchers.get(path);
    if (watcher === undefined) {
      const generation = this.generation;
      watcher = () => {
        if (generation !== this.generation) {
          return;
        }
        this.watchers.delete(path);
        if (this.reading.has(path)) {
          this.fired.set(path, (this.fired.get(path) ?? 0) + 1);
        }
        this.callbacks.fire(path);
      };
      this.watchers.set(path, watcher);
    }
    return watcher;
  }
}

function safeCall(cb: () => void): void {
  try {
    cb();
  } catch {
    // A failing invalidation callback must not break the others (or the socket handler we run in).
  }
}
