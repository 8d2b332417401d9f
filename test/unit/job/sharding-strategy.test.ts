import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import { averageAllocation } from '../../../lib/job/sharding/average-allocation';
import { odevityByName } from '../../../lib/job/sharding/odevity-by-name';
import { roundRobinByName } from '../../../lib/job/sharding/round-robin-by-name';
import {
  computeAssignment,
  resolveStrategy,
  selectStrategy,
  type ShardingStrategyFunction,
} from '../../../lib/job/sharding/sharding-strategy';
import type { StrategyName } from '../../../lib/job/job-config';
import { seededRandom } from '../../harness/seeded-random';

const asObject = (m: Map<string, number[]>): Record<string, number[]> => Object.fromEntries(m);
const HOSTS = ['host0', 'host1', 'host2'];
// The reference's worked example lists the instances in ElasticJob's (descending) order.
const IPS = ['192.168.0.13@-@1003', '192.168.0.12@-@1002', '192.168.0.11@-@1001'];

describe('sharding strategies', () => {
  describe('AVG_ALLOCATION', () => {
    const rows: [string[], number, number[][]][] = [
      [
        HOSTS,
        9,
        [
          [0, 1, 2],
          [3, 4, 5],
          [6, 7, 8],
        ],
      ],
      [
        HOSTS,
        8,
        [
          [0, 1, 6],
          [2, 3, 7],
          [4, 5],
        ],
      ],
      [
        HOSTS,
        10,
        [
          [0, 1, 2, 9],
          [3, 4, 5],
          [6, 7, 8],
        ],
      ],
      [HOSTS, 2, [[0], [1], []]],
      [['host0'], 3, [[0, 1, 2]]],
      [
        ['.13', '.12'],
        10,
        [
          [0, 1, 2, 3, 4],
          [5, 6, 7, 8, 9],
        ],
      ],
    ];
    for (const [instances, total, expected] of rows) {
      it(`${instances.length} instances, ${total} items → ${JSON.stringify(expected)}`, () => {
        const result = averageAllocation(instances, total);
        expect([...result.keys()]).to.deep.equal(instances);
        expect([...result.values()]).to.deep.equal(expected);
      });
    }

    it('gives an empty map for zero instances', () => {
      expect(averageAllocation([], 5).size).to.equal(0);
    });
  });

  describe('ODEVITY and ROUND_ROBIN (the reference worked examples)', () => {
    const rows: [StrategyName, string, string[], number, Record<string, number[]>][] = [
      ['ODEVITY', '1', HOSTS, 2, { host0: [0], host1: [1], host2: [] }],
      ['ODEVITY', '0', HOSTS, 2, { host2: [0], host1: [1], host0: [] }],
      ['ROUND_ROBIN', '1', HOSTS, 2, { host1: [0], host2: [1], host0: [] }],
      ['ROUND_ROBIN', '2', HOSTS, 2, { host2: [0], host0: [1], host1: [] }],
      ['ROUND_ROBIN', '3', HOSTS, 2, { host0: [0], host1: [1], host2: [] }],
      [
        'AVG_ALLOCATION',
        'anything',
        IPS,
        10,
        { [IPS[0]!]: [0, 1, 2, 9], [IPS[1]!]: [3, 4, 5], [IPS[2]!]: [6, 7, 8] },
      ],
      [
        'ODEVITY',
        'myJob',
        IPS,
        10,
        { [IPS[0]!]: [0, 1, 2, 9], [IPS[1]!]: [3, 4, 5], [IPS[2]!]: [6, 7, 8] },
      ],
      [
        'ODEVITY',
        'test_job',
        IPS,
        10,
        { [IPS[0]!]: [6, 7, 8], [IPS[1]!]: [3, 4, 5], [IPS[2]!]: [0, 1, 2, 9] },
      ],
      [
        'ROUND_ROBIN',
        'orderJob',
        IPS,
        10,
        { [IPS[0]!]: [6, 7, 8], [IPS[1]!]: [0, 1, 2, 9], [IPS[2]!]: [3, 4, 5] },
      ],
      [
        'ROUND_ROBIN',
        'javaSimpleJob',
        IPS,
        10,
        { [IPS[0]!]: [3, 4, 5], [IPS[1]!]: [6, 7, 8], [IPS[2]!]: [0, 1, 2, 9] },
      ],
      [
        'ROUND_ROBIN',
        'myJob',
        IPS,
        10,
        { [IPS[0]!]: [0, 1, 2, 9], [IPS[1]!]: [3, 4, 5], [IPS[2]!]: [6, 7, 8] },
      ],
    ];
    for (const [name, job, instances, total, expected] of rows) {
      it(`${name} "${job}", ${instances.length} instances, ${total} items`, () => {
        expect(asObject(resolveStrategy(name)(instances, total, job))).to.deep.equal(expected);
        expect(
          asObject(computeAssignment(resolveStrategy(name), instances, total, job)),
        ).to.deep.equal(expected);
      });
    }

    it('ROUND_ROBIN copes with a hash of -2^31 (Java Math.abs keeps it negative)', () => {
      const result = roundRobinByName(HOSTS, 3, 'polygenelubricants');
      expect([...result.values()].flat().sort()).to.deep.equal([0, 1, 2]);
      // -2147483648 % 3 = -2 in Java → normalised offset 1
      expect(asObject(result)).to.deep.equal({ host1: [0], host2: [1], host0: [2] });
    });

    it('zero instances give an empty map', () => {
      expect(odevityByName([], 3, 'x').size).to.equal(0);
      expect(roundRobinByName([], 3, 'x').size).to.equal(0);
    });
  });

  describe('properties (300 seeded random cases per strategy)', () => {
    const names: StrategyName[] = ['AVG_ALLOCATION', 'ODEVITY', 'ROUND_ROBIN'];
    for (const name of names) {
      it(`${name}: every item exactly once, every instance present, deterministic, balanced within 1`, () => {
        const random = seededRandom(20240601);
        for (let round = 0; round < 300; round++) {
          const n = 1 + Math.floor(random() * 12);
          const total = 1 + Math.floor(random() * 60);
          const instances = Array.from({ length: n }, (_, i) => `10.0.0.${i}@-@${1000 + i}`).sort();
          const job = `job-${Math.floor(random() * 1e6)}`;
          const label = `${n} instances, ${total} items, ${job}`;
          const strategy = resolveStrategy(name);
          const result = computeAssignment(strategy, instances, total, job);
          expect([...result.keys()].sort(), label).to.deep.equal(instances);
          const all = [...result.values()].flat().sort((x, y) => x - y);
          expect(all, label).to.deep.equal(Array.from({ length: total }, (_, i) => i));
          const again = computeAssignment(strategy, [...instances], total, job);
          expect(asObject(again), label).to.deep.equal(asObject(result));
          const sizes = [...result.values()].map(items => items.length);
          expect(Math.max(...sizes) - Math.min(...sizes), label).to.be.at.most(1);
        }
      });
    }
  });

  describe('resolveStrategy / selectStrategy', () => {
    it('resolves the built-ins and rejects other names', () => {
      expect(resolveStrategy('AVG_ALLOCATION')).to.equal(averageAllocation);
      expect(resolveStrategy('ODEVITY')).to.equal(odevityByName);
      expect(resolveStrategy('ROUND_ROBIN')).to.equal(roundRobinByName);
      expect(() => resolveStrategy('CUSTOM' as StrategyName)).to.throw(
        ConfigurationError,
        /strategy/,
      );
      expect(() => resolveStrategy('toString' as StrategyName)).to.throw(ConfigurationError);
    });

    it('selects the custom function for CUSTOM and fails clearly without one', () => {
      const fn: ShardingStrategyFunction = () => new Map();
      expect(selectStrategy('CUSTOM', fn)).to.equal(fn);
      expect(selectStrategy('ODEVITY', fn)).to.equal(odevityByName);
      expect(() => selectStrategy('CUSTOM', undefined))
        .to.throw(ConfigurationError, /no strategy function/)
        .with.property('field', 'strategy');
    });
  });
});
