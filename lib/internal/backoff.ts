import { delay } from './async';

export interface BackoffOptions {
  /** Ceiling of the first delay (ms); each failure doubles it. */
  initialMs: number;
  /** Largest ceiling (ms): the doubling stops here. */
  maxMs: number;
  /** Uniform draw in [0, 1) (default `Math.random`); tests pass a fixed one. */
  random?: () => number;
}

/**
 * The one retry delay policy of the library: capped exponential backoff with **equal jitter**. The n-th
 * delay (counting from 0 since the last {@link reset}) is drawn uniformly from `[c/2, c]` with
 * `c = min(maxMs, initialMs · 2ⁿ)`, rounded to whole milliseconds.
 *
 * Why equal jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") rather than full jitter
 * (`[0, c]`) or decorrelated jitter (`min(cap, U(min, 3 · previous))`, or cockatiel's Polly-style
 * variant):
 * - no wait is longer than the plain doubling schedule it replaces, so deadlines built on these delays
 *   (a connect timeout, a session-bounded release) hold as before;
 * - no wait is shorter than half of it, so a loop against a down server never spins (full jitter and
 *   Polly's formula can draw ~0);
 * - the spread stays at the cap too (decorrelated jitter returns exactly the cap two times in three
 *   once there), which is where many workers retrying a recovering registry would otherwise line up;
 * - the state is one number, so `reset()` is exact and the bounds are easy to test.
 *
 * A plain object with `next()` / `reset()` because the loops that use it are not "call f until it
 * succeeds": they re-check a session, a signal or a wake-up between tries, and reset on success.
 */
export class Backoff {
  private ceiling: number;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    const { initialMs, maxMs } = options;
    if (!(initialMs >= 0) || !(maxMs >= initialMs)) {
      throw new RangeError(`backoff needs 0 ≤ initialMs ≤ maxMs, got ${initialMs} and ${maxMs}`);
    }
    this.ceiling = initialMs;
    this.random = options.random ?? Math.random;
  }

  /** The upper bound of the next delay: `min(maxMs, initialMs · 2ⁿ)`. */
  get ceilingMs(): number {
    return this.ceiling;
  }

  /** The next delay (ms), in `[ceilingMs / 2, ceilingMs]`; the ceiling then doubles, up to `maxMs`. */
  next(): number {
    const ceiling = this.ceiling;
    this.ceiling = Math.min(this.options.maxMs, ceiling * 2);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** A try succeeded: the next delay is drawn from the initial ceiling again. */
  reset(): void {
    this.ceiling = this.options.initialMs;
  }

  /** Waits {@link next}; rejects with the signal's reason when it aborts first. */
  sleep(signal?: AbortSignal): Promise<void> {
    return delay(this.next(), signal);
  }
}
