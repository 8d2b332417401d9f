#!/usr/bin/env node
// The runner behind `npm test`: node scripts/test.mjs all|fast|zookeeper|etcd|topology
//
//   all        typecheck, lint, import cycles, then every spec (test/**/*.test.ts) except test/topology/ — what a
//              release and .ci/run need
//   fast       unit + memory backend only, for the edit loop
//   zookeeper  test/backends/zookeeper*.test.ts      etcd  test/backends/etcd*.test.ts
//   topology   test/topology/**/*.test.ts (`npm run test:topology`): worker processes on a 3-node ZooKeeper
//              ensemble and a 3-member etcd cluster under server kills, restarts, pauses, lost quorum and
//              partitions. Long (minutes), so not part of `all`; .ci/run runs it after `npm test`.
//
// Real servers are provisioned, never silently skipped: missing ZooKeeper/etcd binaries are installed with
// apt-get when we are root, otherwise the run fails with one line saying what to install. Only
// SHARDLINE_SKIP_SERVERS=1 skips them (loudly), running unit + memory specs instead.
//
// CI reads the exit code and a closing line `N passed, N failed[, N skipped]` alone on a line. Mocha's reporter
// (test/harness/summary-reporter.cjs) prints it; every path that ends before mocha reports (typecheck, lint,
// missing servers, mocha crashing on load) prints its reason and then `0 passed, 1 failed` itself.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = name => join(root, 'node_modules', '.bin', name);

const FAST_SPECS = ['test/unit/**/*.test.ts', 'test/backends/memory.test.ts'];
const SPECS = {
  all: ['test/**/*.test.ts'],
  fast: FAST_SPECS,
  zookeeper: ['test/backends/zookeeper*.test.ts'],
  etcd: ['test/backends/etcd*.test.ts'],
  topology: ['test/topology/**/*.test.ts'],
};
/** Specs a mode's globs match but that belong to another mode (mocha --ignore). */
const IGNORE = {
  all: ['test/topology/**'],
};

function fail(reason) {
  console.log(`shardline test: ${reason}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

/** Runs a command with inherited stdio; resolves with its exit code (1 when killed by a signal). */
function run(command, args, env = process.env) {
  return new Promise(resolve => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env });
    child.on('error', err => {
      console.error(`shardline test: cannot run ${command}: ${err.message}`);
      resolve(1);
    });
    child.on('exit', code => resolve(code ?? 1));
  });
}

/** The harness knows what each server needs (and that etcdctl is in etcd-client, not etcd-server). */
async function missingServers(needZk, needEtcd, needObservability = false) {
  const checks = [];
  if (needObservability) {
    // test/observability: the PostgreSQL history sink and a Prometheus scrape against real servers.
    const { PostgresServer } = await tsImport('../test/harness/postgres-server.ts', import.meta.url);
    const { PrometheusServer } = await tsImport(
      '../test/harness/prometheus-server.ts',
      import.meta.url,
    );
    checks.push(PostgresServer.findBinaries(), PrometheusServer.findBinaries());
  }
  if (needZk) {
    const { ZooKeeperServer } = await tsImport(
      '../test/harness/zookeeper-server.ts',
      import.meta.url,
    );
    checks.push(ZooKeeperServer.findBinaries());
  }
  if (needEtcd) {
    const { EtcdServer } = await tsImport('../test/harness/etcd-server.ts', import.meta.url);
    checks.push(EtcdServer.findBinaries());
  }
  return {
    missing: checks.flatMap(c => c.missing),
    packages: [...new Set(checks.flatMap(c => c.packages))],
  };
}

function canApt() {
  return (
    process.getuid?.() === 0 &&
    spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
  );
}

function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', ...packages], { stdio: 'inherit', env }).status === 0;
  // A fresh image often has no package lists: update only when the first attempt fails.
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    install();
  }
}

async function main() {
  const mode = process.argv[2] ?? 'all';
  if (!(mode in SPECS)) {
    fail(`unknown mode '${mode}' (use all, fast, zookeeper, etcd or topology)`);
  }
  let specs = SPECS[mode];

  const needZk = mode === 'all' || mode === 'zookeeper' || mode === 'topology';
  const needEtcd = mode === 'all' || mode === 'etcd' || mode === 'topology';
  if (needZk || needEtcd) {
    if (process.env.SHARDLINE_SKIP_SERVERS === '1' && mode === 'topology') {
      fail('SHARDLINE_SKIP_SERVERS=1: the topology specs need real ZooKeeper and etcd servers');
    } else if (process.env.SHARDLINE_SKIP_SERVERS === '1') {
      const bar = '!'.repeat(100);
      console.error(
        `${bar}\n!!! SHARDLINE_SKIP_SERVERS=1: ZooKeeper and etcd specs are NOT run; only unit + memory specs.\n` +
          `!!! This run proves nothing about the real backends. CI never sets this.\n${bar}`,
      );
      specs = FAST_SPECS;
    } else {
      let { missing, packages } = await missingServers(needZk, needEtcd, mode === 'all');
      if (missing.length > 0 && canApt()) {
        console.error(
          `shardline test: installing ${packages.join(' ')} (missing: ${missing.join(', ')})`,
        );
        aptInstall(packages);
        ({ missing, packages } = await missingServers(needZk, needEtcd, mode === 'all'));
      }
      if (missing.length > 0) {
        fail(
          `missing ${missing.join(', ')}; install with \`sudo apt-get install -y ${packages.join(' ')}\`` +
            ' (or set SHARDLINE_SKIP_SERVERS=1 to run only unit + memory specs)',
        );
      }
    }
  }

  if (mode === 'all') {
    if ((await run(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit'])) !== 0) {
      fail('typecheck failed (tsc -p tsconfig.json --noEmit)');
    }
    if ((await run(bin('eslint'), ['.'])) !== 0) {
      fail('lint failed (eslint .)');
    }
    // Imports point one way (cli → ops → job → registry contract ← backends): no import cycle in lib/, type-only imports included.
    if ((await run(bin('madge'), ['--circular', '--extensions', 'ts', 'lib'])) !== 0) {
      fail('import cycle in lib/ (madge --circular)');
    }
  }

  // The reporter also writes its closing line here, so a mocha that dies before reporting is detected.
  const summaryDir = mkdtempSync(join(tmpdir(), 'shardline-summary-'));
  const summaryFile = join(summaryDir, 'summary');
  const ignore = (IGNORE[mode] ?? []).flatMap(glob => ['--ignore', glob]);
  const code = await run(bin('mocha'), [...ignore, ...specs], {
    ...process.env,
    SHARDLINE_SUMMARY_FILE: summaryFile,
  });
  const reported = existsSync(summaryFile) && readFileSync(summaryFile, 'utf8').trim() !== '';
  rmSync(summaryDir, { recursive: true, force: true });
  if (!reported) {
    fail(
      `mocha exited with code ${code} before reporting (no spec matched, or a spec failed to load)`,
    );
  }
  process.exit(code);
}

main().catch(err => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
