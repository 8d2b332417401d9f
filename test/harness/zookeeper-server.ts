import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './events';
import { ManagedServer } from './managed-server';
import { freePort } from './free-port';
import { findExecutable, ServerProcess } from './process';

const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const CONF_DIR = '/etc/zookeeper/conf';
// Debian's zookeeper.jar ships only slf4j-api: with no binding SLF4J falls back to NOP and the server logs
// nothing at all (measured), so a failed start would have an empty log. slf4j-simple (libslf4j-java, a
// dependency of the package) logs INFO to stderr, which goes to our log file. /etc/zookeeper/conf's
// log4j.properties is unused (no log4j binding on the classpath), so nothing reaches the test's stdout.
const SLF4J_SIMPLE = '/usr/share/java/slf4j-simple.jar';
const READY_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;

export interface ZooKeeperServerOptions {
  /** tickTime; the minimum session timeout is 2 × tick (server clamps smaller requests). Default 500. */
  tickTimeMs?: number;
  /** `user:base64(sha1(user:password))`, e.g. from `ZooKeeperServer.digest()`; enables the super user. */
  superDigest?: string;
  /** Extra JVM flags, e.g. `-Dzookeeper.DigestAuthenticationProvider.superDigest=...`. */
  jvmFlags?: string[];
}

/** Sends a four-letter word and returns the whole reply (the server closes the connection after it). */
function fourLetterWord(port: number, word: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(
      () => socket.destroy(new Error(`'${word}' got no reply in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk: string) => {
      reply += chunk;
    });
    socket.on('error', err => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', hadError => {
      clearTimeout(timer);
      if (!hadError) {
        resolve(reply);
      }
    });
  });
}

/**
 * A standalone ZooKeeper (Debian package) on 127.0.0.1 with its own temp dir, one per test file.
 * Started with `java ... ZooKeeperServerMain <zoo.cfg>`; stopped by PID with SIGKILL.
 */
export class ZooKeeperServer extends ManagedServer {
  readonly connectString: string;

  private constructor(
    readonly port: number,
    proc: ServerProcess,
  ) {
    super(proc, 'ZooKeeperServer');
    this.connectString = `127.0.0.1:${port}`;
  }

  /** What is missing to run ZooKeeper here, and the Debian packages that provide it. */
  static findBinaries(): { ok: boolean; missing: string[]; packages: string[] } {
    const missing: string[] = [];
    if (findExecutable('java') === undefined) {
      missing.push('java');
    }
    if (!existsSync(ZOOKEEPER_JAR)) {
      missing.push(ZOOKEEPER_JAR);
    }
    return { ok: missing.length === 0, missing, packages: missing.length > 0 ? ['zookeeper'] : [] };
  }

  /** The superDigest value for `user`/`password` (what DigestAuthenticationProvider.generateDigest prints). */
  static digest(user: string, password: string): string {
    return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
  }

  static async start(options: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
    const tick = options.tickTimeMs ?? 500;
    const jvmFlags = [...(options.jvmFlags ?? [])];
    if (options.superDigest !== undefined) {
      jvmFlags.push(`-Dzookeeper.DigestAuthenticationProvider.superDigest=${options.superDigest}`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'shardline-zk-'));
    const cfgFile = join(dir, 'zoo.cfg');
    const classpath = [
      CONF_DIR,
      ZOOKEEPER_JAR,
      ...(existsSync(SLF4J_SIMPLE) ? [SLF4J_SIMPLE] : []),
    ].join(':');
    const args = [
      '-Xmx256m',
      '-Dzookeeper.admin.enableServer=false',
      '-Dzookeeper.4lw.commands.whitelist=*',
      ...jvmFlags,
      '-cp',
      classpath,
      'org.apache.zookeeper.server.ZooKeeperServerMain',
      cfgFile,
    ];
    // freePort() can race with another process; a lost race shows up as a bind failure, so retry on a new port.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      writeFileSync(
        cfgFile,
        [
          `tickTime=${tick}`,
          `dataDir=${join(dir, 'data')}`,
          'clientPortAddress=127.0.0.1',
          `clientPort=${port}`,
          `minSessionTimeout=${2 * tick}`,
          'maxSessionTimeout=60000',
          // Default is 60 per client IP, and every test client is 127.0.0.1.
          'maxClientCnxns=0',
          // Test data survives a SIGKILL without fsync (the page cache outlives the process); fsync only slows.
          'forceSync=no',
          // Default preallocates 64 MB transaction logs per data dir.
          'preAllocSize=4096',
          'admin.enableServer=false',
          '4lw.commands.whitelist=*',
          '',
        ].join('\n'),
      );
      const proc = new ServerProcess('ZooKeeper', 'java', args, dir, join(dir, 'server.log'));
      const server = new ZooKeeperServer(port, proc);
      try {
        await server.spawnAndAwaitReady();
        return server;
      } catch (err) {
        await proc.kill();
        const bindFailed = /Address already in use/i.test(proc.logTail(200));
        if (!bindFailed || attempt >= START_ATTEMPTS) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  /** Sends a four-letter word (`ruok`, `srvr`, `conf`, `cons`, `mntr`, ...) and returns the reply. */
  command(word: string): Promise<string> {
    return fourLetterWord(this.port, word);
  }

  // `ruok` answers `imok` ~250 ms before the server serves requests (`srvr`/`conf` reply "This ZooKeeper
  // instance is not currently serving requests" meanwhile; measured), so readiness also requires `srvr` to
  // report a Mode.
  protected async spawnAndAwaitReady(): Promise<void> {
    this.proc.spawn();
    try {
      await waitFor(
        async () => {
          this.proc.assertAlive();
          try {
            return (
              (await this.command('ruok')) === 'imok' &&
              (await this.command('srvr')).includes('Mode:')
            );
          } catch {
            return false; // not listening yet
          }
        },
        READY_TIMEOUT_MS,
        `ZooKeeper on port ${this.port} to answer ruok/srvr`,
        50,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n${this.proc.logTail()}`, { cause: err });
    }
  }
}
