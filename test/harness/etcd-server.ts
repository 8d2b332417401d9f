import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './events';
import { ManagedServer } from './managed-server';
import { freePort } from './free-port';
import { findExecutable, ServerProcess } from './process';

const READY_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;

export interface EtcdServerOptions {
  /** Appended to the etcd command line, e.g. `['--auth-token-ttl=3']`. */
  extraArgs?: string[];
}

export interface EtcdUser {
  name: string;
  password: string;
  /** Key prefix the user may read and write; omitted = every key. */
  prefix?: string;
}

/** GET /health → true only for `{"health":"true"}`; any error or other answer is "not ready". */
function healthy(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const req = get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { health?: unknown }).health === 'true');
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * A single-member etcd 3.4 (Debian package) on 127.0.0.1 with its own temp dir, one per test file.
 * Stopped by PID with SIGKILL. Note etcd raises lease TTLs below 2 s to 2 s.
 */
export class EtcdServer extends ManagedServer {
  readonly endpoint: string;
  /** Set by `enableAuth`: later `etcdctl` calls authenticate as root. */
  private rootPassword: string | undefined;

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    proc: ServerProcess,
  ) {
    super(proc, 'EtcdServer');
    this.endpoint = `127.0.0.1:${clientPort}`;
  }

  /**
   * What is missing to run etcd here, and the Debian packages that provide it. etcdctl is NOT in
   * `etcd-server`: Debian ships it in `etcd-client`.
   */
  static findBinaries(): { ok: boolean; missing: string[]; packages: string[] } {
    const missing: string[] = [];
    const packages: string[] = [];
    if (findExecutable('etcd', '/usr/bin/etcd') === undefined) {
      missing.push('etcd');
      packages.push('etcd-server');
    }
    if (findExecutable('etcdctl', '/usr/bin/etcdctl') === undefined) {
      missing.push('etcdctl');
      packages.push('etcd-client');
    }
    return { ok: missing.length === 0, missing, packages };
  }

  static async start(options: EtcdServerOptions = {}): Promise<EtcdServer> {
    const etcd = findExecutable('etcd', '/usr/bin/etcd') ?? 'etcd';
    const dir = mkdtempSync(join(tmpdir(), 'shardline-etcd-'));
    // freePort() can race with another process; a lost race shows up as a bind failure, so retry on new ports.
    for (let attempt = 1; ; attempt++) {
      const clientPort = await freePort();
      let peerPort = await freePort();
      while (peerPort === clientPort) {
        peerPort = await freePort();
      }
      const client = `http://127.0.0.1:${clientPort}`;
      const peer = `http://127.0.0.1:${peerPort}`;
      const args = [
        '--name=default',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        '--logger=zap', // the default capnslog logger prints a deprecation warning on every start
        ...(options.extraArgs ?? []),
      ];
      const proc = new ServerProcess('etcd', etcd, args, dir, join(dir, 'server.log'));
      const server = new EtcdServer(clientPort, peerPort, proc);
      try {
        await server.spawnAndAwaitReady();
        return server;
      } catch (err) {
        await proc.kill();
        const bindFailed = /address already in use/i.test(proc.logTail(200));
        if (!bindFailed || attempt >= START_ATTEMPTS) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
        // The failed member may have written a data dir naming the old peer URL: start clean.
        rmSync(join(dir, 'data'), { recursive: true, force: true });
      }
    }
  }

  /**
   * Runs `etcdctl` (API v3) against this server and resolves with its stdout; rejects with its stderr.
   * After `enableAuth` it authenticates as root.
   */
  etcdctl(args: string[]): Promise<string> {
    const etcdctl = findExecutable('etcdctl', '/usr/bin/etcdctl') ?? 'etcdctl';
    const auth =
      this.rootPassword === undefined ? [] : ['--user=root', `--password=${this.rootPassword}`];
    return new Promise((resolve, reject) => {
      execFile(
        etcdctl,
        [`--endpoints=${this.endpoint}`, '--command-timeout=10s', ...auth, ...args],
        { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 15_000 },
        (err, stdout, stderr) => {
          if (err) {
            reject(
              new Error(`etcdctl ${args.join(' ')} failed: ${err.message}\n${stderr}`, {
                cause: err,
              }),
            );
          } else {
            resolve(stdout);
          }
        },
      );
    });
  }

  /**
   * Creates root (user + role), then `user` with a role granting readwrite on `user.prefix` (or on every
   * key), then `auth enable`. Auth state lives in the data dir, so it survives `restart()`.
   */
  async enableAuth(rootPassword: string, user: EtcdUser): Promise<void> {
    const role = `${user.name}-rw`;
    // --new-user-password avoids etcdctl's interactive prompt and its user:password parsing (colons allowed).
    await this.etcdctl([
      'user',
      'add',
      'root',
      `--new-user-password=${rootPassword}`,
      '--interactive=false',
    ]);
    await this.etcdctl(['role', 'add', 'root']);
    await this.etcdctl(['user', 'grant-role', 'root', 'root']);
    await this.etcdctl(['role', 'add', role]);
    await this.etcdctl(
      user.prefix === undefined
        ? ['role', 'grant-permission', role, 'readwrite', '--from-key', ''] // '' from-key = every key
        : ['role', 'grant-permission', role, 'readwrite', user.prefix, '--prefix=true'],
    );
    await this.etcdctl([
      'user',
      'add',
      user.name,
      `--new-user-password=${user.password}`,
      '--interactive=false',
    ]);
    await this.etcdctl(['user', 'grant-role', user.name, role]);
    await this.etcdctl(['auth', 'enable']);
    this.rootPassword = rootPassword;
  }

  /** The current revision (from `endpoint status`; needs no auth). */
  async revision(): Promise<number> {
    const out = await this.etcdctl(['endpoint', 'status', '-w', 'json']);
    // cluster_id/member_id exceed 2^53 and lose precision in JSON.parse; the revision does not.
    const status = JSON.parse(out) as { Status?: { header?: { revision?: number } } }[];
    const revision = status[0]?.Status?.header?.revision;
    if (typeof revision !== 'number') {
      throw new Error(`etcdctl endpoint status: no revision in ${out}`);
    }
    return revision;
  }

  /** Compacts at the current revision and returns it: older revisions become unreadable (watch catch-up fails). */
  async compact(): Promise<number> {
    const revision = await this.revision();
    await this.etcdctl(['compact', String(revision)]);
    return revision;
  }

  protected async spawnAndAwaitReady(): Promise<void> {
    this.proc.spawn();
    try {
      await waitFor(
        () => {
          this.proc.assertAlive();
          return healthy(this.clientPort);
        },
        READY_TIMEOUT_MS,
        `etcd on port ${this.clientPort} to report {"health":"true"}`,
        50,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n${this.proc.logTail()}`, { cause: err });
    }
  }
}
