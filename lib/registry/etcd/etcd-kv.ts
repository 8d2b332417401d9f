import type { IRequestOp, ITxnRequest, ITxnResponse, KVClient } from 'etcd3';
import {
  type CoordinationError,
  NoNodeError,
  SessionExpiredError,
  SystemError,
} from '../../errors';
import { ancestorsOf, parentOf, sequentialName } from '../../internal/paths';
import type { NodeData } from '../driver';
import { isCompactedError, translateEtcdError } from './etcd-errors';
import type { EtcdKeys } from './etcd-keys';
import {
  absent,
  createAncestors,
  deleteSubtree,
  fromKv,
  get,
  leaseDiffers,
  leaseEquals,
  modRevisionEquals,
  put,
  putKeepingLease,
  rangeResponse,
  versionGreaterThanZero,
} from './etcd-ops';
import type { EtcdSession } from './etcd-session';

/**
 * The single-key operations of the etcd driver, each one etcd round trip where possible (one txn):
 * parents are explicit empty keys created atomically with the leaf; ephemeral keys carry the session lease;
 * a change of owner (persistent ↔ ephemeral, or another session's lease) re-creates the node as ZooKeeper
 * (and the memory backend) do; updates keep the key's lease.
 */

/** The namespace root is virtual on etcd (never stored): it always exists, empty, as on ZooKeeper. */
export const ROOT_DATA: NodeData = Object.freeze({
  value: '',
  version: 0,
  stamp: 0n,
  ephemeral: false,
});

export interface SnapshotResult {
  nodes: Map<string, NodeData>;
  /** The revision the snapshot was read at. */
  revision: bigint;
}

const SNAPSHOT_PAGE = 2_000;
const PUT_ATTEMPTS = 5;
const SEQUENCE_ATTEMPTS = 100;

export interface KvContext {
  description: string;
  requestTimeoutMs: number;
}

export class EtcdKv {
  constructor(
    private readonly kv: KVClient,
    private readonly keys: EtcdKeys,
    private readonly session: EtcdSession,
    private readonly ctx: KvContext,
  ) {}

  read(path: string): Promise<NodeData | null> {
    if (path === '/') {
      return Promise.resolve(ROOT_DATA);
    }
    return this.run('get', path, async () => {
      const res = await this.kv.range({ key: this.keys.key(path) });
      const kv = res.kvs[0];
      return kv === undefined ? null : fromKv(kv);
    });
  }

  exists(path: string): Promise<boolean> {
    if (path === '/') {
      return Promise.resolve(true);
    }
    return this.run('exists', path, async () => {
      const res = await this.kv.range({ key: this.keys.key(path), count_only: true });
      return Number(res.count) > 0;
    });
  }

  /** Direct children: first segment after `path + '/'` of every descendant key (keys-only range), deduped. */
  children(path: string): Promise<string[]> {
    return this.run('children', path, async () => {
      const range = this.keys.descendants(path);
      const res = await this.kv.range({ key: range.start, range_end: range.end, keys_only: true });
      const names = new Set<string>();
      for (const kv of res.kvs) {
        names.add(this.keys.childName(path, kv.key));
      }
      return [...names];
    });
  }

  async put(path: string, value: string, mode: 'PERSISTENT' | 'EPHEMERAL'): Promise<void> {
    const key = this.keys.key(path);
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      const lease = mode === 'EPHEMERAL' ? await this.session.acquireLease() : '0';
      const write = [...createAncestors(this.keys, ancestorsOf(path)), put(key, value, lease)];
      // Same owner: plain upsert. Absent: create. Another owner: re-create below.
      const res = await this.txn('put', path, lease, {
        compare: [leaseEquals(key, lease)],
        success: write,
        failure: [{ request_txn: { compare: [absent(key)], success: write, failure: [] } }],
      });
      if (res.succeeded || res.responses[0]?.response_txn?.succeeded === true) {
        return;
      }
      await this.txn('put', path, null, {
        compare: [versionGreaterThanZero(key), leaseDiffers(key, lease)],
        success: deleteSubtree(this.keys, path),
      });
    }
    throw new SystemError(`${this.ctx.description}: put ${path} kept racing with other owners`, {
      path,
    });
  }

  async update(path: string, value: string): Promise<void> {
    const key = this.keys.key(path);
    const res = await this.txn('update', path, null, {
      compare: [versionGreaterThanZero(key)],
      success: [putKeepingLease(key, value)],
    });
    if (!res.succeeded) {
      throw new NoNodeError(path);
    }
  }

  /**
   * `path` + 10-digit suffix from a per-parent counter in the hidden metadata prefix, in one CAS txn:
   * `if counter unchanged and child absent then counter += 1, create parents, put child [lease]`.
   * Never retried after an ambiguous failure (the caller gets the error): no duplicate nodes.
   */
  async createSequential(path: string, value: string, ephemeral: boolean): Promise<string> {
    const counterKey = this.keys.sequenceKey(parentOf(path));
    let counter = (await this.run('sequence', path, () => this.kv.range({ key: counterKey })))
      .kvs[0];
    let skip = 0;
    for (let attempt = 0; attempt < SEQUENCE_ATTEMPTS; attempt++) {
      const lease = ephemeral ? await this.session.acquireLease() : '0';
      const n = (counter === undefined ? 0 : Number(counter.value.toString('utf8'))) + skip;
      const child = sequentialName(path, n);
      const childKey = this.keys.key(child);
      const res = await this.txn('createSequential', path, lease, {
        compare: [
          counter === undefined
            ? absent(counterKey)
            : modRevisionEquals(counterKey, counter.mod_revision),
          absent(childKey),
        ],
        success: [
          put(counterKey, String(n + 1), '0'),
          ...createAncestors(this.keys, ancestorsOf(child)),
          put(childKey, value, lease),
        ],
        failure: [get(counterKey), { request_range: { key: childKey, count_only: true } }],
      });
      if (res.succeeded) {
        return child;
      }
      const seen = rangeResponse(res.responses, 0).kvs[0];
      const childTaken = Number(rangeResponse(res.responses, 1).count) > 0;
      const counterUnchanged = seen?.mod_revision === counter?.mod_revision;
      // Somebody else advanced the counter: start from its value. Else the name is taken by a node
      // written by hand: skip it.
      skip = counterUnchanged && childTaken ? skip + 1 : 0;
      counter = seen;
    }
    throw new SystemError(
      `${this.ctx.description}: no free sequential name under ${parentOf(path)}`,
      { path },
    );
  }

  async remove(path: string): Promise<void> {
    await this.txn('remove', path, null, { success: deleteSubtree(this.keys, path) });
  }

  /**
   * Every node at or below `root` at ONE revision R: one txn reads the root key and the first page of
   * `root + '/'`; further pages are read at R. Restarts when R is compacted while paging.
   */
  snapshot(root: string): Promise<SnapshotResult> {
    return this.run('snapshot', root, async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.snapshotOnce(root);
        } catch (err) {
          if (!isCompactedError(err) || attempt >= 3) {
            throw err;
          }
        }
      }
    });
  }

  private async snapshotOnce(root: string): Promise<SnapshotResult> {
    const nodes = new Map<string, NodeData>();
    const range = this.keys.descendants(root);
    const page = (start: Buffer, revision?: string): IRequestOp => ({
      request_range: { key: start, range_end: range.end, limit: SNAPSHOT_PAGE, revision },
    });
    const first = await this.kv.txn({
      success: root === '/' ? [page(range.start)] : [get(this.keys.key(root)), page(range.start)],
    });
    const revision = first.header.revision;
    let current = rangeResponse(first.responses, root === '/' ? 0 : 1);
    if (root === '/') {
      nodes.set('/', ROOT_DATA);
    } else {
      const rootKv = rangeResponse(first.responses, 0).kvs[0];
      if (rootKv !== undefined) {
        nodes.set(root, fromKv(rootKv));
      }
    }
    for (;;) {
      for (const kv of current.kvs) {
        const p = this.keys.pathOf(kv.key);
        if (p !== null) {
          nodes.set(p, fromKv(kv));
        }
      }
      const last = current.kvs[current.kvs.length - 1];
      if (!current.more || last === undefined) {
        break;
      }
      const next = Buffer.concat([last.key, Buffer.from([0])]);
      current = await this.kv.range({
        key: next,
        range_end: range.end,
        limit: SNAPSHOT_PAGE,
        revision,
      });
    }
    return { nodes, revision: BigInt(revision) };
  }

  /** The store's current revision (a cheap count-only read inside the namespace). */
  currentRevision(): Promise<bigint> {
    return this.run('revision', '/', async () => {
      const range = this.keys.descendants('/');
      const res = await this.kv.range({ key: range.start, range_end: range.end, count_only: true });
      return BigInt(res.header.revision);
    });
  }

  /** A txn whose lease (if any) is reported to the session when the server says it is gone. */
  txn(
    operation: string,
    path: string,
    lease: string | null,
    req: ITxnRequest,
  ): Promise<ITxnResponse> {
    return this.run(operation, path, () => this.kv.txn(req), lease);
  }

  async run<T>(
    operation: string,
    path: string,
    fn: () => Promise<T>,
    lease: string | null = null,
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.translate(err, operation, path, lease);
    }
  }

  private translate(
    err: unknown,
    operation: string,
    path: string,
    lease: string | null,
  ): CoordinationError {
    const e = translateEtcdError(err, {
      operation,
      path,
      timeoutMs: this.ctx.requestTimeoutMs,
      description: this.ctx.description,
    });
    if (e instanceof SessionExpiredError && lease !== null && lease !== '0') {
      this.session.leaseInvalid(lease);
    }
    return e;
  }
}
