import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../harness/free-port';
import { killSpawned, runCli } from './cli-runner';
import { expectFailure } from './cli-suite';

/**
 * What the command line itself requires, without a registry server: the read/steer commands need the
 * registry the workers use (an embedded memory:// registry of a fresh process is always empty), and
 * `--version` prints the package version.
 */
describe('CLI usage', function () {
  this.timeout(20_000);

  afterEach(() => {
    killSpawned();
  });

  const READ_AND_STEER: string[][] = [
    ['jobs'],
    ['status', 'sync'],
    ['trigger', 'sync'],
    ['disable', 'sync'],
    ['enable', 'sync', '--item', '1'],
    ['shutdown', 'sync'],
    ['remove', 'sync', '--force'],
  ];

  it('read/steer commands without --registry or SHARDLINE_REGISTRY are a usage error (exit 2, one line)', async () => {
    const results = await Promise.all(READ_AND_STEER.map(args => runCli(args)));
    results.forEach((result, i) => {
      const command = READ_AND_STEER[i]?.[0] ?? '';
      expectFailure(
        result,
        2,
        new RegExp(
          `^shardline: ${command} needs the registry .*--registry <url>.*SHARDLINE_REGISTRY`,
        ),
      );
    });
    // An empty variable is no registry either.
    expectFailure(await runCli(['jobs'], { SHARDLINE_REGISTRY: '' }), 2, /needs the registry/);
  });

  it('read/steer commands refuse a memory:// registry, given by option or by SHARDLINE_REGISTRY', async () => {
    const results = await Promise.all([
      runCli(['jobs', '--registry', 'memory://shardline']),
      runCli(['status', 'sync'], { SHARDLINE_REGISTRY: 'memory://prod' }),
    ]);
    for (const result of results) {
      expectFailure(result, 2, /cannot use a memory:\/\/ registry: it lives inside one process/);
    }
  });

  it('a password with @ and / in the registry URL appears nowhere on stderr, not even with SHARDLINE_DEBUG=1', async () => {
    const port = await freePort();
    const url = `zookeeper://ops:p@ss/w@rd@127.0.0.1:${port}/prod?connectTimeoutMs=500`;
    const results = await Promise.all([
      runCli(['jobs', '--registry', url], { SHARDLINE_DEBUG: '1' }),
      runCli(['status', 'sync'], { SHARDLINE_REGISTRY: url, SHARDLINE_DEBUG: '1' }),
      runCli(['jobs', '--registry', url.replace(`:${port}`, '')]), // malformed: no port
    ]);
    for (const result of results) {
      expect(result.code, result.stderr).to.be.oneOf([1, 2]);
      expect(result.stderr).to.match(/^shardline: /);
      for (const piece of ['p@ss', 'ss/w', 'w@rd']) {
        expect(result.stderr).to.not.contain(piece);
      }
    }
  });

  it('--version prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(
      readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'),
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal(`${version}\n`);
      expect(result.stderr).to.equal('');
    }
  });
});
