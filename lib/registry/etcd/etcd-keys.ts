import { ConfigurationError } from '../../errors';

/**
 * Path ↔ etcd key encoding. Every key of a namespace lives under one data prefix;
 * hidden metadata (sequence counters) lives under a parallel prefix that no data range ever covers:
 *
 *   data: /shardline/<namespace><path>          '/' (the namespace root) is virtual: never stored
 *   meta: /shardline/__meta/<namespace>/seq<parent>
 *
 * So an etcd role for one namespace needs readwrite on the prefixes `/shardline/<namespace>/` and
 * `/shardline/__meta/<namespace>/` (nothing reads or writes a key outside them).
 *
 * etcd prefixes are BYTE prefixes: 'prefix(/a/1)' also matches '/a/10'. So a node's subtree is always the key
 * itself plus the range `key + '/'` … `key + '0'` ('0' is the byte after '/'), never a bare prefix.
 */

export const KEY_ROOT = '/shardline';
const META_SEGMENT = '__meta';

/** A half-open key range [start, end). */
export interface KeyRange {
  readonly start: Buffer;
  readonly end: Buffer;
}

export class EtcdKeys {
  /** Key of the namespace root ('/'), e.g. '/shardline/demo'. */
  readonly dataPrefix: string;
  private readonly metaPrefix: string;
  private readonly dataPrefixBytes: Buffer;

  constructor(namespace: string) {
    const ns = namespace.replace(/^\/+|\/+$/g, '');
    if (ns === '' || ns.split('/').some(s => s === '' || s === '.' || s === '..')) {
      throw new ConfigurationError(
        `etcd namespace ${JSON.stringify(namespace)} is not a valid key segment`,
        'namespace',
      );
    }
    if (ns === META_SEGMENT || ns.startsWith(`${META_SEGMENT}/`)) {
      throw new ConfigurationError(
        `etcd namespace must not start with ${META_SEGMENT}`,
        'namespace',
      );
    }
    this.dataPrefix = `${KEY_ROOT}/${ns}`;
    this.metaPrefix = `${KEY_ROOT}/${META_SEGMENT}/${ns}`;
    this.dataPrefixBytes = Buffer.from(this.dataPrefix, 'utf8');
  }

  /** The key of a namespace-relative path. */
  key(path: string): Buffer {
    return Buffer.from(this.keyString(path), 'utf8');
  }

  keyString(path: string): string {
    return path === '/' ? this.dataPrefix : this.dataPrefix + path;
  }

  /** Every key strictly below `path` (its descendants): `key + '/'` … `key + '0'`. */
  descendants(path: string): KeyRange {
    const base = this.keyString(path);
    return { start: Buffer.from(base + '/', 'utf8'), end: Buffer.from(base + '0', 'utf8') };
  }

  /**
   * A range covering `path` and its descendants, for one watch: [key, key + '0'). It also covers unrelated
   * siblings such as `key + '-x'`; callers drop those with {@link pathOf} + `isUnder`. For the namespace
   * root, which is never stored, it is exactly the descendants (so a role granted the prefix
   * `/shardline/<ns>/` may watch it).
   */
  subtreeWatchRange(path: string): KeyRange {
    if (path === '/') {
      return this.descendants('/');
    }
    const base = this.keyString(path);
    return { start: Buffer.from(base, 'utf8'), end: Buffer.from(base + '0', 'utf8') };
  }

  /** Key of the sequential counter of `parent`. */
  sequenceKey(parent: string): Buffer {
    return Buffer.from(`${this.metaPrefix}/seq${parent === '/' ? '' : parent}`, 'utf8');
  }

  /** The namespace-relative path of a data key, or null when the key is not one of this namespace's nodes. */
  pathOf(key: Buffer): string | null {
    const p = this.dataPrefixBytes;
    if (key.length < p.length || !key.subarray(0, p.length).equals(p)) {
      return null;
    }
    if (key.length === p.length) {
      return '/';
    }
    if (key[p.length] !== 0x2f /* '/' */) {
      return null; // '/shardline/demo-other/…': another namespace sharing the byte prefix
    }
    return key.toString('utf8', p.length);
  }

  /** Name of the direct child of `parent` that `descendantKey` lies under. */
  childName(parent: string, descendantKey: Buffer): string {
    const offset = Buffer.byteLength(this.keyString(parent), 'utf8') + 1;
    const rest = descendantKey.toString('utf8', offset);
    const slash = rest.indexOf('/');
    return slash === -1 ? rest : rest.slice(0, slash);
  }
}
