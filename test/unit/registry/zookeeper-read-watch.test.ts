import { expect } from 'chai';
import type { ConnectionState } from '../../../lib/registry/registry-center';
import type { ZkWatcher } from '../../../lib/registry/zookeeper/zookeeper-client-types';
import {
  MAX_READ_WATCH_CALLBACKS,
  ReadWatches,
} from '../../../lib/registry/zookeeper/zookeeper-read-watch';
import type { DataReply } from '../../../lib/registry/zookeeper/zookeeper-requests';

const zxid = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};

/** A connected session and a server whose nodes never change unless `change(path)` is called. */
function fakeZooKeeper(): {
  session: {
    generation: number;
    connected: boolean;
    onState(hook: (s: ConnectionState) => void): () => void;
  };
  requests: { getData(path: string, watcher?: ZkWatcher): Promise<DataReply | null> };
  change(path: string): void;
} {
  const watchers = new Map<string, ZkWatcher>();
  return {
    session: { generation: 1, connected: true, onState: () => () => undefined },
    requests: {
      getData(path, watcher) {
        if (watcher !== undefined) {
          watchers.set(path, watcher);
        }
        return Promise.resolve({
          data: Buffer.from(path),
          stat: {
            czxid: zxid(1),
            mzxid: zxid(1),
            ctime: zxid(0),
            mtime: zxid(0),
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeralOwner: zxid(0),
            dataLength: path.length,
            numChildren: 0,
            pzxid: zxid(1),
          },
        });
      },
    },
    change(path) {
      const watcher = watchers.get(path);
      watchers.delete(path);
      watcher?.({
        type: 3,
        name: 'NODE_DATA_CHANGED',
        path,
        getType: () => 3,
        getName: () => 'NODE_DATA_CHANGED',
        getPath: () => path,
      } as unknown as Parameters<ZkWatcher>[0]);
    },
  };
}

describe('ZooKeeper read watches (read-cache invalidation)', () => {
  it('caps its registered callbacks like etcd: past the cap every pending one is invalidated, none lost', async () => {
    const zk = fakeZooKeeper();
    const cap = 10;
    const watches = new ReadWatches(zk.session, zk.requests, cap);
    const invalidated: string[] = [];
    let maxPending = 0;
    for (let i = 0; i < 3 * cap + 5; i++) {
      // Nodes that never change, read again and again (each read registers a fresh callback).
      const path = `/n${i % 15}`;
      await watches.read(path, () => invalidated.push(`${path}#${i}`));
      maxPending = Math.max(maxPending, watches.pendingCallbacks);
    }
    expect(maxPending).to.equal(cap);
    expect(watches.pendingCallbacks).to.be.at.most(cap);
    expect(invalidated.length + watches.pendingCallbacks).to.equal(3 * cap + 5);

    // A callback registered after a flush is still called when its node changes.
    const after: string[] = [];
    await watches.read('/n3', () => after.push('/n3'));
    zk.change('/n3');
    expect(after).to.deep.equal(['/n3']);
  });

  it('defaults to the same cap as the etcd invalidation (100,000)', () => {
    expect(MAX_READ_WATCH_CALLBACKS).to.equal(100_000);
  });
});
