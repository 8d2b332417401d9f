import { expect } from 'chai';
import { ConfigurationError, CorruptedDataError, UnknownJobError } from '../../../lib/errors';
import { createOperations, type Operations } from '../../../lib/ops/operations-api';
import type { JobConfig } from '../../../lib/job/job-config';
import type { CoordinatorRegistryCenter } from '../../../lib/registry/registry-center';
import { jobConfig, OpsFixture } from './ops-fixture';

/** Parses `/{job}/config` as stored. */
async function stored(
  registry: CoordinatorRegistryCenter,
  job: string,
): Promise<Record<string, unknown>> {
  return JSON.parse((await registry.getDirectly(`/${job}/config`)) ?? 'null') as Record<
    string,
    unknown
  >;
}

describe('operations API: configuration', () => {
  let f: OpsFixture;
  let ops: Operations;

  beforeEach(async () => {
    f = await new OpsFixture().init();
    ops = createOperations(f.registry);
  });

  afterEach(async () => {
    await f.close();
  });

  it('getJobConfig returns the stored configuration', async () => {
    await f.job('sync', { shardingTotalCount: 2, shardingItemParameters: { '0': 'a', '1': 'b' } });
    expect(await ops.getJobConfig('sync')).to.deep.equal(
      jobConfig('sync', { shardingTotalCount: 2, shardingItemParameters: { '0': 'a', '1': 'b' } }),
    );
  });

  it('updateJobConfig merges the patch, writes it and returns what was written', async () => {
    await f.job('sync');
    const written = await ops.updateJobConfig('sync', {
      cron: '0 * * * * *',
      shardingTotalCount: 4,
      shardingItemParameters: { '3': 'last' },
      description: undefined, // "not given"
    });
    const expected = jobConfig('sync', {
      cron: '0 * * * * *',
      shardingTotalCount: 4,
      shardingItemParameters: { '3': 'last' },
    });
    expect(written).to.deep.equal(expected);
    expect(await stored(f.registry, 'sync')).to.deep.equal(expected);
  });

  it('updateJobConfig rejects an invalid result with ConfigurationError naming the field, and writes nothing', async () => {
    await f.job('sync');
    const before = await f.registry.getStat('/sync/config');
    const err = await ops.updateJobConfig('sync', { shardingTotalCount: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ConfigurationError);
    expect((err as ConfigurationError).field).to.equal('shardingTotalCount');
    await expect(ops.updateJobConfig('sync', { cron: 'not a cron' })).to.be.rejectedWith(
      ConfigurationError,
      /cron/,
    );
    await expect(
      ops.updateJobConfig('sync', { shardingItemParameters: { '7': 'x' } }),
    ).to.be.rejectedWith(ConfigurationError, /shardingItemParameters/);
    expect(await f.registry.getStat('/sync/config')).to.deep.equal(before);
  });

  it('updateJobConfig refuses to rename a job', async () => {
    await f.job('sync');
    const err = await ops.updateJobConfig('sync', { name: 'other' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ConfigurationError);
    expect((err as ConfigurationError).field).to.equal('name');
  });

  it('concurrent writers on separate clients lose no change (version-checked read-modify-write)', async () => {
    await f.job('sync');
    // Each writer changes a different field of what it read: a blind write would revert the others'.
    const patches: Partial<JobConfig>[] = [
      { jobParameter: 'p' },
      { description: 'd' },
      { cron: '0 0 * * * *' },
      { timeoutMs: 500 },
      { failover: true },
      { misfire: false },
      { maxTimeDiffSeconds: 5 },
      { reconcileIntervalMinutes: 1 },
    ];
    const clients = await Promise.all(patches.map(() => f.client()));
    await Promise.all(
      clients.map((client, i) =>
        createOperations(client).updateJobConfig('sync', patches[i] ?? {}),
      ),
    );
    expect(await ops.getJobConfig('sync')).to.deep.equal(
      jobConfig('sync', Object.assign({}, ...patches) as Record<string, unknown>),
    );
  });

  it('a write that lands between the read and the write of a change is not overwritten: the change is re-applied', async () => {
    await f.job('sync');
    const other = createOperations(await f.client());
    let raced = false;
    // Wrap the registry so that another writer changes the config right after our first read.
    const racing = new Proxy(f.registry, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (key === 'getStat' && typeof value === 'function') {
          return async (path: string) => {
            const stat: unknown = await (value as (p: string) => Promise<unknown>).call(
              target,
              path,
            );
            if (!raced) {
              raced = true;
              await other.updateJobConfig('sync', { description: 'from the other operator' });
            }
            return stat;
          };
        }
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    await createOperations(racing).disable('sync');
    expect(raced).to.equal(true);
    const config = await ops.getJobConfig('sync');
    expect(config.disabled).to.equal(true);
    expect(config.description).to.equal('from the other operator');
  });

  it('disable and updateJobConfig racing keep both changes', async () => {
    await f.job('sync');
    const a = createOperations(await f.client());
    const b = createOperations(await f.client());
    await Promise.all([a.disable('sync'), b.updateJobConfig('sync', { jobParameter: 'p' })]);
    const config = await ops.getJobConfig('sync');
    expect(config.disabled).to.equal(true);
    expect(config.jobParameter).to.equal('p');
  });

  it('a corrupted config fails updates with CorruptedDataError naming the path, and is left as it was', async () => {
    await f.registry.persist('/sync/config', '{"schemaVersion": 99}');
    await expect(ops.updateJobConfig('sync', { jobParameter: 'x' })).to.be.rejectedWith(
      CorruptedDataError,
      '/sync/config',
    );
    await expect(ops.disable('sync')).to.be.rejectedWith(CorruptedDataError, 'schemaVersion');
    expect(await f.registry.getDirectly('/sync/config')).to.equal('{"schemaVersion": 99}');
  });

  it('updating an unknown job fails with UnknownJobError and creates nothing', async () => {
    await expect(ops.updateJobConfig('ghost', { jobParameter: 'x' })).to.be.rejectedWith(
      UnknownJobError,
    );
    expect(await f.registry.isExisted('/ghost')).to.equal(false);
  });
});
