import { ZkEventType } from '../zookeeper-client-types';
import type { ZkEvent, ZkWatcher } from '../zookeeper-client-types';
import { PersistentRoutes } from './persistent-routes';

/**
 * A drop-in for node-zookeeper-client's private WatcherManager, installed on each of our clients.
 *
 * The library keeps one EventEmitter per path and watch type and registers watchers with `once()`: a cache of
 * 10 000 nodes held 20 000 emitters plus wrappers (a large share of the GC work of a cache load), and more than
 * ten distinct functions on one path print MaxListenersExceededWarning. This keeps a Set per path instead,
 * with the library's semantics: one-shot watches, a function registered twice on a path fires once, the same
 * event routing (NodeCreated/NodeDataChanged → data and existence watchers, NodeChildrenChanged → child
 * watchers, NodeDeleted → data and child watchers), and the path lists that SetWatches replays on reconnect.
 * A throwing watcher cannot break the others (we run inside the socket handler); an event type this version
 * does not know is ignored instead of thrown.
 *
 * It also routes the notifications of persistent recursive watches (`persistent`, see
 * persistent-routes.ts) before the one-shot watchers of the path, and tells those routes about every
 * one-shot registration. Persistent watches are not in the SetWatches lists: their owners re-add them after a
 * reconnect.
 */
export class LeanWatcherManager {
  private readonly data = new Map<string, Set<ZkWatcher>>();
  private readonly child = new Map<string, Set<ZkWatcher>>();
  private readonly existence = new Map<string, Set<ZkWatcher>>();
  readonly persistent = new PersistentRoutes();

  registerDataWatcher(path: string, watcher: ZkWatcher): void {
    add(this.data, path, watcher);
    this.persistent.oneShotSet(path);
  }

  registerChildWatcher(path: string, watcher: ZkWatcher): void {
    add(this.child, path, watcher);
    this.persistent.oneShotSet(path);
  }

  registerExistenceWatcher(path: string, watcher: ZkWatcher): void {
    add(this.existence, path, watcher);
    this.persistent.oneShotSet(path);
  }

  /** True while one-shot watchers wait on `path`. */
  hasOneShot(path: string): boolean {
    return this.data.has(path) || this.child.has(path) || this.existence.has(path);
  }

  /**
   * Fire and drop the one-shot watchers of `path` now: the server may have removed their watches. To them it
   * looks like a change (conservative: a re-read, never a missed change).
   */
  invalidateOneShots(path: string): void {
    const fire = (watchers: Set<ZkWatcher> | undefined, type: number, name: string): void => {
      const event = new WatchEvent(type, name, path);
      for (const watcher of watchers ?? []) {
        try {
          watcher(event);
        } catch {
          // a watcher's own failure
        }
      }
    };
    fire(take(this.data, path), ZkEventType.NODE_DATA_CHANGED, 'NODE_DATA_CHANGED');
    fire(take(this.existence, path), ZkEventType.NODE_DATA_CHANGED, 'NODE_DATA_CHANGED');
    fire(take(this.child, path), ZkEventType.NODE_CHILDREN_CHANGED, 'NODE_CHILDREN_CHANGED');
  }

  getDataWatcherPaths(): string[] {
    return [...this.data.keys()];
  }

  getChildWatcherPaths(): string[] {
    return [...this.child.keys()];
  }

  getExistenceWatcherPaths(): string[] {
    return [...this.existence.keys()];
  }

  isEmpty(): boolean {
    return this.data.size === 0 && this.child.size === 0 && this.existence.size === 0;
  }

  emit(watcherEvent: { type: number; path: string }): void {
    const { type, path } = watcherEvent;
    if (
      type === ZkEventType.NODE_CREATED ||
      type === ZkEventType.NODE_DELETED ||
      type === ZkEventType.NODE_DATA_CHANGED
    ) {
      this.persistent.dispatch(type, path);
    }
    const fired: (Set<ZkWatcher> | undefined)[] = [];
    let name: string;
    switch (type) {
      case ZkEventType.NODE_CREATED:
      case ZkEventType.NODE_DATA_CHANGED:
        name = type === ZkEventType.NODE_CREATED ? 'NODE_CREATED' : 'NODE_DATA_CHANGED';
        fired.push(take(this.data, path), take(this.existence, path));
        break;
      case ZkEventType.NODE_CHILDREN_CHANGED:
        name = 'NODE_CHILDREN_CHANGED';
        fired.push(take(this.child, path));
        break;
      case ZkEventType.NODE_DELETED:
        name = 'NODE_DELETED';
        fired.push(take(this.data, path), take(this.child, path));
        break;
      default:
        return;
    }
    const event: ZkEvent = new WatchEvent(type, name, path);
    for (const watchers of fired) {
      for (const watcher of watchers ?? []) {
        try {
          watcher(event);
        } catch {
          // a watcher's own failure; the others still get the event
        }
      }
    }
  }
}

/** Same shape as the library's Event (fields and getters). */
class WatchEvent implements ZkEvent {
  constructor(
    readonly type: number,
    readonly name: string,
    readonly path: string,
  ) {}

  getType(): number {
    return this.type;
  }

  getName(): string {
    return this.name;
  }

  getPath(): string {
    return this.path;
  }

  toString(): string {
    return `${this.name}[${this.type}]@${this.path}`;
  }
}

function add(map: Map<string, Set<ZkWatcher>>, path: string, watcher: ZkWatcher): void {
  const set = map.get(path);
  if (set === undefined) {
    map.set(path, new Set([watcher]));
  } else {
    set.add(watcher);
  }
}

function take(map: Map<string, Set<ZkWatcher>>, path: string): Set<ZkWatcher> | undefined {
  const set = map.get(path);
  map.delete(path);
  return set;
}
