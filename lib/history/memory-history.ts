import { ConfigurationError } from '../errors';
import type {
  ExecutionHistoryReader,
  ExecutionHistorySink,
  ExecutionRecord,
  HistoryFilter,
} from './execution-record';

export interface MemoryHistoryOptions {
  /** How many records the ring keeps (the newest; default 1,000). */
  capacity?: number;
}

const DEFAULT_CAPACITY = 1000;
/** What `query` returns at most when the filter sets no limit. */
const DEFAULT_LIMIT = 100;

/**
 * The in-memory ring of a worker's newest execution records (the default history sink): a fixed-size
 * array overwritten in turn, so recording costs no allocation beyond the record and never waits. Also an
 * {@link ExecutionHistoryReader} (newest first), which is what `worker.history` and the console read
 * when no database keeps history.
 *
 * ```ts
 * const history = createMemoryHistory({ capacity: 5000 });
 * const worker = await startWorker({ registry, jobs, history });
 * await history.query({ job: 'order-sync', outcome: 'failed', limit: 20 });
 * ```
 *
 * Not guaranteed: the ring forgets older records once full and everything at process exit; one ring
 * shows one worker's executions only.
 */
export class MemoryHistory implements ExecutionHistorySink, ExecutionHistoryReader {
  readonly name = 'memory';
  readonly dropped = 0;
  private readonly ring: (ExecutionRecord | undefined)[];
  /** Index of the next write. */
  private next = 0;
  private count = 0;

  constructor(options: MemoryHistoryOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new ConfigurationError(
        `capacity must be a positive integer, got ${String(capacity)}`,
        'capacity',
      );
    }
    this.ring = new Array<ExecutionRecord | undefined>(capacity);
  }

  get capacity(): number {
    return this.ring.length;
  }

  /** Records held now. */
  get size(): number {
    return this.count;
  }

  record(entry: ExecutionRecord): void {
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.ring.length;
    this.count = Math.min(this.count + 1, this.ring.length);
  }

  /** Newest first (by end of execution, the order records arrive), filtered, at most `limit` (100). */
  query(filter: HistoryFilter = {}): Promise<ExecutionRecord[]> {
    const limit = Math.max(0, filter.limit ?? DEFAULT_LIMIT);
    const out: ExecutionRecord[] = [];
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const entry = this.ring[(this.next - i + this.ring.length) % this.ring.length];
      if (entry !== undefined && matches(entry, filter)) {
        out.push({ ...entry });
      }
    }
    return Promise.resolve(out);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A memory ring (see {@link MemoryHistory}). */
export function createMemoryHistory(options: MemoryHistoryOptions = {}): MemoryHistory {
  return new MemoryHistory(options);
}

/** Whether `entry` passes `filter` (every given field must match; `from` inclusive, `to` exclusive). */
export function matches(entry: ExecutionRecord, filter: HistoryFilter): boolean {
  return (
    (filter.job === undefined || entry.job === filter.job) &&
    (filter.item === undefined || entry.item === filter.item) &&
    (filter.instanceId === undefined || entry.instanceId === filter.instanceId) &&
    (filter.outcome === undefined || entry.outcome === filter.outcome) &&
    (filter.from === undefined || entry.startedAt >= filter.from) &&
    (filter.to === undefined || entry.startedAt < filter.to)
  );
}
