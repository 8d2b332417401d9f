import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import type { EtcdDriver } from '../../lib/registry/etcd/etcd-driver';

/**
 * Ends `driver`'s session the way a server-side expiry would: a SECOND etcd client revokes the driver's lease,
 * so its ephemeral keys vanish and its next keepalive is answered with TTL 0. Connects to `endpoint` directly
 * ('127.0.0.1:port', not through any proxy the driver may sit behind).
 */
export async function expireEtcdSession(
  driver: EtcdDriver,
  endpoint: string,
  auth?: { username: string; password: string },
): Promise<void> {
  const lease = driver.currentLeaseId();
  if (lease === null) {
    throw new Error('expireEtcdSession: the driver holds no lease right now');
  }
  const client = new Etcd3({
    hosts: `http://${endpoint}`,
    auth,
    faultHandling: { global: noop, host: () => noop },
    defaultCallOptions: ctx => (ctx.isStream ? {} : { deadline: Date.now() + 5000 }),
  });
  try {
    await client.leaseClient.leaseRevoke({ ID: lease });
  } finally {
    client.close();
  }
}
