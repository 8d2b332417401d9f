/**
 * At most `limit` tasks of this limiter run at once; the others wait in FIFO order. Only leaf tasks
 * (single requests) should take a slot — a task that waits on another task of the same limiter could
 * deadlock.
 *
 * Used by the operations API's reads (`ops/bounded-reader.ts`): a call over hundreds of jobs would
 * otherwise put thousands of requests on one registry connection at once, a burst the server and its other
 * clients feel. Not used on the job's claim path: a request that hangs until its timeout would hold a slot
 * and stall every other item's claim behind it.
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
