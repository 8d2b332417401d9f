import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../lib/cli/main';
import { freePort } from '../harness/free-port';
import { ms } from '../harness/timing';
import { killSpawned, runCli, type CliResult } from './cli-runner';
import { expectFailure } from './cli-suite';

/** Runs `shardline …args` in this process (no spawn), with SHARDLINE_REGISTRY as given. */
async function runInProcess(args: readonly string[], registryEnv?: string): Promise<CliResult> {
  const saved = process.env.SHARDLINE_REGISTRY;
  if (registryEnv === undefined) {
    delete process.env.SHARDLINE_REGISTRY;
  } else {
    process.env.SHARDLINE_REGISTRY = registryEnv;
  }
  let stdout = '';
  let stderr = '';
  try {
    const code = await main(['node', 'shardline', ...args], {
      out: text => {
        stdout += text;
      },
      err: text => {
        stderr += text;
      },
    });
    return { code, stdout, stderr };
  } finally {
    if (saved === undefined) {
      delete process.env.SHARDLINE_REGISTRY;
    } else {
      process.env.SHARDLINE_REGISTRY = saved;
    }
  }
}

/**
 * What the command line itself requires, without a registry server: the read/steer commands need the
 * registry the workers use (an embedded memory:// registry of a fresh process is always empty), and
 * `--version` prints the package version. Most cases run `main()` in-process; one of each runs the real
 * entry point in a child process.
 */
describe('CLI usage', function () {
  this.timeout(ms(60_000));

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
    for (const args of READ_AND_STEER) {
      expectFailure(
        await runInProcess(args),
        2,
        new RegExp(
          `^shardline: ${args[0] ?? ''} needs the registry .*--registry <url>.*SHARDLINE_REGISTRY`,
        ),
      );
    }
    // An empty variable is no registry either.
    expectFailure(await runInProcess(['jobs'], ''), 2, /needs the registry/);
    // The real entry point, in a process of its own.
    expectFailure(await runCli(['status', 'sync']), 2, /^shardline: status needs the registry/);
  });

  it('read/steer commands refuse a memory:// registry, given by option or by SHARDLINE_REGISTRY', async () => {
    for (const result of [
      await runInProcess(['jobs', '--registry', 'memory://shardline']),
      await runInProcess(['status', 'sync'], 'memory://prod'),
    ]) {
      expectFailure(result, 2, /cannot use a memory:\/\/ registry: it lives inside one process/);
    }
  });

  it('a password with @ and / in the registry URL appears nowhere on stderr, not even with SHARDLINE_DEBUG=1', async () => {
    const port = await freePort();
    const url = `zookeeper://ops:p@ss/w@rd@127.0.0.1:${port}/prod?connectTimeoutMs=500`;
    const results = [
      await runCli(['jobs', '--registry', url], { SHARDLINE_DEBUG: '1' }),
      await runCli(['status', 'sync'], { SHARDLINE_REGISTRY: url, SHARDLINE_DEBUG: '1' }),
      await runInProcess(['jobs', '--registry', url.replace(`:${port}`, '')]), // malformed: no port
    ];
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
    for (const result of [await runInProcess(['-V']), await runCli(['--version'])]) {
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.equal(`${version}\n`);
      expect(result.stderr).to.equal('');
    }
  });
});
