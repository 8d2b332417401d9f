/**
 * At most `limit` tasks of this limiter run at once; the others wait in FIFO order. Only leaf tasks
 * (single requests) should take a slot — a task that waits on another task of the same limiter could
 * deadlock.
 *
 * Why it exists: a fire of hundreds of items, or an operations call over hundreds of jobs, would otherwise
 * put hundreds of requests on one registry connection at once. Requests queue behind each other on the
 * socket, and so does the session's heartbeat / lease keepalive: the client then hears nothing from the
 * server for longer than its self-fencing threshold and aborts its own executions. Bounded, the burst
 * drains at the same throughput while the keepalive gets through.
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`a concurrency limit must be a positive integer, got ${limit}`);
    }
  }

  /** Tasks running now (for tests and metrics). */
  get running(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      await new Promise<void>(resolve => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) {
        this.active--;
      } else {
        next(); // the slot passes to the next waiter: `active` stays
      }
    }
  }
}
