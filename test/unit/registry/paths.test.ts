import { expect } from 'chai';
import { InvalidPathError } from '../../../lib/errors';
import {
  ancestorsOf,
  isUnder,
  joinPath,
  parentOf,
  sequentialName,
  validatePath,
} from '../../../lib/internal/paths';

describe('paths', () => {
  it('accepts absolute paths and the root', () => {
    for (const ok of ['/', '/a', '/a/b-c_d.e', '/10.0.0.1@-@123', '/ünïcode']) {
      expect(validatePath(ok)).to.equal(ok);
    }
  });

  it('rejects malformed paths with a message naming the path and the rule', () => {
    const cases: [unknown, RegExp][] = [
      ['', /empty/],
      ['a/b', /absolute/],
      ['/a/', /trailing|end with a slash/],
      ['/a//b', /empty segment/],
      ['/a\nb', /control/],
      ['/a/./b', /'\.'/],
      [42, /string/],
    ];
    for (const [bad, rule] of cases) {
      expect(() => validatePath(bad), String(bad)).to.throw(InvalidPathError, rule);
    }
    expect(() => validatePath('/a//b')).to.throw('"/a//b"');
  });

  it('joins, splits and compares paths without confusing siblings that share a prefix', () => {
    expect(joinPath('/', 'a', 'b')).to.equal('/a/b');
    expect(joinPath('/a', 'b')).to.equal('/a/b');
    expect(parentOf('/a/b')).to.equal('/a');
    expect(parentOf('/a')).to.equal('/');
    expect(ancestorsOf('/a/b/c')).to.deep.equal(['/a', '/a/b']);
    expect(isUnder('/a/1', '/a/1')).to.equal(true);
    expect(isUnder('/a/1/x', '/a/1')).to.equal(true);
    expect(isUnder('/a/10', '/a/1')).to.equal(false);
    expect(isUnder('/anything', '/')).to.equal(true);
    expect(sequentialName('/q/n-', 42)).to.equal('/q/n-0000000042');
  });
});
