import { Pool, type PoolConfig } from 'pg';
import { ConfigurationError } from '../errors';
import { noopLogger, type Logger } from '../logger';
import type {
  ExecutionHistoryReader,
  ExecutionHistorySink,
  ExecutionRecord,
  HistoryFilter,
} from './execution-record';
import { createTableSql, insertSql, querySql, rowToRecord, type HistoryRow } from './postgres-sql';

export interface PostgresHistoryOptions {
  /** `postgres://user:password@host:5432/database`; or pass `pool` settings instead. */
  connectionString?: string;
  /** Extra `pg` pool settings (host, user, ssl, …); `max` defaults to 2. */
  pool?: PoolConfig;
  /** Table name, optionally schema-qualified (default `shardline_executions`). */
  table?: string;
  /** Create the table and its indexes when missing (default true). */
  createTable?: boolean;
  /** Records per INSERT at most (default 500). */
  batchSize?: number;
  /** How long records wait to be batched (default 200 ms). */
  flushIntervalMs?: number;
  /** Records queued at most while the database is slow or down; more are dropped and counted (10,000). */
  maxQueued?: number;
  /** A connection attempt gives up after this long (default 2,000 ms). */
  connectTimeoutMs?: number;
  /** An INSERT or query gives up after this long (default 5,000 ms). */
  statementTimeoutMs?: number;
  /** Dropped batches are logged at warn (silent by default). */
  logger?: Logger;
}

const TABLE_NAME = /^(?:[a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;
/** Rows a reader query returns at most, whatever the filter asks. */
export const MAX_QUERY_ROWS = 1000;

/**
 * Execution history in PostgreSQL: a sink for workers and an {@link ExecutionHistoryReader} for the
 * console (`shardline console --history postgres://…`) and tools. The table and indexes are in
 * docs/metrics.md and `createTableSql`.
 *
 * ```ts
 * const history = createPostgresHistory('postgres://shardline:secret@db:5432/ops');
 * const worker = await startWorker({ registry, jobs, history });
 * // …
 * await worker.stop();
 * await history.close(); // writes what is queued, then ends the pool
 * ```
 *
 * Off the execution path: `record` only queues. A timer (or a full batch) sends one multi-row INSERT
 * (`unnest` of arrays, 9 parameters whatever the batch size), one at a time. A slow or down database
 * never delays or fails a job: while an INSERT is in flight the queue grows up to `maxQueued`, beyond
 * which records are dropped; a failed INSERT drops its batch. Both are counted in `dropped` (exported as
 * `shardline_history_dropped_total{sink="postgres"}` by worker metrics) and nothing is retried, so a
 * database outage costs the records of the outage, not memory or latency.
 */
export class PostgresHistory implements ExecutionHistorySink, ExecutionHistoryReader {
  readonly name = 'postgres';
  /** Records written so far. */
  written = 0;
  private droppedCount = 0;
  private queue: ExecutionRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private schema: Promise<void> | undefined;
  private closed = false;
  private readonly pool: Pool;
  private readonly table: string;
  private readonly createTable: boolean;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueued: number;
  private readonly logger: Logger;

  constructor(options: PostgresHistoryOptions) {
    this.table = options.table ?? 'shardline_executions';
    if (!TABLE_NAME.test(this.table)) {
      throw new ConfigurationError(
        `table must be a lower-case SQL identifier, optionally schema-qualified, got ${this.table}`,
        'table',
      );
    }
    this.createTable = options.createTable ?? true;
    this.batchSize = positiveInt(options.batchSize, 500, 'batchSize');
    this.flushIntervalMs = positiveInt(options.flushIntervalMs, 200, 'flushIntervalMs');
    this.maxQueued = positiveInt(options.maxQueued, 10_000, 'maxQueued');
    this.logger = options.logger ?? noopLogger;
    const statementTimeout = positiveInt(options.statementTimeoutMs, 5000, 'statementTimeoutMs');
    this.pool = new Pool({
      max: 2,
      connectionTimeoutMillis: positiveInt(options.connectTimeoutMs, 2000, 'connectTimeoutMs'),
      idleTimeoutMillis: 10_000,
      statement_timeout: statementTimeout,
      query_timeout: statementTimeout,
      ...options.pool,
      ...(options.connectionString === undefined
        ? {}
        : { connectionString: options.connectionString }),
    });
    // An idle client's connection error (server restart) must not crash the process: the pool drops it.
    this.pool.on('error', err => this.logger.debug('history pool client error', { error: err }));
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** Records queued, not yet sent. */
  get queued(): number {
    return this.queue.length;
  }

  record(entry: ExecutionRecord): void {
    if (this.closed || this.queue.length >= this.maxQueued) {
      this.droppedCount++;
      return;
    }
    this.queue.push(entry);
    if (this.queue.length >= this.batchSize) {
      this.kick();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Sends what is queued now (tests and shutdown); resolves when the queue is empty or given up. */
  async flush(): Promise<void> {
    while (this.inFlight !== undefined || this.queue.length > 0) {
      this.kick();
      await this.inFlight;
    }
  }

  /** Newest first (by start), at most `limit` (100 by default, {@link MAX_QUERY_ROWS} at most). */
  async query(filter: HistoryFilter = {}): Promise<ExecutionRecord[]> {
    await this.ensureSchema();
    const { text, values } = querySql(this.table, filter, MAX_QUERY_ROWS);
    const result = await this.pool.query<HistoryRow>(text, values);
    return result.rows.map(rowToRecord);
  }

  /** Writes what is queued (or gives up after the statement timeout), then ends the pool. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.flush();
    this.closed = true;
    await this.pool.end();
  }

  /** The DDL this sink runs at first use (unless `createTable: false`). */
  get ddl(): string {
    return createTableSql(this.table);
  }

  private kick(): void {
    if (this.inFlight !== undefined || this.queue.length === 0) {
      return;
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.queue.splice(0, this.batchSize);
    this.inFlight = this.insert(batch).finally(() => {
      this.inFlight = undefined;
      if (this.queue.length >= this.batchSize || (this.closed && this.queue.length > 0)) {
        this.kick();
      } else if (this.queue.length > 0 && this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, this.flushIntervalMs);
        this.timer.unref();
      }
    });
  }

  private async insert(batch: ExecutionRecord[]): Promise<void> {
    try {
      await this.ensureSchema();
      const { text, values } = insertSql(this.table, batch);
      await this.pool.query(text, values);
      this.written += batch.length;
    } catch (err) {
      this.droppedCount += batch.length;
      this.logger.warn('execution records dropped: the history database did not take them', {
        records: batch.length,
        error: err,
      });
    }
  }

  private ensureSchema(): Promise<void> {
    if (!this.createTable) {
      return Promise.resolve();
    }
    this.schema ??= this.pool
      .query(createTableSql(this.table))
      .then(() => undefined)
      .catch((err: unknown) => {
        this.schema = undefined; // tried again with the next batch
        throw err;
      });
    return this.schema;
  }
}

/**
 * A PostgreSQL history (sink and reader) for `postgres://user:password@host:port/database`, or options.
 * The pool connects lazily: creating it does no I/O.
 */
export function createPostgresHistory(
  urlOrOptions: string | PostgresHistoryOptions,
): PostgresHistory {
  return new PostgresHistory(
    typeof urlOrOptions === 'string' ? { connectionString: urlOrOptions } : urlOrOptions,
  );
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) {
    throw new ConfigurationError(`${name} must be a positive integer, got ${String(value)}`, name);
  }
  return v;
}
