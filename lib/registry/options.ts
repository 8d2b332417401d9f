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
