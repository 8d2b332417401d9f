import { isRetryable } from '../errors';
import type { ConnectionState, CoordinatorRegistryCenter } from './registry-center';

/** Retry soon while the connection looks fine (a request timeout, not a disconnect). */
const RETRY_CONNECTED_MS = 100;

/**
 * Deletes that must happen while our session lives (latch, lock and candidate nodes): a delete that
 * fails with a retryable error is queued and retried on RECONNECTED (and soon, when still connected),
 * so a stale node of a live session can never block a queue. `remove()` never rejects: a failure that
 * is final while the client is open goes to the caller's `onError`. Queued deletes are dropped when the
 * session is lost (its ephemeral nodes are gone anyway) or the client closes.
 *
 * One instance per registry client ({@link guaranteedDeletesOf}), shared by `executeInLeader` and the
 * recipes, so the retry is wired to the connection once.
 */
export class GuaranteedDeletes {
  private readonly pending = new Map<string, (err: Error) => void>();

  constructor(private readonly registry: CoordinatorRegistryCenter) {
    registry.on('connectionStateChanged', (state: ConnectionState) => {
      if (state === 'RECONNECTED') {
        this.retry();
      } else if (state === 'LOST') {
        this.pending.clear();
      }
    });
  }

  async remove(path: string, onError: (err: Error) => void): Promise<void> {
    try {
      await this.registry.remove(path);
      this.pending.delete(path);
    } catch (err) {
      const state = this.registry.connectionState;
      if (state === 'CLOSED') {
        this.pending.delete(path);
      } else if (isRetryable(err)) {
        this.pending.set(path, onError);
        if (state === 'CONNECTED' || state === 'RECONNECTED') {
          setTimeout(() => this.retry(), RETRY_CONNECTED_MS).unref();
        }
      } else {
        this.pending.delete(path);
        onError(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Retry every queued delete. */
  private retry(): void {
    for (const [path, onError] of [...this.pending]) {
      this.pending.delete(path);
      void this.remove(path, onError);
    }
  }
}

const perRegistry = new WeakMap<CoordinatorRegistryCenter, GuaranteedDeletes>();

/** The guaranteed deletes of one registry client, created on first use. */
export function guaranteedDeletesOf(registry: CoordinatorRegistryCenter): GuaranteedDeletes {
  let deletes = perRegistry.get(registry);
  if (deletes === undefined) {
    deletes = new GuaranteedDeletes(registry);
    perRegistry.set(registry, deletes);
  }
  return deletes;
}
