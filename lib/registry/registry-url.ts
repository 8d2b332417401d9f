import { ConfigurationError } from '../errors';
import type { RegistryCenterOptions } from './options';

const EXAMPLES: Record<string, string> = {
  memory: 'memory://demo',
  zookeeper: 'zookeeper://127.0.0.1:2181,127.0.0.1:2182/demo?sessionTimeoutMs=6000',
  etcd: 'etcd://user:secret@127.0.0.1:2379/demo?leaseTtlSeconds=6',
};

const QUERY_KEYS: Record<string, readonly string[]> = {
  memory: ['sessionTimeoutMs', 'connectTimeoutMs', 'requestTimeoutMs', 'readCacheSize'],
  zookeeper: ['sessionTimeoutMs', 'connectTimeoutMs', 'requestTimeoutMs', 'readCacheSize'],
  etcd: ['leaseTtlSeconds', 'connectTimeoutMs', 'requestTimeoutMs', 'readCacheSize'],
};

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const URL_SHAPE =
  /^([a-z0-9]+):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i;

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

/** Hide the password of `user:password@` in messages. */
export function redact(url: string): string {
  return url.replace(/^([a-z0-9]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/**
 * Parse `memory://ns`, `zookeeper://[user:password@]h:p[,h:p]/ns?sessionTimeoutMs=…` or
 * `etcd://[user:password@]h:p[,h:p]/ns?leaseTtlSeconds=…` into options. Throws `ConfigurationError`
 * saying what is wrong and showing a valid example. TLS needs the object form.
 */
export function parseRegistryUrl(url: string): RegistryCenterOptions {
  const m = URL_SHAPE.exec(url.trim());
  if (m === null) {
    fail(url, 'expected <scheme>://[user:password@]host:port[,host:port]/namespace[?options]');
  }
  const scheme = (m[1] ?? '').toLowerCase();
  const [, , user, password, authority = '', rawPath = '', query = ''] = m;
  if (!(scheme in EXAMPLES)) {
    fail(url, `unknown scheme ${JSON.stringify(scheme)}; use memory, zookeeper or etcd`);
  }
  const numbers = parseQuery(url, scheme, query);
  if (scheme === 'memory') {
    const namespace = parseNamespace(url, scheme, `${authority}${rawPath}`);
    if (user !== undefined) {
      fail(url, 'the memory registry takes no credentials', scheme);
    }
    return { type: 'memory', namespace, ...numbers };
  }
  const endpoints = parseEndpoints(url, scheme, authority);
  const namespace = parseNamespace(url, scheme, rawPath.replace(/^\//, ''));
  let auth: { username: string; password: string } | undefined;
  if (user !== undefined) {
    if (user === '' || password === undefined || password === '') {
      fail(url, 'credentials must be given as user:password@', scheme);
    }
    auth = { username: decodeURIComponent(user), password: decodeURIComponent(password) };
  }
  const { sessionTimeoutMs, leaseTtlSeconds, ...common } = numbers;
  if (scheme === 'zookeeper') {
    return { type: 'zookeeper', servers: endpoints, namespace, sessionTimeoutMs, auth, ...common };
  }
  return { type: 'etcd', hosts: endpoints, namespace, leaseTtlSeconds, auth, ...common };
}

function parseEndpoints(url: string, scheme: string, authority: string): string[] {
  if (authority === '') {
    fail(url, 'no host:port given', scheme);
  }
  return authority.split(',').map(entry => {
    const hp = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d{1,5})$/i.exec(entry);
    const port = Number(hp?.[2]);
    if (hp === null || port < 1 || port > 65535) {
      fail(url, `${JSON.stringify(entry)} is not a host:port pair`, scheme);
    }
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
