import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import type { ExecutionRecord } from '../../../lib/history/execution-record';
import { createJsonLinesHistory } from '../../../lib/history/json-lines-history';
import { createMemoryHistory } from '../../../lib/history/memory-history';
import { insertSql, querySql } from '../../../lib/history/postgres-sql';

function rec(n: number, over: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    job: n % 2 === 0 ? 'even' : 'odd',
    item: n % 3,
    instanceId: `pod-${n % 2}`,
    fencingToken: 10 + n,
    trigger: 'cron',
    startedAt: 1_000 * n,
    endedAt: 1_000 * n + 5,
    outcome: n % 5 === 0 ? 'failed' : 'succeeded',
    ...(n % 5 === 0 ? { error: `boom ${n}` } : {}),
    ...over,
  };
}

describe('history sinks (unit)', () => {
  describe('memory ring', () => {
    it('keeps the newest `capacity` records, newest first, and filters by every field', async () => {
      const ring = createMemoryHistory({ capacity: 10 });
      for (let n = 1; n <= 25; n++) {
        ring.record(rec(n));
      }
      expect(ring.size).to.equal(10);
      const all = await ring.query({ limit: 100 });
      expect(all.map(r => r.fencingToken)).to.deep.equal([35, 34, 33, 32, 31, 30, 29, 28, 27, 26]);
      expect((await ring.query({ job: 'odd' })).map(r => r.fencingToken)).to.deep.equal([
        35, 33, 31, 29, 27,
      ]);
      expect((await ring.query({ outcome: 'failed' })).map(r => r.error)).to.deep.equal([
        'boom 25',
        'boom 20',
      ]);
      expect(
        (await ring.query({ item: 0, instanceId: 'pod-0' })).map(r => r.fencingToken),
      ).to.deep.equal([34, 28]);
      expect(
        (await ring.query({ from: 18_000, to: 21_000 })).map(r => r.fencingToken),
        'from inclusive, to exclusive',
      ).to.deep.equal([30, 29, 28]);
      expect(await ring.query({ limit: 2 })).to.have.length(2);
      expect(() => createMemoryHistory({ capacity: 0 })).to.throw(/capacity/);
    });
  });

  describe('JSON lines', () => {
    it('writes one JSON object per line to a stream, batched per flush interval, and leaves the stream open', async () => {
      const stream = new PassThrough();
      const chunks: string[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
      const sink = createJsonLinesHistory(stream, { flushIntervalMs: 10 });
      sink.record(rec(1));
      sink.record(rec(5));
      sink.record(rec(2));
      expect(chunks, 'nothing written on the execution path').to.have.length(0);
      await new Promise(resolve => stream.once('data', resolve));
      expect(chunks, 'one write for the three records').to.have.length(1);
      await sink.close();
      expect(stream.writableEnded, 'a stream passed in is the caller’s').to.equal(false);
      const lines = chunks.join('').trimEnd().split('\n');
      expect(lines.map(l => JSON.parse(l) as ExecutionRecord)).to.deep.equal([
        rec(1),
        rec(5),
        rec(2),
      ]);
      expect(sink.dropped).to.equal(0);
    });

    it('appends to a file it opens and closes it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'shardline-jsonl-'));
      try {
        const file = join(dir, 'history.jsonl');
        for (const n of [1, 2]) {
          const sink = createJsonLinesHistory(file);
          sink.record(rec(n));
          await sink.close();
        }
        const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
        expect(lines.map(l => (JSON.parse(l) as ExecutionRecord).fencingToken)).to.deep.equal([
          11, 12,
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('drops and counts records while a stuck stream holds the buffer full, never blocking record()', async () => {
      let release: (() => void) | undefined;
      let written: (() => void) | undefined;
      const firstWrite = new Promise<void>(resolve => (written = resolve));
      const stuck = new Writable({
        highWaterMark: 1,
        write(_chunk, _encoding, callback) {
          release = () => callback();
          written?.();
        },
      });
      const sink = createJsonLinesHistory(stuck, { maxBuffered: 3, flushIntervalMs: 0 });
      sink.record(rec(1));
      await firstWrite; // written, never acknowledged: the stream is now busy
      for (let n = 2; n <= 10; n++) {
        sink.record(rec(n));
      }
      expect(sink.dropped).to.equal(6);
      release?.();
      await sink.close();
      stuck.destroy();
    });
  });

  describe('PostgreSQL statements', () => {
    it('inserts a batch of any size with nine array parameters, and queries with every filter field', () => {
      const insert = insertSql('shardline_executions', [rec(1), rec(5)]);
      expect(insert.values).to.have.length(9);
      expect(insert.values[0]).to.deep.equal(['odd', 'odd']);
      expect(insert.values[8]).to.deep.equal([null, 'boom 5']);
      const q = querySql(
        'shardline_executions',
        { job: 'a', item: 1, instanceId: 'i', outcome: 'failed', from: 1, to: 2, limit: 5000 },
        1000,
      );
      expect(q.text).to.match(/job = \$1 AND item = \$2 AND instance_id = \$3 AND outcome = \$4/);
      expect(q.values).to.deep.equal(['a', 1, 'i', 'failed', 1, 2, 1000]);
      expect(querySql('t', {}, 1000).values, 'default limit').to.deep.equal([100]);
    });
  });
});
