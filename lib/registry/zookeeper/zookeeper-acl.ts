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
