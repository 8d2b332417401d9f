import { expect } from 'chai';
import type { ConnectionState, RegistryEvent, TreeCache } from '../../lib/registry/registry-center';
import { EventQueue } from '../harness/events';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients, queueOf } from './clients';
import type { DrivenRegistryCenter } from '../../lib/registry/driven-registry-center';

function key(e: RegistryEvent): string {
  return `${e.type} ${e.path} ${String(e.previous)} -> ${String(e.value)}`;
}

async function directTree(
  r: DrivenRegistryCenter,
  path: string,
  out = new Map<string, string>(),
): Promise<Map<string, string>> {
  const value = await r.getDirectly(path);
  if (value === null) {
    return out;
  }
  out.set(path, value);
  for (const child of await r.getChildrenKeys(path)) {
    await directTree(r, `${path}/${child}`, out);
  }
  return out;
}

/** The subtree at `path` read from the server, a level at a time (each level's reads in parallel). */
async function directTreeByLevel(
  r: DrivenRegistryCenter,
  path: string,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let level = [path];
  while (level.length > 0) {
    const read = await Promise.all(
      level.map(async p => {
        const value = await r.getDirectly(p);
        return { p, value, children: value === null ? [] : await r.getChildrenKeys(p) };
      }),
    );
    level = [];
    for (const { p, value, children } of read) {
      if (value !== null) {
        out.set(p, value);
        level.push(...children.map(c => `${p}/${c}`));
      }
    }
  }
  return out;
}

/** Paths where the cache and `want` (the tree written) differ, as `path: cache …, written …` lines. */
function treeDiff(cache: TreeCache, want: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  const have = new Map(cache.entries());
  for (const [path, value] of want) {
    if (have.get(path) !== value) {
      out.push(`${path}: cache ${String(have.get(path) ?? null)}, written ${value}`);
    }
  }
  for (const [path, value] of have) {
    if (!want.has(path)) {
      out.push(`${path}: cache ${value}, written absent`);
    }
  }
  return out;
}

/** Tree cache and watch: initial load, ordered events with previous values, exact resync after gaps. */
export function describeTreeCacheContract(factory: BackendFactory): void {
  describe(`tree cache contract (${factory.name})`, function () {
    let clients: Clients;

    beforeEach(() => {
      clients = new Clients(factory);
    });
    afterEach(() => clients.closeAll());

    it('resolves addCacheData after the initial load and serves reads from the cache', async () => {
      const w = await clients.connect();
      await w.persist('/job/config', '{"a":1}');
      await w.persist('/job/instances/i1', 'x');
      await w.persist('/job/instances/i2', 'y');
      const r = await clients.connect();
      await r.addCacheData('/job');
      const cache = r.getRawCache('/job');
      expect(cache?.isInitialized).to.equal(true);
      expect(cache?.get('/job/config')).to.equal('{"a":1}');
      expect(cache?.children('/job/instances')).to.deep.equal(['i1', 'i2']);
      expect(await r.get('/job/instances/i2')).to.equal('y');
      expect(await r.get('/job/none')).to.equal(null);
    });

    it('emits added / updated / removed with previous values, in order', async () => {
      const w = await clients.connect();
      await w.persist('/job/a', '1');
      const r = await clients.connect();
      await r.addCacheData('/job');
      const events = queueOf<RegistryEvent>(push => r.getRawCache('/job')?.on('event', push));
      await w.persist('/job/b/c', 'c1');
      await w.update('/job/a', '2');
      await w.remove('/job/b');
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        seen.push(key(await events.take(ms(5000), `event #${i}`)));
      }
      expect(seen).to.deep.equal([
        'added /job/b null -> ',
        'added /job/b/c null -> c1',
        'updated /job/a 1 -> 2',
        'removed /job/b/c c1 -> c1',
        'removed /job/b  -> ',
      ]);
    });

    it('watch() delivers changes below its path only, until unsubscribed', async () => {
      const r = await clients.connect();
      const w = await clients.connect();
      const events = new EventQueue<RegistryEvent>();
      const unwatch = await r.watch('/w/in', e => events.push(e));
      await w.persist('/w/out', 'no');
      await w.persist('/w/in/x', '1');
      expect(key(await events.take(ms(5000)))).to.equal('added /w/in null -> ');
      expect(key(await events.take(ms(5000)))).to.equal('added /w/in/x null -> 1');
      unwatch();
      await w.persist('/w/in/y', '2');
      // A second watch proves the change went out; the first saw none of it.
      const probe = new EventQueue<RegistryEvent>();
      const unprobe = await r.watch('/w/in', e => probe.push(e));
      await w.persist('/w/in/z', '3');
      expect(key(await probe.take(ms(5000)))).to.equal('added /w/in/z null -> 3');
      unprobe();
      expect(events.pending).to.deep.equal([]);
    });

    it('keeps up with bursts of multi-op transactions from several writers and converges to a direct read', async function () {
      // The shape of a resharding in chunks, from 4 writers at once: every transaction creates 25 new nodes
      // each with a child (50 nodes), deletes a third of the previous round's nodes with their children,
      // rewrites another third's children, and re-creates the nodes deleted the round before (new
      // incarnations of the same paths). 800 new subtrees in all, while a cache on another client follows.
      // A cache that spends a round trip (or a re-read of its backlog) per new subtree falls seconds behind
      // under such a burst; one that keeps up holds the final tree soon after the last write.
      this.timeout(ms(60_000));
      const WRITERS = 4;
      const ROUNDS = 8;
      const PER_ROUND = 25;
      /** From the last write: the cache holds exactly the tree written. */
      const CONVERGE_MS = ms(3000);
      const r = await clients.connect();
      const writers: DrivenRegistryCenter[] = [];
      for (let i = 0; i < WRITERS; i++) {
        writers.push(await clients.connect());
      }
      const first = writers[0] as DrivenRegistryCenter;
      // What the writes leave (writers own disjoint paths, so every transaction commits).
      const want = new Map<string, string>([['/burst', '']]);
      for (let w = 0; w < WRITERS; w++) {
        await first.persist(`/burst/w${w}`, '');
        want.set(`/burst/w${w}`, '');
      }
      await r.addCacheData('/burst');
      const cache = r.getRawCache('/burst');
      if (cache === undefined) {
        throw new Error('no cache');
      }
      const node = (w: number, n: number): string => `/burst/w${w}/${n}`;
      await Promise.all(
        writers.map(async (writer, w) => {
          for (let round = 0; round < ROUNDS; round++) {
            const created = new Map<string, string>();
            const deleted: string[] = [];
            const base = round * PER_ROUND;
            const create = (n: number, value: string): void => {
              created.set(node(w, n), value);
              created.set(`${node(w, n)}/owner`, `w${w}@${round}`);
            };
            for (let n = base; n < base + PER_ROUND; n++) {
              create(n, String(round));
            }
            for (let n = base - PER_ROUND; round >= 1 && n < base; n++) {
              if (n % 3 === 0) {
                deleted.push(node(w, n));
              } else if (n % 3 === 1) {
                created.set(`${node(w, n)}/owner`, `w${w}@${round}!`);
              }
            }
            for (let n = base - 2 * PER_ROUND; round >= 2 && n < base - PER_ROUND; n++) {
              if (n % 3 === 0) {
                create(n, `again@${round}`);
              }
            }
            await writer.executeInTransaction(tx => {
              for (const path of deleted) {
                tx.delete(path); // with its child
              }
              for (const [path, value] of created) {
                if (want.has(path)) {
                  tx.setData(path, value);
                } else {
                  tx.create(path, value);
                }
              }
            });
            for (const path of deleted) {
              want.delete(path);
              want.delete(`${path}/owner`);
            }
            for (const [path, value] of created) {
              want.set(path, value);
            }
          }
        }),
      );
      const same = (c: TreeCache): boolean =>
        c.size === want.size && treeDiff(c, want).length === 0;
      try {
        await cache.waitFor(same, { timeoutMs: CONVERGE_MS });
      } catch (err) {
        const diff = treeDiff(cache, want);
        throw new Error(
          `the cache did not hold the ${want.size} nodes written within ${CONVERGE_MS} ms of the last write: ${diff.length} differ, e.g. ${diff.slice(0, 5).join('; ')}`,
          { cause: err },
        );
      }
      // What it holds is what the server holds.
      expect(new Map(cache.entries())).to.deep.equal(await directTreeByLevel(first, '/burst'));
    });

    async function expectExactResync(
      r: DrivenRegistryCenter,
      w: DrivenRegistryCenter,
      gap: { open(): Promise<void>; close(): Promise<void> },
    ): Promise<void> {
      await w.persist('/c/keep', 'k');
      await w.persist('/c/change', 'v1');
      await w.persist('/c/drop/child', 'd');
      await r.addCacheData('/c');
      const cache = r.getRawCache('/c');
      if (cache === undefined) {
        throw new Error('no cache');
      }
      const events = queueOf<RegistryEvent>(push => cache.on('event', push));
      const resets = queueOf<void>(push => cache.on('reset', () => push()));
      await gap.open();
      await w.update('/c/change', 'v2');
      await w.update('/c/change', 'v3');
      await w.remove('/c/drop');
      await w.persist('/c/new', 'n');
      await w.persist('/c/flash', 'f');
      await w.remove('/c/flash');
      await gap.close();
      await resets.take(ms(factory.sessionTimeoutMs * 4), 'the cache reset after the gap');
      const seen = events.seen.map(key).sort();
      expect(seen).to.deep.equal([
        'added /c/new null -> n',
        'removed /c/drop  -> ',
        'removed /c/drop/child d -> d',
        'updated /c/change v1 -> v3',
      ]);
      const direct = await directTree(w, '/c');
      expect(new Map([...cache.entries()])).to.deep.equal(direct);
      // And it keeps following changes afterwards.
      await w.persist('/c/after', 'a');
      await cache.waitFor(c => c.get('/c/after') === 'a', { timeoutMs: ms(5000) });
    }

    it('after a connection cut, resyncs and emits exactly the missed differences', async () => {
      const c = await clients.cuttable();
      const w = await clients.connect();
      const states = queueOf<ConnectionState>(push =>
        c.registry.on('connectionStateChanged', push),
      );
      await expectExactResync(c.registry, w, {
        open: async () => {
          c.cut();
          await states.takeUntil(
            s => s === 'SUSPENDED',
            ms(factory.sessionTimeoutMs * 2),
            'SUSPENDED',
          );
        },
        close: async () => {
          c.heal();
          await states.takeUntil(
            s => s === 'RECONNECTED',
            ms(factory.sessionTimeoutMs * 4),
            'RECONNECTED',
          );
        },
      });
    });

    it('after a session expiry, resyncs and emits exactly the missed differences', async () => {
      const c = await clients.cuttable();
      const w = await clients.connect();
      const states = queueOf<ConnectionState>(push =>
        c.registry.on('connectionStateChanged', push),
      );
      await expectExactResync(c.registry, w, {
        // Cut first so the writes happen while the client is away, then let the session die.
        open: async () => {
          c.cut();
          await states.takeUntil(s => s === 'LOST', ms(factory.sessionTimeoutMs * 4), 'LOST');
        },
        close: async () => {
          c.heal();
          await states.takeUntil(
            s => s === 'RECONNECTED',
            ms(factory.sessionTimeoutMs * 4),
            'RECONNECTED',
          );
        },
      });
    });
  });
}
