import { expect } from 'chai';
import { javaHashCode } from '../../../lib/job/sharding/java-hash';

/** Java's String.hashCode by the textbook formula, in BigInt arithmetic, wrapped to int32 at the end. */
function referenceHash(s: string): number {
  let h = 0n;
  for (let i = 0; i < s.length; i++) {
    h = (h * 31n + BigInt(s.charCodeAt(i))) % 2n ** 32n;
  }
  return Number(BigInt.asIntN(32, h));
}

describe('javaHashCode', () => {
  const known: [string, number][] = [
    ['', 0],
    ['hello', 99162322],
    ['0', 48],
    ['1', 49],
    ['myJob', 104343153],
    ['test_job', -1146456432],
    ['orderJob', 1234284943],
    ['javaSimpleJob', -694093655],
  ];
  for (const [s, h] of known) {
    it(`"${s}".hashCode() = ${h}`, () => {
      expect(javaHashCode(s)).to.equal(h);
      expect(referenceHash(s)).to.equal(h);
    });
  }

  it('matches the formula for other names, including non-ASCII and long ones', () => {
    const names = [
      'order-sync',
      'Shardline',
      'a'.repeat(1000),
      '订单同步',
      '😀-job',
      'polygenelubricants',
    ];
    for (const name of names) {
      expect(javaHashCode(name), name).to.equal(referenceHash(name));
    }
    expect(javaHashCode('polygenelubricants')).to.equal(-2147483648);
  });
});
