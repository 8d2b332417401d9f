import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import { parseItemParameters } from '../../../lib/job/job-config';

describe('parseItemParameters', () => {
  const good: [string | Record<string | number, string>, number, Record<string, string>][] = [
    ['', 3, {}],
    ['0=Beijing,1=Shanghai,2=Guangzhou', 3, { '0': 'Beijing', '1': 'Shanghai', '2': 'Guangzhou' }],
    [' 0 = A , 2=C ', 3, { '0': 'A', '2': 'C' }],
    ['1=B,0=A', 2, { '0': 'A', '1': 'B' }],
    ['0=a=b==c', 1, { '0': 'a=b==c' }],
    ['0=', 1, { '0': '' }],
    ['0=A,,1=B,', 2, { '0': 'A', '1': 'B' }],
    [{ 0: 'A', 1: 'B' }, 2, { '0': 'A', '1': 'B' }],
    [{ '1': 'B' }, 2, { '1': 'B' }],
  ];
  for (const [input, total, expected] of good) {
    it(`parses ${JSON.stringify(input)} (total ${total})`, () => {
      const parsed = parseItemParameters(input, total);
      expect(parsed).to.deep.equal(expected);
      expect(Object.keys(parsed)).to.deep.equal(Object.keys(expected));
    });
  }

  const bad: [unknown, number, RegExp][] = [
    ['0A', 1, /malformed pair/],
    ['0=A,B', 2, /malformed pair "B"/],
    ['=A', 1, /not a non-negative integer/],
    ['x=A', 1, /not a non-negative integer/],
    ['-1=A', 1, /not a non-negative integer/],
    ['1.5=A', 2, /not a non-negative integer/],
    ['01=A', 2, /not a non-negative integer/],
    ['3=A', 3, /not in 0\.\.2/],
    ['0=A,0=B', 2, /item 0 is given twice/],
    [{ 5: 'A' }, 3, /not in 0\.\.2/],
    [{ 0: 5 }, 1, /must be a string/],
    [42, 1, /must be a string like/],
    [null, 1, /must be a string like/],
  ];
  for (const [input, total, reason] of bad) {
    it(`rejects ${JSON.stringify(input)} (total ${total})`, () => {
      expect(() => parseItemParameters(input as string, total))
        .to.throw(ConfigurationError, reason)
        .with.property('field', 'shardingItemParameters');
    });
  }
});
