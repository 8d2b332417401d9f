import { expect } from 'chai';
import { permissionLetters, worldChangeAcl } from '../../../lib/registry/zookeeper/zookeeper-acl';
import { zk } from '../../../lib/registry/zookeeper/zookeeper-client-types';

describe('ZooKeeper ACL checks', () => {
  const world = (permission: number) => new zk.ACL(permission, new zk.Id('world', 'anyone'));
  const digest = new zk.ACL(zk.Permission.ALL, new zk.Id('digest', 'alice:hash'));

  it('worldChangeAcl finds a world entry that may change the node, and accepts world READ alone', () => {
    expect(worldChangeAcl([digest])).to.equal(undefined);
    expect(worldChangeAcl([digest, world(zk.Permission.READ)])).to.equal(undefined);
    const open = world(zk.Permission.ALL);
    expect(worldChangeAcl([digest, open])).to.equal(open);
    for (const p of ['CREATE', 'DELETE', 'WRITE', 'ADMIN'] as const) {
      const entry = world(zk.Permission[p] | zk.Permission.READ);
      expect(worldChangeAcl([entry]), p).to.equal(entry);
    }
  });

  it('permissionLetters spells permissions as zkCli does', () => {
    expect(permissionLetters(zk.Permission.ALL)).to.equal('cdrwa');
    expect(permissionLetters(zk.Permission.READ | zk.Permission.WRITE)).to.equal('rw');
  });
});
