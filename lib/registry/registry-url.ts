import { ConfigurationError } from '../errors';
import type { RegistryCenterOptions } from './options';

const EXAMPLES: Record<string, string> = {
  memory: 'memory://demo',
  zookeeper: 'zookeeper://127.0.0.1:2181,127.0.0.1:2182/demo?sessionTimeoutMs=6000',
  etcd: 'etcd://user:secret@127.0.0.1:2379/demo?leaseTtlSeconds=6',
};

const QUERY_KEYS: Record<string, readonly string[]> = {
  memory: [
    'sessionTimeoutMs',
    'connectTimeoutMs',
    'requestTimeoutMs',
    'readCacheSize',
    'readCacheMaxBytes',
  ],
  zookeeper: [
    'sessionTimeoutMs',
    'connectTimeoutMs',
    'requestTimeoutMs',
    'readCacheSize',
    'readCacheMaxBytes',
  ],
  etcd: [
    'leaseTtlSeconds',
    'connectTimeoutMs',
    'requestTimeoutMs',
    'readCacheSize',
    'readCacheMaxBytes',
  ],
};

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const SCHEME_PREFIX = /^([a-z0-9]+):\/\/([\s\S]*)$/i;
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d{1,5})$/i;

function fail(url: string, reason: string, scheme?: string): never {
  const example =
    scheme !== undefined && EXAMPLES[scheme] !== undefined
      ? `e.g. ${EXAMPLES[scheme]}`
      : `e.g. ${Object.values(EXAMPLES).join(' or ')}`;
  throw new ConfigurationError(
    `invalid registry URL ${JSON.stringify(redact(url))}: ${reason} (${example})`,
    'url',
  );
}

/**
 * Where the user-info of the text after `scheme://` ends: the index of the `@` that ends it, or -1 when
 * there is none. Passwords are often pasted without percent-encoding and may contain `@`, `/`, `?` or `#`,
 * so the user-info ends at the LAST `@` that is followed by a valid host list (`host:port[,host:port]`
 * then `/`, `?`, `#` or the end), not at the first `@` or `/`.
 */
function userInfoEnd(rest: string): number {
  for (let at = rest.lastIndexOf('@'); at >= 0; at = rest.lastIndexOf('@', at - 1)) {
    const authority = /^[^/?#@]*/.exec(rest.slice(at + 1))?.[0] ?? '';
    if (authority !== '' && authority.split(',').every(entry => HOST_PORT.test(entry))) {
      return at;
    }
    if (at === 0) {
      break;
    }
  }
  return -1;
}

/**
 * `url` with its whole user-info (user name and password) replaced by `***`, for messages and logs.
 * When the URL is too malformed to tell where the user-info ends, everything up to the last `@` is hidden:
 * a message may lose a piece of a namespace, but never shows a piece of a password.
 */
export function redact(url: string): string {
  const m = SCHEME_PREFIX.exec(url);
  const prefix = m === null ? '' : `${m[1] ?? ''}://`;
  const rest = m === null ? url : (m[2] ?? '');
  let at = userInfoEnd(rest);
  if (at < 0) {
    at = rest.lastIndexOf('@');
  }
  return at < 0 ? url : `${prefix}***@${rest.slice(at + 1)}`;
}

interface UrlParts {
  scheme: string;
  userInfo: string | undefined;
  authority: string;
  rawPath: string;
  query: string;
}

function splitUrl(url: string): UrlParts {
  const m = SCHEME_PREFIX.exec(url.trim());
  if (m === null) {
    fail(url, 'expected <scheme>://[user:password@]host:port[,host:port]/namespace[?options]');
  }
  const scheme = (m[1] ?? '').toLowerCase();
  let rest = m[2] ?? '';
  let userInfo: string | undefined;
  // memory:// has no host list: any `@` there is an attempt at credentials (refused below).
  const at = scheme === 'memory' ? rest.lastIndexOf('@') : userInfoEnd(rest);
  if (at >= 0) {
    userInfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fail(url, 'a registry URL has no #fragment', scheme);
  }
  const q = rest.indexOf('?');
  const beforeQuery = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const slash = beforeQuery.indexOf('/');
  const authority = slash < 0 ? beforeQuery : beforeQuery.slice(0, slash);
  const rawPath = slash < 0 ? '' : beforeQuery.slice(slash);
  return { scheme, userInfo, authority, rawPath, query };
}

/**
 * Parse `memory://ns`, `zookeeper://[user:password@]h:p[,h:p]/ns?sessionTimeoutMs=…` or
 * `etcd://[user:password@]h:p[,h:p]/ns?leaseTtlSeconds=…` into options. Throws `ConfigurationError`
 * saying what is wrong and showing a valid example, with the user-info redacted. The user-info ends at
 * the last `@` followed by the host list, so a password may contain `@` and `/` as typed (or
 * percent-encoded). TLS needs the object form.
 */
export function parseRegistryUrl(url: string): RegistryCenterOptions {
  const parts = splitUrl(url);
  const { scheme, userInfo, authority, rawPath, query } = parts;
  if (userInfo === undefined && `${authority}${rawPath}${query}`.includes('@')) {
    // An `@` but no host list after any of them: what precedes an `@` may be part of a password, so the
    // reason must not quote any piece of the URL (redact() hides everything up to the last `@`).
    try {
      return parseParts(url, parts);
    } catch (err) {
      if (!(err instanceof ConfigurationError)) {
        throw err;
      }
      fail(
        url,
        'expected [user:password@]host:port[,host:port]/namespace; the user-info ends at the last @ ' +
          'that the host list follows (details withheld: they may contain a password)',
        scheme in EXAMPLES ? scheme : undefined,
      );
    }
  }
  return parseParts(url, parts);
}

function parseParts(url: string, parts: UrlParts): RegistryCenterOptions {
  const { scheme, userInfo, authority, rawPath, query } = parts;
  if (!(scheme in EXAMPLES)) {
    fail(url, `unknown scheme ${JSON.stringify(scheme)}; use memory, zookeeper or etcd`);
  }
  const numbers = parseQuery(url, scheme, query);
  if (scheme === 'memory') {
    if (userInfo !== undefined) {
      fail(url, 'the memory registry takes no credentials', scheme);
    }
    const namespace = parseNamespace(url, scheme, `${authority}${rawPath}`);
    return { type: 'memory', namespace, ...numbers };
  }
  const endpoints = parseEndpoints(url, scheme, authority);
  const namespace = parseNamespace(url, scheme, rawPath.replace(/^\//, ''));
  const auth = userInfo === undefined ? undefined : parseCredentials(url, scheme, userInfo);
  const { sessionTimeoutMs, leaseTtlSeconds, ...common } = numbers;
  if (scheme === 'zookeeper') {
    return { type: 'zookeeper', servers: endpoints, namespace, sessionTimeoutMs, auth, ...common };
  }
  return { type: 'etcd', hosts: endpoints, namespace, leaseTtlSeconds, auth, ...common };
}

/** `user:password` (the user name ends at the first `:`; the password is everything after it). */
function parseCredentials(
  url: string,
  scheme: string,
  userInfo: string,
): { username: string; password: string } {
  const colon = userInfo.indexOf(':');
  const user = colon < 0 ? userInfo : userInfo.slice(0, colon);
  const password = colon < 0 ? '' : userInfo.slice(colon + 1);
  if (user === '' || password === '') {
    fail(url, 'credentials must be given as user:password@', scheme);
  }
  try {
    return { username: decodeURIComponent(user), password: decodeURIComponent(password) };
  } catch {
    fail(url, 'the credentials are not valid percent-encoding (write a literal % as %25)', scheme);
  }
}

function parseEndpoints(url: string, scheme: string, authority: string): string[] {
  if (authority === '') {
    fail(url, 'no host:port given', scheme);
  }
  const seen = new Set<string>();
  return authority.split(',').map(entry => {
    const hp = HOST_PORT.exec(entry);
    const port = Number(hp?.[2]);
    if (hp === null || port < 1 || port > 65535) {
      fail(url, `${JSON.stringify(entry)} is not a host:port pair`, scheme);
    }
    // A host listed twice gets twice the share of connections (etcd3 picks a host per call) and a second
    // futile attempt when it is down (ZooKeeper's round robin): almost always a copy-paste slip.
    const key = entry.toLowerCase();
    if (seen.has(key)) {
      fail(url, `${JSON.stringify(key)} is listed twice`, scheme);
    }
    seen.add(key);
    return entry;
  });
}

function parseNamespace(url: string, scheme: string, raw: string): string {
  const namespace = raw.replace(/\/+$/, '');
  if (namespace === '') {
    fail(url, 'no namespace given (the path after the hosts)', scheme);
  }
  if (
    namespace.split('/').some(s => s === '' || s === '.' || s === '..' || CONTROL_CHARS.test(s))
  ) {
    fail(url, `namespace ${JSON.stringify(namespace)} has an empty or invalid segment`, scheme);
  }
  return namespace;
}

interface UrlNumbers {
  sessionTimeoutMs?: number;
  leaseTtlSeconds?: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  readCacheSize?: number;
  readCacheMaxBytes?: number;
}

function parseQuery(url: string, scheme: string, query: string): UrlNumbers {
  const out: Record<string, number> = {};
  const allowed = QUERY_KEYS[scheme] ?? [];
  for (const [key, value] of new URLSearchParams(query)) {
    if (!allowed.includes(key)) {
      fail(url, `unknown option ${JSON.stringify(key)}; allowed: ${allowed.join(', ')}`, scheme);
    }
    const n = Number(value);
    if (value === '' || !Number.isInteger(n) || n < (key === 'readCacheSize' ? 0 : 1)) {
      fail(
        url,
        `option ${key} must be a ${key === 'readCacheSize' ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`,
        scheme,
      );
    }
    out[key] = n;
  }
  return out;
}
