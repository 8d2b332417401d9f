import { expect } from 'chai';
import { InvalidArgumentError } from '../../../lib/errors';
import { CacheManager, readCacheEntryBytes } from '../../../lib/registry/cache-manager';
import { createRegistryCenter } from '../../../lib/registry/create-registry-center';
import type { NodeData, RegistryDriver } from '../../../lib/registry/driver';
import { DEFAULT_READ_CACHE_MAX_BYTES } from '../../../lib/registry/options';
import { parseRegistryUrl } from '../../../lib/registry/registry-url';

/** A driver whose nodes hold `values[path]` and never change; counts the reads that reach it. */
function fakeDriver(values: Record<string, string>): { driver: RegistryDriver; reads: string[] } {
  const reads: string[] = [];
  const data = (path: string): NodeData => ({
    value: values[path] ?? '',
    version: 0,
    stamp: 1n,
    ephemeral: false,
  });
  const driver = {
    read: (path: string) => Promise.resolve(data(path)),
    readWatched: (path: string) => {
      reads.push(path);
      return Promise.resolve(data(path));
    },
  } as unknown as RegistryDriver;
  return { driver, reads };
}

describe('read cache byte bound', () => {
  it('evicts least recently used entries past the byte bound, whatever the entry bound allows', async () => {
    const value = 'v'.repeat(20);
    const f = fakeDriver({ '/k1': value, '/k2': value, '/k3': value });
    const entry = readCacheEntryBytes(value, '/k1');
    expect(entry).to.equal(46);
    const m = new CacheManager(f.driver, 1000, () => undefined, 2 * entry + 10);
    for (const path of ['/k1', '/k2', '/k3']) {
      await m.readThrough(path);
      expect(m.readCacheBytes).to.be.at.most(2 * entry + 10);
    }
    expect(m.readCacheBytes).to.equal(2 * entry);
    await m.readThrough('/k3');
    await m.readThrough('/k2');
    expect(f.reads).to.deep.equal(['/k1', '/k2', '/k3']);
    await m.readThrough('/k1');
    expect(f.reads).to.deep.equal(['/k1', '/k2', '/k3', '/k1'], '/k1 was evicted by bytes');
  });

  it('does not keep a value larger than the byte bound (every get reads it)', async () => {
    const f = fakeDriver({ '/big': 'x'.repeat(1000), '/small': 's' });
    const m = new CacheManager(f.driver, 1000, () => undefined, 100);
    expect(await m.readThrough('/big')).to.equal('x'.repeat(1000));
    expect(await m.readThrough('/big')).to.equal('x'.repeat(1000));
    await m.readThrough('/small');
    await m.readThrough('/small');
    expect(f.reads).to.deep.equal(['/big', '/big', '/small']);
    expect(m.readCacheBytes).to.equal(readCacheEntryBytes('s', '/small'));
  });

  it('is configurable in the options and the URL, default 32 MiB, and must be a positive integer', async () => {
    expect(DEFAULT_READ_CACHE_MAX_BYTES).to.equal(32 * 1024 * 1024);
    expect(parseRegistryUrl('memory://demo?readCacheMaxBytes=4096')).to.include({
      readCacheMaxBytes: 4096,
    });
    expect(() => parseRegistryUrl('memory://demo?readCacheMaxBytes=0')).to.throw(
      /readCacheMaxBytes/,
    );
    for (const bad of [0, -1, 1.5]) {
      expect(() =>
        createRegistryCenter({ type: 'memory', namespace: 'bytes', readCacheMaxBytes: bad }),
      ).to.throw(InvalidArgumentError, /readCacheMaxBytes/);
    }
    const registry = createRegistryCenter({
      type: 'memory',
      namespace: 'bytes',
      readCacheMaxBytes: 64,
    });
    await registry.init();
    try {
      await registry.persist('/big', 'x'.repeat(100));
      expect(await registry.get('/big')).to.equal('x'.repeat(100));
    } finally {
      await registry.close();
    }
  });
});
