import type { ICompare, IKeyValue, IRequestOp, IResponseOp } from 'etcd3';
import type { NodeData } from '../driver';
import type { EtcdKeys } from './etcd-keys';

/**
 * Small builders for raw etcd requests (compares and ops), so that the KV and transaction code reads like the
 * algorithm and not like protobuf. Keys are Buffers already prefixed by {@link EtcdKeys}.
 */

const EMPTY = Buffer.alloc(0);

export function versionGreaterThanZero(key: Buffer): ICompare {
  return { key, target: 'Version', result: 'Greater', version: 0 };
}

export function versionEquals(key: Buffer, etcdVersion: number): ICompare {
  return { key, target: 'Version', result: 'Equal', version: etcdVersion };
}

/** The key does not exist (create revision 0). */
export function absent(key: Buffer): ICompare {
  return { key, target: 'Create', result: 'Equal', create_revision: 0 };
}

export function modRevisionEquals(key: Buffer, modRevision: string): ICompare {
  return { key, target: 'Mod', result: 'Equal', mod_revision: modRevision };
}

export function leaseEquals(key: Buffer, lease: string): ICompare {
  return { key, target: 'Lease', result: 'Equal', lease };
}

export function leaseDiffers(key: Buffer, lease: string): ICompare {
  return { key, target: 'Lease', result: 'NotEqual', lease };
}

/** Put with `lease` ('0' = persistent: an explicit put without lease detaches the key from any lease). */
export function put(key: Buffer, value: string | Buffer, lease: string): IRequestOp {
  return {
    request_put: {
      key,
      value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
      lease,
    },
  };
}

/** Put that keeps the key's current lease (an ephemeral key stays ephemeral). The key must exist. */
export function putKeepingLease(key: Buffer, value: string): IRequestOp {
  return { request_put: { key, value: Buffer.from(value, 'utf8'), ignore_lease: true } };
}

export function get(key: Buffer): IRequestOp {
  return { request_range: { key } };
}

export function deleteKey(key: Buffer): IRequestOp {
  return { request_delete_range: { key } };
}

export function deleteRange(start: Buffer, end: Buffer): IRequestOp {
  return { request_delete_range: { key: start, range_end: end } };
}

/** Delete the node at `path` and everything below it: the key itself plus the range `key + '/'`. */
export function deleteSubtree(keys: EtcdKeys, path: string): IRequestOp[] {
  const below = keys.descendants(path);
  const ops = [deleteRange(below.start, below.end)];
  return path === '/' ? ops : [deleteKey(keys.key(path)), ...ops];
}

/**
 * Nested txns that create each missing ancestor of `path` as an empty persistent key
 * (`if Create(a) == 0 then put(a, '')`), to be run atomically with the leaf write.
 */
export function createAncestors(keys: EtcdKeys, ancestors: readonly string[]): IRequestOp[] {
  return ancestors.map(a => {
    const key = keys.key(a);
    return {
      request_txn: {
        compare: [absent(key)],
        success: [{ request_put: { key, value: EMPTY } }],
        failure: [],
      },
    };
  });
}

/** The range response of op `index` of a txn response (throws when the server sent something else). */
export function rangeResponse(
  responses: readonly IResponseOp[],
  index: number,
): IResponseOp['response_range'] {
  const r = responses[index]?.response_range;
  if (r === undefined || r === null) {
    throw new Error(`etcd txn response #${index} is not a range response`);
  }
  return r;
}

/** NodeData of a key: ZooKeeper-style version (etcd version − 1), mod revision as stamp, lease ⇒ ephemeral. */
export function toNodeData(
  value: Buffer,
  version: string,
  modRevision: string,
  lease: string,
): NodeData {
  return {
    value: value.toString('utf8'),
    version: Number(version) - 1,
    stamp: BigInt(modRevision),
    ephemeral: lease !== '0' && lease !== '',
  };
}

export function fromKv(kv: IKeyValue): NodeData {
  return toNodeData(kv.value, kv.version, kv.mod_revision, kv.lease);
}
