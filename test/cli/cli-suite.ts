import { expect } from 'chai';
import { join } from 'node:path';
import type { JobStatusInfo } from '../../lib/ops/operations-api';
import { createRegistryCenter } from '../../lib/registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import { uniqueNamespace } from '../harness/namespace';
import { instanceInfo, jobConfig } from '../unit/ops/ops-fixture';
import { killSpawned, runCli, startCli, waitForStdout, type CliResult } from './cli-runner';

/** How the suite reaches a real registry server started by the test file. */
export interface CliBackend {
  /** Registry URL of namespace `ns` on the running server. */
  url(ns: string): string;
}

/** Asserts a failure: exit `code` and exactly one stderr line, `shardline: …` matching `pattern`. */
export function expectFailure(result: CliResult, code: number, pattern: RegExp): void {
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^shardline: /);
  expect(lines[0]).to.match(pattern);
  expect(result.code, result.stderr).to.equal(code);
  expect(result.stdout).to.equal('');
}

/** Parses stdout of a successful `--json` command. */
export function jsonOf(result: CliResult): unknown {
  expect(result.code, result.stderr).to.equal(0);
  return JSON.parse(result.stdout) as unknown;
}

/**
 * The CLI commands against a real registry: nodes are seeded with a registry client from the test
 * (the job node layout), the CLI runs as a child process, and the suite checks the `--json` shapes, the
 * registry's state afterwards, exit codes and the one-line stderr.
 */
export function describeCliSuite(backend: () => CliBackend): void {
  let url: string;
  let seed: CoordinatorRegistryCenter;
  let clients: CoordinatorRegistryCenter[] = [];

  /** A live instance of `job`; close the returned client to end it. */
  async function instance(
    job: string,
    id: string,
    ip = '10.0.0.1',
  ): Promise<CoordinatorRegistryCenter> {
    const client = createRegistryCenter(url);
    clients.push(client);
    await client.init();
    await client.persistEphemeral(`/${job}/instances/${id}`, instanceInfo(ip));
    return client;
  }

  async function job(name: string, overrides: Record<string, unknown> = {}): Promise<void> {
    await seed.persist(`/${name}/config`, JSON.stringify(jobConfig(name, overrides)));
  }

  const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--registry', url]);

  beforeEach(async () => {
    url = backend().url(uniqueNamespace('cli'));
    seed = createRegistryCenter(url);
    clients = [seed];
    await seed.init();
  });

  afterEach(async () => {
    killSpawned();
    await Promise.all(clients.map(c => c.close()));
  });

  it('jobs --json prints [{ job, status, cron, shardingTotalCount, instances }]; the table lists the same', async () => {
    await job('a-sync', { shardingTotalCount: 2 });
    await job('b-report', { cron: null, shardingTotalCount: 1 });
    await instance('a-sync', 'pod-a');
    await seed.persist('/a-sync/sharding/0/instance', 'pod-a');
    await seed.persist('/a-sync/sharding/1/instance', 'pod-a');
    expect(jsonOf(await cli('jobs', '--json'))).to.deep.equal([
      { job: 'a-sync', status: 'OK', cron: '*/5 * * * * *', shardingTotalCount: 2, instances: 1 },
      { job: 'b-report', status: 'CRASHED', cron: null, shardingTotalCount: 1, instances: 0 },
    ]);
    const table = await cli('jobs');
    expect(table.code).to.equal(0);
    expect(table.stdout.split('\n').slice(0, 3)).to.deep.equal([
      'JOB       STATUS   CRON           ITEMS  INSTANCES',
      'a-sync    OK       */5 * * * * *  2      1',
      'b-report  CRASHED  (one-off)      1      0',
    ]);
  });

  it('status --json prints { job, status, leader, instances, items: [{ item, instanceId, status, failover }] }', async () => {
    await job('sync', { shardingTotalCount: 3 });
    await instance('sync', 'pod-b', '10.0.0.2');
    await instance('sync', 'pod-a');
    await seed.persist('/sync/leader/election/instance', 'pod-a');
    await seed.persist('/sync/sharding/0/instance', 'pod-a');
    await seed.persist('/sync/sharding/1/instance', 'pod-b');
    await seed.persist('/sync/sharding/1/running', 'pod-b');
    await seed.persist('/sync/sharding/1/failover', 'pod-b');
    await seed.persist('/sync/sharding/2/disabled', '');
    expect(jsonOf(await cli('status', 'sync', '--json'))).to.deep.equal({
      job: 'sync',
      status: 'OK',
      leader: 'pod-a',
      instances: ['pod-a', 'pod-b'],
      items: [
        { item: 0, instanceId: 'pod-a', status: 'PENDING', failover: false },
        { item: 1, instanceId: 'pod-b', status: 'RUNNING', failover: true },
        { item: 2, instanceId: null, status: 'DISABLED', failover: false },
      ],
    });
    const human = await cli('status', 'sync');
    expect(human.stdout).to.contain('status:    OK');
    expect(human.stdout).to.contain('ITEM  INSTANCE  STATUS    FAILOVER');
    expect(human.stdout).to.contain('1     pod-b     RUNNING   yes');
  });

  it('status | head -1: a reader that closes stdout early ends the command quietly (exit 0, no EPIPE stack)', async () => {
    await job('sync', { shardingTotalCount: 64 });
    for (const args of [
      ['status', 'sync'],
      ['jobs', '--json'],
    ]) {
      const reader = startCli([...args, '--registry', url]);
      // The reader goes away before the CLI (still loading and connecting) has written anything.
      reader.child.stdout?.destroy();
      const result = await reader.done;
      expect(result.stderr, args.join(' ')).to.equal('');
      expect(result.code, args.join(' ')).to.equal(0);
    }
  });

  it('jobs lists a job with an unreadable config as CORRUPTED with its path; status works with an unreadable instance node', async () => {
    await job('a-sync', { shardingTotalCount: 1 });
    await seed.persist('/b-bad/config', '{not json');
    const listed = jsonOf(await cli('jobs', '--json')) as Record<string, unknown>[];
    expect(listed.map(j => [j.job, j.status])).to.deep.equal([
      ['a-sync', 'CRASHED'],
      ['b-bad', 'CORRUPTED'],
    ]);
    expect(listed[1]).to.include({ path: '/b-bad/config', cron: null, shardingTotalCount: null });
    const table = await cli('jobs');
    expect(table.code, table.stderr).to.equal(0);
    expect(table.stdout).to.contain('b-bad   CORRUPTED');
    expect(table.stdout).to.contain('b-bad: unreadable data at /b-bad/config: invalid JSON');

    await instance('a-sync', 'pod-a');
    const other = await instance('a-sync', 'pod-b');
    await other.update('/a-sync/instances/pod-b', 'garbage');
    const status = jsonOf(await cli('status', 'a-sync', '--json')) as JobStatusInfo;
    expect(status.instances).to.deep.equal(['pod-a']);
    expect(status.corrupted?.map(c => c.path)).to.deep.equal(['/a-sync/instances/pod-b']);
    const human = await cli('status', 'a-sync');
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.contain('corrupted: /a-sync/instances/pod-b: invalid JSON');
  });

  it('remove never wipes a namespace nested inside the job name', async () => {
    // Namespace <ns>/sync lives where job `sync` of namespace <ns> would.
    const nested = createRegistryCenter(url.replace(/^([a-z]+:\/\/[^/]+\/[^?]+)/, '$1/sync'));
    clients.push(nested);
    await nested.init();
    await nested.persist('/config/config', JSON.stringify(jobConfig('config')));
    await nested.persist('/billing/config', JSON.stringify(jobConfig('billing')));
    expectFailure(
      await cli('remove', 'sync', '--force'),
      1,
      /refusing to remove sync: \/sync\/config is not a job configuration/,
    );
    expect(await nested.isExisted('/config/config')).to.equal(true);
    expect(await nested.isExisted('/billing/config')).to.equal(true);
  });

  it('trigger and shutdown write a request per live instance', async () => {
    await job('sync');
    await instance('sync', 'pod-a');
    await instance('sync', 'pod-b');
    expect(jsonOf(await cli('trigger', 'sync', '--json'))).to.deep.equal({
      job: 'sync',
      instances: ['pod-a', 'pod-b'],
    });
    expect(await seed.getChildrenKeys('/sync/trigger')).to.deep.equal(['pod-a', 'pod-b']);
    expect(jsonOf(await cli('shutdown', 'sync', '--json'))).to.deep.equal({
      job: 'sync',
      instances: ['pod-a', 'pod-b'],
    });
    expect(await seed.getChildrenKeys('/sync/shutdown')).to.deep.equal(['pod-a', 'pod-b']);
  });

  it('disable / enable act on the job, a server or an item', async () => {
    await job('sync', { shardingTotalCount: 2 });
    expect(jsonOf(await cli('disable', 'sync', '--json'))).to.deep.equal({
      job: 'sync',
      scope: 'job',
      server: null,
      item: null,
      enabled: false,
    });
    expect(JSON.parse((await seed.getDirectly('/sync/config')) ?? '{}')).to.include({
      disabled: true,
    });
    const server = await cli('disable', 'sync', '--server', '10.0.0.7');
    expect(server.stdout).to.equal('disabled job sync on server 10.0.0.7\n');
    expect(await seed.getDirectly('/sync/servers/10.0.0.7')).to.equal('DISABLED');
    expect((await cli('disable', 'sync', '--item', '1')).code).to.equal(0);
    expect(await seed.isExisted('/sync/sharding/1/disabled')).to.equal(true);
    expect((await cli('enable', 'sync', '--item', '1')).code).to.equal(0);
    expect(await seed.isExisted('/sync/sharding/1/disabled')).to.equal(false);
    expect((await cli('enable', 'sync', '--server', '10.0.0.7')).code).to.equal(0);
    expect(await seed.getDirectly('/sync/servers/10.0.0.7')).to.equal('ENABLED');
    expect((await cli('enable', 'sync')).code).to.equal(0);
    expect(JSON.parse((await seed.getDirectly('/sync/config')) ?? '{}')).to.include({
      disabled: false,
    });
    expectFailure(
      await cli('disable', 'sync', '--item', '2'),
      2,
      /item must be an integer from 0 to 1/,
    );
  });

  it('remove is refused while instances live (naming them), then removes the job', async () => {
    await job('sync');
    const pod = await instance('sync', 'pod-a');
    expectFailure(await cli('remove', 'sync'), 1, /job sync still has 1 live instance\(s\): pod-a/);
    expect(await seed.isExisted('/sync/config')).to.equal(true);
    await pod.close();
    expect(jsonOf(await cli('remove', 'sync', '--json'))).to.deep.equal({
      job: 'sync',
      liveInstances: [],
    });
    expect(await seed.isExisted('/sync')).to.equal(false);
  });

  it('an unknown job fails every job command with exit 1 and one line naming job and registry', async () => {
    await seed.persist('/ghost/instances', '');
    const results = await Promise.all(
      [
        ['status'],
        ['trigger'],
        ['disable'],
        ['enable', '--item', '0'],
        ['shutdown'],
        ['remove'],
      ].map(([command, ...rest]) => cli(command ?? 'status', 'ghost', ...rest)),
    );
    for (const result of results) {
      expectFailure(result, 1, /^shardline: unknown job: ghost \(not in .+\)$/);
    }
  });

  it('run: a worker for a module joins, shows in status --json, and drains on SIGTERM with exit 0', async function () {
    this.timeout(60_000);
    const worker = startCli([
      'run',
      join(__dirname, '..', 'fixtures', 'cli-one-job.ts'),
      '--registry',
      url,
      '--instance-id',
      'cli-pod-a',
      '--drain-timeout-ms',
      '5000',
    ]);
    const stdout = await waitForStdout(worker, /\n/, 30_000);
    expect(stdout).to.match(/^shardline: worker cli-pod-a running jobs cli-fixture-tick on \S+\n$/);
    const status = jsonOf(await cli('status', 'cli-fixture-tick', '--json')) as JobStatusInfo;
    expect(status.job).to.equal('cli-fixture-tick');
    expect(status.instances).to.deep.equal(['cli-pod-a']);
    expect(status.items.map(i => i.item)).to.deep.equal([0, 1]);
    worker.child.kill('SIGTERM');
    const result = await worker.done;
    expect(result.code, result.stderr).to.equal(0);
    expect(await seed.getChildrenKeys('/cli-fixture-tick/instances')).to.deep.equal([]);
  });

  it("run: `shutdown <job>` stops the worker's only job, and the worker exits 0 by itself", async function () {
    this.timeout(60_000);
    const worker = startCli([
      'run',
      join(__dirname, '..', 'fixtures', 'cli-one-job.ts'),
      '--registry',
      url,
      '--instance-id',
      'cli-pod-b',
    ]);
    await waitForStdout(worker, /running jobs cli-fixture-tick/, 30_000);
    expect(jsonOf(await cli('shutdown', 'cli-fixture-tick', '--json'))).to.deep.equal({
      job: 'cli-fixture-tick',
      instances: ['cli-pod-b'],
    });
    const result = await worker.done;
    expect(result.code, result.stderr).to.equal(0);
    expect(await seed.getChildrenKeys('/cli-fixture-tick/instances')).to.deep.equal([]);
  });

  it('SHARDLINE_REGISTRY is used when --registry is not given', async () => {
    await job('sync');
    const result = await runCli(['jobs', '--json'], { SHARDLINE_REGISTRY: url });
    expect((jsonOf(result) as { job: string }[]).map(j => j.job)).to.deep.equal(['sync']);
  });
}
