import {
  BadVersionError,
  NodeExistsError,
  NoNodeError,
  PermissionDeniedError,
  RegistryAuthError,
} from '../../errors';
import { ancestorsOf } from '../../internal/paths';
import type { Credentials } from '../options';
import { ZkCreateMode } from './zookeeper-client-types';
import type { ZkAcl } from './zookeeper-client-types';
import type { ZkRequests } from './zookeeper-requests';
import { EMPTY } from './zookeeper-tree-writes';

/**
 * Start-up work of the driver: the namespace root (and its ancestors) exist with our ACL, and our
 * credentials may write it.
 *
 * A wrong digest password is silent in ZooKeeper (reference §1.5): authentication "succeeds" with an id
 * that matches nothing. So we probe a write on the namespace root with a version no node reaches: ACLs are
 * checked before versions, so an authorised write fails with BAD_VERSION and changes nothing (no watch
 * fires), while other credentials get NO_AUTH → `RegistryAuthError`.
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
