import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { waitFor } from './events';
import { freePort } from './free-port';
import { ManagedServer } from './managed-server';
import { ServerProcess } from './process';

const READY_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;
const PG_ROOT = '/usr/lib/postgresql';

/** The newest installed server's bin dir (Debian: /usr/lib/postgresql/<major>/bin), or undefined. */
function binDir(): string | undefined {
  if (!existsSync(PG_ROOT)) {
    return undefined;
  }
  const majors = readdirSync(PG_ROOT)
    .filter(v => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(PG_ROOT, majors[0], 'bin');
}

/** uid and gid of the `postgres` system user (the Debian package creates it), or undefined. */
function postgresUser(): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    return undefined;
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * A PostgreSQL server (Debian package) on 127.0.0.1 with its own temp dir, one per test file: `initdb`
 * into the temp dir, then `postgres` on a free loopback port. PostgreSQL refuses to run as root, so both
 * run as the `postgres` system user (uid/gid given to spawn; the dir is chowned to it) when we are root.
 * Trust authentication on loopback; durability off (fsync, full-page writes) since test data is thrown
 * away. Stopped by PID: SIGQUIT (immediate shutdown, the postmaster takes its backends down) for
 * `stop()`, SIGKILL for `kill()`.
 */
export class PostgresServer extends ManagedServer {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;

  private constructor(
    readonly port: number,
    proc: ServerProcess,
  ) {
    super(proc, 'PostgresServer');
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  /** What is missing to run PostgreSQL here, and the Debian package that provides it. */
  static findBinaries(): { ok: boolean; missing: string[]; packages: string[] } {
    const missing: string[] = [];
    if (binDir() === undefined) {
      missing.push(`${PG_ROOT}/<version>/bin/postgres`);
    }
    if (process.getuid?.() === 0 && postgresUser() === undefined) {
      missing.push('the postgres system user');
    }
    return {
      ok: missing.length === 0,
      missing,
      packages: missing.length > 0 ? ['postgresql'] : [],
    };
  }

  static async start(): Promise<PostgresServer> {
    const bin = binDir();
    if (bin === undefined) {
      throw new Error(`PostgreSQL is not installed (apt-get install -y postgresql)`);
    }
    const asRoot = process.getuid?.() === 0;
    const user = asRoot ? postgresUser() : undefined;
    if (asRoot && user === undefined) {
      throw new Error('PostgreSQL refuses to run as root and there is no postgres user');
    }
    const dir = mkdtempSync(join(tmpdir(), 'shardline-pg-'));
    const data = join(dir, 'data');
    if (user !== undefined) {
      chownSync(dir, user.uid, user.gid);
    }
    const init = spawnSync(
      join(bin, 'initdb'),
      [
        '-D',
        data,
        '-U',
        'postgres',
        '--auth=trust',
        '-E',
        'UTF8',
        '--no-sync',
        '--no-instructions',
      ],
      { encoding: 'utf8', ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }) },
    );
    if (init.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`initdb failed (${String(init.status)}): ${init.stderr}`);
    }
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const args = [
        '-D',
        data,
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'shared_buffers=16MB',
        '-c',
        'max_connections=30',
      ];
      const proc = new ServerProcess(
        'PostgreSQL',
        join(bin, 'postgres'),
        args,
        dir,
        join(dir, 'server.log'),
        user,
      );
      const server = new PostgresServer(port, proc);
      try {
        await server.spawnAndAwaitReady();
        return server;
      } catch (err) {
        await proc.kill();
        const bindFailed = /could not bind|Address already in use/i.test(proc.logTail(50));
        if (!bindFailed || attempt >= START_ATTEMPTS) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  /** Immediate shutdown by PID (SIGQUIT: the postmaster stops its backends), then the temp dir goes. */
  override async stop(): Promise<void> {
    if (this.proc.running) {
      await this.resume().catch(() => undefined); // a paused server cannot act on SIGQUIT
      await this.proc.kill('SIGQUIT');
    }
    await this.proc.destroy();
  }

  protected async spawnAndAwaitReady(): Promise<void> {
    this.proc.spawn();
    try {
      await waitFor(
        async () => {
          this.proc.assertAlive();
          const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
          client.on('error', () => undefined);
          try {
            await client.connect();
            await client.query('SELECT 1');
            return true;
          } catch {
            return false; // not listening or still starting up
          } finally {
            await client.end().catch(() => undefined);
          }
        },
        READY_TIMEOUT_MS,
        `PostgreSQL on port ${this.port} to answer SELECT 1`,
        50,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n${this.proc.logTail()}`, { cause: err });
    }
  }
}
