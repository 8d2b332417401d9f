import { isRetryable } from '../errors';

/**
 * Deletes that must happen while our session lives (latch nodes): a delete that fails with a retryable
 * error is queued and retried on reconnection (and soon, when still connected), so a stale latch node of
 * a live session can never block the latch. `remove()` never rejects. Cleared when the session is lost
 * (its ephemeral nodes are gone anyway) or the client closes.
 */
export class GuaranteedDeletes {
  private readonly pending = new Set<string>();

  constructor(
    private readonly deleteNode: (path: string) => Promise<void>,
    private readonly isClosed: () => boolean,
    private readonly isConnected: () => boolean,
  ) {}

  async remove(path: string): Promise<void> {
    try {
      await this.deleteNode(path);
      this.pending.delete(path);
    } catch (err) {
      if (!this.isClosed() && isRetryable(err)) {
        this.pending.add(path);
        if (this.isConnected()) {
          setTimeout(() => this.retry(), 100).unref();
        }
      }
    }
  }

  /** Retry every queued delete (on RECONNECTED). */
  retry(): void {
    for (const path of [...this.pending]) {
      this.pending.delete(path);
      void this.remove(path);
    }
  }

  clear(): void {
    this.pending.clear();
  }
}
