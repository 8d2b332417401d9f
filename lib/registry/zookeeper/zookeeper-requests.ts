import { NoNodeError } from '../../errors';
import type { NodeData } from '../driver';
import type { ZkAcl, ZkStat, ZkWatcher } from './zookeeper-client-types';
import * as wire from './wire';
import type { ZooKeeperSession } from './zookeeper-session';

/**
 * Promisified single requests over the current session client, plus the namespace path mapping. Every call
 * has the session's deadline, and errors are already translated (zookeeper-errors.ts). "Absent" is returned
 * as `null` where the driver contract wants it.
 */

export class ZkPaths {
  /**
   * @param prefix the namespace root as a server path ('/demo' for namespace 'demo', '/a/b' for 'a/b'), or ''
   *   for server paths used as they are.
   */
  constructor(readonly prefix: string) {}

  full(rel: string): string {
    if (this.prefix === '') {
      return rel;
    }
    return rel === '/' ? this.prefix : this.prefix + rel;
  }

  rel(full: string): string {
    if (this.prefix === '') {
      return full;
    }
    if (full === this.prefix) {
      return '/';
    }
    return full.startsWith(this.prefix + '/') ? full.slice(this.prefix.length) : full;
  }
}

export interface DataReply {
  data: Buffer | null | undefined;
  stat: ZkStat;
}

export function toNodeData(reply: DataReply): NodeData {
  return {
    value: reply.data ? reply.data.toString('utf8') : '',
    version: reply.stat.version,
    stamp: reply.stat.mzxid.readBigInt64BE(0),
    ephemeral: reply.stat.ephemeralOwner.readBigInt64BE(0) !== 0n,
  };
}

export function statMtimeMs(stat: ZkStat): number {
  return Number(stat.mtime.readBigInt64BE(0));
}

export class ZkRequests {
  constructor(
    private readonly session: ZooKeeperSession,
    readonly paths: ZkPaths,
  ) {}

  /** getData; `null` when the node is absent (and then no watch is left). */
  async getData(rel: string, watcher?: ZkWatcher): Promise<DataReply | null> {
    const full = this.paths.full(rel);
    try {
      return await this.session.call<DataReply>(
        { operation: 'getData', path: rel },
        (client, done) =>
          wire.getData(client, full, watcher, (err, payload) => done(err, payload as DataReply)),
      );
    } catch (e) {
      if (e instanceof NoNodeError) {
        return null;
      }
      throw e;
    }
  }

  /** getChildren (names, any order); `null` when the node is absent. */
  async getChildren(rel: string, watcher?: ZkWatcher): Promise<string[] | null> {
    const full = this.paths.full(rel);
    try {
      return await this.session.call<string[]>(
        { operation: 'getChildren', path: rel },
        (client, done) =>
          wire.getChildren(client, full, watcher, (err, payload) =>
            done(err, payload?.children ?? []),
          ),
      );
    } catch (e) {
      if (e instanceof NoNodeError) {
        return null;
      }
      throw e;
    }
  }

  /** exists; `null` when absent (a watcher then becomes an existence watch that fires on creation). */
  exists(rel: string, watcher?: ZkWatcher): Promise<ZkStat | null> {
    const full = this.paths.full(rel);
    return this.session.call<ZkStat | null>({ operation: 'exists', path: rel }, (client, done) =>
      client.exists(full, watcher, (err, stat) => done(err, stat ?? null)),
    );
  }

  /** getACL; `NoNodeError` when the node is absent. */
  getAcl(rel: string): Promise<ZkAcl[]> {
    const full = this.paths.full(rel);
    return this.session.call<ZkAcl[]>({ operation: 'getACL', path: rel }, (client, done) =>
      client.getACL(full, (err, acls) => done(err, acls)),
    );
  }

  /** create; resolves with the namespace-relative path that was created (sequential suffix included). */
  async create(rel: string, data: Buffer, acl: ZkAcl[], mode: number): Promise<string> {
    const full = this.paths.full(rel);
    const created = await this.session.call<string>(
      { operation: 'create', path: rel },
      (client, done) => client.create(full, data, acl, mode, done),
    );
    return this.paths.rel(created);
  }

  setData(rel: string, data: Buffer, version = -1): Promise<ZkStat> {
    const full = this.paths.full(rel);
    return this.session.call<ZkStat>(
      { operation: 'setData', path: rel, version: version === -1 ? undefined : version },
      (client, done) => client.setData(full, data, version, done),
    );
  }

  /** delete one node (no subtree). */
  remove(rel: string, version = -1): Promise<void> {
    const full = this.paths.full(rel);
    return this.session.call<void>(
      { operation: 'delete', path: rel, version: version === -1 ? undefined : version },
      (client, done) => client.remove(full, version, err => done(err, undefined)),
    );
  }

  /**
   * Every node of the subtree at `rel` (itself included when it exists), parents before children, by
   * level; reads of one level run concurrently. `progress` is called after each answered request.
   */
  async listSubtree(rel: string, progress?: () => void): Promise<string[]> {
    const out: string[] = [];
    let level = [rel];
    while (level.length > 0) {
      const replies = await mapLimit(level, READ_CONCURRENCY, async p => {
        const children = await this.getChildren(p);
        progress?.(); // one request answered: callers measure their deadline per step
        return children;
      });
      const next: string[] = [];
      level.forEach((p, i) => {
        const children = replies[i];
        if (children === null || children === undefined) {
          return;
        }
        out.push(p);
        for (const c of children) {
          next.push(p === '/' ? `/${c}` : `${p}/${c}`);
        }
      });
      level = next;
    }
    return out;
  }
}

/** Requests in flight at once for bulk reads (the library pipelines them on one socket). */
export const READ_CONCURRENCY = 1000;

/** `Promise.all(items.map(fn))` with at most `limit` calls pending at a time; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next;
      next += 1;
      try {
        results[i] = await fn(items[i] as T);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
