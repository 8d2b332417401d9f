import { expect } from 'chai';
import { Histogram, Registry, type RegistryContentType } from 'prom-client';
import { CellHistogram } from '../../../lib/metrics/cell-histogram';
import { metricsFor } from '../../../lib/metrics/shardline-metrics';

const BUCKETS = [0.005, 0.01, 0.5, 1, 10];
const OBSERVATIONS: [string, string, number][] = [
  ['b', 'get', 0],
  ['a', 'get', 0.005],
  ['b', 'get', 0.0051],
  ['a', 'txn', 0.3],
  ['b', 'get', 1],
  ['a', 'get', 400],
  ['a', 'txn', 7],
  ['b', 'txn', -1],
];

/** The same observations in prom-client's Histogram and in a CellHistogram, each in its own registry. */
function pair(contentType: RegistryContentType) {
  const theirs = new Registry<RegistryContentType>();
  const ours = new Registry<RegistryContentType>();
  theirs.setContentType(contentType);
  ours.setContentType(contentType);
  const options = {
    name: 'x_seconds',
    help: 'A histogram.',
    labelNames: ['job', 'op'],
    buckets: BUCKETS,
  };
  const histogram = new Histogram({ ...options, registers: [theirs] });
  const cells = new CellHistogram({ ...options, registers: [ours] });
  const observe = (list: [string, string, number][]): void => {
    for (const [job, op, value] of list) {
      histogram.observe({ job, op }, value);
      cells.cell({ job, op }).observe(value);
    }
  };
  return { theirs, ours, observe };
}

describe('CellHistogram', () => {
  for (const contentType of [Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE]) {
    it(`exports what prom-client's Histogram exports for the same observations (${contentType.split(';')[0]})`, async () => {
      const { theirs, ours, observe } = pair(contentType);
      observe(OBSERVATIONS);
      expect(await ours.metrics()).to.equal(await theirs.metrics());
      expect(await ours.getMetricsAsJSON()).to.deep.equal(await theirs.getMetricsAsJSON());
      theirs.setDefaultLabels({ region: 'eu' });
      ours.setDefaultLabels({ region: 'eu' });
      expect(await ours.metrics()).to.equal(await theirs.metrics());
    });
  }

  it('forgets every label set on reset until it is observed again, as prom-client does', async () => {
    const { theirs, ours, observe } = pair(Registry.PROMETHEUS_CONTENT_TYPE);
    observe(OBSERVATIONS);
    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).to.equal(await theirs.metrics());
    observe([['a', 'txn', 0.2]]);
    expect(await ours.metrics()).to.equal(await theirs.metrics());
  });

  it('refuses a value that is not a finite number', () => {
    const cells = new CellHistogram({
      name: 'y_seconds',
      help: 'A histogram.',
      labelNames: ['job'],
      buckets: BUCKETS,
      registers: [],
    });
    expect(() => cells.cell({ job: 'a' }).observe(NaN)).to.throw(TypeError);
  });
});

describe('shardline_executions_total counted in cells', () => {
  it('shows the counts at each scrape, never adds them twice, and keeps them once read', async () => {
    const register = new Registry();
    const metrics = metricsFor(register);
    const line = async (): Promise<string | undefined> =>
      (await register.metrics())
        .split('\n')
        .find(l => l.startsWith('shardline_executions_total{job="j",outcome="failed"}'));
    expect(await line()).to.equal(undefined);
    const cell = metrics.executionCell('j', 'failed');
    cell.value += 2;
    expect(await line()).to.equal('shardline_executions_total{job="j",outcome="failed"} 2');
    expect(await line()).to.equal('shardline_executions_total{job="j",outcome="failed"} 2');
    cell.value++;
    expect(metrics.executionCell('j', 'failed')).to.equal(cell);
    expect(await line()).to.equal('shardline_executions_total{job="j",outcome="failed"} 3');
  });
});
