import { expect } from 'chai';
import { OperationTimeoutError } from '../../../lib/errors';
import type { FeedSink, NodeData } from '../../../lib/registry/driver';
import type { RegistryEvent } from '../../../lib/registry/registry-center';
import { FeedTreeCache } from '../../../lib/registry/feed-tree-cache';

function node(value: string, stamp: number, version = 0): NodeData {
  return { value, version, stamp: BigInt(stamp), ephemeral: false };
}

/** A cache over a hand-driven feed: the test plays the backend. */
async function cacheWith(
  initial: [string, NodeData][],
): Promise<{ cache: FeedTreeCache; sink: FeedSink; events: string[] }> {
  let sink: FeedSink | undefined;
  const cache = new FeedTreeCache('/r', s => {
    sink = s;
    return {
      ready: Promise.resolve().then(() => s.reset(new Map(initial))),
      close: () => undefined,
    };
  });
  await cache.start();
  const events: string[] = [];
  cache.on('event', (e: RegistryEvent) =>
    events.push(`${e.type} ${e.path} ${String(e.previous)}->${String(e.value)}`),
  );
  if (sink === undefined) {
    throw new Error('feed not opened');
  }
  return { cache, sink, events };
}

describe('TreeCache', () => {
  it('loads silently, then emits changes with previous values', async () => {
    const { cache, sink, events } = await cacheWith([
      ['/r', node('', 1)],
      ['/r/a', node('1', 2)],
    ]);
    expect(events).to.deep.equal([]);
    expect(cache.children('/r')).to.deep.equal(['a']);
    sink.upsert('/r/a', node('2', 3, 1));
    sink.upsert('/r/b', node('x', 4));
    sink.remove('/r/a');
    expect(events).to.deep.equal(['updated /r/a 1->2', 'added /r/b null->x', 'removed /r/a 2->2']);
    cache.close();
  });

  it('ignores replies older than what it holds, and changes outside its root', async () => {
    const { cache, sink, events } = await cacheWith([['/r/a', node('new', 10)]]);
    sink.upsert('/r/a', node('old', 5));
    sink.upsert('/other', node('x', 11));
    expect(events).to.deep.equal([]);
    expect(cache.get('/r/a')).to.equal('new');
    cache.close();
  });

  it('turns a resync snapshot into exactly the differences, removals deepest first, then reset', async () => {
    const { cache, sink, events } = await cacheWith([
      ['/r', node('', 1)],
      ['/r/same', node('s', 2)],
      ['/r/changed', node('c1', 3)],
      ['/r/gone', node('', 4)],
      ['/r/gone/child', node('g', 5)],
    ]);
    let resets = 0;
    cache.on('reset', () => resets++);
    sink.reset(
      new Map([
        ['/r', node('', 1)],
        ['/r/same', node('s', 2)],
        ['/r/changed', node('c2', 9, 1)],
        ['/r/new', node('n', 10)],
      ]),
    );
    expect(events).to.deep.equal([
      'removed /r/gone/child g->g',
      'removed /r/gone ->',
      'updated /r/changed c1->c2',
      'added /r/new null->n',
    ]);
    expect(resets).to.equal(1);
    expect(cache.children('/r')).to.deep.equal(['changed', 'new', 'same']);
    cache.close();
  });

  it('waitFor resolves on the change that satisfies it and times out otherwise', async () => {
    const { cache, sink } = await cacheWith([]);
    const waiting = cache.waitFor(c => c.get('/r/x') === 'ok', { timeoutMs: 1000 });
    sink.upsert('/r/x', node('ok', 1));
    await waiting;
    await expect(cache.waitFor(() => false, { timeoutMs: 20 })).to.be.rejectedWith(
      OperationTimeoutError,
    );
    cache.close();
  });
});
