// Multi-host registry URLs (issue 12): `zookeeper://h1:p1,h2:p2,h3:p3/ns` and `etcd://h1:p1,h2:p2,h3:p3/ns`.
// The parser keeps the hosts in the order written (each client library then spreads its connections: see
// docs/registry.md, "Several servers"); it refuses empty entries, spaces and literal duplicates, naming the
// entry; it does not resolve names (an unresolvable host is the client's business, at connect time).
import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import { parseRegistryUrl } from '../../../lib/registry/registry-url';

describe('registry URLs with several hosts', () => {
  it('keeps every host, in the order written, for ZooKeeper and etcd', () => {
    expect(
      parseRegistryUrl('zookeeper://zk3.example:2183,zk1.example:2181,zk2.example:2182/ns'),
    ).to.deep.include({
      type: 'zookeeper',
      servers: ['zk3.example:2183', 'zk1.example:2181', 'zk2.example:2182'],
      namespace: 'ns',
    });
    expect(
      parseRegistryUrl(
        'etcd://u:p@10.0.0.3:2379,10.0.0.1:2379,[fd00::2]:2379/team/ns?leaseTtlSeconds=6',
      ),
    ).to.deep.include({
      type: 'etcd',
      hosts: ['10.0.0.3:2379', '10.0.0.1:2379', '[fd00::2]:2379'],
      namespace: 'team/ns',
      leaseTtlSeconds: 6,
      auth: { username: 'u', password: 'p' },
    });
  });

  it('accepts names it cannot resolve: resolution happens when the client connects', () => {
    expect(parseRegistryUrl('etcd://no-such-host.invalid:2379,127.0.0.1:2379/ns')).to.deep.include({
      hosts: ['no-such-host.invalid:2379', '127.0.0.1:2379'],
    });
  });

  it('refuses an empty entry, a space or a literal duplicate, naming the entry', () => {
    const cases: [string, RegExp][] = [
      ['zookeeper://h1:1,,h2:2/ns', /"" is not a host:port pair/],
      ['zookeeper://h1:1,h2:2,/ns', /"" is not a host:port pair/],
      ['etcd://h1:1, h2:2/ns', /" h2:2" is not a host:port pair/],
      ['etcd://h1:1,h2:2,h1:1/ns', /"h1:1" is listed twice/],
      ['zookeeper://H1:1,h1:1/ns', /"h1:1" is listed twice/],
    ];
    for (const [url, reason] of cases) {
      expect(() => parseRegistryUrl(url), url)
        .to.throw(ConfigurationError)
        .with.property('message')
        .that.matches(reason);
    }
  });
});
