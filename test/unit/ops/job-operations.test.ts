import { expect } from 'chai';
import { InvalidArgumentError, UnknownJobError } from '../../../lib/errors';
import {
  createOperations,
  JobInUseError,
  NotAJobError,
  type Operations,
} from '../../../lib/ops/operations-api';
import { jobConfig, OpsFixture } from './ops-fixture';

describe('operations API: job operations', () => {
  let f: OpsFixture;
  let ops: Operations;

  beforeEach(async () => {
    f = await new OpsFixture().init();
    ops = createOperations(f.registry);
  });

  afterEach(async () => {
    await f.close();
  });

  describe('trigger and shutdown', () => {
    it('trigger writes trigger/{id} for every live instance and returns them', async () => {
      await f.job('sync');
      await f.instance('sync', 'pod-b');
      await f.instance('sync', 'pod-a');
      expect(await ops.trigger('sync')).to.deep.equal({
        job: 'sync',
        instances: ['pod-a', 'pod-b'],
      });
      expect(await f.registry.getChildrenKeys('/sync/trigger')).to.deep.equal(['pod-a', 'pod-b']);
      // A second trigger before the instances consumed the first is coalesced (same nodes).
      await ops.trigger('sync');
      expect(await f.registry.getChildrenKeys('/sync/trigger')).to.deep.equal(['pod-a', 'pod-b']);
    });

    it('trigger with no live instance writes nothing', async () => {
      await f.job('sync');
      expect(await ops.trigger('sync')).to.deep.equal({ job: 'sync', instances: [] });
      expect(await f.registry.isExisted('/sync/trigger')).to.equal(false);
    });

    it('shutdown writes shutdown/{id} for every live instance (and not for dead ones)', async () => {
      await f.job('sync');
      await f.instance('sync', 'pod-a');
      const dead = await f.instance('sync', 'pod-dead');
      await dead.close();
      expect(await ops.shutdown('sync')).to.deep.equal({ job: 'sync', instances: ['pod-a'] });
      expect(await f.registry.getChildrenKeys('/sync/shutdown')).to.deep.equal(['pod-a']);
    });
  });

  describe('disable and enable', () => {
    it('job level: flips config.disabled and keeps every other field', async () => {
      await f.job('sync', { jobParameter: 'keep me' });
      expect(await ops.disable('sync')).to.deep.equal({
        job: 'sync',
        scope: 'job',
        server: null,
        item: null,
        enabled: false,
      });
      let config = await ops.getJobConfig('sync');
      expect(config.disabled).to.equal(true);
      expect(config.jobParameter).to.equal('keep me');
      expect((await ops.getJobStatus('sync')).status).to.equal('DISABLED');
      expect((await ops.enable('sync')).enabled).to.equal(true);
      config = await ops.getJobConfig('sync');
      expect(config.disabled).to.equal(false);
    });

    it('server level: servers/{ip} becomes DISABLED / ENABLED (also for an IP not running yet)', async () => {
      await f.job('sync');
      await f.instance('sync', 'pod-a', '10.0.0.1');
      expect(await ops.disable('sync', { server: '10.0.0.1' })).to.deep.equal({
        job: 'sync',
        scope: 'server',
        server: '10.0.0.1',
        item: null,
        enabled: false,
      });
      expect(await f.registry.getDirectly('/sync/servers/10.0.0.1')).to.equal('DISABLED');
      expect((await ops.getJobConfig('sync')).disabled).to.equal(false);
      await ops.enable('sync', { server: '10.0.0.1' });
      expect(await f.registry.getDirectly('/sync/servers/10.0.0.1')).to.equal('ENABLED');
      await ops.disable('sync', { server: '10.9.9.9' });
      expect(await f.registry.getDirectly('/sync/servers/10.9.9.9')).to.equal('DISABLED');
    });

    it('item level: creates / removes sharding/{n}/disabled; enable is idempotent', async () => {
      await f.job('sync', { shardingTotalCount: 3 });
      expect(await ops.disable('sync', { item: 2 })).to.deep.equal({
        job: 'sync',
        scope: 'item',
        server: null,
        item: 2,
        enabled: false,
      });
      expect(await f.registry.isExisted('/sync/sharding/2/disabled')).to.equal(true);
      expect((await ops.getShardingInfo('sync'))[2]?.status).to.equal('DISABLED');
      await ops.enable('sync', { item: 2 });
      await ops.enable('sync', { item: 2 });
      expect(await f.registry.isExisted('/sync/sharding/2/disabled')).to.equal(false);
    });

    it('item level: an item outside 0..shardingTotalCount-1 is rejected with InvalidArgumentError', async () => {
      await f.job('sync', { shardingTotalCount: 3 });
      await expect(ops.disable('sync', { item: 3 })).to.be.rejectedWith(
        InvalidArgumentError,
        /0 to 2/,
      );
      await expect(ops.disable('sync', { item: -1 })).to.be.rejectedWith(InvalidArgumentError);
      await expect(ops.disable('sync', { item: 1.5 })).to.be.rejectedWith(InvalidArgumentError);
      expect(await f.registry.isExisted('/sync/sharding')).to.equal(false);
    });

    it('server and item together are rejected with InvalidArgumentError, writing nothing', async () => {
      await f.job('sync');
      await expect(ops.disable('sync', { server: '10.0.0.1', item: 0 })).to.be.rejectedWith(
        InvalidArgumentError,
        /cannot be combined/,
      );
      expect(await f.registry.getChildrenKeys('/sync')).to.deep.equal(['config']);
    });
  });

  describe('remove', () => {
    it('refuses while instances are alive, naming them, and deletes nothing', async () => {
      await f.job('sync');
      await f.instance('sync', 'pod-a');
      await f.instance('sync', 'pod-b');
      const err = await ops.remove('sync').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(JobInUseError);
      expect((err as JobInUseError).instances).to.deep.equal(['pod-a', 'pod-b']);
      expect((err as Error).message).to.contain('pod-a, pod-b');
      expect(await f.registry.isExisted('/sync/config')).to.equal(true);
    });

    it('removes the whole job once no instance is alive', async () => {
      await f.job('sync');
      const pod = await f.instance('sync', 'pod-a');
      await f.assign('sync', { 'pod-a': [0, 1, 2] });
      await f.registry.persist('/sync/servers/10.0.0.1', 'ENABLED');
      await pod.close();
      expect(await ops.remove('sync')).to.deep.equal({ job: 'sync', liveInstances: [] });
      expect(await f.registry.isExisted('/sync')).to.equal(false);
      await expect(ops.getJobStatus('sync')).to.be.rejectedWith(UnknownJobError);
    });

    it('with force removes a job with live instances and reports them', async () => {
      await f.job('sync');
      await f.instance('sync', 'pod-a');
      expect(await ops.remove('sync', { force: true })).to.deep.equal({
        job: 'sync',
        liveInstances: ['pod-a'],
      });
      expect(await f.registry.isExisted('/sync')).to.equal(false);
    });

    it('refuses, even with force, a node whose config is not a job configuration, naming the path; deletes nothing', async () => {
      await f.registry.persist('/sync/config', 'garbage');
      await f.registry.persist('/sync/sharding/0/instance', 'pod-a');
      for (const options of [{}, { force: true }]) {
        const err = await ops.remove('sync', options).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(NotAJobError);
        expect((err as NotAJobError).path).to.equal('/sync/config');
        expect((err as Error).message).to.match(
          /refusing to remove sync: \/sync\/config is not a job/,
        );
      }
      await f.job('other');
      await f.registry.update('/sync/config', JSON.stringify(jobConfig('other')));
      await expect(ops.remove('sync')).to.be.rejectedWith(
        NotAJobError,
        /configuration of job "other"/,
      );
      expect(await f.registry.getDirectly('/sync/sharding/0/instance')).to.equal('pod-a');
    });

    it('never wipes a namespace nested inside the job name (namespace team/sync under job sync of team)', async () => {
      // On ZooKeeper and etcd, namespace `<ns>/sync` lives at /sync of namespace <ns>: its jobs `config`
      // and `billing` are the nodes below (the memory backend keeps namespaces apart, so they are written
      // here as they would appear).
      await f.registry.persist('/sync/config/config', JSON.stringify(jobConfig('config')));
      await f.registry.persist('/sync/billing/config', JSON.stringify(jobConfig('billing')));
      // /sync/config is the root of the nested job `config`, not a configuration.
      await expect(ops.remove('sync', { force: true })).to.be.rejectedWith(
        NotAJobError,
        '/sync/config',
      );
      // Even when `sync` is also a real job, the nested namespace's jobs are not its nodes.
      await f.registry.remove('/sync/config');
      await f.job('sync');
      const err = await ops.remove('sync', { force: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(NotAJobError);
      expect((err as NotAJobError).path).to.equal('/sync/billing');
      expect(await f.registry.isExisted('/sync/billing/config')).to.equal(true);
    });

    it('refuses when the job holds a job-layout node with a config of its own (a nested job named like it)', async () => {
      await f.job('sync');
      await f.registry.persist('/sync/leader/config', JSON.stringify(jobConfig('leader')));
      await expect(ops.remove('sync')).to.be.rejectedWith(NotAJobError, '/sync/leader');
      expect(await f.registry.isExisted('/sync/leader/config')).to.equal(true);
    });
  });

  it('every operation on a job without a config node fails with UnknownJobError and writes nothing', async () => {
    await f.registry.persist('/ghost/instances', '');
    const calls = [
      () => ops.trigger('ghost'),
      () => ops.shutdown('ghost'),
      () => ops.disable('ghost'),
      () => ops.enable('ghost'),
      () => ops.disable('ghost', { server: '10.0.0.1' }),
      () => ops.enable('ghost', { server: '10.0.0.1' }),
      () => ops.disable('ghost', { item: 0 }),
      () => ops.enable('ghost', { item: 0 }),
      () => ops.remove('ghost'),
      () => ops.remove('ghost', { force: true }),
      () => ops.updateJobConfig('ghost', {}),
      () => ops.remove('nothing-at-all'),
    ];
    for (const call of calls) {
      await expect(call()).to.be.rejectedWith(UnknownJobError);
    }
    expect(await f.registry.getChildrenKeys('/ghost')).to.deep.equal(['instances']);
  });
});
