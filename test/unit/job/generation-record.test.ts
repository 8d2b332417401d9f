import { expect } from 'chai';
import {
  assignmentDigest,
  formatGenerationRecord,
  parseGenerationRecord,
  withGeneration,
} from '../../../lib/job/sharding/generation-record';

describe('generation record', () => {
  it('round-trips the generation, the item count and the digest of the owners', () => {
    const raw = formatGenerationRecord(7, ['a', 'b', null]);
    expect(parseGenerationRecord(raw)).to.deep.equal({
      generation: 7,
      itemCount: 3,
      digest: assignmentDigest(['a', 'b', null]),
      valid: true,
    });
  });

  it('tells a half-applied assignment from the whole one', () => {
    expect(assignmentDigest(['a', 'b', 'c'])).to.not.equal(assignmentDigest(['a', 'a', 'c']));
    expect(assignmentDigest(['a', 'b'])).to.not.equal(assignmentDigest(['a', 'b', null]));
    expect(assignmentDigest(['ab', 'c'])).to.not.equal(assignmentDigest(['a', 'bc']));
  });

  it('reads a bare number (no digest); garbage reads as generation 0 and is flagged invalid', () => {
    expect(parseGenerationRecord('12')).to.deep.equal({
      generation: 12,
      itemCount: undefined,
      digest: undefined,
      valid: true,
    });
    for (const garbage of ['x', 'abc', '-1', '1:2', '1:2:xyz', '1.5', ' 3', '3:4:0000000g']) {
      expect(parseGenerationRecord(garbage), garbage).to.deep.equal({
        generation: 0,
        itemCount: undefined,
        digest: undefined,
        valid: false,
      });
    }
    expect(parseGenerationRecord(null)).to.include({ generation: 0, valid: true });
    expect(parseGenerationRecord('')).to.include({ generation: 0, valid: true });
  });

  it('keeps the digest when only the generation moves (a failover claim)', () => {
    const record = parseGenerationRecord(formatGenerationRecord(3, ['a']));
    expect(parseGenerationRecord(withGeneration(record, 5))).to.deep.equal({
      ...record,
      generation: 5,
    });
    expect(withGeneration(parseGenerationRecord('3'), 5)).to.equal('5');
  });
});
