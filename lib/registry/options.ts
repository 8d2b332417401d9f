import { InvalidArgumentError } from '../errors';

/**
 * Options of `createRegistryCenter` (the object form; the URL form is parsed into these).
 * Defaults are stated per field.
 */

export interface CommonRegistryOptions {
  /** Root node / key prefix the user never types, e.g. 'demo' or 'team/demo'. Required. */
  namespace: string;
  /** `init()` rejects with `RegistryConnectionError` after this long. Default 15000. */
  connectTimeoutMs?: number;
  /** Every request rejects with `OperationTimeoutError` after this long. Default 5000. */
  requestTimeoutMs?: number;
  /** Entries of the bounded read cache used by `get()` outside cached subtrees. Default 10000; 0 disables it. */
  readCacheSize?: number;
  /**
   * Bytes the read cache may hold (2 per UTF-16 code unit of each path and value): it evicts least recently
   * used entries past either bound, and does not keep a value larger than this. Default 33554432 (32 MiB).
   */
  readCacheMaxBytes?: number;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface MemoryRegistryOptions extends CommonRegistryOptions {
  type: 'memory';
  /** Session lifetime after a (simulated) disconnect before ephemerals vanish. Default 10000. */
  sessionTimeoutMs?: number;
}

export interface ZooKeeperRegistryOptions extends CommonRegistryOptions {
  type: 'zookeeper';
  /** 'host:port' entries. */
  servers: string[];
  /** Requested session timeout; the server may clamp it. Default 10000. */
  sessionTimeoutMs?: number;
  /** Digest credentials; nodes we create get a creator-only ACL. */
  auth?: Credentials;
}

export interface EtcdTlsOptions {
  /** PEM CA certificate(s) used to verify the server. */
  ca?: string | Buffer;
  /** PEM client certificate, for mutual TLS. */
  cert?: string | Buffer;
  /** PEM client private key, for mutual TLS. */
  key?: string | Buffer;
}

export interface EtcdRegistryOptions extends CommonRegistryOptions {
  type: 'etcd';
  /** 'host:port' entries. */
  hosts: string[];
  /** TTL of the one lease that carries this client's ephemeral keys (min 2). Default 10. */
  leaseTtlSeconds?: number;
  auth?: Credentials;
  /** When set, every host is reached over TLS. */
  tls?: EtcdTlsOptions;
}

export type RegistryCenterOptions =
  MemoryRegistryOptions | ZooKeeperRegistryOptions | EtcdRegistryOptions;

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
export const DEFAULT_LEASE_TTL_SECONDS = 10;
export const DEFAULT_READ_CACHE_SIZE = 10_000;
export const DEFAULT_READ_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/** What the registry facade (`DrivenRegistryCenter`) reads of the options; the driver reads the rest. */
export interface DrivenRegistryCenterOptions {
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  readCacheSize?: number;
  readCacheMaxBytes?: number;
  /** Only whether they are set is read here (`hasCredentials`); the driver uses them. */
  auth?: unknown;
  tls?: { cert?: unknown };
}

/** {@link DrivenRegistryCenterOptions} with the defaults applied and checked. */
export interface ResolvedFacadeOptions {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  readCacheSize: number;
  readCacheMaxBytes: number;
  hasCredentials: boolean;
}

/** Applies the defaults; throws `InvalidArgumentError` naming the first option out of range. */
export function resolveFacadeOptions(options: DrivenRegistryCenterOptions): ResolvedFacadeOptions {
  const hasCredentials = options.auth !== undefined || options.tls?.cert !== undefined;
  const connectTimeoutMs = positive(
    options.connectTimeoutMs,
    DEFAULT_CONNECT_TIMEOUT_MS,
    'connectTimeoutMs',
  );
  const requestTimeoutMs = positive(
    options.requestTimeoutMs,
    DEFAULT_REQUEST_TIMEOUT_MS,
    'requestTimeoutMs',
  );
  const readCacheSize = options.readCacheSize ?? DEFAULT_READ_CACHE_SIZE;
  if (!Number.isInteger(readCacheSize) || readCacheSize < 0) {
    throw new InvalidArgumentError(
      `readCacheSize must be a non-negative integer, got ${readCacheSize}`,
    );
  }
  const readCacheMaxBytes = options.readCacheMaxBytes ?? DEFAULT_READ_CACHE_MAX_BYTES;
  if (!Number.isInteger(readCacheMaxBytes) || readCacheMaxBytes < 1) {
    throw new InvalidArgumentError(
      `readCacheMaxBytes must be a positive integer, got ${readCacheMaxBytes}`,
    );
  }
  return { connectTimeoutMs, requestTimeoutMs, readCacheSize, readCacheMaxBytes, hasCredentials };
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new InvalidArgumentError(
      `${name} must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return v;
}
