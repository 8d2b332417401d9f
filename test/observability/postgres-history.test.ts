import { expect } from 'chai';
import { Registry } from 'prom-client';
import { createPostgresHistory, type PostgresHistory } from '../../lib/history/postgres-history';
import { defineJob } from '../../lib/job/define-job';
import type { ExecutedEvent, ShardedEvent } from '../../lib/job/job-events';
import { startWorker, type Worker } from '../../lib/job/worker';
import { createOperations } from '../../lib/ops/operations-api';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import { EventQueue } from '../harness/events';
import { freePort } from '../harness/free-port';
import { uniqueNamespace } from '../harness/namespace';
import { PostgresServer } from '../harness/postgres-server';
import { ms } from '../harness/timing';

/**
 * The PostgreSQL history sink against a real server (Debian `postgresql`, started by the harness in a
 * temp dir on a loopback port): records arrive in batches and read back through the reader the console
 * uses; a hung (SIGSTOPped) or absent database drops and counts records and never delays a job.
 */
describe('PostgreSQL execution history (real server)', function () {
  this.timeout(ms(30_000));
  let server: PostgresServer;
  let registry: CoordinatorRegistryCenter;
  let worker: Worker | undefined;
  const sinks: PostgresHistory[] = [];

  before(async function () {
    this.timeout(ms(60_000));
    server = await PostgresServer.start();
  });
  after(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    await worker?.stop({ timeoutMs: 2000 });
    worker = undefined;
    await registry?.close();
    await server.resume().catch(() => undefined);
    await Promise.all(sinks.splice(0).map(s => s.close()));
  });

  const job = defineJob({ name: 'pg-history', shardingTotalCount: 2, execute: () => undefined });

  async function start(
    history: PostgresHistory,
    register?: Registry,
  ): Promise<{
    executed: EventQueue<ExecutedEvent>;
    runAll: () => Promise<number>;
  }> {
    registry = createRegistryCenter(`memory://${uniqueNamespace()}`);
    await registry.init();
    worker = await startWorker({
      registry,
      jobs: [job],
      instanceId: 'pod-pg',
      history,
      ...(register === undefined ? {} : { metrics: { register } }),
    });
    const executed = new EventQueue<ExecutedEvent>();
    const sharded = new EventQueue<ShardedEvent>();
    worker.on('executed', e => executed.push(e));
    worker.on('sharded', e => sharded.push(e));
    if (worker.items(job.name).length < 2) {
      await sharded.takeUntil(e => e.items.length === 2, ms(5000), 'both items assigned');
    }
    const ops = createOperations(registry);
    /** Triggers once and waits for both items; resolves with the slower item's trigger-to-event time. */
    const runAll = async (): Promise<number> => {
      const started = Date.now();
      await ops.trigger(job.name);
      await executed.take(ms(5000), 'the first item');
      await executed.take(ms(5000), 'the second item');
      return Date.now() - started;
    };
    return { executed, runAll };
  }

  function sink(
    url: string,
    options: Partial<Parameters<typeof createPostgresHistory>[0] & object> = {},
  ): PostgresHistory {
    const s = createPostgresHistory({ connectionString: url, flushIntervalMs: 20, ...options });
    sinks.push(s);
    return s;
  }

  it('stores every record in batches, read back newest first with filters (the console’s reader)', async () => {
    const table = `exec_${uniqueNamespace().replace(/-/g, '_')}`;
    const history = sink(server.url, { table });
    const { runAll } = await start(history);
    for (let i = 0; i < 3; i++) {
      await runAll();
    }
    await history.flush();
    expect(history.written).to.equal(6);
    expect(history.dropped).to.equal(0);

    const reader = sink(server.url, { table });
    const all = await reader.query({ job: job.name });
    expect(all).to.have.length(6);
    expect(
      all.every(
        r => r.instanceId === 'pod-pg' && r.trigger === 'manual' && r.outcome === 'succeeded',
      ),
    ).to.equal(true);
    expect(
      all.map(r => r.startedAt),
      'newest first',
    ).to.deep.equal([...all.map(r => r.startedAt)].sort((a, b) => b - a));
    expect(worker!.history, 'the worker reads its history from the database sink').to.equal(
      history,
    );
    const item1 = await reader.query({ job: job.name, item: 1, limit: 2 });
    expect(item1).to.have.length(2);
    expect(item1.every(r => r.item === 1 && r.fencingToken > 0)).to.equal(true);
    expect(await reader.query({ outcome: 'failed', job: job.name })).to.deep.equal([]);
    const newest = all[0]!;
    expect(await reader.query({ job: job.name, from: newest.startedAt })).to.have.length.at.least(
      1,
    );
    expect(await reader.query({ job: job.name, to: all[5]!.startedAt })).to.deep.equal([]);
  });

  it('a hung database: jobs run as fast as before, records are dropped and counted', async () => {
    const register = new Registry();
    const history = sink(server.url, {
      table: `exec_${uniqueNamespace().replace(/-/g, '_')}`,
      connectTimeoutMs: 300,
      statementTimeoutMs: 300,
      maxQueued: 4,
    });
    const { runAll } = await start(history, register);
    await runAll();
    await history.flush();
    expect(history.written).to.equal(2);

    await server.pause(); // SIGSTOP: connections open, nothing answers
    const slowest = Math.max(await runAll(), await runAll(), await runAll(), await runAll());
    expect(slowest, 'a run never waits on the database').to.be.below(ms(1000));
    await history.flush(); // gives up after the statement timeout
    expect(history.dropped, 'the batch in flight and the overflow').to.be.at.least(4);
    expect(history.written + history.dropped).to.equal(10);
    const text = await register.metrics();
    expect(text).to.include(`shardline_history_dropped_total{sink="postgres"} ${history.dropped}`);
    await server.resume();
  });

  it('no database at all: records are dropped and counted, the job runs', async () => {
    const history = sink(`postgres://postgres@127.0.0.1:${await freePort()}/postgres`, {
      connectTimeoutMs: 300,
    });
    const { runAll } = await start(history);
    await runAll();
    await history.flush();
    expect(history.dropped).to.equal(2);
    expect(history.written).to.equal(0);
  });
});
