import { expect } from 'chai';
import { CacheManager } from '../../../lib/registry/cache-manager';
import type { NodeData, RegistryDriver } from '../../../lib/registry/driver';
import { Deferred } from '../../../lib/internal/async';

/** Only readWatched/read matter to the read cache; the rest is never called here. */
function fakeDriver(): {
  driver: RegistryDriver;
  value: { v: string };
  reads: { n: number };
  fire: () => void;
  gate: { next?: Deferred<void> };
} {
  const value = { v: '1' };
  const reads = { n: 0 };
  const gate: { next?: Deferred<void> } = {};
  let invalidate: (() => void) | undefined;
  const data = (): NodeData => ({ value: value.v, version: 0, stamp: 1n, ephemeral: false });
  const driver = {
    read: () => Promise.resolve(data()),
    readWatched: async (_path: string, onInvalidate: () => void) => {
      reads.n++;
      invalidate = onInvalidate;
      const snapshot = data();
      await gate.next?.promise;
      return snapshot;
    },
  } as unknown as RegistryDriver;
  return { driver, value, reads, gate, fire: () => invalidate?.() };
}

describe('CacheManager read cache', () => {
  it('serves repeated reads from memory until the backend watch fires', async () => {
    const f = fakeDriver();
    const m = new CacheManager(f.driver, 10, () => undefined);
    expect(await m.readThrough('/hot')).to.equal('1');
    expect(await m.readThrough('/hot')).to.equal('1');
    expect(f.reads.n).to.equal(1);
    f.value.v = '2';
    f.fire();
    expect(await m.readThrough('/hot')).to.equal('2');
    expect(f.reads.n).to.equal(2);
  });

  it('does not store a value whose watch fired while it was being read', async () => {
    const f = fakeDriver();
    const m = new CacheManager(f.driver, 10, () => undefined);
    f.gate.next = new Deferred<void>();
    const reading = m.readThrough('/hot');
    await new Promise(resolve => setImmediate(resolve));
    f.fire(); // the node changed after the server answered but before we stored the answer
    f.gate.next.resolve();
    expect(await reading).to.equal('1');
    f.gate.next = undefined;
    f.value.v = '2';
    expect(await m.readThrough('/hot')).to.equal('2');
  });

  it('drops everything on a connection change and below a removed subtree', async () => {
    const f = fakeDriver();
    const m = new CacheManager(f.driver, 10, () => undefined);
    await m.readThrough('/a/b');
    await m.readThrough('/c');
    m.invalidate('/a', true);
    await m.readThrough('/a/b');
    expect(f.reads.n).to.equal(3);
    m.invalidateAll();
    await m.readThrough('/c');
    expect(f.reads.n).to.equal(4);
  });

  it('bounds the number of entries', async () => {
    const f = fakeDriver();
    const m = new CacheManager(f.driver, 2, () => undefined);
    await m.readThrough('/1');
    await m.readThrough('/2');
    await m.readThrough('/3');
    await m.readThrough('/1');
    expect(f.reads.n).to.equal(4, '/1 was evicted');
  });
});
