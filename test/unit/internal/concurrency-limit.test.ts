import { expect } from 'chai';
import { Deferred } from '../../../lib/internal/async';
import { ConcurrencyLimit } from '../../../lib/internal/concurrency-limit';

describe('ConcurrencyLimit', () => {
  it('runs at most `limit` tasks at once, the rest in FIFO order as slots free', async () => {
    const limit = new ConcurrencyLimit(2);
    const gates = [0, 1, 2, 3].map(() => new Deferred<void>());
    const started: number[] = [];
    const runs = gates.map((gate, i) =>
      limit.run(async () => {
        started.push(i);
        await gate.promise;
        return i;
      }),
    );
    await new Promise<void>(resolve => setImmediate(resolve));
    expect(started).to.deep.equal([0, 1]);
    expect(limit.running).to.equal(2);
    gates[1]!.resolve();
    await runs[1];
    await new Promise<void>(resolve => setImmediate(resolve));
    expect(started).to.deep.equal([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    gates[3]!.resolve();
    expect(await Promise.all(runs)).to.deep.equal([0, 1, 2, 3]);
    expect(limit.running).to.equal(0);
  });

  it('frees the slot of a failing task', async () => {
    const limit = new ConcurrencyLimit(1);
    await expect(limit.run(() => Promise.reject(new Error('boom')))).to.be.rejectedWith('boom');
    expect(await limit.run(() => Promise.resolve(7))).to.equal(7);
    expect(limit.running).to.equal(0);
  });

  it('refuses a limit that is not a positive integer, naming it', () => {
    expect(() => new ConcurrencyLimit(0)).to.throw(RangeError, 'got 0');
    expect(() => new ConcurrencyLimit(1.5)).to.throw(RangeError, 'got 1.5');
  });
});
