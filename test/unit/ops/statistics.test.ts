import { expect } from 'chai';
import { CorruptedDataError, UnknownJobError } from '../../../lib/errors';
import { createOperations, type Operations } from '../../../lib/ops/operations-api';
import { instanceInfo, OpsFixture } from './ops-fixture';

describe('operations API: statistics', () => {
  let f: OpsFixture;
  let ops: Operations;

  beforeEach(async () => {
    f = await new OpsFixture().init();
    ops = createOperations(f.registry);
  });

  afterEach(async () => {
    await f.close();
  });

  describe('getJobStatus', () => {
    it('is OK when every item has a live owner; leader, sorted instances and item owners are reported', async () => {
      await f.job('sync');
      await f.instance('sync', 'pod-b', '10.0.0.2');
      await f.instance('sync', 'pod-a', '10.0.0.1');
      await f.registry.persist('/sync/leader/election/instance', 'pod-a');
      await f.assign('sync', { 'pod-a': [0, 1], 'pod-b': [2] });
      expect(await ops.getJobStatus('sync')).to.deep.equal({
        job: 'sync',
        status: 'OK',
        leader: 'pod-a',
        instances: ['pod-a', 'pod-b'],
        items: [
          { item: 0, instanceId: 'pod-a', status: 'PENDING', failover: false },
          { item: 1, instanceId: 'pod-a', status: 'PENDING', failover: false },
          { item: 2, instanceId: 'pod-b', status: 'PENDING', failover: false },
        ],
      });
    });

    it('is CRASHED with no live instance; leader null and unassigned items SHARDING_FLAG with instanceId null', async () => {
      await f.job('sync', { shardingTotalCount: 2 });
      expect(await ops.getJobStatus('sync')).to.deep.equal({
        job: 'sync',
        status: 'CRASHED',
        leader: null,
        instances: [],
        items: [
          { item: 0, instanceId: null, status: 'SHARDING_FLAG', failover: false },
          { item: 1, instanceId: null, status: 'SHARDING_FLAG', failover: false },
        ],
      });
    });

    it('becomes CRASHED when the last instance dies, and its items SHARDING_FLAG (owner not live)', async () => {
      await f.job('sync', { shardingTotalCount: 1 });
      const pod = await f.instance('sync', 'pod-a');
      await f.assign('sync', { 'pod-a': [0] });
      expect((await ops.getJobStatus('sync')).status).to.equal('OK');
      await pod.close();
      const status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('CRASHED');
      expect(status.items[0]).to.deep.equal({
        item: 0,
        instanceId: 'pod-a',
        status: 'SHARDING_FLAG',
        failover: false,
      });
    });

    it('is SHARDING_FLAG while resharding is pending: every idle item shows the flag', async () => {
      await f.job('sync', { shardingTotalCount: 2 });
      await f.instance('sync', 'pod-a');
      await f.assign('sync', { 'pod-a': [0, 1] });
      await f.registry.persist('/sync/sharding/1/running', 'pod-a');
      await f.registry.persist('/sync/leader/sharding/necessary', '');
      const status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('SHARDING_FLAG');
      expect(status.items.map(i => i.status)).to.deep.equal(['SHARDING_FLAG', 'RUNNING']);
    });

    it('is SHARDING_FLAG when an item is unassigned or owned by an instance that is gone', async () => {
      await f.job('sync', { shardingTotalCount: 3 });
      await f.instance('sync', 'pod-a');
      await f.assign('sync', { 'pod-a': [0], 'pod-gone': [1] });
      const status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('SHARDING_FLAG');
      expect(status.items.map(i => [i.instanceId, i.status])).to.deep.equal([
        ['pod-a', 'PENDING'],
        ['pod-gone', 'SHARDING_FLAG'],
        [null, 'SHARDING_FLAG'],
      ]);
    });

    it('reports RUNNING, DISABLED (which wins over RUNNING) and the failover flag per item', async () => {
      await f.job('sync', { shardingTotalCount: 4 });
      await f.instance('sync', 'pod-a');
      await f.instance('sync', 'pod-b', '10.0.0.2');
      await f.assign('sync', { 'pod-a': [0, 1], 'pod-b': [2, 3] });
      await f.registry.persist('/sync/sharding/0/running', 'pod-a');
      await f.registry.persist('/sync/sharding/1/disabled', '');
      await f.registry.persist('/sync/sharding/1/running', 'pod-a');
      await f.registry.persist('/sync/sharding/2/running', 'pod-a');
      await f.registry.persist('/sync/sharding/2/failover', 'pod-a');
      const status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('OK');
      expect(status.items).to.deep.equal([
        { item: 0, instanceId: 'pod-a', status: 'RUNNING', failover: false },
        { item: 1, instanceId: 'pod-a', status: 'DISABLED', failover: false },
        { item: 2, instanceId: 'pod-b', status: 'RUNNING', failover: true },
        { item: 3, instanceId: 'pod-b', status: 'PENDING', failover: false },
      ]);
    });

    it('a disabled item without an owner does not flag the job', async () => {
      await f.job('sync', { shardingTotalCount: 2 });
      await f.instance('sync', 'pod-a');
      await f.assign('sync', { 'pod-a': [0] });
      await f.registry.persist('/sync/sharding/1/disabled', '');
      const status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('OK');
      expect(status.items[1]).to.deep.equal({
        item: 1,
        instanceId: null,
        status: 'DISABLED',
        failover: false,
      });
    });

    it('is DISABLED when config.disabled, even with no live instance (operator intent first)', async () => {
      await f.job('sync', { disabled: true });
      expect((await ops.getJobStatus('sync')).status).to.equal('DISABLED');
      await f.instance('sync', 'pod-a');
      expect((await ops.getJobStatus('sync')).status).to.equal('DISABLED');
    });

    it('is DISABLED when every live instance sits on a DISABLED server; an owner there flags its items', async () => {
      await f.job('sync', { shardingTotalCount: 2 });
      await f.instance('sync', 'pod-a', '10.0.0.1');
      await f.instance('sync', 'pod-b', '10.0.0.2');
      await f.assign('sync', { 'pod-a': [0], 'pod-b': [1] });
      await f.registry.persist('/sync/servers/10.0.0.1', 'DISABLED');
      await f.registry.persist('/sync/servers/10.0.0.2', 'ENABLED');
      let status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('SHARDING_FLAG');
      expect(status.items.map(i => i.status)).to.deep.equal(['SHARDING_FLAG', 'PENDING']);
      await f.registry.persist('/sync/servers/10.0.0.2', 'DISABLED');
      status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('DISABLED');
    });

    it('reads an empty leader node as no leader', async () => {
      await f.job('sync', { shardingTotalCount: 1 });
      await f.registry.persist('/sync/leader/election/instance', '');
      expect((await ops.getJobStatus('sync')).leader).to.equal(null);
    });

    it('getShardingInfo returns the items of getJobStatus', async () => {
      await f.job('sync', { shardingTotalCount: 2 });
      await f.instance('sync', 'pod-a');
      await f.assign('sync', { 'pod-a': [0, 1] });
      await f.registry.persist('/sync/sharding/0/failover', 'pod-a');
      expect(await ops.getShardingInfo('sync')).to.deep.equal(
        (await ops.getJobStatus('sync')).items,
      );
    });
  });

  describe('listJobs', () => {
    it('is empty on an empty namespace', async () => {
      expect(await ops.listJobs()).to.deep.equal([]);
    });

    it('lists every job sorted by name with status, cron (null for one-off), item count and live instances; other root nodes are skipped', async () => {
      await f.job('b-report', { cron: null, shardingTotalCount: 1 });
      await f.job('a-sync', { shardingTotalCount: 2 });
      await f.instance('a-sync', 'pod-a');
      await f.instance('a-sync', 'pod-b');
      await f.assign('a-sync', { 'pod-a': [0], 'pod-b': [1] });
      await f.registry.persist('/locks/some-lock', 'x'); // a recipe's node, not a job
      await f.registry.persist('/half-job/instances', ''); // no config: not a job
      expect(await ops.listJobs()).to.deep.equal([
        { job: 'a-sync', status: 'OK', cron: '*/5 * * * * *', shardingTotalCount: 2, instances: 2 },
        { job: 'b-report', status: 'CRASHED', cron: null, shardingTotalCount: 1, instances: 0 },
      ]);
    });

    it('lists a job with an unreadable config as CORRUPTED with its path and reason, and every other job as usual', async () => {
      await f.job('a-good');
      await f.job('c-good', { shardingTotalCount: 1 });
      await f.registry.persist('/b-bad/config', '{not json');
      await f.instance('b-bad', 'pod-a');
      const jobs = await ops.listJobs();
      expect(jobs.map(j => [j.job, j.status])).to.deep.equal([
        ['a-good', 'CRASHED'],
        ['b-bad', 'CORRUPTED'],
        ['c-good', 'CRASHED'],
      ]);
      expect(jobs[1]).to.deep.include({
        job: 'b-bad',
        status: 'CORRUPTED',
        cron: null,
        shardingTotalCount: null,
        instances: 1,
        path: '/b-bad/config',
      });
      expect(jobs[1])
        .to.have.property('reason')
        .that.matches(/invalid JSON/);
    });
  });

  describe('unreadable data and unknown jobs', () => {
    it('a corrupted config fails status with CorruptedDataError naming the path and field', async () => {
      await f.job('sync', { shardingTotalCount: 'three' });
      const err = await ops.getJobStatus('sync').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(CorruptedDataError);
      expect((err as CorruptedDataError).path).to.equal('/sync/config');
      expect((err as Error).message).to.contain('shardingTotalCount');
    });

    it('status works with an unreadable or persistent instance node: it is no instance and is reported with its path', async () => {
      await f.job('sync', { shardingTotalCount: 2 });
      await f.instance('sync', 'pod-a');
      await f.assign('sync', { 'pod-a': [0, 1] });
      const client = await f.client();
      await client.persistEphemeral('/sync/instances/pod-x', 'garbage');
      await f.registry.persist('/sync/instances/pod-y', instanceInfo('10.0.0.9'));
      const status = await ops.getJobStatus('sync');
      expect(status.status).to.equal('OK');
      expect(status.instances).to.deep.equal(['pod-a']);
      expect(status.corrupted?.map(c => c.path)).to.deep.equal([
        '/sync/instances/pod-x',
        '/sync/instances/pod-y',
      ]);
      expect(status.corrupted?.[0]?.reason).to.match(/invalid JSON/);
      expect(status.corrupted?.[1]?.reason).to.match(/persistent/);
      expect((await ops.listJobs())[0]).to.deep.include({
        job: 'sync',
        status: 'OK',
        instances: 1,
      });
      // A healthy job's status has no `corrupted` field at all (the documented shape).
      await client.remove('/sync/instances/pod-x');
      await f.registry.remove('/sync/instances/pod-y');
      expect(await ops.getJobStatus('sync')).to.not.have.property('corrupted');
    });

    it('every read of a job without a config node fails with UnknownJobError', async () => {
      await f.registry.persist('/ghost/instances', ''); // leftovers without config are no job
      for (const call of [
        () => ops.getJobStatus('ghost'),
        () => ops.getShardingInfo('ghost'),
        () => ops.getJobConfig('ghost'),
        () => ops.getJobStatus('never-existed'),
      ]) {
        await expect(call()).to.be.rejectedWith(UnknownJobError);
      }
    });
  });
});
