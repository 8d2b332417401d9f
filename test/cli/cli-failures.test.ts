import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/free-port';
import { ms } from '../harness/timing';
import { killSpawned, runCli } from './cli-runner';
import { expectFailure } from './cli-suite';

const FIXTURES = join(__dirname, '..', 'fixtures');

/**
 * Failures that need no registry server: each ends with exit 1 (2 for usage errors) and ONE stderr line
 * `shardline: <reason>`, without a stack trace unless SHARDLINE_DEBUG=1.
 */
describe('CLI failures', function () {
  // Each case spawns the CLI (tsx start-up); on a loaded machine several spawns take tens of seconds.
  this.timeout(ms(60_000));
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'shardline-cli-'));
    writeFileSync(join(dir, 'throws.js'), "throw new Error('boom while loading');\n");
    writeFileSync(join(dir, 'no-job.js'), 'module.exports = { answer: 42, list: [1, 2] };\n');
  });

  after(() => {
    killSpawned();
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(() => {
    killSpawned();
  });

  it('an unreachable ZooKeeper fails within the CLI connect timeout (5 s), naming the endpoint and the timeout', async () => {
    const port = await freePort();
    const started = Date.now();
    const result = await runCli(['jobs', '--registry', `zookeeper://127.0.0.1:${port}/ns`]);
    expectFailure(
      result,
      1,
      new RegExp(`127\\.0\\.0\\.1:${port}.*within 5000 ms.*connectTimeoutMs=5000`),
    );
    expect(Date.now() - started).to.be.below(15_000);
  });

  it('an unreachable etcd fails within ?connectTimeoutMs, naming the endpoint', async () => {
    const port = await freePort();
    const result = await runCli([
      'status',
      'sync',
      '--registry',
      `etcd://127.0.0.1:${port}/ns?connectTimeoutMs=1500`,
    ]);
    expectFailure(result, 1, new RegExp(`127\\.0\\.0\\.1:${port}.*connectTimeoutMs=1500`));
  });

  it('a malformed registry URL is a usage error (exit 2) that shows a valid example', async () => {
    expectFailure(
      await runCli(['jobs', '--registry', 'zookeeper://no-port/ns']),
      2,
      /invalid registry URL "zookeeper:\/\/no-port\/ns".*e\.g\. zookeeper:\/\//,
    );
    expectFailure(await runCli(['jobs', '--registry', 'redis://h:1/ns']), 2, /unknown scheme/);
  });

  it('run: a module that cannot be loaded is named with the cause', async () => {
    expectFailure(
      await runCli(['run', join(dir, 'missing.js')]),
      1,
      /cannot load module .*missing\.js: Cannot find module/,
    );
    expectFailure(
      await runCli(['run', join(dir, 'throws.js')]),
      1,
      /cannot load module .*throws\.js: boom while loading$/,
    );
  });

  it('run: a job with an invalid configuration fails the load, naming the field', async () => {
    expectFailure(
      await runCli(['run', join(FIXTURES, 'cli-invalid-job.ts')]),
      1,
      /cannot load module .*cli-invalid-job\.ts: shardingTotalCount: /,
    );
  });

  it('run: a module exporting no job says so', async () => {
    expectFailure(
      await runCli(['run', join(dir, 'no-job.js')]),
      1,
      /^shardline: module .*no-job\.js exports no job \(defineJob results\)$/,
    );
  });

  it('usage errors exit 2 with one line: unknown command, missing argument, bad option value, --server with --item', async () => {
    const results = await Promise.all([
      runCli(['frobnicate']),
      runCli(['status']),
      runCli(['disable', 'sync', '--item', 'two']),
      runCli(['disable', 'sync', '--server', '10.0.0.1', '--item', '1']),
      runCli([]),
    ]);
    expectFailure(results[0], 2, /unknown command 'frobnicate'/);
    expectFailure(results[1], 2, /missing required argument 'job'/);
    expectFailure(results[2], 2, /--item <n>.*'two' is invalid/);
    expectFailure(results[3], 2, /--server and --item cannot be combined/);
    expectFailure(results[4], 2, /no command given/);
  });

  it('SHARDLINE_DEBUG=1 adds the stack after the line', async () => {
    const port = await freePort();
    const result = await runCli(
      ['status', 'ghost', '--registry', `etcd://127.0.0.1:${port}/ns?connectTimeoutMs=500`],
      { SHARDLINE_DEBUG: '1' },
    );
    expect(result.code).to.equal(1);
    const lines = result.stderr.trimEnd().split('\n');
    // Whichever deadline ends the attempt first names the address: the etcd driver's own ("cannot reach
    // etcd at host:port within …") or, when an attempt outlives it on a loaded machine, the registry's
    // connect timeout ("cannot connect to etcd://host:port/ns within …").
    expect(lines[0]).to.match(
      new RegExp(`^shardline: cannot (reach etcd at |connect to etcd://)127\\.0\\.0\\.1:${port}`),
    );
    expect(lines.length).to.be.above(2);
    expect(result.stderr).to.contain('    at ');
  });
});
