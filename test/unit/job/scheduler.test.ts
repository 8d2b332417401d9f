import { expect } from 'chai';
import { Scheduler } from '../../../lib/job/scheduler/scheduler';

/** The worker's single timer queue, on a fake clock driven by the test (no real waiting). */
describe('Scheduler', () => {
  let now = 1_000_000;
  let scheduler: Scheduler;
  const errors: unknown[] = [];

  beforeEach(() => {
    now = 1_000_000;
    errors.length = 0;
    scheduler = new Scheduler({ now: () => now, onError: err => errors.push(err) });
  });

  afterEach(() => scheduler.close());

  /** Moves the fake clock and lets the one real timer (armed for ≤ the delay) fire. */
  async function advance(ms: number): Promise<void> {
    now += ms;
    await new Promise(resolve => setTimeout(resolve, 5));
  }

  it('runs entries in due-time order, equal times in scheduling order, with one timer', async () => {
    const order: string[] = [];
    scheduler.at(now + 3, () => void order.push('c'));
    scheduler.at(now + 1, () => void order.push('a'));
    scheduler.at(now + 1, () => void order.push('b'));
    expect(scheduler.size).to.equal(3);
    await advance(3);
    expect(order).to.deep.equal(['a', 'b', 'c']);
    expect(scheduler.size).to.equal(0);
  });

  it('does not run cancelled entries, and runs past-due entries at once', async () => {
    const order: string[] = [];
    const task = scheduler.at(now + 1, () => void order.push('cancelled'));
    scheduler.at(now - 100, () => void order.push('late'));
    task.cancel();
    await advance(1);
    expect(order).to.deep.equal(['late']);
  });

  it('reports a throwing or rejecting task and keeps serving the queue', async () => {
    const order: string[] = [];
    scheduler.at(now, () => {
      throw new Error('boom');
    });
    scheduler.at(now, () => Promise.reject(new Error('async boom')));
    scheduler.at(now + 1, () => void order.push('after'));
    await advance(1);
    expect(order).to.deep.equal(['after']);
    expect(errors.map(e => (e as Error).message)).to.deep.equal(['boom', 'async boom']);
  });

  it('drops everything on close', async () => {
    const order: string[] = [];
    scheduler.at(now + 1, () => void order.push('x'));
    scheduler.close();
    scheduler.at(now, () => void order.push('y'));
    await advance(1);
    expect(order).to.deep.equal([]);
  });
});
