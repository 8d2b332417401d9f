import { expect } from 'chai';
import { InvalidationCallbacks } from '../../../lib/internal/invalidation-callbacks';

describe('InvalidationCallbacks', () => {
  it('calls the callbacks of one path once, each registered once', () => {
    const cbs = new InvalidationCallbacks(10);
    const calls: string[] = [];
    const a = (): void => void calls.push('a');
    cbs.add('/x', a);
    cbs.add('/x', a);
    cbs.add('/y', () => calls.push('y'));
    expect(cbs.size).to.equal(2);
    cbs.fire('/x');
    cbs.fire('/x');
    expect(calls).to.deep.equal(['a']);
    expect(cbs.size).to.equal(1);
  });

  it('drops a callback without calling it', () => {
    const cbs = new InvalidationCallbacks(10);
    let called = false;
    const cb = (): void => {
      called = true;
    };
    cbs.add('/x', cb);
    cbs.delete('/x', cb);
    cbs.delete('/x', cb);
    cbs.fireAll();
    expect(called).to.equal(false);
    expect(cbs.size).to.equal(0);
  });

  it('reports full at the cap, and a throwing callback stops no other', () => {
    const cbs = new InvalidationCallbacks(2);
    const calls: string[] = [];
    cbs.add('/a', () => {
      throw new Error('boom');
    });
    expect(cbs.isFull).to.equal(false);
    cbs.add('/b', () => calls.push('b'));
    expect(cbs.isFull).to.equal(true);
    cbs.fireAll();
    expect(calls).to.deep.equal(['b']);
    expect(cbs.size).to.equal(0);
    expect(cbs.isFull).to.equal(false);
  });
});
