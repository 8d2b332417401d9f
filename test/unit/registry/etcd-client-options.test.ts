import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import { etcdClientOptions } from '../../../lib/registry/etcd/etcd-client';
import type { EtcdRegistryOptions } from '../../../lib/registry/options';

const base: EtcdRegistryOptions = { type: 'etcd', namespace: 'ns', hosts: ['127.0.0.1:2379'] };
const CERT = '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n';
const CA = '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n';

describe('etcd client options', () => {
  it('tls with cert and key but no ca keeps the client certificate (system roots verify the server)', () => {
    const options = etcdClientOptions({ ...base, tls: { cert: CERT, key: KEY } }, 1000);
    expect(options.hosts).to.deep.equal(['https://127.0.0.1:2379']);
    expect(options.credentials?.certChain?.toString('utf8')).to.equal(CERT);
    expect(options.credentials?.privateKey?.toString('utf8')).to.equal(KEY);
    expect(options.credentials?.rootCertificate ?? null).to.equal(null);
  });

  it('tls with ca, cert and key passes all three; ca alone verifies the server only', () => {
    const mutual = etcdClientOptions({ ...base, tls: { ca: CA, cert: CERT, key: KEY } }, 1000);
    expect(mutual.credentials?.rootCertificate.toString('utf8')).to.equal(CA);
    expect(mutual.credentials?.certChain?.toString('utf8')).to.equal(CERT);
    const serverOnly = etcdClientOptions({ ...base, tls: { ca: Buffer.from(CA) } }, 1000);
    expect(serverOnly.credentials?.rootCertificate.toString('utf8')).to.equal(CA);
    expect(serverOnly.credentials?.certChain).to.equal(undefined);
    expect(etcdClientOptions({ ...base, tls: {} }, 1000).credentials).to.equal(undefined);
  });

  it('a cert without its key (or the reverse) is a ConfigurationError naming the missing field', () => {
    expect(() => etcdClientOptions({ ...base, tls: { cert: CERT } }, 1000))
      .to.throw(ConfigurationError, /tls\.key is missing/)
      .with.property('field', 'tls.key');
    expect(() => etcdClientOptions({ ...base, tls: { ca: CA, key: KEY } }, 1000))
      .to.throw(ConfigurationError, /tls\.cert is missing/)
      .with.property('field', 'tls.cert');
  });
});
