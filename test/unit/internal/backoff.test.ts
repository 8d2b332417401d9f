import { expect } from 'chai';
import { Backoff } from '../../../lib/internal/backoff';
import { BackoffTimer } from '../../../lib/internal/backoff-timer';
import { seededRandom } from '../../harness/seeded-random';

/** The ceilings and the draws of `n` delays. */
function draws(backoff: Backoff, n: number): { ceilings: number[]; delays: number[] } {
  const ceilings: number[] = [];
  const delays: number[] = [];
  for (let i = 0; i < n; i++) {
    ceilings.push(backoff.ceilingMs);
    delays.push(backoff.next());
  }
  return { ceilings, delays };
}

describe('Backoff (capped exponential, equal jitter)', () => {
  it('doubles its ceiling from initialMs and stops at maxMs', () => {
    const { ceilings } = draws(new Backoff({ initialMs: 100, maxMs: 2000 }), 8);
    expect(ceilings).to.deep.equal([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  it('draws each delay in [ceiling / 2, ceiling]: the lowest draw is half, the highest the ceiling', () => {
    const low = draws(new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 }), 6);
    expect(low.delays).to.deep.equal([50, 100, 200, 400, 500, 500]);
    const high = draws(new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 }), 6);
    expect(high.delays).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
  });

  it('stays within the bounds and spreads over the whole range, at the cap too', () => {
    const backoff = new Backoff({ initialMs: 50, maxMs: 2000, random: seededRandom(7) });
    const atCap: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const ceiling = backoff.ceilingMs;
      const d = backoff.next();
      if (d < ceiling / 2 || d > ceiling) {
        expect.fail(`draw ${i}: ${d} outside [${ceiling / 2}, ${ceiling}]`);
      }
      if (ceiling === 2000) {
        atCap.push(d);
      }
    }
    // Uniform over [1000, 2000]: both ends of the range are reached and the mean sits in the middle.
    expect(Math.min(...atCap)).to.be.below(1020);
    expect(Math.max(...atCap)).to.be.above(1980);
    const mean = atCap.reduce((a, b) => a + b, 0) / atCap.length;
    expect(mean).to.be.within(1450, 1550);
  });

  it('reset() starts over from the initial ceiling', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 5000, random: () => 0.5 });
    draws(backoff, 4);
    expect(backoff.ceilingMs).to.equal(1600);
    backoff.reset();
    expect(backoff.ceilingMs).to.equal(100);
    expect(backoff.next()).to.equal(75);
  });

  it('accepts a zero delay (a user retry policy with backoffMs 0) and refuses bounds out of order', () => {
    const zero = new Backoff({ initialMs: 0, maxMs: 0 });
    expect([zero.next(), zero.next()]).to.deep.equal([0, 0]);
    expect(() => new Backoff({ initialMs: 100, maxMs: 10 })).to.throw(RangeError);
    expect(() => new Backoff({ initialMs: -1, maxMs: 10 })).to.throw(RangeError);
    expect(() => new Backoff({ initialMs: Number.NaN, maxMs: 10 })).to.throw(RangeError);
  });

  describe('sleep()', () => {
    it('waits the next delay, then the ceiling has doubled', async () => {
      const backoff = new Backoff({ initialMs: 60, maxMs: 1000, random: () => 0 });
      const started = Date.now();
      await backoff.sleep();
      expect(Date.now() - started).to.be.at.least(29);
      expect(backoff.ceilingMs).to.equal(120);
    });

    it('rejects with the reason of the signal when it aborts first', async () => {
      const backoff = new Backoff({ initialMs: 60_000, maxMs: 60_000 });
      const controller = new AbortController();
      const slept = backoff.sleep(controller.signal);
      controller.abort(new Error('stopping'));
      try {
        await slept;
        expect.fail('sleep resolved');
      } catch (err) {
        expect((err as Error).message).to.equal('stopping');
      }
    });
  });
});

describe('BackoffTimer', () => {
  const settle = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

  it('keeps at most one retry pending, each after the next delay, and starts over on reset()', async () => {
    const waits: number[] = [];
    let armedAt = Date.now();
    const timer = new BackoffTimer({ initialMs: 40, maxMs: 1000, random: () => 0.999999 }, () =>
      waits.push(Date.now() - armedAt),
    );
    expect(timer.schedule()).to.equal(true);
    expect(timer.schedule()).to.equal(false); // pending: neither re-armed nor advanced
    expect(timer.isPending).to.equal(true);
    await settle(300);
    expect(waits).to.have.length(1);
    expect(timer.isPending).to.equal(false);
    armedAt = Date.now();
    timer.schedule();
    await settle(400);
    armedAt = Date.now();
    timer.schedule(); // the third delay: 160 ms; without a reset the fourth would be 320 ms
    await settle(500);
    timer.reset();
    armedAt = Date.now();
    timer.schedule();
    await settle(300);
    expect(waits).to.have.length(4);
    expect(waits[0]).to.be.at.least(39);
    expect(waits[1]).to.be.at.least(79); // the doubled ceiling
    expect(waits[2]).to.be.at.least(159);
    expect(waits[3]).to.be.at.least(39).and.below(300); // after reset: the first delay again
  });

  it('reschedule() replaces a pending retry; cancel() drops it', async () => {
    let fired = 0;
    const timer = new BackoffTimer({ initialMs: 40, maxMs: 1000, random: () => 0.999999 }, () => {
      fired++;
    });
    timer.schedule();
    timer.reschedule(); // one pending, after the second delay (80 ms)
    await settle(300);
    expect(fired).to.equal(1);
    timer.schedule();
    timer.cancel();
    expect(timer.isPending).to.equal(false);
    await settle(400);
    expect(fired).to.equal(1);
  });
});
