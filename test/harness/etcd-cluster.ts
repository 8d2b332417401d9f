import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './events';
import { freePort } from './free-port';
import { ManagedServer } from './managed-server';
import { findExecutable, ServerProcess } from './process';
import type { ClusterMember, RegistryCluster } from './registry-cluster';

const READY_TIMEOUT_MS = 30_000;

export interface EtcdClusterOptions {
  /** Members (default 3). */
  size?: number;
  /** Appended to every member's command line (e.g. `--election-timeout=…`). Defaults are etcd's own. */
  extraArgs?: string[];
}

/** GET `path` on the member's client port; resolves with the body, or undefined on any error or timeout. */
function httpGet(port: number, path: string, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise(resolve => {
    const req = get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * One member of an etcd cluster (Debian etcd 3.4) with its own data dir and loopback client and peer ports.
 * Ready once `/health` says true (etcd answers true only while the cluster has a leader); a restart keeps
 * the data dir, so it rejoins as the same member.
 */
export class EtcdMember extends ManagedServer implements ClusterMember {
  readonly endpoint: string;

  constructor(
    readonly name: string,
    readonly clientPort: number,
    proc: ServerProcess,
  ) {
    super(proc, `EtcdMember ${name}`);
    this.endpoint = `127.0.0.1:${clientPort}`;
  }

  get isRunning(): boolean {
    return this.proc.running;
  }

  spawn(): void {
    this.proc.spawn();
  }

  /** `/health` is true: this member serves and the cluster has a leader. */
  async healthy(): Promise<boolean> {
    const body = await httpGet(this.clientPort, '/health');
    try {
      return body !== undefined && (JSON.parse(body) as { health?: unknown }).health === 'true';
    } catch {
      return false;
    }
  }

  /** True when this member is the raft leader (`etcd_server_is_leader 1` on /metrics). */
  async isLeader(): Promise<boolean> {
    const body = await httpGet(this.clientPort, '/metrics');
    return body !== undefined && /^etcd_server_is_leader 1$/m.test(body);
  }

  async awaitServing(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    try {
      await waitFor(
        () => {
          this.proc.assertAlive();
          return this.healthy();
        },
        timeoutMs,
        `etcd member ${this.name} (port ${this.clientPort}) to report {"health":"true"}`,
        50,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n${this.proc.logTail()}`, { cause: err });
    }
  }

  protected async spawnAndAwaitReady(): Promise<void> {
    this.proc.spawn();
    await this.awaitServing();
  }
}

/**
 * An etcd cluster (default three members, `--initial-cluster` on loopback) from the Debian package, each
 * member in its own temp dir, stopped by PID. Election timing is etcd's default (heartbeat 100 ms, election
 * timeout 1 s), as in production. Pre-vote is on, as etcd ≥ 3.5 does by default and as docs/registry.md
 * recommends for 3.4 (Debian 12 ships 3.4.23, where it is off): without it, a member cut off from the others
 * raises its term while alone and forces a fresh election when it comes back, which adds 1–2 s to every
 * quorum outage (a 3 s quorum loss was measured at 4.9 s before a leader served again).
 * `start()` resolves once every member reports healthy.
 */
export class EtcdCluster implements RegistryCluster {
  readonly kind = 'etcd' as const;

  private constructor(
    readonly members: readonly EtcdMember[],
    private readonly dirs: readonly string[],
  ) {}

  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const size = options.size ?? 3;
    const etcd = findExecutable('etcd', '/usr/bin/etcd') ?? 'etcd';
    const ports = new Set<number>();
    const take = async (): Promise<number> => {
      for (;;) {
        const port = await freePort();
        if (!ports.has(port)) {
          ports.add(port);
          return port;
        }
      }
    };
    const plan: { name: string; client: number; peer: number }[] = [];
    for (let i = 0; i < size; i++) {
      plan.push({ name: `etcd${i + 1}`, client: await take(), peer: await take() });
    }
    const initialCluster = plan.map(p => `${p.name}=http://127.0.0.1:${p.peer}`).join(',');
    const token = `shardline-${randomBytes(4).toString('hex')}`;
    const dirs: string[] = [];
    const members = plan.map(p => {
      const dir = mkdtempSync(join(tmpdir(), `shardline-${p.name}-`));
      dirs.push(dir);
      const client = `http://127.0.0.1:${p.client}`;
      const peer = `http://127.0.0.1:${p.peer}`;
      const args = [
        `--name=${p.name}`,
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${token}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--pre-vote=true',
        ...(options.extraArgs ?? []),
      ];
      return new EtcdMember(
        p.name,
        p.client,
        new ServerProcess(`etcd ${p.name}`, etcd, args, dir, join(dir, 'server.log')),
      );
    });
    const cluster = new EtcdCluster(members, dirs);
    try {
      for (const m of members) {
        m.spawn();
      }
      await Promise.all(members.map(m => m.awaitServing()));
      await cluster.leader();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** `127.0.0.1:c1,127.0.0.1:c2,…` in member order. */
  get endpoints(): string {
    return this.members.map(m => m.endpoint).join(',');
  }

  member(index: number): EtcdMember {
    const m = this.members[index];
    if (m === undefined) {
      throw new Error(`no etcd member ${index}`);
    }
    return m;
  }

  /** The raft leader among the running members, waiting (bounded) for an election to finish. */
  async leader(timeoutMs = READY_TIMEOUT_MS): Promise<EtcdMember> {
    let found: EtcdMember | undefined;
    await waitFor(
      async () => {
        const running = this.members.filter(m => m.isRunning);
        const flags = await Promise.all(running.map(m => m.isLeader()));
        found = running[flags.indexOf(true)];
        return found !== undefined;
      },
      timeoutMs,
      'an etcd leader',
      50,
    );
    if (found === undefined) {
      throw new Error('no etcd leader');
    }
    return found;
  }

  async awaitQuorum(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    await Promise.all(this.members.filter(m => m.isRunning).map(m => m.awaitServing(timeoutMs)));
  }

  url(namespace: string, sessionMs: number, endpoints?: readonly string[]): string {
    const hosts = (endpoints ?? this.members.map(m => m.endpoint)).join(',');
    return `etcd://${hosts}/${namespace}?leaseTtlSeconds=${Math.ceil(sessionMs / 1000)}`;
  }

  /** SIGKILL every member and delete the temp dirs. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map(m => m.stop()));
    for (const dir of this.dirs) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
