import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  register: Registry;
  /** 0 picks a free port (see `MetricsServer.port`). */
  port: number;
  /** Default `0.0.0.0`, so that a Prometheus on another host can scrape (the data is read-only). */
  host?: string;
  /** Readiness for `/readyz`; `/readyz` answers 503 with `reason` while not ready. */
  readiness: () => { ready: boolean; reason: string };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The HTTP endpoints of `shardline run --metrics-port`: `GET /metrics` (the registry in Prometheus text
 * format), `/healthz` (200 while the process serves at all) and `/readyz` (200 when ready, else 503 with
 * the reason). Any other path is 404, any other method 405. Resolves once listening.
 */
export async function serveMetrics(options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    void handle(options, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>(resolve => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  options: MetricsServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    reply(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, HEAD' });
    return;
  }
  switch (path) {
    case '/metrics':
      try {
        reply(res, 200, options.register.contentType, await options.register.metrics());
      } catch (err) {
        reply(res, 500, 'text/plain', `metrics failed: ${String(err)}\n`);
      }
      return;
    case '/healthz':
      reply(res, 200, 'text/plain', 'ok\n');
      return;
    case '/readyz': {
      const { ready, reason } = options.readiness();
      reply(res, ready ? 200 : 503, 'text/plain', `${reason}\n`);
      return;
    }
    default:
      reply(res, 404, 'text/plain', 'not found\n');
  }
}

function reply(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': contentType, ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
