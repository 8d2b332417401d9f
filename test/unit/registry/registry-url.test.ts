import { expect } from 'chai';
import { ConfigurationError, RegistryConnectionError } from '../../../lib/errors';
import { createRegistryCenter } from '../../../lib/registry/create-registry-center';
import { parseRegistryUrl, redact } from '../../../lib/registry/registry-url';
import { freePort } from '../../harness/free-port';

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

  it('ends the user-info at the last @ followed by the host list: passwords may contain @ and /', () => {
    expect(parseRegistryUrl('zookeeper://u:p@ss/w@rd@127.0.0.1:2181/ns')).to.deep.include({
      type: 'zookeeper',
      servers: ['127.0.0.1:2181'],
      namespace: 'ns',
      auth: { username: 'u', password: 'p@ss/w@rd' },
    });
    expect(
      parseRegistryUrl('etcd://u:a?b#c:d@h1:1,h2:2/team/ns@x?leaseTtlSeconds=3'),
    ).to.deep.include({
      type: 'etcd',
      hosts: ['h1:1', 'h2:2'],
      namespace: 'team/ns@x',
      leaseTtlSeconds: 3,
      auth: { username: 'u', password: 'a?b#c:d' },
    });
    expect(parseRegistryUrl('zookeeper://h:1/ns@x')).to.deep.include({
      servers: ['h:1'],
      namespace: 'ns@x',
      auth: undefined,
    });
  });

  it('redact() hides the whole user-info, also when the password contains @ or / or the URL is malformed', () => {
    const cases: [string, string][] = [
      ['zookeeper://u:p@ss/w@rd@127.0.0.1:2181/ns', 'zookeeper://***@127.0.0.1:2181/ns'],
      ['etcd://bob:secret@h:1/ns?leaseTtlSeconds=3', 'etcd://***@h:1/ns?leaseTtlSeconds=3'],
      ['etcd://bob:s/e@c@h/ns', 'etcd://***@h/ns'], // no port: cannot tell, hide up to the last @
      ['zookeeper://h:1/ns', 'zookeeper://h:1/ns'],
      ['u:p@ss@h:1/ns', '***@h:1/ns'],
    ];
    for (const [url, redacted] of cases) {
      expect(redact(url), url).to.equal(redacted);
    }
  });

  it('never quotes any piece of a password in an error, whatever is malformed', () => {
    const secret = ['p@ss/w@rd', 'ss/w', 'w@rd', 'p@ss'];
    const urls = [
      'zookeeper://u:p@ss/w@rd@127.0.0.1/ns', // host without port
      'zookeeper://u:p@ss/w@rd@127.0.0.1:2181/ns?sessionTimeout=5', // unknown option
      'zookeeper://u:p@ss/w@rd@127.0.0.1:2181', // no namespace
      'etcd://u:p@ss/w@rd@h:99999/ns', // bad port
      'memory://u:p@ss/w@rd@ns', // credentials on memory
      'redis://u:p@ss/w@rd@h:1/ns', // unknown scheme
      'zookeeper://u:p@ss/w@rd%zz@h:1/ns', // invalid percent-encoding
      'zookeeper://u:p@ss/w@rd@h:1/ns#frag',
    ];
    for (const url of urls) {
      let message = '';
      try {
        parseRegistryUrl(url);
      } catch (err) {
        expect(err, url).to.be.instanceOf(ConfigurationError);
        message = (err as Error).message;
      }
      expect(message, url).to.match(/^invalid registry URL /);
      for (const piece of secret) {
        expect(message, url).to.not.contain(piece);
      }
      expect(message, url).to.not.contain('u:');
    }
  });

  it('a registry built from such a URL names its endpoints, never the credentials, in description and errors', async () => {
    const port = await freePort();
    for (const scheme of ['zookeeper', 'etcd']) {
      const registry = createRegistryCenter(
        `${scheme}://u:p@ss/w@rd@127.0.0.1:${port}/ns?connectTimeoutMs=300`,
      );
      expect(registry.description).to.equal(`${scheme}://127.0.0.1:${port}/ns`);
      const err = await registry.init().then(
        () => undefined,
        (e: unknown) => e,
      );
      await registry.close();
      expect(err).to.be.instanceOf(RegistryConnectionError);
      let text = '';
      for (let e: unknown = err; e instanceof Error; e = e.cause) {
        text += `${e.message}\n${e.stack ?? ''}\n`;
      }
      expect(text).to.contain(`127.0.0.1:${port}`);
      for (const piece of ['p@ss', 'ss/w', 'w@rd']) {
        expect(text, scheme).to.not.contain(piece);
      }
    }
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
