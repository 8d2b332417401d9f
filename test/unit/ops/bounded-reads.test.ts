import { expect } from 'chai';
import { OPS_READ_CONCURRENCY } from '../../../lib/ops/bounded-reader';
import { createOperations } from '../../../lib/ops/operations-api';
import type { CoordinatorRegistryCenter } from '../../../lib/registry/registry-center';
import { OpsFixture } from './ops-fixture';

const READS = new Set(['get', 'getDirectly', 'getStat', 'getChildrenKeys', 'isExisted']);

/**
 * `registry` whose reads each yield one macrotask before they start (so a caller that fans out has all
 * its reads outstanding at once, as over a network), counting the reads in flight.
 */
function countingRegistry(registry: CoordinatorRegistryCenter): {
  registry: CoordinatorRegistryCenter;
  maxInFlight: () => number;
  total: () => number;
} {
  let inFlight = 0;
  let max = 0;
  let total = 0;
  const proxy = new Proxy(registry, {
    get(target, key, receiver): unknown {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !READS.has(key) || typeof value !== 'function') {
        return value;
      }
      return async (...args: unknown[]): Promise<unknown> => {
        inFlight++;
        total++;
        max = Math.max(max, inFlight);
        try {
          await new Promise(resolve => setImmediate(resolve));
          return (await Reflect.apply(value, target, args)) as unknown;
        } finally {
          inFlight--;
        }
      };
    },
  });
  return { registry: proxy, maxInFlight: () => max, total: () => total };
}

describe('operations API: bounded reads', () => {
  let f: OpsFixture;

  beforeEach(async () => {
    f = await new OpsFixture().init();
  });

  afterEach(async () => {
    await f.close();
  });

  it('listJobs over 120 jobs reads in parallel, but never more than OPS_READ_CONCURRENCY at once', async () => {
    const names = Array.from({ length: 120 }, (_v, i) => `job-${String(i).padStart(3, '0')}`);
    for (const name of names) {
      await f.job(name, { shardingTotalCount: 4 });
    }
    const counting = countingRegistry(f.registry);
    const jobs = await createOperations(counting.registry).listJobs();
    expect(jobs.map(j => j.job)).to.deep.equal(names);
    expect(counting.total()).to.be.above(names.length * 4);
    expect(counting.maxInFlight()).to.be.above(1); // not one job after another
    expect(counting.maxInFlight()).to.be.at.most(OPS_READ_CONCURRENCY);
  });

  it('getJobStatus of a job with 500 items stays within the same bound', async () => {
    await f.job('big', { shardingTotalCount: 500 });
    await f.instance('big', 'pod-a');
    const counting = countingRegistry(f.registry);
    const status = await createOperations(counting.registry).getJobStatus('big');
    expect(status.items).to.have.length(500);
    expect(counting.maxInFlight()).to.be.above(1);
    expect(counting.maxInFlight()).to.be.at.most(OPS_READ_CONCURRENCY);
  });
});
