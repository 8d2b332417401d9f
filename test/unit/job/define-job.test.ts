import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import {
  defineJob,
  isJobDefinition,
  type DataflowJobOptions,
  type JobDefinition,
  type JobOptions,
  type ShardingStrategyFunction,
} from '../../../lib/job/define-job';
import { validateJobConfig } from '../../../lib/job/job-config';
import { fakeContext } from './kinds-fixture';

const execute = (): void => undefined;

function defineError(options: unknown): ConfigurationError {
  try {
    defineJob(options as JobOptions);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigurationError);
    return err as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('defineJob', () => {
  it('fills every field with its default', () => {
    const job = defineJob({ name: 'order-sync', execute });
    expect(job.name).to.equal('order-sync');
    expect(job.overwrite).to.equal(false);
    expect(job.strategy).to.equal(undefined);
    expect(job.config).to.deep.equal({
      schemaVersion: 1,
      name: 'order-sync',
      type: 'simple',
      cron: null,
      timeZone: 'UTC',
      shardingTotalCount: 1,
      shardingItemParameters: {},
      jobParameter: '',
      failover: false,
      misfire: true,
      monitorExecution: true,
      strategy: 'AVG_ALLOCATION',
      disabled: false,
      description: '',
      maxTimeDiffSeconds: -1,
      reconcileIntervalMinutes: 10,
      timeoutMs: 0,
      retry: { attempts: 1, backoffMs: 1000, maxBackoffMs: 30000 },
      streaming: false,
      command: null,
    });
    expect(validateJobConfig(job.config)).to.deep.equal(job.config);
  });

  it('takes a definition with every option spelled out, as written', () => {
    const job = defineJob({
      name: 'order-sync',
      cron: '*/5 * * * * *',
      timeZone: 'UTC',
      shardingTotalCount: 3,
      shardingItemParameters: '0=Beijing,1=Shanghai,2=Guangzhou',
      jobParameter: '',
      failover: true,
      misfire: true,
      monitorExecution: true,
      strategy: 'AVG_ALLOCATION',
      overwrite: false,
      disabled: false,
      description: '',
      async execute() {},
    });
    expect(job.config.shardingItemParameters).to.deep.equal({
      '0': 'Beijing',
      '1': 'Shanghai',
      '2': 'Guangzhou',
    });
    expect(job.config.failover).to.equal(true);
    expect(job.config.cron).to.equal('*/5 * * * * *');
  });

  it('merges a partial retry policy with the defaults', () => {
    const job = defineJob({ name: 'j', execute, retry: { attempts: 3 } });
    expect(job.config.retry).to.deep.equal({ attempts: 3, backoffMs: 1000, maxBackoffMs: 30000 });
  });

  it('stores a function strategy as CUSTOM and keeps the function', () => {
    const strategy: ShardingStrategyFunction = instances => new Map(instances.map(i => [i, []]));
    const job = defineJob({ name: 'j', execute, strategy });
    expect(job.config.strategy).to.equal('CUSTOM');
    expect(job.strategy).to.equal(strategy);
  });

  it('returns an immutable, branded definition', () => {
    const job = defineJob({ name: 'j', execute, overwrite: true });
    expect(job.overwrite).to.equal(true);
    expect(isJobDefinition(job)).to.equal(true);
    expect(isJobDefinition({ ...job })).to.equal(false);
    expect(isJobDefinition(null)).to.equal(false);
    expect(
      isJobDefinition({ name: 'j', config: job.config, run: () => Promise.resolve() }),
    ).to.equal(false);
    expect(Object.isFrozen(job)).to.equal(true);
    expect(Object.isFrozen(job.config)).to.equal(true);
    expect(Object.isFrozen(job.config.retry)).to.equal(true);
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['a bad name', { name: 'a b', execute }, 'name'],
    ['no name', { execute }, 'name'],
    ['a bad cron', { name: 'j', execute, cron: '* * *' }, 'cron'],
    ['an empty cron', { name: 'j', execute, cron: '' }, 'cron'],
    ['a bad time zone', { name: 'j', execute, cron: '* * * * *', timeZone: 'Mars/X' }, 'timeZone'],
    ['a zero total', { name: 'j', execute, shardingTotalCount: 0 }, 'shardingTotalCount'],
    ['a fractional total', { name: 'j', execute, shardingTotalCount: 2.5 }, 'shardingTotalCount'],
    [
      'an out-of-range item',
      { name: 'j', execute, shardingItemParameters: '1=B' },
      'shardingItemParameters',
    ],
    [
      'a malformed item pair',
      { name: 'j', execute, shardingItemParameters: 'B' },
      'shardingItemParameters',
    ],
    ['a bad jobParameter', { name: 'j', execute, jobParameter: 1 }, 'jobParameter'],
    ['a bad failover', { name: 'j', execute, failover: 'yes' }, 'failover'],
    ['a bad misfire', { name: 'j', execute, misfire: 0 }, 'misfire'],
    ['a bad monitorExecution', { name: 'j', execute, monitorExecution: null }, 'monitorExecution'],
    ['an unknown strategy', { name: 'j', execute, strategy: 'RANDOM' }, 'strategy'],
    ['strategy CUSTOM by name', { name: 'j', execute, strategy: 'CUSTOM' }, 'strategy'],
    ['a bad overwrite', { name: 'j', execute, overwrite: 'no' }, 'overwrite'],
    ['a bad disabled', { name: 'j', execute, disabled: 1 }, 'disabled'],
    ['a bad description', { name: 'j', execute, description: 5 }, 'description'],
    [
      'a bad maxTimeDiffSeconds',
      { name: 'j', execute, maxTimeDiffSeconds: -5 },
      'maxTimeDiffSeconds',
    ],
    [
      'a bad reconcile interval',
      { name: 'j', execute, reconcileIntervalMinutes: 1.5 },
      'reconcileIntervalMinutes',
    ],
    ['a negative timeout', { name: 'j', execute, timeoutMs: -1 }, 'timeoutMs'],
    ['zero attempts', { name: 'j', execute, retry: { attempts: 0 } }, 'retry.attempts'],
    ['an unknown retry key', { name: 'j', execute, retry: { tries: 2 } }, 'retry.tries'],
    ['a non-object retry', { name: 'j', execute, retry: 3 }, 'retry'],
    ['an unknown type', { name: 'j', type: 'http', execute }, 'type'],
    ['a typo in an option', { name: 'j', execute, shardingTotalCont: 3 }, 'shardingTotalCont'],
    ['no execute', { name: 'j' }, 'execute'],
    ['a non-function execute', { name: 'j', execute: 'run' }, 'execute'],
    ['execute on a script job', { name: 'j', type: 'script', command: 'x', execute }, 'execute'],
    ['streaming on a simple job', { name: 'j', execute, streaming: true }, 'streaming'],
    [
      'command on a dataflow job',
      { name: 'j', type: 'dataflow', fetchData: execute, processData: execute, command: 'x' },
      'command',
    ],
    ['no fetchData', { name: 'j', type: 'dataflow', processData: execute }, 'fetchData'],
    ['no processData', { name: 'j', type: 'dataflow', fetchData: () => [] }, 'processData'],
    [
      'a bad streaming flag',
      { name: 'j', type: 'dataflow', fetchData: () => [], processData: execute, streaming: 1 },
      'streaming',
    ],
    ['no command', { name: 'j', type: 'script' }, 'command'],
    ['an empty command', { name: 'j', type: 'script', command: ' ' }, 'command'],
  ];
  for (const [what, options, field] of bad) {
    it(`rejects ${what}, naming '${field}'`, () => {
      const err = defineError(options);
      expect(err.field).to.equal(field);
      expect(err.message.startsWith(`${field}: `), err.message).to.equal(true);
    });
  }

  it('rejects a non-object', () => {
    expect(defineError(undefined).field).to.equal('options');
  });

  it('rejects failover: true with monitorExecution: false, naming both fields', () => {
    const err = defineError({ name: 'j', execute, failover: true, monitorExecution: false });
    expect(err.field).to.equal('failover');
    expect(err.message).to.match(/^failover: .*monitorExecution/);
  });

  it('says NaN and Infinity for a non-finite shardingTotalCount, not null', () => {
    expect(defineError({ name: 'j', execute, shardingTotalCount: NaN }).message).to.match(
      /^shardingTotalCount: .*, got NaN$/,
    );
    expect(defineError({ name: 'j', execute, shardingTotalCount: Infinity }).message).to.match(
      /^shardingTotalCount: .*, got Infinity$/,
    );
  });

  it('lists exactly the strategies a definition accepts: the built-in names or a function', () => {
    for (const strategy of ['RANDOM', 'CUSTOM', 5]) {
      const err = defineError({ name: 'j', execute, strategy });
      expect(err.field).to.equal('strategy');
      const listed = err.message.slice(0, err.message.indexOf(', got'));
      expect(listed).to.equal(
        "strategy: must be one of 'AVG_ALLOCATION', 'ODEVITY', 'ROUND_ROBIN' or a strategy function " +
          '(instances, totalCount, jobName) => Map<instanceId, items>',
      );
    }
    for (const strategy of ['AVG_ALLOCATION', 'ODEVITY', 'ROUND_ROBIN'] as const) {
      expect(defineJob({ name: 'j', execute, strategy }).config.strategy).to.equal(strategy);
    }
    expect(defineJob({ name: 'j', execute, strategy: () => new Map() }).config.strategy).to.equal(
      'CUSTOM',
    );
  });

  describe('run', () => {
    it('runs a simple job', async () => {
      const items: number[] = [];
      const job = defineJob({ name: 'j', execute: ctx => void items.push(ctx.shardingItem) });
      await job.run(fakeContext(), job.config);
      expect(items).to.deep.equal([1]);
    });

    it('runs a dataflow job, typed, streaming as the stored config says', async () => {
      interface Order {
        id: number;
      }
      const batches: Order[][] = [[{ id: 1 }], [{ id: 2 }], []];
      const seen: number[] = [];
      const options: DataflowJobOptions<Order> = {
        name: 'orders',
        type: 'dataflow',
        fetchData: () => batches.shift() ?? [],
        processData: (_ctx, orders) => void seen.push(...orders.map(o => o.id)),
      };
      const job: JobDefinition = defineJob(options);
      expect(job.config.streaming).to.equal(false);
      await job.run(fakeContext(), { ...job.config, streaming: true });
      expect(seen).to.deep.equal([1, 2]);
    });

    it("runs a script job with its definition's command, never the stored one by itself", async () => {
      const job = defineJob({ name: 'j', type: 'script', command: 'echo defined; :' });
      const ctx = fakeContext();
      await job.run(ctx, { ...job.config, command: 'echo stored; :' });
      const lines = ctx.logger.lines.map(l => l.fields?.line);
      expect(lines).to.include('defined');
      expect(lines).not.to.include('stored');
    });

    it('runs the command its caller passes (a worker that opted in with allowRegistryCommand)', async () => {
      const job = defineJob({ name: 'j', type: 'script', command: 'exit 1; :' });
      const ctx = fakeContext();
      await job.run(ctx, { ...job.config, command: 'echo adopted; :' }, 'echo adopted; :');
      expect(ctx.logger.lines.map(l => l.fields?.line)).to.include('adopted');
    });

    it('refuses a stored config of another type', async () => {
      const job = defineJob({ name: 'j', execute });
      await expect(job.run(fakeContext(), { ...job.config, type: 'script', command: 'x' }))
        .to.be.rejectedWith(ConfigurationError, /type/)
        .and.eventually.have.property('field', 'type');
    });
  });
});
