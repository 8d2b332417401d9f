/**
 * Callbacks per path, each called once when that path's cached read may be stale (the read cache's
 * invalidation hooks, on both network backends). A callback stays registered until its path changes,
 * also after the read cache evicted the entry it was for, so the total is capped: an owner checks
 * {@link isFull} before adding and flushes everything then (over-invalidation is harmless). A throwing
 * callback never stops the others (nor the socket or watch handler the calls run in).
 */
export class InvalidationCallbacks {
  private readonly byPath = new Map<string, Set<() => void>>();
  private count = 0;

  constructor(private readonly max: number) {}

  /** Callbacks registered and not yet called. */
  get size(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.max;
  }

  /** Registers `cb` for `path` (once, however often it is added). */
  add(path: string, cb: () => void): void {
    let set = this.byPath.get(path);
    if (set === undefined) {
      set = new Set();
      this.byPath.set(path, set);
    }
    if (!set.has(cb)) {
      set.add(cb);
      this.count++;
    }
  }

  /** Drops `cb` of `path` without calling it. */
  delete(path: string, cb: () => void): void {
    const set = this.byPath.get(path);
    if (set?.delete(cb) === true) {
      this.count--;
    }
    if (set?.size === 0) {
      this.byPath.delete(path);
    }
  }

  /** Calls and drops the callbacks of `path`. */
  fire(path: string): void {
    const set = this.byPath.get(path);
    if (set !== undefined) {
      this.byPath.delete(path);
      this.count -= set.size;
      callAll(set);
    }
  }

  /** Calls and drops every callback. */
  fireAll(): void {
    const all = [...this.byPath.values()];
    this.byPath.clear();
    this.count = 0;
    for (const set of all) {
      callAll(set);
    }
  }
}

function callAll(set: ReadonlySet<() => void>): void {
  for (const cb of set) {
    try {
      cb();
    } catch {
      // A failing invalidation callback must not break the others.
    }
  }
}
