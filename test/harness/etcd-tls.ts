import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';
import { findExecutable, ServerProcess } from './process';

const run = promisify(execFile);

/** PEM material of a throwaway CA, a server certificate for 127.0.0.1 and a client certificate. */
export interface TlsMaterial {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * A single-member etcd that serves clients over TLS with client-certificate auth (mutual TLS), for the TLS
 * test of the etcd driver. Certificates are made with `openssl` (EC P-256, valid one day) in the server's temp
 * dir. Readiness is left to the client (the driver's connect retries until `connectTimeoutMs`): the plain-HTTP
 * health check of {@link EtcdServer} cannot talk to a TLS listener.
 */
export class TlsEtcdServer {
  private constructor(
    private readonly proc: ServerProcess,
    readonly endpoint: string,
    readonly tls: TlsMaterial,
  ) {}

  static async start(): Promise<TlsEtcdServer> {
    const dir = mkdtempSync(join(tmpdir(), 'shardline-etcd-tls-'));
    const tls = await makeCertificates(dir);
    const clientPort = await freePort();
    const peerPort = await freePort();
    const client = `https://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const etcd = findExecutable('etcd', '/usr/bin/etcd') ?? 'etcd';
    const proc = new ServerProcess(
      'etcd-tls',
      etcd,
      [
        '--name=default',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        `--cert-file=${join(dir, 'server.crt')}`,
        `--key-file=${join(dir, 'server.key')}`,
        `--trusted-ca-file=${join(dir, 'ca.crt')}`,
        '--client-cert-auth',
        '--logger=zap',
      ],
      dir,
      join(dir, 'server.log'),
    );
    proc.spawn();
    return new TlsEtcdServer(proc, `127.0.0.1:${clientPort}`, tls);
  }

  /** Kills the server and deletes its directory. */
  stop(): Promise<void> {
    return this.proc.destroy();
  }
}

async function makeCertificates(dir: string): Promise<TlsMaterial> {
  const openssl = findExecutable('openssl', '/usr/bin/openssl') ?? 'openssl';
  const file = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run(
    openssl,
    ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.crt')].concat([
      '-days',
      '1',
      '-subj',
      '/CN=shardline-test-ca',
    ]),
  );
  const sign = async (name: string, ext: string): Promise<void> => {
    writeFileSync(file(`${name}.ext`), ext);
    await run(openssl, [
      'req',
      ...ec,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
      '-subj',
      `/CN=${name}`,
    ]);
    await run(openssl, [
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.crt`),
      '-days',
      '1',
      '-extfile',
      file(`${name}.ext`),
    ]);
  };
  await sign('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await sign('client', 'extendedKeyUsage=clientAuth\n');
  const read = (name: string): string => readFileSync(file(name), 'utf8');
  return {
    ca: read('ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
  };
}
