import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import { createRegistryCenter } from '../../../lib/registry/create-registry-center';
import { parseRegistryUrl } from '../../../lib/registry/registry-url';

describe('registry URLs', () => {
  it('parses the three schemes with options and credentials', () => {
    expect(parseRegistryUrl('memory://demo')).to.deep.equal({ type: 'memory', namespace: 'demo' });
    expect(parseRegistryUrl('memory://team/demo?sessionTimeoutMs=500')).to.deep.equal({
      type: 'memory',
      namespace: 'team/demo',
      sessionTimeoutMs: 500,
    });
    expect(
      parseRegistryUrl('zookeeper://127.0.0.1:2181,127.0.0.1:2182/demo?sessionTimeoutMs=6000'),
    ).to.deep.include({
      type: 'zookeeper',
      servers: ['127.0.0.1:2181', '127.0.0.1:2182'],
      namespace: 'demo',
      sessionTimeoutMs: 6000,
    });
    expect(
      parseRegistryUrl('etcd://bob:s%40cret@[::1]:2379/a/b?leaseTtlSeconds=6&requestTimeoutMs=900'),
    ).to.deep.include({
      type: 'etcd',
      hosts: ['[::1]:2379'],
      namespace: 'a/b',
      leaseTtlSeconds: 6,
      requestTimeoutMs: 900,
      auth: { username: 'bob', password: 's@cret' },
    });
  });

  it('says what is wrong with a malformed URL and shows a valid example, without the password', () => {
    const cases: [string, RegExp][] = [
      ['redis://h:1/ns', /unknown scheme "redis"/],
      ['zookeeper://127.0.0.1/ns', /"127\.0\.0\.1" is not a host:port pair/],
      ['zookeeper://127.0.0.1:99999/ns', /not a host:port pair/],
      ['zookeeper://127.0.0.1:2181', /no namespace/],
      ['etcd:///ns', /no host:port/],
      ['etcd://h:1/ns?leaseTtl=5', /unknown option "leaseTtl"; allowed: leaseTtlSeconds/],
      ['etcd://h:1/ns?leaseTtlSeconds=-1', /leaseTtlSeconds must be a positive integer/],
      ['zookeeper://u:@h:1/ns', /user:password@/],
      ['not a url', /expected <scheme>:\/\//],
      ['memory://', /no namespace/],
    ];
    for (const [url, reason] of cases) {
      expect(() => parseRegistryUrl(url), url)
        .to.throw(ConfigurationError, reason)
        .with.property('message')
        .that.matches(/e\.g\. /);
    }
    expect(() => parseRegistryUrl('etcd://bob:topsecret@h/ns'))
      .to.throw(ConfigurationError)
      .with.property('message')
      .that.does.not.contain('topsecret');
  });

  it('validates the object form', () => {
    expect(() => createRegistryCenter({ type: 'zookeeper', namespace: 'x', servers: [] })).to.throw(
      ConfigurationError,
      /servers/,
    );
    expect(() => createRegistryCenter({ type: 'etcd', namespace: '', hosts: ['h:1'] })).to.throw(
      ConfigurationError,
      /namespace/,
    );
    expect(() =>
      createRegistryCenter({ type: 'memory', namespace: 'x', requestTimeoutMs: -5 }),
    ).to.throw(/requestTimeoutMs/);
  });
});
