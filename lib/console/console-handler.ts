import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BadVersionError,
  ConfigurationError,
  InvalidArgumentError,
  ShardlineError,
  UnknownJobError,
} from '../errors';
import type {
  ExecutionHistoryReader,
  ExecutionOutcome,
  HistoryFilter,
} from '../history/execution-record';
import { createOperations } from '../ops/operations-api';
import { JobInUseError } from '../ops/ops-errors';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import { ConfigIssuesError, isActionName, runAction } from './console-actions';
import { consoleAsset } from './console-assets';
import { ConsoleViews } from './console-views';
import { RegistryFollower, type RegistryChange } from './registry-follower';

/** Options of {@link createConsoleHandler}. */
export interface ConsoleOptions {
  /** An initialised registry center; the caller owns it (the console never closes it). */
  registry: CoordinatorRegistryCenter;
  /** Where execution history is read from; without it the console shows each item's last run. */
  history?: ExecutionHistoryReader;
  /** No actions: the page shows none and every POST is refused with 403. Default false. */
  readOnly?: boolean;
  /** When set, every POST must carry it (`Authorization: Bearer <token>`), else 401. */
  token?: string;
  /**
   * The path the console is mounted under when the server passes full URLs (`http`, Fastify), e.g.
   * `/console`. Express strips its mount path itself: leave it unset there.
   */
  prefix?: string;
}

/** A Node request handler (`http`, Express, Fastify's raw request) serving the console. */
export interface ConsoleHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Resolves once the console follows the registry (its cache's initial load); requests wait for it. */
  readonly ready: Promise<void>;
  /** Ends the live streams and stops following the registry (idempotent); the registry stays open. */
  close(): Promise<void>;
}

/** Largest request body accepted. */
const MAX_BODY_BYTES = 64 * 1024;
/** A comment on every live stream this often, so proxies keep it open. */
const KEEPALIVE_MS = 20_000;

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * The web console as a Node `(req, res)` handler: a jobs overview, job detail, instances, configuration
 * editing, execution history and registry health, live through the registry's watches (server-sent events:
 * a change shows in the browser without reload; nothing polls the registry). Mount it in `http`, Express or
 * Fastify under a prefix (docs/console.md):
 *
 * ```ts
 * const consoleHandler = createConsoleHandler({ registry, token: process.env.CONSOLE_TOKEN });
 * app.use('/console', consoleHandler);            // Express
 * // http: createServer((req, res) => req.url?.startsWith('/console') ? h(req, res) : other(req, res))
 * //       with createConsoleHandler({ registry, prefix: '/console' })
 * ```
 *
 * Security: GET never changes anything; state changes are POSTs with a JSON body, and with `token` set they
 * need `Authorization: Bearer <token>` (401 otherwise); `readOnly` refuses them all (403). A POST whose
 * `Origin` is not the console's own host is refused (403), as is one that is not JSON (415), so another site
 * cannot submit a form to it. Reading is open to whoever reaches the handler: bind to loopback (the CLI's
 * default) or put it behind your own authentication.
 */
export function createConsoleHandler(options: ConsoleOptions): ConsoleHandler {
  const follower = new RegistryFollower(options.registry);
  const views = new ConsoleViews(options.registry, follower, options.history);
  const ops = createOperations(options.registry);
  const streams = new Set<ServerResponse>();
  const prefix = (options.prefix ?? '').replace(/\/+$/, '');
  const readOnly = options.readOnly === true;
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);
  let closed = false;

  const ready = follower.start();
  ready.catch(() => undefined); // reported to each request
  follower.on('change', change => broadcast(streams, 'change', change));
  const keepalive = setInterval(() => {
    for (const res of streams) {
      res.write(': keepalive\n\n');
    }
  }, KEEPALIVE_MS);
  keepalive.unref();

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    let path = url.pathname;
    if (prefix !== '' && (path === prefix || path.startsWith(`${prefix}/`))) {
      path = path.slice(prefix.length) || '/';
    }
    if (path === '/' && !fullPath(req).endsWith('/')) {
      // Relative asset and API URLs resolve under the mount only with the trailing slash.
      res.writeHead(308, { location: `${fullPath(req)}/${url.search}` }).end();
      return;
    }
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      await ready;
      await serveGet(path, url.searchParams, req, res);
      return;
    }
    if (method !== 'POST') {
      sendJson(res, 405, { error: 'only GET and POST' }, { allow: 'GET, HEAD, POST' });
      return;
    }
    const match = /^\/api\/jobs\/([^/]+)\/([a-z]+)$/.exec(path);
    if (match === null || !isActionName(match[2] ?? '')) {
      sendJson(res, 404, { error: 'no such action' });
      return;
    }
    const refusal = refusePost(req, readOnly, tokenDigest);
    if (refusal !== undefined) {
      sendJson(res, refusal.status, { error: refusal.error });
      return;
    }
    const body = await readJsonBody(req);
    await ready;
    const job = decodeURIComponent(match[1] ?? '');
    const action = match[2] ?? '';
    if (!isActionName(action)) {
      return;
    }
    sendJson(res, 200, { ok: true, result: await runAction(ops, views, job, action, body) });
  };

  const serveGet = async (
    path: string,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> => {
    const asset = consoleAsset(path === '/' ? 'index.html' : path.slice(1));
    if (asset !== undefined) {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': asset.contentType,
        'cache-control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const job = /^\/api\/jobs\/([^/]+)$/.exec(path);
    if (job !== null) {
      sendJson(res, 200, await views.job(decodeURIComponent(job[1] ?? '')));
      return;
    }
    switch (path) {
      case '/api/session':
        sendJson(res, 200, {
          readOnly,
          tokenRequired: tokenDigest !== undefined,
          backend: options.registry.description,
          history: options.history === undefined ? 'last-run' : 'history',
        });
        return;
      case '/api/overview':
        sendJson(res, 200, await views.overview());
        return;
      case '/api/instances':
        sendJson(res, 200, await views.instances());
        return;
      case '/api/history':
        sendJson(res, 200, await views.runs(historyFilter(query)));
        return;
      case '/api/health':
        sendJson(res, 200, views.health());
        return;
      case '/api/events':
        openStream(req, res);
        return;
      default:
        sendJson(res, 404, { error: 'not found' });
    }
  };

  const openStream = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    writeEvent(res, 'hello', { readOnly });
    streams.add(res);
    req.on('close', () => streams.delete(res));
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (closed) {
      sendJson(res, 503, { error: 'the console is closed' });
      return;
    }
    serve(req, res).catch(err => sendError(res, err));
  };
  return Object.assign(handler, {
    ready,
    close: async () => {
      if (closed) {
        return;
      }
      closed = true;
      clearInterval(keepalive);
      for (const res of streams) {
        res.end();
      }
      streams.clear();
      await ready.catch(() => undefined);
      follower.close();
    },
  });
}

/** The request path as the client sent it (Express keeps it in `originalUrl`). */
function fullPath(req: IncomingMessage): string {
  const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
  return new URL(original ?? req.url ?? '/', 'http://console.invalid').pathname;
}

function refusePost(
  req: IncomingMessage,
  readOnly: boolean,
  tokenDigest: Buffer | undefined,
): { status: number; error: string } | undefined {
  if (readOnly) {
    return { status: 403, error: 'the console is read-only' };
  }
  if (tokenDigest !== undefined) {
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!timingSafeEqual(digest(given), tokenDigest)) {
      return { status: 401, error: 'a valid console token is required' };
    }
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      host = '';
    }
    if (host !== req.headers.host) {
      return { status: 403, error: 'cross-origin request refused' };
    }
  } else if (origin === 'null') {
    return { status: 403, error: 'cross-origin request refused' };
  }
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    return { status: 415, error: 'the body must be application/json' };
  }
  return undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  let value: unknown = parsed;
  if (parsed === undefined) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > MAX_BODY_BYTES) {
        throw new InvalidArgumentError(`the body is larger than ${MAX_BODY_BYTES} bytes`);
      }
      chunks.push(buf);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      value = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw new InvalidArgumentError('the body is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

const OUTCOMES: readonly string[] = ['succeeded', 'failed', 'aborted'];

function historyFilter(q: URLSearchParams): HistoryFilter {
  const filter: HistoryFilter = {};
  const text = (name: string): string | undefined => {
    const v = q.get(name)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const num = (name: string): number | undefined => {
    const v = text(name);
    if (v === undefined) {
      return undefined;
    }
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new InvalidArgumentError(`${name} must be a non-negative integer, got ${v}`);
    }
    return n;
  };
  const job = text('job');
  const instanceId = text('instance');
  const outcome = text('outcome');
  const [item, from, to, limit] = [num('item'), num('from'), num('to'), num('limit')];
  if (outcome !== undefined && !OUTCOMES.includes(outcome)) {
    throw new InvalidArgumentError(`outcome must be one of ${OUTCOMES.join(', ')}`);
  }
  Object.assign(
    filter,
    job === undefined ? {} : { job },
    instanceId === undefined ? {} : { instanceId },
    outcome === undefined ? {} : { outcome: outcome as ExecutionOutcome },
    item === undefined ? {} : { item },
    from === undefined ? {} : { from },
    to === undefined ? {} : { to },
    limit === undefined ? {} : { limit },
  );
  return filter;
}

function writeEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function broadcast(streams: Set<ServerResponse>, event: string, change: RegistryChange): void {
  for (const res of streams) {
    writeEvent(res, event, change);
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(body));
}

/** An error as an HTTP answer: the message and, for a refused configuration, each field's problem. */
function sendError(res: ServerResponse, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ConfigIssuesError) {
    sendJson(res, 400, { error: message, issues: err.issues });
  } else if (err instanceof ConfigurationError || err instanceof InvalidArgumentError) {
    sendJson(res, 400, { error: message });
  } else if (err instanceof UnknownJobError) {
    sendJson(res, 404, { error: message });
  } else if (err instanceof BadVersionError) {
    sendJson(res, 409, {
      error: 'the configuration changed since this form was opened: review it and save again',
    });
  } else if (err instanceof JobInUseError) {
    sendJson(res, 409, { error: message });
  } else if (err instanceof ShardlineError && err.retryable) {
    sendJson(res, 503, { error: message });
  } else {
    sendJson(res, 500, { error: message });
  }
}
