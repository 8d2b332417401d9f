/**
 * One timer for a whole worker (ElasticJob runs a Quartz scheduler per job; we do not): every job's next
 * cron fire and every periodic check is an entry in one queue ordered by due time, served by a single
 * `setTimeout` armed for the earliest entry. Idle cost is one pending timer, whatever the number of jobs.
 *
 * Failure semantics: a task that throws or rejects is reported to `onError` and never stops the queue.
 * `close()` drops every entry; a task already running finishes on its own.
 */
export interface ScheduledTask {
  /** Cancel this entry (no-op when it already ran or was cancelled). */
  cancel(): void;
}

interface Entry {
  at: number;
  seq: number;
  run: () => void | Promise<void>;
  cancelled: boolean;
}

export interface SchedulerOptions {
  now?: () => number;
  onError?: (err: unknown) => void;
}

/** Longest single wait: Node clamps longer delays to 1 ms, so far-off fires re-arm in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class Scheduler {
  private readonly queue: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private seq = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;

  constructor(options: SchedulerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => undefined);
  }

  /** Number of pending entries (for tests and metrics). */
  get size(): number {
    return this.queue.filter(e => !e.cancelled).length;
  }

  /** Run `run` at epoch ms `at` (at once when `at` has passed). */
  at(at: number, run: () => void | Promise<void>): ScheduledTask {
    const entry: Entry = { at, seq: this.seq++, run, cancelled: false };
    if (!this.closed) {
      this.insert(entry);
      this.arm();
    }
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private insert(entry: Entry): void {
    // Binary search: entries ordered by (at, seq), so equal due times run in scheduling order.
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.queue[mid]!;
      if (m.at < entry.at || (m.at === entry.at && m.seq < entry.seq)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    this.queue.splice(lo, 0, entry);
  }

  private arm(): void {
    while (this.queue.length > 0 && this.queue[0]!.cancelled) {
      this.queue.shift();
    }
    const first = this.queue[0];
    if (first === undefined) {
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.armedFor = Infinity;
      }
      return;
    }
    if (this.timer !== undefined && this.armedFor <= first.at) {
      return;
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
    }
    this.armedFor = first.at;
    const delay = Math.min(Math.max(0, first.at - this.now()), MAX_DELAY_MS);
    this.timer = setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    const due: Entry[] = [];
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      due.push(this.queue.shift()!);
    }
    for (const entry of due) {
      if (!entry.cancelled) {
        entry.cancelled = true;
        this.runSafely(entry.run);
      }
    }
    if (!this.closed) {
      this.arm();
    }
  }

  private runSafely(run: () => void | Promise<void>): void {
    try {
      const result = run();
      if (result instanceof Promise) {
        result.catch(this.onError);
      }
    } catch (err) {
      this.onError(err);
    }
  }
}
