import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './events';
import { freePort } from './free-port';
import { ManagedServer } from './managed-server';
import { findExecutable, ServerProcess } from './process';

const READY_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;

export interface PrometheusServerOptions {
  /** `host:port` of each target to scrape (scrape job `shardline`, `honor_labels: true`). */
  targets: string[];
  /** Default `250ms`. */
  scrapeInterval?: string;
}

/** One sample of an instant-vector answer of the HTTP API. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

function httpGetJson(port: number, path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 2000 }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON (e.g. /-/ready's plain text)
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/**
 * A Prometheus server (Debian package) on 127.0.0.1 with its config and TSDB in a temp dir, one per test
 * file, scraping the given targets every 250 ms. Ready when `/-/ready` answers 200; stopped by PID. Its
 * discovery manager hands the static targets to the scrapers about 5 s after the start (a fixed
 * throttle, measured): start it early, alongside the rest of the setup.
 */
export class PrometheusServer extends ManagedServer {
  private constructor(
    readonly port: number,
    proc: ServerProcess,
  ) {
    super(proc, 'PrometheusServer');
  }

  static findBinaries(): { ok: boolean; missing: string[]; packages: string[] } {
    const ok = findExecutable('prometheus') !== undefined;
    return { ok, missing: ok ? [] : ['prometheus'], packages: ok ? [] : ['prometheus'] };
  }

  static async start(options: PrometheusServerOptions): Promise<PrometheusServer> {
    const binary = findExecutable('prometheus');
    if (binary === undefined) {
      throw new Error('Prometheus is not installed (apt-get install -y prometheus)');
    }
    const dir = mkdtempSync(join(tmpdir(), 'shardline-prom-'));
    const config = join(dir, 'prometheus.yml');
    const interval = options.scrapeInterval ?? '250ms';
    writeFileSync(
      config,
      [
        'global:',
        `  scrape_interval: ${interval}`,
        `  scrape_timeout: ${interval}`,
        'scrape_configs:',
        '  - job_name: shardline',
        // Shardline's own `job` label (the Shardline job) is kept instead of renamed `exported_job`.
        '    honor_labels: true',
        '    static_configs:',
        `      - targets: [${options.targets.map(t => `'${t}'`).join(', ')}]`,
        '',
      ].join('\n'),
    );
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const args = [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ];
      const proc = new ServerProcess('Prometheus', binary, args, dir, join(dir, 'server.log'));
      const server = new PrometheusServer(port, proc);
      try {
        await server.spawnAndAwaitReady();
        return server;
      } catch (err) {
        await proc.kill();
        const bindFailed = /address already in use/i.test(proc.logTail(50));
        if (!bindFailed || attempt >= START_ATTEMPTS) {
          rmSync(dir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  /** An instant PromQL query through the HTTP API (`/api/v1/query`). */
  async query(promql: string): Promise<PromSample[]> {
    const { status, body } = await httpGetJson(
      this.port,
      `/api/v1/query?query=${encodeURIComponent(promql)}`,
    );
    const answer = body as {
      status?: string;
      data?: {
        resultType?: string;
        result?: { metric: Record<string, string>; value: [number, string] }[];
      };
    };
    if (status !== 200 || answer.status !== 'success' || answer.data?.resultType !== 'vector') {
      throw new Error(`query ${promql} failed: ${status} ${JSON.stringify(body)}`);
    }
    return (answer.data.result ?? []).map(r => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  protected async spawnAndAwaitReady(): Promise<void> {
    this.proc.spawn();
    try {
      await waitFor(
        async () => {
          this.proc.assertAlive();
          try {
            return (await httpGetJson(this.port, '/-/ready')).status === 200;
          } catch {
            return false;
          }
        },
        READY_TIMEOUT_MS,
        `Prometheus on port ${this.port} to be ready`,
        50,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`${message}\n${this.proc.logTail()}`, { cause: err });
    }
  }
}
