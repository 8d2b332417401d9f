import { createHash } from 'crypto';
import type { Credentials } from '../options';
import { zk } from './zookeeper-client-types';
import type { ZkAcl } from './zookeeper-client-types';

/**
 * Digest authentication and the ACL of every node we create.
 *
 * With credentials, every node gets one ACL entry: the digest id of our credentials with ALL permissions
 * (the effect of CREATOR_ALL_ACL, spelled out so it does not depend on the server expanding `auth` ids).
 * Without credentials, nodes are open (OPEN_ACL_UNSAFE), as on a plain ZooKeeper.
 */

/** `user:base64(sha1(user:password))`, the id ZooKeeper's DigestAuthenticationProvider derives. */
export function digestId(credentials: Credentials): string {
  const raw = `${credentials.username}:${credentials.password}`;
  return `${credentials.username}:${createHash('sha1').update(raw, 'utf8').digest('base64')}`;
}

export function nodeAcl(credentials: Credentials | undefined): ZkAcl[] {
  if (credentials === undefined) {
    return zk.ACL.OPEN_ACL_UNSAFE;
  }
  return [new zk.ACL(zk.Permission.ALL, new zk.Id('digest', digestId(credentials)))];
}

/** The buffer handed to `addAuthInfo('digest', …)`. */
export function digestAuth(credentials: Credentials): Buffer {
  return Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8');
}

/**
 * The entry of `acls` that lets anyone (`world:anyone`) change the node — create or delete children, write,
 * or change the ACL — or `undefined`. World READ alone is not reported: it may be an operator's choice,
 * and the nodes we create below carry our digest ACL anyway.
 */
export function worldChangeAcl(acls: readonly ZkAcl[]): ZkAcl | undefined {
  const changes = zk.Permission.ALL & ~zk.Permission.READ;
  return acls.find(acl => acl.id.scheme === 'world' && (acl.permission & changes) !== 0);
}

/** ZooKeeper's permission letters, as zkCli prints them (`cdrwa`). */
export function permissionLetters(permission: number): string {
  const bits: [number, string][] = [
    [zk.Permission.CREATE, 'c'],
    [zk.Permission.DELETE, 'd'],
    [zk.Permission.READ, 'r'],
    [zk.Permission.WRITE, 'w'],
    [zk.Permission.ADMIN, 'a'],
  ];
  return bits.map(([bit, letter]) => ((permission & bit) !== 0 ? letter : '')).join('');
}
