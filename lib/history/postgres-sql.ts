import type {
  ExecutionRecord,
  ExecutionTrigger,
  ExecutionOutcome,
  HistoryFilter,
} from './execution-record';

/**
 * The SQL of the PostgreSQL history (pure): the table, its indexes, the batched INSERT and the reader's
 * query. `table` is validated by the caller (a lower-case identifier, optionally schema-qualified).
 */
export function createTableSql(table: string): string {
  const index = table.replace('.', '_');
  return `
CREATE TABLE IF NOT EXISTS ${table} (
  id            bigserial   PRIMARY KEY,
  job           text        NOT NULL,
  item          integer     NOT NULL,
  instance_id   text        NOT NULL,
  fencing_token bigint      NOT NULL,
  trigger       text        NOT NULL,
  started_at    timestamptz NOT NULL,
  ended_at      timestamptz NOT NULL,
  outcome       text        NOT NULL,
  error         text
);
CREATE INDEX IF NOT EXISTS ${index}_job_item_started ON ${table} (job, item, started_at DESC);
CREATE INDEX IF NOT EXISTS ${index}_started ON ${table} (started_at DESC);
CREATE INDEX IF NOT EXISTS ${index}_instance_started ON ${table} (instance_id, started_at DESC);`;
}

/** One INSERT for the whole batch: nine arrays unnested into rows (times as epoch ms). */
export function insertSql(
  table: string,
  batch: readonly ExecutionRecord[],
): { text: string; values: unknown[] } {
  return {
    text: `INSERT INTO ${table}
  (job, item, instance_id, fencing_token, trigger, started_at, ended_at, outcome, error)
SELECT job, item, instance_id, fencing_token, trigger,
       to_timestamp(started_ms / 1000.0), to_timestamp(ended_ms / 1000.0), outcome, error
FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::text[], $6::float8[], $7::float8[],
            $8::text[], $9::text[])
  AS r(job, item, instance_id, fencing_token, trigger, started_ms, ended_ms, outcome, error)`,
    values: [
      batch.map(r => r.job),
      batch.map(r => r.item),
      batch.map(r => r.instanceId),
      batch.map(r => String(r.fencingToken)),
      batch.map(r => r.trigger),
      batch.map(r => r.startedAt),
      batch.map(r => r.endedAt),
      batch.map(r => r.outcome),
      batch.map(r => r.error ?? null),
    ],
  };
}

export interface HistoryRow {
  job: string;
  item: number;
  instance_id: string;
  fencing_token: string;
  trigger: string;
  started_ms: number;
  ended_ms: number;
  outcome: string;
  error: string | null;
}

/** The reader's SELECT: every given filter field, newest first by start, `limit` (100) capped at `max`. */
export function querySql(
  table: string,
  filter: HistoryFilter,
  max: number,
): { text: string; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown): void => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  if (filter.job !== undefined) {
    add('job = ?', filter.job);
  }
  if (filter.item !== undefined) {
    add('item = ?', filter.item);
  }
  if (filter.instanceId !== undefined) {
    add('instance_id = ?', filter.instanceId);
  }
  if (filter.outcome !== undefined) {
    add('outcome = ?', filter.outcome);
  }
  if (filter.from !== undefined) {
    add('started_at >= to_timestamp(? / 1000.0)', filter.from);
  }
  if (filter.to !== undefined) {
    add('started_at < to_timestamp(? / 1000.0)', filter.to);
  }
  const limit = Math.min(Math.max(0, Math.floor(filter.limit ?? 100)), max);
  values.push(limit);
  return {
    text: `SELECT job, item, instance_id, fencing_token::text AS fencing_token, trigger,
       (extract(epoch FROM started_at) * 1000)::float8 AS started_ms,
       (extract(epoch FROM ended_at) * 1000)::float8 AS ended_ms, outcome, error
FROM ${table}${where.length > 0 ? `\nWHERE ${where.join(' AND ')}` : ''}
ORDER BY started_at DESC, id DESC
LIMIT $${values.length}`,
    values,
  };
}

export function rowToRecord(row: HistoryRow): ExecutionRecord {
  return {
    job: row.job,
    item: row.item,
    instanceId: row.instance_id,
    fencingToken: Number(row.fencing_token),
    trigger: row.trigger as ExecutionTrigger,
    startedAt: Math.round(row.started_ms),
    endedAt: Math.round(row.ended_ms),
    outcome: row.outcome as ExecutionOutcome,
    ...(row.error === null ? {} : { error: row.error }),
  };
}
