import { inspect } from 'node:util';

interface Waiter<T> {
  resolve(value: T): void;
}

function describe(values: readonly unknown[]): string {
  return inspect(values, { depth: 4, breakLength: Infinity, maxArrayLength: 50 });
}

/**
 * An ordered queue of observed events, for sequence assertions without sleeps:
 * `await q.take(ms(2000), 'CONNECTED')` resolves with the next event or rejects naming what was awaited and
 * every event seen so far, which is usually the whole diagnosis.
 *
 * Events pushed before anyone waits are buffered; each event is handed to exactly one `take`. Timers are
 * cleared on success, so a queue never keeps the process (and mocha, which runs without `exit`) alive.
 */
export class EventQueue<T> {
  private readonly buffered: T[] = [];
  private readonly all: T[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private readonly cleanups: (() => void)[] = [];

  push(value: T): void {
    this.all.push(value);
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve(value);
    } else {
      this.buffered.push(value);
    }
  }

  /** Drops (and returns) every buffered event not taken yet: assertions that follow see only new ones. */
  drain(): T[] {
    return this.buffered.splice(0);
  }

  /** The next event not yet taken; rejects after `timeoutMs` with `what` and the events seen so far. */
  take(timeoutMs: number, what = 'an event'): Promise<T> {
    if (this.buffered.length > 0) {
      // Checked by length, not by shift() !== undefined: `undefined` can be a legitimate event value.
      return Promise.resolve(this.buffered.shift() as T);
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve: value => {
          clearTimeout(timer);
          resolve(value);
        },
      };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) {
          this.waiters.splice(index, 1);
        }
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; seen so far: ${describe(this.all)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Takes events until one satisfies `predicate`; resolves with every event taken, the matching one last.
   * One deadline covers the whole wait.
   */
  async takeUntil(
    predicate: (value: T) => boolean,
    timeoutMs: number,
    what = 'a matching event',
  ): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    const taken: T[] = [];
    for (;;) {
      const value = await this.take(Math.max(0, deadline - Date.now()), what);
      taken.push(value);
      if (predicate(value)) {
        return taken;
      }
    }
  }

  /** Every event pushed so far, taken or not, in order. */
  get seen(): readonly T[] {
    return this.all;
  }

  /** Events pushed but not yet taken. */
  get pending(): readonly T[] {
    return this.buffered;
  }

  /** Registers cleanup to run on `dispose()` (used by `collect` to remove its listener). */
  onDispose(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  /** Stops collecting (removes the listener when the emitter supports it). Idempotent. */
  dispose(): void {
    for (const cleanup of this.cleanups.splice(0)) {
      cleanup();
    }
  }
}

type Listener<T> = (value: T) => void;

interface Emitter<T> {
  on(event: string, listener: Listener<T>): unknown;
  off?(event: string, listener: Listener<T>): unknown;
}

/** Queues every `event` emitted by `emitter` (first listener argument only). `dispose()` removes the listener. */
export function collect<T>(emitter: Emitter<T>, event: string): EventQueue<T> {
  const queue = new EventQueue<T>();
  const listener: Listener<T> = value => queue.push(value);
  emitter.on(event, listener);
  queue.onDispose(() => emitter.off?.(event, listener));
  return queue;
}

/**
 * Re-checks `predicate` every `intervalMs` until it is true; rejects after `timeoutMs` naming `what`.
 *
 * ONLY for external state that has no event to await: a process having exited, a server accepting
 * connections, a file appearing. Anything our own code emits (connection states, cache events, leadership)
 * must be awaited through an EventQueue or the cache's own waitFor (never by sleep-polling). A predicate that
 * throws or rejects ends the wait with that error (used to fail fast when a server process dies).
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) {
      return;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise<void>(resolve => setTimeout(resolve, Math.min(intervalMs, left)));
  }
}
