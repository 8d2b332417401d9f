import { expect } from 'chai';
import { ConfigurationError } from '../../../lib/errors';
import type { ZkException } from '../../../lib/registry/zookeeper/zookeeper-client-types';
import { zkException } from '../../../lib/registry/zookeeper/wire/exceptions';
import { checkLibraryVersion, ZkManagerState } from '../../../lib/registry/zookeeper/wire/library';
import type { ZkConnectionManager } from '../../../lib/registry/zookeeper/wire/library';
import { decodeMultiRead, multiReadRequest } from '../../../lib/registry/zookeeper/wire/multi-read';
import { decodeMulti, multiRequest } from '../../../lib/registry/zookeeper/wire/multi-request';
import {
  addWatchRequest,
  deliverFrame,
  OwnRequest,
  removeWatchesRequest,
} from '../../../lib/registry/zookeeper/wire/own-request';
import { PersistentRoutes } from '../../../lib/registry/zookeeper/wire/persistent-routes';

/**
 * The bytes of the requests the wire layer encodes itself (multiRead, addWatch, removeWatches, multi;
 * zookeeper.jute) and the routing of persistent-watch notifications, without a server.
 */

/** A little jute writer for expected bytes. */
class Jute {
  private readonly parts: Buffer[] = [];

  int(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    this.parts.push(b);
    return this;
  }

  long(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    this.parts.push(b);
    return this;
  }

  bool(value: boolean): this {
    this.parts.push(Buffer.from([value ? 1 : 0]));
    return this;
  }

  ustring(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    return this.int(bytes.length).raw(bytes);
  }

  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    return this;
  }

  /** Stat: czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid. */
  stat(s: {
    czxid: bigint;
    mzxid: bigint;
    version: number;
    owner: bigint;
    numChildren: number;
    pzxid?: bigint;
  }): this {
    return this.long(s.czxid)
      .long(s.mzxid)
      .long(1n)
      .long(2n)
      .int(s.version)
      .int(0)
      .int(0)
      .long(s.owner)
      .int(0)
      .int(s.numChildren)
      .long(s.pzxid ?? 0n);
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** A reply frame: length, ReplyHeader {xid, zxid, err}, body. */
function replyFrame(xid: number, err: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const inner = new Jute().int(xid).long(42n).int(err).raw(body).bytes();
  return new Jute().int(inner.length).raw(inner).bytes();
}

describe('ZooKeeper wire layer: own requests and reply routing', () => {
  it('encodes multiRead as a MultiOperationRecord of GetData (4) / GetChildren (8) ops', () => {
    const request = multiReadRequest(
      [
        { kind: 'data', path: '/a' },
        { kind: 'children', path: '/b/c' },
      ],
      ['/ns/a', '/ns/b/c'],
    );
    request.header.xid = 7;
    const body = new Jute()
      .int(7)
      .int(22)
      .int(4)
      .bool(false)
      .int(-1)
      .ustring('/ns/a')
      .bool(false)
      .int(8)
      .bool(false)
      .int(-1)
      .ustring('/ns/b/c')
      .bool(false)
      .int(-1)
      .bool(true)
      .int(-1)
      .bytes();
    expect(request.toBuffer()).to.deep.equal(new Jute().int(body.length).raw(body).bytes());
  });

  it('encodes addWatch (106) and removeWatches (18) as {path, int}', () => {
    const add = addWatchRequest('/ns/r', 1);
    add.header.xid = 3;
    const addBody = new Jute().int(3).int(106).ustring('/ns/r').int(1).bytes();
    expect(add.toBuffer()).to.deep.equal(new Jute().int(addBody.length).raw(addBody).bytes());
    const remove = removeWatchesRequest('/ns/r', 3);
    remove.header.xid = 4;
    const removeBody = new Jute().int(4).int(18).ustring('/ns/r').int(3).bytes();
    expect(remove.toBuffer()).to.deep.equal(
      new Jute().int(removeBody.length).raw(removeBody).bytes(),
    );
  });

  it('decodes a MultiResponse of data, children and per-op errors', () => {
    const body = new Jute()
      .int(4)
      .bool(false)
      .int(0)
      .ustring('välue')
      .stat({ czxid: 5n, mzxid: 9n, version: 2, owner: 0n, numChildren: 3, pzxid: 12n })
      .int(4)
      .bool(false)
      .int(0)
      .int(-1) // null data
      .stat({ czxid: 6n, mzxid: 6n, version: 0, owner: 77n, numChildren: 0 })
      .int(8)
      .bool(false)
      .int(0)
      .int(2)
      .ustring('x')
      .ustring('y')
      .int(-1)
      .bool(false)
      .int(-101)
      .int(-101)
      .int(-1)
      .bool(true)
      .int(-1)
      .bytes();
    expect(decodeMultiRead(body, 0)).to.deep.equal([
      {
        kind: 'data',
        data: { value: 'välue', version: 2, stamp: 9n, ephemeral: false },
        czxid: 5n,
        numChildren: 3,
        pzxid: 12n,
      },
      {
        kind: 'data',
        data: { value: '', version: 0, stamp: 6n, ephemeral: true },
        czxid: 6n,
        numChildren: 0,
        pzxid: 0n,
      },
      { kind: 'children', children: ['x', 'y'] },
      { kind: 'error', code: -101 },
    ]);
    expect(() => decodeMultiRead(body.subarray(0, body.length - 3), 0)).to.throw(RangeError);
  });

  it('encodes multi with versions as given (0 stays 0) and a create with its ACL', () => {
    const request = multiRequest([
      { type: 'check', path: '/ns/v', version: 0 },
      {
        type: 'create',
        path: '/ns/c',
        data: Buffer.from('d'),
        acl: [{ permission: 31, id: { scheme: 'world', id: 'anyone' } }],
        mode: 1,
      },
      { type: 'setData', path: '/ns/v', data: Buffer.from('xy'), version: 0 },
      { type: 'delete', path: '/ns/v', version: -1 },
    ]);
    request.header.xid = 9;
    const body = new Jute()
      .int(9)
      .int(14)
      .int(13)
      .bool(false)
      .int(-1)
      .ustring('/ns/v')
      .int(0)
      .int(1)
      .bool(false)
      .int(-1)
      .ustring('/ns/c')
      .int(1)
      .raw(Buffer.from('d'))
      .int(1)
      .int(31)
      .ustring('world')
      .ustring('anyone')
      .int(1)
      .int(5)
      .bool(false)
      .int(-1)
      .ustring('/ns/v')
      .int(2)
      .raw(Buffer.from('xy'))
      .int(0)
      .int(2)
      .bool(false)
      .int(-1)
      .ustring('/ns/v')
      .int(-1)
      .int(-1)
      .bool(true)
      .int(-1)
      .bytes();
    expect(request.toBuffer()).to.deep.equal(new Jute().int(body.length).raw(body).bytes());
  });

  it('decodes a MultiResponse as the library’s commit results', () => {
    const ok = new Jute()
      .int(1)
      .bool(false)
      .int(0)
      .ustring('/ns/c0000000001')
      .int(5)
      .bool(false)
      .int(0)
      .stat({ czxid: 1n, mzxid: 2n, version: 3, owner: 0n, numChildren: 0 })
      .int(2)
      .bool(false)
      .int(0)
      .int(13)
      .bool(false)
      .int(0)
      .int(-1)
      .bool(true)
      .int(-1)
      .bytes();
    const results = decodeMulti(ok, 0);
    expect(results.map(r => r.type)).to.deep.equal([1, 5, 2, 13]);
    expect(results[0]?.path).to.equal('/ns/c0000000001');
    expect(results[1]?.stat?.version).to.equal(3);
    const failed = new Jute()
      .int(-1)
      .bool(false)
      .int(0)
      .int(0)
      .int(-1)
      .bool(false)
      .int(-103)
      .int(-103)
      .int(-1)
      .bool(false)
      .int(-2)
      .int(-2)
      .int(-1)
      .bool(true)
      .int(-1)
      .bytes();
    expect(decodeMulti(failed, 0)).to.deep.equal([
      { type: -1, err: 0 },
      { type: -1, err: -103 },
      { type: -1, err: -2 },
    ]);
    expect(() => decodeMulti(failed.subarray(0, failed.length - 3), 0)).to.throw(RangeError);
  });

  it('builds errors for codes the library does not know without changing Exception.create', () => {
    const quota = zkException(-125, '/q');
    expect(quota).to.be.instanceOf(Error);
    expect(quota.code).to.equal(-125);
    expect(quota.name).to.equal('QUOTA_EXCEEDED');
    expect(quota.message).to.equal('Exception: QUOTA_EXCEEDED[-125]@/q');
    expect(zkException(-999).name).to.equal('UNKNOWN_-999');
    expect(zkException(-101).name).to.equal('NO_NODE');
  });

  it('refuses another node-zookeeper-client version, naming the expected and the found one', () => {
    expect(() =>
      checkLibraryVersion(() => ({ version: '1.2.0', file: '/x/package.json' })),
    ).to.throw(
      ConfigurationError,
      /needs node-zookeeper-client 1\.1\.3.*found 1\.2\.0 \(\/x\/package\.json\)/,
    );
    expect(() => checkLibraryVersion()).not.to.throw();
  });

  describe('reply routing (deliverFrame)', () => {
    function manager(request: unknown, calls: unknown[][]): ZkConnectionManager {
      return {
        state: ZkManagerState.CONNECTED,
        zxid: Buffer.alloc(8),
        pendingQueue: [{ request, callback: (...args: unknown[]) => calls.push(args) }],
      } as unknown as ZkConnectionManager;
    }

    it('takes the reply of an own request off the queue, decodes it and records the zxid', () => {
      const request = new OwnRequest(
        22,
        0,
        () => 0,
        (frame, offset) => frame.readInt32BE(offset),
      );
      request.header.xid = 12;
      const calls: unknown[][] = [];
      const cm = manager(request, calls);
      expect(deliverFrame(cm, replyFrame(12, 0, new Jute().int(99).bytes()))).to.equal(true);
      expect(calls).to.deep.equal([[null, { payload: 99 }]]);
      expect(cm.pendingQueue).to.deep.equal([]);
      expect(cm.zxid.readBigInt64BE(0)).to.equal(42n);
    });

    it('hands a server error to the callback (UNIMPLEMENTED from a server before 3.6)', () => {
      const request = addWatchRequest('/x', 1);
      request.header.xid = 5;
      const calls: unknown[][] = [];
      expect(deliverFrame(manager(request, calls), replyFrame(5, -6))).to.equal(true);
      expect((calls[0]?.[0] as ZkException).code).to.equal(-6);
    });

    it('leaves notifications and the library’s own replies to the library', () => {
      const calls: unknown[][] = [];
      const own = addWatchRequest('/x', 1);
      own.header.xid = 5;
      expect(deliverFrame(manager(own, calls), replyFrame(-1, 0))).to.equal(false);
      const theirs = { header: { xid: 5, type: 4 }, payload: null };
      expect(deliverFrame(manager(theirs, calls), replyFrame(5, 0))).to.equal(false);
      const connecting = manager(own, calls);
      connecting.state = ZkManagerState.CONNECTING;
      expect(deliverFrame(connecting, replyFrame(5, 0))).to.equal(false);
      expect(calls).to.deep.equal([]);
    });

    it('completes a reply of the library’s own request whose error code the library does not know', () => {
      const calls: unknown[][] = [];
      const theirs = { header: { xid: 5, type: 1 }, payload: null };
      const cm = manager(theirs, calls);
      expect(deliverFrame(cm, replyFrame(5, -125))).to.equal(true);
      const err = calls[0]?.[0] as ZkException;
      expect(err).to.be.instanceOf(Error);
      expect(err.code).to.equal(-125);
      expect(err.name).to.equal('QUOTA_EXCEEDED');
      expect(cm.pendingQueue).to.deep.equal([]);
      // A code the library knows stays the library's.
      expect(deliverFrame(manager(theirs, calls), replyFrame(5, -101))).to.equal(false);
      expect(calls).to.have.length(1);
    });
  });
});

describe('persistent watch routes', () => {
  function recorder(): {
    events: string[];
    replaced: number;
    listener: Parameters<PersistentRoutes['add']>[1];
  } {
    const out = {
      events: [] as string[],
      replaced: 0,
      listener: {
        onEvent: (type: number, path: string) => out.events.push(`${type} ${path}`),
        onReplaced: () => {
          out.replaced += 1;
        },
      },
    };
    return out;
  }

  it('delivers an event to the watchers of the path and of every ancestor, not of siblings', () => {
    const routes = new PersistentRoutes();
    const root = recorder();
    const inner = recorder();
    const sibling = recorder();
    routes.add('/ns/a', root.listener);
    routes.add('/ns/a/b', inner.listener);
    routes.add('/ns/a/bc', sibling.listener);
    routes.dispatch(3, '/ns/a/b/c');
    routes.dispatch(1, '/ns/a');
    expect(root.events).to.deep.equal(['3 /ns/a/b/c', '1 /ns/a']);
    expect(inner.events).to.deep.equal(['3 /ns/a/b/c']);
    expect(sibling.events).to.deep.equal([]);
  });

  it('tells the watchers of a path when a one-shot watch is set on that very path', () => {
    const routes = new PersistentRoutes();
    const r = recorder();
    routes.add('/ns/a', r.listener);
    routes.oneShotSet('/ns/a/b');
    expect(r.replaced).to.equal(0);
    routes.oneShotSet('/ns/a');
    expect(r.replaced).to.equal(1);
  });

  it('counts its listeners and the one-shot watches set while a removal is in flight', () => {
    const routes = new PersistentRoutes();
    const a = recorder();
    const b = recorder();
    routes.add('/p', a.listener);
    routes.add('/p', b.listener);
    expect(routes.remove('/p', a.listener)).to.equal(false);
    expect(routes.remove('/p', b.listener)).to.equal(true);
    expect(routes.size).to.equal(0);
    routes.beginRemoval('/p');
    expect(routes.endRemoval('/p')).to.equal(false);
    routes.beginRemoval('/p');
    routes.oneShotSet('/p');
    expect(routes.endRemoval('/p')).to.equal(true);
  });
});
