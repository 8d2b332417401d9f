import { Etcd3, type Watcher } from 'etcd3';
import * as zookeeper from 'node-zookeeper-client';

/**
 * The raw client floor: the same operations through node-zookeeper-client and etcd3 directly, with no
 * Shardline layer, so that our overhead is measured side by side in one run.
 */
export interface RawClient {
  write(key: string, value: string): Promise<void>;
  read(key: string): Promise<string | null>;
  /** Arms a watch on `key`; resolves (once armed) to a promise of its next change. */
  armChange(key: string): Promise<{ changed: Promise<void> }>;
  /** Read every child of `parent` (one level) with its value, as fast as the client allows. */
  loadChildren(parent: string): Promise<number>;
  /** Create `count` children under `parent`, pipelined. */
  fill(parent: string, count: number): Promise<void>;
  close(): Promise<void>;
}

export async function rawZooKeeper(connectString: string, root: string): Promise<RawClient> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000, retries: 0 });
  await new Promise<void>(resolve => {
    client.once('connected', () => resolve());
    client.connect();
  });
  const p = (key: string): string => `${root}${key}`;
  const cb =
    <T>(resolve: (v: T) => void, reject: (e: Error) => void) =>
    (err: Error | zookeeper.Exception | null, v: T): void =>
      err ? reject(new Error(String(err))) : resolve(v);
  await new Promise<string>((resolve, reject) => client.mkdirp(root, cb(resolve, reject)));
  return {
    write: (key, value) =>
      new Promise<void>((resolve, reject) =>
        client.setData(p(key), Buffer.from(value), (err: Error | zookeeper.Exception | null) => {
          if (err === null) {
            resolve();
            return;
          }
          client.create(p(key), Buffer.from(value), e2 => (e2 ? reject(new Error(String(e2))) : resolve()));
        }),
      ),
    read: key =>
      new Promise((resolve, reject) =>
        client.getData(p(key), (err, data) => (err ? reject(new Error(String(err))) : resolve(data?.toString() ?? null))),
      ),
    armChange: key =>
      new Promise<{ changed: Promise<void> }>((armed, reject) => {
        let fired!: () => void;
        const changed = new Promise<void>(resolve => (fired = resolve));
        client.getData(
          p(key),
          () => fired(),
          err => (err ? reject(new Error(String(err))) : armed({ changed })),
        );
      }),
    loadChildren: async parent => {
      const names = await new Promise<string[]>((resolve, reject) =>
        client.getChildren(p(parent), (err, children) => (err ? reject(new Error(String(err))) : resolve(children))),
      );
      await Promise.all(
        names.map(
          n =>
            new Promise<void>((resolve, reject) =>
              client.getData(`${p(parent)}/${n}`, err => (err ? reject(new Error(String(err))) : resolve())),
            ),
        ),
      );
      return names.length;
    },
    fill: async (parent, count) => {
      await new Promise<string>((resolve, reject) => client.mkdirp(p(parent), cb(resolve, reject)));
      const all: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        all.push(
          new Promise<void>((resolve, reject) =>
            client.create(`${p(parent)}/n${i}`, Buffer.from(`v${i}`), err => (err ? reject(new Error(String(err))) : resolve())),
          ),
        );
      }
      await Promise.all(all);
    },
    close: () => {
      client.close();
      return Promise.resolve();
    },
  };
}

export function rawEtcd(endpoint: string, root: string): RawClient {
  const client = new Etcd3({ hosts: [`http://${endpoint}`] });
  const ns = client.namespace(root);
  const watchers = new Map<string, Watcher>();
  return {
    write: async (key, value) => {
      await ns.put(key).value(value).exec();
    },
    read: key => ns.get(key).string(),
    armChange: async key => {
      // One long-lived watcher per key, as an application would keep it.
      let watcher = watchers.get(key);
      if (watcher === undefined) {
        watcher = await ns.watch().key(key).create();
        watchers.set(key, watcher);
      }
      const w = watcher;
      return { changed: new Promise<void>(resolve => w.once('put', () => resolve())) };
    },
    loadChildren: async parent => Object.keys(await ns.getAll().prefix(`${parent}/`).strings()).length,
    fill: async (parent, count) => {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        batch.push(ns.put(`${parent}/n${i}`).value(`v${i}`).exec());
        if (batch.length >= 200) {
          await Promise.all(batch.splice(0));
        }
      }
      await Promise.all(batch);
    },
    close: async () => {
      await Promise.all([...watchers.values()].map(w => w.cancel()));
      client.close();
    },
  };
}
