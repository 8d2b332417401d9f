import { expect } from 'chai';
import { ConfigurationError, CorruptedDataError } from '../../../lib/errors';
import {
  JOB_CONFIG_KEYS,
  parseJobConfig,
  serializeJobConfig,
  validateJobConfig,
  type JobConfig,
} from '../../../lib/job/job-config';
import { jobConfig } from '../ops/ops-fixture';

/** A complete, valid stored configuration (the shared fixture), with item parameters. */
function validConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return jobConfig('order-sync', {
    shardingItemParameters: { '0': 'Beijing', '1': 'Shanghai', '2': 'Guangzhou' },
    ...overrides,
  });
}

function configError(input: unknown): ConfigurationError {
  try {
    validateJobConfig(input);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigurationError);
    return err as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('job-config', () => {
  describe('validateJobConfig', () => {
    it('accepts a complete configuration and returns a copy', () => {
      const input = validConfig();
      const config = validateJobConfig(input);
      expect(config).to.deep.equal(input);
      expect(config).not.to.equal(input);
      expect(config.shardingItemParameters).not.to.equal(input.shardingItemParameters);
    });

    const good: [string, unknown][] = [
      ['name', 'a'],
      ['name', 'Order_sync.v2-b'],
      ['name', 'x'.repeat(128)],
      ['type', 'dataflow'],
      ['cron', null],
      ['cron', '0 0 9 * * *'],
      ['cron', '*/5 * * * *'],
      ['cron', '0/5 * * * * ?'],
      ['timeZone', 'Asia/Shanghai'],
      ['timeZone', 'America/New_York'],
      ['shardingTotalCount', 1],
      ['shardingTotalCount', 10000],
      ['jobParameter', 'p=1,q=2'],
      ['failover', true],
      ['misfire', false],
      ['monitorExecution', false],
      ['strategy', 'ODEVITY'],
      ['strategy', 'ROUND_ROBIN'],
      ['strategy', 'CUSTOM'],
      ['disabled', true],
      ['description', 'nightly sync'],
      ['maxTimeDiffSeconds', 0],
      ['maxTimeDiffSeconds', 60],
      ['reconcileIntervalMinutes', 0],
      ['reconcileIntervalMinutes', 1],
      ['timeoutMs', 5000],
      ['retry', { attempts: 5, backoffMs: 0, maxBackoffMs: 0 }],
      ['retry', { attempts: 3, backoffMs: 100, maxBackoffMs: 100 }],
    ];
    for (const [field, value] of good) {
      it(`accepts ${field} = ${JSON.stringify(value)}`, () => {
        const items = field === 'shardingTotalCount' ? { shardingItemParameters: {} } : {};
        const config = validateJobConfig(validConfig({ ...items, [field]: value }));
        expect(config[field as keyof JobConfig]).to.deep.equal(value);
      });
    }

    const bad: [string, unknown, string?][] = [
      ['schemaVersion', 2],
      ['name', ''],
      ['name', '-leading-dash'],
      ['name', 'has space'],
      ['name', 'a/b'],
      ['name', 'x'.repeat(129)],
      ['name', 42],
      ['type', 'http'],
      ['cron', ''],
      ['cron', 'not a cron'],
      ['cron', '* * * * * * * *'],
      ['cron', '0 0 0 30 2 *'],
      ['cron', 5],
      ['timeZone', 'Mars/Olympus'],
      ['timeZone', ''],
      ['timeZone', null],
      ['shardingTotalCount', 0],
      ['shardingTotalCount', -1],
      ['shardingTotalCount', 1.5],
      ['shardingTotalCount', 10001],
      ['shardingTotalCount', '3'],
      ['shardingItemParameters', '0=A'],
      ['shardingItemParameters', { '3': 'D' }],
      ['shardingItemParameters', { '01': 'A' }],
      ['shardingItemParameters', { '0': 1 }],
      ['shardingItemParameters', null],
      ['jobParameter', null],
      ['failover', 'yes'],
      ['misfire', 1],
      ['monitorExecution', null],
      ['strategy', 'RANDOM'],
      ['disabled', 'false'],
      ['description', 'x'.repeat(5000)],
      ['maxTimeDiffSeconds', -2],
      ['maxTimeDiffSeconds', 0.5],
      ['reconcileIntervalMinutes', -1],
      ['timeoutMs', -1],
      ['timeoutMs', 2 ** 31],
      ['retry', null],
      ['retry', { attempts: 0, backoffMs: 1000, maxBackoffMs: 30000 }, 'retry.attempts'],
      ['retry', { attempts: 1, backoffMs: -1, maxBackoffMs: 30000 }, 'retry.backoffMs'],
      ['retry', { attempts: 1, backoffMs: 1000, maxBackoffMs: 10 }, 'retry.maxBackoffMs'],
      ['retry', { attempts: 1, backoffMs: 1000 }, 'retry.maxBackoffMs'],
      ['retry', { attempts: 1, backoffMs: 1000, maxBackoffMs: 30000, jitter: 1 }, 'retry.jitter'],
      ['streaming', true],
      ['command', 'echo hi'],
      ['command', 3],
    ];
    for (const [field, value, named] of bad) {
      it(`rejects ${field} = ${JSON.stringify(value)?.slice(0, 40)} naming the field`, () => {
        const err = configError(validConfig({ [field]: value }));
        const expected = named ?? field;
        expect(err.field).to.equal(expected);
        expect(err.message).to.match(new RegExp(`^${expected.replace('.', '\\.')}: `));
      });
    }

    it('says what it got: "shardingTotalCount: must be an integer ≥ 1 …, got 0"', () => {
      expect(configError(validConfig({ shardingTotalCount: 0 })).message).to.equal(
        'shardingTotalCount: must be an integer ≥ 1 and ≤ 10000, got 0',
      );
    });

    it('says NaN and Infinity, not "got null", for a non-finite shardingTotalCount', () => {
      const cases: [number, string][] = [
        [NaN, 'NaN'],
        [Infinity, 'Infinity'],
        [-Infinity, '-Infinity'],
      ];
      for (const [value, shown] of cases) {
        expect(configError(validConfig({ shardingTotalCount: value })).message).to.equal(
          `shardingTotalCount: must be an integer ≥ 1 and ≤ 10000, got ${shown}`,
        );
      }
    });

    it('rejects failover: true with monitorExecution: false, naming both fields', () => {
      const err = configError(validConfig({ failover: true, monitorExecution: false }));
      expect(err.field).to.equal('failover');
      expect(err.message).to.match(/^failover: /);
      expect(err.message).to.contain('monitorExecution');
      expect(
        validateJobConfig(validConfig({ failover: false, monitorExecution: false })),
      ).to.include({ failover: false, monitorExecution: false });
    });

    it('names a missing field and an unknown field', () => {
      const missing = validConfig();
      delete missing.misfire;
      expect(configError(missing).message).to.match(/^misfire: is missing/);
      const unknown = configError(validConfig({ cronExpression: '* * * * *' }));
      expect(unknown.field).to.equal('cronExpression');
      expect(unknown.message).to.contain('unknown field');
    });

    it('names every field a stored configuration leaves out, none taking a default', () => {
      const without = (key: string): Record<string, unknown> => {
        const input = validConfig();
        const [outer, inner] = key.split('.') as [string, string | undefined];
        if (inner === undefined) {
          delete input[outer];
        } else {
          const nested = { ...(input[outer] as Record<string, unknown>) };
          delete nested[inner];
          input[outer] = nested;
        }
        return input;
      };
      for (const key of [
        ...JOB_CONFIG_KEYS,
        'retry.attempts',
        'retry.backoffMs',
        'retry.maxBackoffMs',
      ]) {
        const err = configError(without(key));
        expect(err.field, key).to.equal(key);
        expect(err.message, key).to.match(
          new RegExp(`^${key.replace('.', '\\.')}: is missing \\(must `),
        );
      }
    });

    it('lists every problem, the first one in `field`', () => {
      const err = configError(validConfig({ shardingTotalCount: 0, failover: 'no' }));
      expect(err.field).to.equal('shardingTotalCount');
      expect(err.message).to.contain('failover: must be a boolean');
    });

    it('rejects a non-object', () => {
      for (const input of [null, 'config', [], 42]) {
        expect(configError(input).field).to.equal('config');
      }
    });

    it('ties the type-specific fields to the type', () => {
      const dataflow = validConfig({ type: 'dataflow', streaming: true });
      expect(validateJobConfig(dataflow).streaming).to.equal(true);
      const script = validateJobConfig(validConfig({ type: 'script', command: './sync.sh' }));
      expect(script.command).to.equal('./sync.sh');
      expect(configError(validConfig({ type: 'script' })).field).to.equal('command');
      expect(configError(validConfig({ type: 'script', command: '  ' })).field).to.equal('command');
    });

    it('validates the cron in the configured time zone, the zone first', () => {
      const err = configError(validConfig({ timeZone: 'Nowhere/City', cron: 'bad' }));
      expect(err.field).to.equal('timeZone');
    });

    it('rejects an oversized configuration', () => {
      const items: Record<string, string> = {};
      for (let i = 0; i < 100; i++) {
        items[String(i)] = 'x'.repeat(6000);
      }
      const err = configError(
        validConfig({ shardingTotalCount: 100, shardingItemParameters: items }),
      );
      expect(err.field).to.equal('config');
    });
  });

  describe('serializeJobConfig / parseJobConfig', () => {
    it('round-trips and writes fields in a stable order', () => {
      const config = validateJobConfig(
        validConfig({ shardingItemParameters: { '2': 'c', '0': 'a' } }),
      );
      const json = serializeJobConfig(config);
      expect(parseJobConfig('/order-sync/config', json)).to.deep.equal(config);
      expect(Object.keys(JSON.parse(json) as object)).to.deep.equal(JOB_CONFIG_KEYS);
      expect(Object.keys(parseJobConfig('/p', json).shardingItemParameters)).to.deep.equal([
        '0',
        '2',
      ]);
      const shuffled = Object.fromEntries(Object.entries(config).reverse()) as unknown as JobConfig;
      expect(serializeJobConfig(shuffled)).to.equal(json);
    });

    it('refuses to serialise an invalid configuration', () => {
      const config = validateJobConfig(validConfig());
      expect(() => serializeJobConfig({ ...config, shardingTotalCount: 0 })).to.throw(
        ConfigurationError,
        /shardingTotalCount/,
      );
    });

    const corrupted: [string, string, RegExp][] = [
      ['bad JSON', '{"schemaVersion": 1,', /invalid JSON/],
      ['an empty value', '', /invalid JSON/],
      ['a JSON array', '[]', /config: must be an object/],
      ['JSON null', 'null', /config: must be an object/],
      [
        'a newer schemaVersion',
        JSON.stringify(validConfig({ schemaVersion: 2 })),
        /schemaVersion: .*got 2/,
      ],
      [
        'no schemaVersion',
        JSON.stringify({ ...validConfig(), schemaVersion: undefined }),
        /schemaVersion/,
      ],
      [
        'a missing field',
        JSON.stringify({ ...validConfig(), cron: undefined }),
        /cron: is missing/,
      ],
      [
        'a bad field',
        JSON.stringify(validConfig({ shardingTotalCount: 'x' })),
        /shardingTotalCount: /,
      ],
      ['an unknown field', JSON.stringify(validConfig({ extra: true })), /extra: unknown field/],
      ['a bad cron', JSON.stringify(validConfig({ cron: '61 * * * * *' })), /cron: /],
      [
        'failover without monitorExecution',
        JSON.stringify(validConfig({ failover: true, monitorExecution: false })),
        /failover: .*monitorExecution/,
      ],
    ];
    for (const [what, raw, reason] of corrupted) {
      it(`reports ${what} as CorruptedDataError with the path`, () => {
        try {
          parseJobConfig('/order-sync/config', raw);
        } catch (err) {
          expect(err).to.be.instanceOf(CorruptedDataError);
          const corruptedErr = err as CorruptedDataError;
          expect(corruptedErr.path).to.equal('/order-sync/config');
          expect(corruptedErr.message).to.contain('/order-sync/config');
          expect(corruptedErr.message).to.match(reason);
          return;
        }
        expect.fail('expected a CorruptedDataError');
      });
    }
  });
});
