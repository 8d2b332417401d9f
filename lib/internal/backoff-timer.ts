import { Backoff, type BackoffOptions } from './backoff';

/**
 * A retry callback on a {@link Backoff}, for event-driven code that retries from a timer rather than
 * from an async loop (feeds resyncing, watches resuming, a lease being granted again): at most one
 * callback pending, each scheduled after the policy's next delay, the delays starting over on
 * {@link reset}. `cancel()` drops a pending callback and keeps the delay where it was.
 */
export class BackoffTimer {
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    options: BackoffOptions,
    private readonly retry: () => void,
  ) {
    this.backoff = new Backoff(options);
  }

  get isPending(): boolean {
    return this.timer !== undefined;
  }

  /** Calls the retry after the next delay, unless one is pending already (then `false`). */
  schedule(): boolean {
    if (this.timer !== undefined) {
      return false;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retry();
    }, this.backoff.next());
    return true;
  }

  /** Drops a pending retry and schedules one after the next delay. */
  reschedule(): void {
    this.cancel();
    this.schedule();
  }

  /** Drops a pending retry (the delays go on from where they were). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** It worked: the next retry waits the initial delay again. */
  reset(): void {
    this.backoff.reset();
  }
}
