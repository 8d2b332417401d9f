/**
 * One execution of one item, as every history sink stores it and the console reads it (names fixed by the
 * design card, §7). A record is produced when the item's run ends, whatever the outcome.
 */
export type ExecutionTrigger = 'cron' | 'manual' | 'misfire' | 'failover';

export type ExecutionOutcome = 'succeeded' | 'failed' | 'aborted';

export interface ExecutionRecord {
  job: string;
  item: number;
  instanceId: string;
  fencingToken: number;
  trigger: ExecutionTrigger;
  /** Epoch milliseconds. */
  startedAt: number;
  /** Epoch milliseconds. */
  endedAt: number;
  outcome: ExecutionOutcome;
  /** The error's message when the outcome is `failed` or `aborted`. */
  error?: string;
}

/** Where a worker puts its records. `record` never throws and never waits on I/O (sinks buffer and drop). */
export interface ExecutionHistorySink {
  record(entry: ExecutionRecord): void;
  /** Writes what is buffered; resolves when done or given up. */
  close(): Promise<void>;
  /** A short name for metrics (`memory`, `jsonl`, `postgres`); the `sink` label of dropped records. */
  readonly name?: string;
  /** Records given up so far (buffer full, write failed, database down): counted, never retried. */
  readonly dropped?: number;
}

export interface HistoryFilter {
  job?: string;
  item?: number;
  instanceId?: string;
  outcome?: ExecutionOutcome;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** Newest first; at most this many (a reader may cap it). */
  limit?: number;
}

/** What the console reads history from (the memory ring, or PostgreSQL). */
export interface ExecutionHistoryReader {
  query(filter: HistoryFilter): Promise<ExecutionRecord[]>;
}
