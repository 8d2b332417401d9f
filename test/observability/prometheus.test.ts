import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { defineJob } from '../../lib/job/define-job';
import type { ExecutedEvent, ShardedEvent } from '../../lib/job/job-events';
import { startWorker, type Worker } from '../../lib/job/worker';
import { serveMetrics, type MetricsServer } from '../../lib/metrics/metrics-server';
import { createOperations } from '../../lib/ops/operations-api';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import { startCli, waitForStdout, type CliProcess } from '../cli/cli-runner';
import { EventQueue, waitFor } from '../harness/events';
import { freePort } from '../harness/free-port';
import { uniqueNamespace } from '../harness/namespace';
import { PrometheusServer } from '../harness/prometheus-server';
import { ms } from '../harness/timing';

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, res => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

/**
 * A real Prometheus (Debian package, loopback, temp dir, 250 ms scrapes) scrapes two workers: one in this
 * process serving its registry with serveMetrics, whose executions the test counts, and a
 * `shardline run --metrics-port` process. PromQL through the HTTP API must return what the test counted.
 */
describe('Prometheus scrapes worker metrics (real server)', function () {
  this.timeout(ms(40_000));
  let prometheus: PrometheusServer | undefined;
  let registry: CoordinatorRegistryCenter;
  let worker: Worker;
  let served: MetricsServer;
  let cli: CliProcess;
  let cliPort: number;
  const register = new Registry();
  const job = defineJob({ name: 'prom-job', shardingTotalCount: 2, execute: () => undefined });

  before(async function () {
    this.timeout(ms(60_000));
    cliPort = await freePort();
    const servedPort = await freePort();
    // Prometheus first: its first scrape comes about 5 s after its start, while the rest starts up.
    const starting = PrometheusServer.start({
      targets: [`127.0.0.1:${servedPort}`, `127.0.0.1:${cliPort}`],
    });
    starting.catch(() => undefined); // awaited below; a failure must not surface as unhandled first
    cli = startCli([
      'run',
      join(__dirname, '..', 'fixtures', 'cli-one-job.ts'),
      '--registry',
      `memory://${uniqueNamespace()}`,
      '--metrics-port',
      String(cliPort),
      '--metrics-host',
      '127.0.0.1',
    ]);
    registry = createRegistryCenter(`memory://${uniqueNamespace()}`);
    await registry.init();
    worker = await startWorker({ registry, jobs: [job], metrics: { register } });
    served = await serveMetrics({
      register,
      port: servedPort,
      host: '127.0.0.1',
      readiness: () => worker.readiness(),
    });
    prometheus = await starting;
  });

  after(async () => {
    cli?.child.kill('SIGTERM');
    await prometheus?.stop();
    await served?.close();
    await worker?.stop({ timeoutMs: 2000 });
    await registry?.close();
    await cli?.done;
  });

  it('a PromQL query returns the executions the test counted', async () => {
    const executed = new EventQueue<ExecutedEvent>();
    const sharded = new EventQueue<ShardedEvent>();
    worker.on('executed', e => executed.push(e));
    worker.on('sharded', e => sharded.push(e));
    if (worker.items(job.name).length < 2) {
      await sharded.takeUntil(e => e.items.length === 2, ms(5000), 'both items assigned');
    }
    const ops = createOperations(registry);
    let counted = 0;
    for (let i = 0; i < 3; i++) {
      await ops.trigger(job.name);
      await executed.take(ms(5000), 'the first item');
      await executed.take(ms(5000), 'the second item');
      counted += 2;
    }
    const promql = `sum(shardline_executions_total{job="prom-job",outcome="succeeded"})`;
    let seen: number | undefined;
    await waitFor(
      async () => {
        seen = (await prometheus!.query(promql))[0]?.value;
        return seen === counted;
      },
      ms(10_000),
      `${promql} to reach ${counted}`,
      100,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last answer ${String(seen)}`);
    });
    const owned = await prometheus!.query('shardline_items_owned{job="prom-job"}');
    expect(owned.map(s => s.value)).to.deep.equal([2]);
  });

  it('scrapes `shardline run --metrics-port`, which answers /healthz and /readyz', async () => {
    await waitForStdout(cli, /running jobs/, ms(20_000));
    expect(await status(cliPort, '/healthz')).to.equal(200);
    expect(await status(cliPort, '/readyz')).to.equal(200);
    const promql = `shardline_items_owned{job="cli-fixture-tick"}`;
    await waitFor(
      async () => (await prometheus!.query(promql))[0]?.value === 2,
      ms(10_000),
      `${promql} to be 2`,
      100,
    );
    const up = await prometheus!.query(`up{instance="127.0.0.1:${cliPort}"}`);
    expect(up.map(s => s.value)).to.deep.equal([1]);
    const processMetrics = await prometheus!.query(
      `process_resident_memory_bytes{instance="127.0.0.1:${cliPort}"}`,
    );
    expect(processMetrics, 'the CLI adds the default process metrics').to.have.length(1);
  });

  it('every query of docs/grafana-dashboard.json is valid PromQL on these names', async () => {
    const dashboard = JSON.parse(
      readFileSync(join(__dirname, '..', '..', 'docs', 'grafana-dashboard.json'), 'utf8'),
    ) as { panels: { targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap(p => (p.targets ?? []).map(t => t.expr));
    expect(exprs.length).to.be.at.least(10);
    for (const expr of exprs) {
      const promql = expr.replace(/\$__rate_interval/g, '1m').replace(/\$job|\$instance/g, '.*');
      await prometheus!.query(promql); // throws on a parse error
    }
    const owned = await prometheus!.query(
      'sum by (job) (shardline_items_owned{job=~".*",instance=~".*"})',
    );
    expect(owned.map(s => s.metric.job).sort()).to.include('prom-job');
  });
});
