import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import { ConfigurationError } from '../../errors';
import type { EtcdRegistryOptions } from '../options';
import { hostFailoverPolicies } from './etcd-host-failover';

/**
 * Builds the one etcd3 client of a driver:
 * - no etcd3 retries and no etcd3 circuit breaker: one bad request must not lock the client out for 5 s, and
 *   non-idempotent txns must not be resent after an ambiguous failure; our layer owns retries. With several
 *   endpoints, the one exception is host failover (etcd-host-failover.ts): a call that could not be sent
 *   goes to another host at once, and a host that could not be reached is skipped for a second;
 * - a deadline on every unary call (etcd3's `dialTimeout` is unused);
 * - gRPC keepalive ≥ 5 s (etcd's default `--grpc-keepalive-min-time`), so a dead TCP connection is noticed
 *   by the watch stream at all;
 * - a raised receive limit for large ranges, and a watch backoff capped at 1 s.
 * The driver uses the root `Etcd3` object only (one Namespace = one watch manager = one watch stream) and
 * applies its key prefix itself.
 */

/** gRPC keepalive ping interval; etcd rejects pings more often than every 5 s ("too_many_pings"). */
export const GRPC_KEEPALIVE_TIME_MS = 5_000;
export const GRPC_KEEPALIVE_TIMEOUT_MS = 3_000;
const MAX_RECEIVE_BYTES = 256 * 1024 * 1024;
const WATCH_BACKOFF_MAX_MS = 1_000;

export function endpointUrls(options: EtcdRegistryOptions): string[] {
  const scheme = options.tls === undefined ? 'http' : 'https';
  return options.hosts.map(h =>
    /^https?:\/\//.test(h) ? h.replace(/^https?/, scheme) : `${scheme}://${h}`,
  );
}

function toBuffer(value: string | Buffer | undefined): Buffer | undefined {
  return value === undefined
    ? undefined
    : Buffer.isBuffer(value)
      ? value
      : Buffer.from(value, 'utf8');
}

/**
 * The etcd3 options of a driver (see the file comment). TLS: `ca` verifies the server (without it, gRPC's
 * default roots do: the bundled public CAs, or the file named by `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`; gRPC
 * does not read `NODE_EXTRA_CA_CERTS`); `cert` + `key`
 * are the client certificate of mutual TLS and are sent whether or not a `ca` is given. One of `cert` /
 * `key` without the other is a `ConfigurationError`.
 */
export function etcdClientOptions(
  options: EtcdRegistryOptions,
  requestTimeoutMs: number,
): IOptions {
  const hosts = endpointUrls(options);
  const failover = hostFailoverPolicies(hosts.length);
  const config: IOptions = {
    hosts,
    grpcOptions: {
      'grpc.keepalive_time_ms': GRPC_KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': GRPC_KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      'grpc.max_send_message_length': MAX_RECEIVE_BYTES,
    },
    defaultCallOptions: context =>
      context.isStream ? {} : { deadline: Date.now() + requestTimeoutMs },
    faultHandling: {
      global: failover.global,
      host: failover.host,
      // etcd3 types this as IBackoff but calls `.next()` on it first, i.e. uses it as a backoff FACTORY,
      // which is what cockatiel 3's ExponentialBackoff is (checked against etcd3@1.1.2's watch code).
      watchBackoff: new ExponentialBackoff({
        initialDelay: 100,
        maxDelay: WATCH_BACKOFF_MAX_MS,
      }) as unknown as IBackoff<unknown>,
    },
  };
  if (options.auth !== undefined) {
    config.auth = { username: options.auth.username, password: options.auth.password };
  }
  const tls = options.tls;
  if (tls !== undefined) {
    const ca = toBuffer(tls.ca);
    const cert = toBuffer(tls.cert);
    const key = toBuffer(tls.key);
    if ((cert === undefined) !== (key === undefined)) {
      throw new ConfigurationError(
        `etcd option tls.${cert === undefined ? 'cert' : 'key'} is missing: a client certificate ` +
          'needs both tls.cert and tls.key',
        cert === undefined ? 'tls.cert' : 'tls.key',
      );
    }
    if (ca !== undefined || cert !== undefined) {
      // etcd3 hands these to grpc.credentials.createSsl(root, key, chain), where a null root means gRPC's
      // default roots: the client certificate is used with or without a CA of our own. (etcd3
      // types `rootCertificate` as a Buffer, but passes it on as it is.)
      const rootCertificate = (ca ?? null) as Buffer;
      config.credentials = { rootCertificate, privateKey: key, certChain: cert };
    }
    // Neither: https:// hosts make etcd3 use gRPC's default roots (grpc.credentials.createSsl()).
  }
  return config;
}

export function createEtcdClient(options: EtcdRegistryOptions, requestTimeoutMs: number): Etcd3 {
  return new Etcd3(etcdClientOptions(options, requestTimeoutMs));
}
