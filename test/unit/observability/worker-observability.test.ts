import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { expect } from 'chai';
import { get } from 'node:http';
import { register as globalRegister, Registry } from 'prom-client';
import type { ExecutionRecord } from '../../../lib/history/execution-record';
import { defineJob } from '../../../lib/job/define-job';
import type { ExecutedEvent, FailedEvent, ShardedEvent } from '../../../lib/job/job-events';
import { JobPaths } from '../../../lib/job/job-paths';
import { startWorker, type Worker } from '../../../lib/job/worker';
import { serveMetrics } from '../../../lib/metrics/metrics-server';
import { METRIC_NAMES } from '../../../lib/metrics/shardline-metrics';
import { createOperations } from '../../../lib/ops/operations-api';
import { createRegistryCenter } from '../../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../../lib/registry/registry-center';
import { EventQueue } from '../../harness/events';
import { uniqueNamespace } from '../../harness/namespace';
import { ms } from '../../harness/timing';

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** The value of one sample line (`name{labels} value`) of a Prometheus text exposition. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * A worker's metrics, history and spans on the embedded registry: one trigger runs two items (one
 * succeeds, one fails); the registry, the prom-client registry given to the worker, the memory ring, the
 * item's `last` node and the in-memory span exporter all tell the same story.
 */
describe('worker observability: metrics, history, last execution, spans (memory)', function () {
  this.timeout(ms(15_000));
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  let registry: CoordinatorRegistryCenter;
  let worker: Worker | undefined;
  const activeSpans = new Map<number, string | undefined>();

  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  after(async () => {
    context.disable();
    await tracerProvider.shutdown();
  });
  afterEach(async () => {
    await worker?.stop({ timeoutMs: 2000 });
    worker = undefined;
    await registry.close();
    exporter.reset();
  });

  const job = defineJob({
    name: 'obs',
    shardingTotalCount: 2,
    execute(ctx) {
      activeSpans.set(ctx.shardingItem, trace.getActiveSpan()?.spanContext().spanId);
      if (ctx.shardingItem === 1) {
        throw new Error('item 1 fails');
      }
    },
  });

  async function start(register: Registry): Promise<{
    executed: EventQueue<ExecutedEvent>;
    failed: EventQueue<FailedEvent>;
  }> {
    registry = createRegistryCenter(`memory://${uniqueNamespace()}`);
    await registry.init();
    worker = await startWorker({
      registry,
      jobs: [job],
      instanceId: 'pod-a',
      metrics: { register },
      tracerProvider,
    });
    const executed = new EventQueue<ExecutedEvent>();
    const failed = new EventQueue<FailedEvent>();
    const sharded = new EventQueue<ShardedEvent>();
    worker.on('executed', e => executed.push(e));
    worker.on('failed', e => failed.push(e));
    worker.on('sharded', e => sharded.push(e));
    if (worker.items('obs').length < 2) {
      await sharded.takeUntil(e => e.items.length === 2, ms(5000), 'both items assigned');
    }
    return { executed, failed };
  }

  it('counts, records and traces each execution where the application asked, never in the global registry', async () => {
    const register = new Registry();
    const { executed, failed } = await start(register);
    await createOperations(registry).trigger('obs');
    const ok = await executed.take(ms(5000), 'item 0 executed');
    const ko = await failed.take(ms(5000), 'item 1 failed');
    expect([ok.item, ko.item]).to.deep.equal([0, 1]);

    // metrics
    const text = await register.metrics();
    for (const name of METRIC_NAMES) {
      expect(text, name).to.include(`# TYPE ${name} `);
    }
    expect(sample(text, 'shardline_executions_total{job="obs",outcome="succeeded"}')).to.equal(1);
    expect(sample(text, 'shardline_executions_total{job="obs",outcome="failed"}')).to.equal(1);
    expect(sample(text, 'shardline_execution_duration_seconds_count{job="obs"}')).to.equal(2);
    expect(sample(text, 'shardline_items_owned{job="obs"}')).to.equal(2);
    expect(sample(text, 'shardline_leader{job="obs"}')).to.equal(1);
    expect(sample(text, 'shardline_reshardings_total{job="obs"}')).to.be.at.least(1);
    expect(sample(text, 'shardline_registry_connection_state{backend="memory"}')).to.equal(1);
    expect(
      sample(
        text,
        'shardline_registry_request_duration_seconds_count{op="executeInTransaction",backend="memory"}',
      ),
      'claims and releases are timed',
    ).to.be.at.least(4);
    expect(sample(text, 'shardline_registry_cache_nodes')).to.be.greaterThan(5);
    expect(text, 'no item or instance label').not.to.match(/(item|instance\w*)="/);
    expect(globalRegister.getSingleMetric('shardline_executions_total')).to.equal(undefined);

    // history: the default memory ring
    const records = (await worker!.history!.query({ job: 'obs' })).sort((a, b) => a.item - b.item);
    expect(records.map(r => [r.item, r.trigger, r.outcome, r.instanceId])).to.deep.equal([
      [0, 'manual', 'succeeded', 'pod-a'],
      [1, 'manual', 'failed', 'pod-a'],
    ]);
    expect(records[1]!.error).to.include('item 1 fails');
    expect(records[0]!.fencingToken).to.equal(ok.fencingToken).and.to.be.greaterThan(0);
    expect(records[0]!.endedAt).to.be.at.least(records[0]!.startedAt);

    // the item's last execution, written by the release transaction: the record without job and item
    const paths = new JobPaths('obs');
    for (const record of records) {
      const { item } = record;
      const last: Partial<ExecutionRecord> = { ...record };
      delete last.job;
      delete last.item;
      const stored = JSON.parse((await registry.getDirectly(paths.itemLast(item)))!) as unknown;
      expect(stored, `last of item ${item}`).to.deep.equal(last);
      expect(await registry.isExisted(paths.itemRunning(item))).to.equal(false);
    }

    // spans: one per execution, active while the handler ran
    const spans = exporter.getFinishedSpans();
    expect(spans).to.have.length(2);
    for (const span of spans) {
      const item = span.attributes['shardline.item'] as number;
      expect(span.name).to.equal('execute obs');
      expect(span.attributes['shardline.job']).to.equal('obs');
      expect(span.attributes['shardline.fencing_token']).to.equal(ok.fencingToken);
      expect(span.attributes['shardline.trigger']).to.equal('manual');
      expect(span.attributes['shardline.outcome']).to.equal(item === 0 ? 'succeeded' : 'failed');
      expect(span.status.code, 'UNSET, or ERROR for a failure').to.equal(
        item === 0 ? SpanStatusCode.UNSET : SpanStatusCode.ERROR,
      );
      expect(activeSpans.get(item), 'the handler ran inside its span').to.equal(
        span.spanContext().spanId,
      );
    }
  });

  it('a second run of an item overwrites its last execution; a cron fire is recorded as cron with its lateness', async () => {
    const register = new Registry();
    const ticking = defineJob({ name: 'tick', cron: '* * * * * *', execute: () => undefined });
    registry = createRegistryCenter(`memory://${uniqueNamespace()}`);
    await registry.init();
    worker = await startWorker({
      registry,
      jobs: [ticking],
      instanceId: 'pod-b',
      metrics: { register },
    });
    const executed = new EventQueue<ExecutedEvent>();
    worker.on('executed', e => executed.push(e));
    await executed.take(ms(4000), 'a cron run');
    await executed.take(ms(4000), 'a second cron run');
    const [newest] = await worker.history!.query({ job: 'tick', limit: 1 });
    expect(newest!.trigger).to.equal('cron');
    const last = JSON.parse(
      (await registry.getDirectly(new JobPaths('tick').itemLast(0)))!,
    ) as ExecutionRecord;
    expect(last.startedAt).to.equal(newest!.startedAt);
    const text = await register.metrics();
    expect(sample(text, 'shardline_fire_lateness_seconds_count{job="tick"}')).to.be.at.least(2);
  });

  it('a fire missed while the item ran is recorded as misfire', async () => {
    let release: (() => void) | undefined;
    const blocked = new Promise<void>(resolve => (release = resolve));
    let runs = 0;
    const slow = defineJob({
      name: 'slow',
      cron: '* * * * * *',
      async execute() {
        if (++runs === 1) {
          await blocked; // the first run outlasts the next fire
        }
      },
    });
    registry = createRegistryCenter(`memory://${uniqueNamespace()}`);
    await registry.init();
    worker = await startWorker({ registry, jobs: [slow], instanceId: 'pod-c' });
    const executed = new EventQueue<ExecutedEvent>();
    worker.on('executed', e => executed.push(e));
    await new Promise<void>(resolve => worker!.once('misfire', () => resolve()));
    release?.();
    await executed.take(ms(4000), 'the first run');
    await executed.take(ms(4000), 'the misfire run');
    const triggers = (await worker.history!.query({ job: 'slow' })).map(r => r.trigger).reverse();
    expect(triggers.slice(0, 2)).to.deep.equal(['cron', 'misfire']);
  });

  it('serves /metrics, /healthz and /readyz (503 until ready)', async () => {
    const register = new Registry();
    let ready = false;
    const server = await serveMetrics({
      register,
      port: 0,
      host: '127.0.0.1',
      readiness: () => ({ ready, reason: ready ? 'ready' : 'starting' }),
    });
    try {
      expect(await httpGet(server.port, '/healthz')).to.deep.equal({ status: 200, body: 'ok\n' });
      expect(await httpGet(server.port, '/readyz')).to.deep.equal({
        status: 503,
        body: 'starting\n',
      });
      ready = true;
      expect((await httpGet(server.port, '/readyz')).status).to.equal(200);
      await start(register);
      const metrics = await httpGet(server.port, '/metrics');
      expect(metrics.status).to.equal(200);
      expect(metrics.body).to.include('shardline_items_owned{job="obs"} 2');
      expect((await httpGet(server.port, '/nope')).status).to.equal(404);
      expect(worker!.readiness()).to.deep.equal({ ready: true, reason: 'ready' });
    } finally {
      await server.close();
    }
  });
});
