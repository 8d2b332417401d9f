/**
 * Where the notifications of persistent recursive watches go, on one client (part of its
 * LeanWatcherManager, watcher-manager.ts).
 *
 * The server sends one notification per change and connection, whatever number of watches matched, so every
 * NodeCreated / NodeDeleted / NodeDataChanged goes to the listeners of the event's path and of each of its
 * ancestors (a persistent recursive watch covers the whole subtree), and then to the one-shot watchers of the
 * path as before. NodeChildrenChanged never comes from a recursive watch.
 *
 * ZooKeeper before 3.9 keeps ONE watch mode per connection and path (ZOOKEEPER-4466): a one-shot watch set
 * later on the very path of a recursive watch (getData/exists/getChildren with a watch) replaces it, and the
 * subtree goes silent. We see every one-shot registration, so listeners of that path are told
 * (`onReplaced`): they re-add their watch and resynchronise.
 */

export interface PersistentWatchListener {
  /** A NodeCreated / NodeDeleted / NodeDataChanged (type) at `path` (server path), in the watched subtree. */
  onEvent(type: number, path: string): void;
  /** A one-shot watch was set on the watched path itself: the recursive watch may be gone at the server. */
  onReplaced(): void;
}

export class PersistentRoutes {
  private readonly routes = new Map<string, Set<PersistentWatchListener>>();
  /** Paths with a removeWatches in flight → one-shot watches set on them meanwhile. */
  private readonly removing = new Map<string, number>();

  get size(): number {
    return this.routes.size;
  }

  add(path: string, listener: PersistentWatchListener): void {
    const set = this.routes.get(path);
    if (set === undefined) {
      this.routes.set(path, new Set([listener]));
    } else {
      set.add(listener);
    }
  }

  /** Returns true when nobody listens to `path` any more. */
  remove(path: string, listener: PersistentWatchListener): boolean {
    const set = this.routes.get(path);
    if (set === undefined) {
      return true;
    }
    set.delete(listener);
    if (set.size === 0) {
      this.routes.delete(path);
      return true;
    }
    return false;
  }

  has(path: string): boolean {
    return this.routes.has(path);
  }

  /** Deliver a notification to the listeners of `path` and of its ancestors. */
  dispatch(type: number, path: string): void {
    if (this.routes.size === 0) {
      return;
    }
    let at = path;
    for (;;) {
      const set = this.routes.get(at);
      if (set !== undefined) {
        for (const listener of set) {
          safely(() => listener.onEvent(type, path));
        }
      }
      if (at === '/' || at === '') {
        return;
      }
      const i = at.lastIndexOf('/');
      at = i <= 0 ? '/' : at.slice(0, i);
    }
  }

  /** A one-shot watch was registered on `path` (its request succeeded). */
  oneShotSet(path: string): void {
    const removing = this.removing.get(path);
    if (removing !== undefined) {
      this.removing.set(path, removing + 1);
    }
    const set = this.routes.get(path);
    if (set !== undefined) {
      for (const listener of [...set]) {
        safely(() => listener.onReplaced());
      }
    }
  }

  /** A removeWatches(ANY) of `path` is being sent. */
  beginRemoval(path: string): void {
    this.removing.set(path, 0);
  }

  /**
   * Its reply came. True when one-shot watches were registered on `path` in between: their requests went out
   * before the removal, which may have removed them at the server too.
   */
  endRemoval(path: string): boolean {
    const count = this.removing.get(path) ?? 0;
    this.removing.delete(path);
    return count > 0;
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A listener's own failure; the others still get the event (we run inside the socket handler).
  }
}
