import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import {
  computeAssignment,
  type ShardingStrategyFunction,
} from '../../../lib/job/sharding/sharding-strategy';

const asObject = (m: Map<string, number[]>): Record<string, number[]> => Object.fromEntries(m);

describe('computeAssignment (custom strategies)', () => {
  const instances = ['a', 'b'];
  const custom =
    (entries: [string, number[]][]): ShardingStrategyFunction =>
    () =>
      new Map(entries);

  it('accepts a valid result, adds missing instances with [] and sorts items', () => {
    const result = computeAssignment(custom([['b', [2, 0, 1]]]), instances, 3, 'j');
    expect(asObject(result)).to.deep.equal({ a: [], b: [0, 1, 2] });
    expect([...result.keys()]).to.deep.equal(['a', 'b']);
  });

  it('passes the instances, total and job name', () => {
    const seen: unknown[] = [];
    computeAssignment(
      (list, total, job) => {
        seen.push([...list], total, job);
        return new Map([['a', [0]]]);
      },
      ['a'],
      1,
      'order-sync',
    );
    expect(seen).to.deep.equal([['a'], 1, 'order-sync']);
  });

  const invalid: [string, ShardingStrategyFunction, RegExp][] = [
    [
      'an item twice',
      custom([
        ['a', [0, 1]],
        ['b', [1, 2]],
      ]),
      /item 1 is assigned twice/,
    ],
    [
      'a missing item',
      custom([
        ['a', [0]],
        ['b', [2]],
      ]),
      /item 1 is not assigned/,
    ],
    ['an item out of range', custom([['a', [0, 1, 2, 3]]]), /item 3 .*not in 0\.\.2/],
    ['a non-integer item', custom([['a', [0, 1, 1.5, 2]]]), /item 1.5/],
    [
      'an unknown instance',
      custom([
        ['a', [0, 1]],
        ['z', [2]],
      ]),
      /unknown instance "z"/,
    ],
    [
      'a non-Map result',
      (() => ({ a: [0, 1, 2] })) as unknown as ShardingStrategyFunction,
      /must return a Map/,
    ],
    [
      'non-array items',
      (() => new Map([['a', 'x']])) as unknown as ShardingStrategyFunction,
      /must be an array/,
    ],
    [
      'a throwing strategy',
      () => {
        throw new Error('boom');
      },
      /the strategy threw: boom/,
    ],
  ];
  for (const [what, strategy, reason] of invalid) {
    it(`rejects ${what} with ConfigurationError('strategy')`, () => {
      expect(() => computeAssignment(strategy, instances, 3, 'j'))
        .to.throw(ConfigurationError, reason)
        .with.property('field', 'strategy');
    });
  }

  it('does not call the strategy for zero instances', () => {
    const never: ShardingStrategyFunction = () => {
      throw new Error('called');
    };
    expect(computeAssignment(never, [], 3, 'j').size).to.equal(0);
  });
});
