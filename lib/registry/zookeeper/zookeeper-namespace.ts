import {
  BadVersionError,
  NodeExistsError,
  NoNodeError,
  PermissionDeniedError,
  RegistryAuthError,
} from '../../errors';
import { ancestorsOf } from '../../internal/paths';
import type { Credentials } from '../options';
import { permissionLetters, worldChangeAcl } from './zookeeper-acl';
import { ZkCreateMode } from './zookeeper-client-types';
import type { ZkAcl } from './zookeeper-client-types';
import type { ZkRequests } from './zookeeper-requests';
import { EMPTY } from './zookeeper-tree-writes';

/**
 * Start-up work of the driver: the namespace root (and its ancestors) exist with our ACL, and our
 * credentials may write it.
 *
 * A wrong digest password is silent in ZooKeeper: authentication "succeeds" with an id
 * that matches nothing. So we probe a write on the namespace root with a version no node reaches: ACLs are
 * checked before versions, so an authorised write fails with BAD_VERSION and changes nothing (no watch
 * fires), while other credentials get NO_AUTH → `RegistryAuthError`.
 *
 * With credentials, the namespace root must not be open to the world: a root created earlier without
 * credentials keeps its `world:anyone` ACL (ZooKeeper never changes an ACL by itself), so anyone could
 * still create and delete the jobs' nodes while the workers believe they are protected. `init()` then
 * fails with a `RegistryAuthError` naming the root, rather than appear protected while open (a world
 * permission other than READ is refused).
 */

const PROBE_VERSION = 2_147_483_647;
const NAMESPACE_ATTEMPTS = 3;

export async function prepareNamespace(
  rootRequests: ZkRequests,
  prefix: string,
  acl: ZkAcl[],
  servers: string[],
  auth: Credentials | undefined,
): Promise<void> {
  const authError = (path: string, cause: Error): RegistryAuthError => {
    const who =
      auth === undefined
        ? 'without credentials'
        : `with the credentials of user "${auth.username}"`;
    return new RegistryAuthError(
      `ZooKeeper at ${servers.join(',')} denies writing ${path} ${who} (wrong credentials?)`,
      { path, cause },
    );
  };
  for (let attempt = 1; ; attempt++) {
    for (const p of [...ancestorsOf(prefix), prefix]) {
      if ((await rootRequests.exists(p)) !== null) {
        continue;
      }
      try {
        await rootRequests.create(p, EMPTY, acl, ZkCreateMode.PERSISTENT);
      } catch (e) {
        if (e instanceof PermissionDeniedError) {
          throw authError(p, e);
        }
        if (!(e instanceof NodeExistsError)) {
          throw e;
        }
      }
    }
    try {
      await rootRequests.setData(prefix, EMPTY, PROBE_VERSION);
    } catch (e) {
      if (e instanceof BadVersionError) {
        if (auth !== undefined) {
          await refuseWorldAccess(rootRequests, prefix, servers);
        }
        return;
      }
      if (e instanceof PermissionDeniedError) {
        throw authError(prefix, e);
      }
      if (!(e instanceof NoNodeError) || attempt >= NAMESPACE_ATTEMPTS) {
        throw e;
      }
      // NO_NODE: removed meanwhile; create it again
    }
  }
}

async function refuseWorldAccess(
  rootRequests: ZkRequests,
  prefix: string,
  servers: string[],
): Promise<void> {
  const open = worldChangeAcl(await rootRequests.getAcl(prefix));
  if (open === undefined) {
    return;
  }
  throw new RegistryAuthError(
    `ZooKeeper at ${servers.join(',')}: the namespace root ${prefix} is open to the world ` +
      `(ACL world:${open.id.id}:${permissionLetters(open.permission)}), probably created without ` +
      'credentials, so credentials would protect nothing; restrict its ACL first (zkCli: setAcl -R ' +
      `${prefix} digest:<user>:<base64 sha1 of user:password>:cdrwa) or use a new namespace`,
    { path: prefix },
  );
}
