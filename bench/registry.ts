/**
 * Registry benchmark: Shardline's registry layer against the raw client floor, side by side in one run,
 * on real ZooKeeper and etcd servers started on loopback (the test harness), median over ROUNDS rounds.
 *
 *   npm run bench:registry                 # both servers, 5 rounds
 *   ROUNDS=3 BACKENDS=zookeeper npm run bench:registry
 *
 * Measures: cache propagation (write start → another client's cache event) vs the raw setData/put round
 * trip and the raw watch; cached get() throughput vs the await floor; initial cache load of 10,000 nodes
 * vs the raw read of the same nodes; direct get / update overhead vs the raw client.
 */
import { createRegistryCenter } from '../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter, RegistryEvent } from '../lib/registry/registry-center';
import { EtcdServer } from '../test/harness/etcd-server';
import { uniqueNamespace } from '../test/harness/namespace';
import { ZooKeeperServer } from '../test/harness/zookeeper-server';
import { rawEtcd, rawZooKeeper, type RawClient } from './raw-clients';
import { fmt, median, msSince, percentile, sample, table } from './stats';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SAMPLES = Number(process.env.SAMPLES ?? 300);
const LOAD_NODES = 10_000;

interface RoundResult {
  rawWriteP50: number;
  rawReadP50: number;
  rawWatchP50: number;
  rawWatchP99: number;
  propP50: number;
  propP99: number;
  getDirectP50: number;
  updateP50: number;
  cachedGetPerSec: number;
  cacheSyncGetPerSec: number;
  awaitFloorPerSec: number;
  loadMs: number;
  rawLoadMs: number;
}

async function oneRound(
  url: string,
  raw: RawClient,
  loadNamespace: string,
): Promise<RoundResult> {
  const ns = uniqueNamespace('b');
  const writer = createRegistryCenter(url.replace('{ns}', ns));
  const reader = createRegistryCenter(url.replace('{ns}', ns));
  await writer.init();
  await reader.init();
  try {
    await writer.persist('/prop/key', 'init');
    // Raw floor: the same node through the raw client.
    await raw.write('/floor', 'x');
    const rawWrite = await sample(SAMPLES, i => raw.write('/floor', `v${i}`));
    const rawRead = await sample(SAMPLES, () => raw.read('/floor'));
    const rawWatch: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const { changed } = await raw.armChange('/floor');
      const start = process.hrtime.bigint();
      await raw.write('/floor', `w${i}`);
      await changed;
      rawWatch.push(msSince(start));
    }

    // Ours: direct ops on the same kind of node.
    const getDirect = await sample(SAMPLES, () => writer.getDirectly('/prop/key'));
    const update = await sample(SAMPLES, i => writer.update('/prop/key', `u${i}`));

    // Propagation: writer's write start → reader's cache event carrying that value.
    await reader.addCacheData('/prop');
    const cache = reader.getRawCache('/prop');
    if (cache === undefined) {
      throw new Error('no cache');
    }
    const prop: number[] = [];
    for (let i = 0; i < SAMPLES + 50; i++) {
      const value = `p${i}`;
      const seen = new Promise<void>(resolve => {
        const on = (e: RegistryEvent): void => {
          if (e.value === value) {
            cache.off('event', on);
            resolve();
          }
        };
        cache.on('event', on);
      });
      const start = process.hrtime.bigint();
      await writer.update('/prop/key', value);
      await seen;
      if (i >= 50) {
        prop.push(msSince(start));
      }
    }

    // Cached reads.
    const n = 2_000_000;
    let start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      await reader.get('/prop/key');
    }
    const cachedGetPerSec = n / (msSince(start) / 1000);
    start = process.hrtime.bigint();
    let sink = 0;
    for (let i = 0; i < n * 5; i++) {
      sink += cache.get('/prop/key')?.length ?? 0;
    }
    const cacheSyncGetPerSec = (n * 5) / (msSince(start) / 1000);
    const floorMap = new Map([['/prop/key', 'x']]);
    start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      sink += (await Promise.resolve(floorMap.get('/prop/key')))?.length ?? 0;
    }
    const awaitFloorPerSec = n / (msSince(start) / 1000);
    if (sink < 0) {
      throw new Error('unreachable');
    }

    // Initial load of 10,000 nodes (filled once per backend in `loadNamespace`).
    const loader = createRegistryCenter(url.replace('{ns}', loadNamespace));
    await loader.init();
    start = process.hrtime.bigint();
    await loader.addCacheData('/load');
    const loadMs = msSince(start);
    const loaded = loader.getRawCache('/load')?.children('/load').length;
    await loader.close();
    if (loaded !== LOAD_NODES) {
      throw new Error(`initial load saw ${String(loaded)} nodes, expected ${LOAD_NODES}`);
    }
    start = process.hrtime.bigint();
    const rawLoaded = await raw.loadChildren('/load');
    const rawLoadMs = msSince(start);
    if (rawLoaded !== LOAD_NODES) {
      throw new Error(`raw load saw ${rawLoaded} nodes`);
    }

    return {
      rawWriteP50: percentile(rawWrite, 50),
      rawReadP50: percentile(rawRead, 50),
      rawWatchP50: percentile(rawWatch, 50),
      rawWatchP99: percentile(rawWatch, 99),
      propP50: percentile(prop, 50),
      propP99: percentile(prop, 99),
      getDirectP50: percentile(getDirect, 50),
      updateP50: percentile(update, 50),
      cachedGetPerSec,
      cacheSyncGetPerSec,
      awaitFloorPerSec,
      loadMs,
      rawLoadMs,
    };
  } finally {
    await Promise.all([writer.close(), reader.close()]);
  }
}

async function benchBackend(name: 'zookeeper' | 'etcd'): Promise<RoundResult[]> {
  const loadNamespace = uniqueNamespace('load');
  if (name === 'zookeeper') {
    const server = await ZooKeeperServer.start({ tickTimeMs: 500 });
    try {
      const url = `zookeeper://${server.connectString}/{ns}?sessionTimeoutMs=4000`;
      return await rounds(url, await rawZooKeeper(server.connectString, `/${loadNamespace}`), loadNamespace);
    } finally {
      await server.stop();
    }
  }
  const server = await EtcdServer.start();
  try {
    const url = `etcd://${server.endpoint}/{ns}?leaseTtlSeconds=4`;
    return await rounds(url, rawEtcd(server.endpoint, `/shardline/${loadNamespace}`), loadNamespace);
  } finally {
    await server.stop();
  }
}

async function rounds(url: string, raw: RawClient, loadNamespace: string): Promise<RoundResult[]> {
  try {
    // The load tree is written once through our own client so it has the parents our layout expects.
    const filler = createRegistryCenter(url.replace('{ns}', loadNamespace));
    await filler.init();
    await fill(filler);
    await filler.close();
    const out: RoundResult[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      out.push(await oneRound(url, raw, loadNamespace));
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    return out;
  } finally {
    await raw.close();
  }
}

async function fill(registry: CoordinatorRegistryCenter): Promise<void> {
  await registry.persist('/load', '');
  const pending: Promise<void>[] = [];
  for (let i = 0; i < LOAD_NODES; i++) {
    pending.push(registry.persist(`/load/n${i}`, `value-${i}`));
    if (pending.length >= 200) {
      await Promise.all(pending.splice(0));
    }
  }
  await Promise.all(pending);
}

function report(name: string, results: RoundResult[]): void {
  const m = (pick: (r: RoundResult) => number): number => median(results.map(pick));
  const rows = [
    ['measure (median of ' + results.length + ' rounds)', 'ours', 'raw floor', 'ratio', 'target'],
    ['cache propagation p50 (ms) vs raw write RTT', fmt(m(r => r.propP50)), fmt(m(r => r.rawWriteP50)), fmt(m(r => r.propP50) / m(r => r.rawWriteP50)) + '×', '≤ 2×'],
    ['cache propagation p99 (ms) vs raw watch p99', fmt(m(r => r.propP99)), fmt(m(r => r.rawWatchP99)), fmt(m(r => r.propP99) / m(r => r.rawWatchP99)) + '×', name === 'zookeeper' ? '< 2 ms' : '-'],
    ['raw watch propagation p50 (ms)', '-', fmt(m(r => r.rawWatchP50)), '-', '-'],
    ['get() from cache, awaited (M/s) vs await floor', fmt(m(r => r.cachedGetPerSec) / 1e6), fmt(m(r => r.awaitFloorPerSec) / 1e6), fmt(m(r => r.cachedGetPerSec) / m(r => r.awaitFloorPerSec)) + '×', '≥ 10 M/s'],
    ['TreeCache.get, synchronous (M/s)', fmt(m(r => r.cacheSyncGetPerSec) / 1e6), '-', '-', '≥ 10 M/s'],
    [`initial cache load of ${LOAD_NODES} nodes (ms) vs raw read`, fmt(m(r => r.loadMs), 0), fmt(m(r => r.rawLoadMs), 0), fmt(m(r => r.loadMs) / m(r => r.rawLoadMs)) + '×', '< 400 ms'],
    ['getDirectly p50 (ms) vs raw read', fmt(m(r => r.getDirectP50), 3), fmt(m(r => r.rawReadP50), 3), fmt(m(r => r.getDirectP50) / m(r => r.rawReadP50)) + '×', '< 1.2×'],
    ['update p50 (ms) vs raw write', fmt(m(r => r.updateP50), 3), fmt(m(r => r.rawWriteP50), 3), fmt(m(r => r.updateP50) / m(r => r.rawWriteP50)) + '×', '< 1.2×'],
  ];
  process.stdout.write(`\n== ${name} ==\n${table(rows)}\n`);
}

async function main(): Promise<void> {
  const backends = (process.env.BACKENDS ?? 'zookeeper,etcd').split(',') as ('zookeeper' | 'etcd')[];
  process.stdout.write(`registry bench: ${ROUNDS} rounds × ${SAMPLES} samples, node ${process.version}\n`);
  for (const name of backends) {
    report(name, await benchBackend(name));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
