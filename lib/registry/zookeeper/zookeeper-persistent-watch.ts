import * as wire from './wire';
import { AddWatchMode, WatcherType } from './wire';
import type { PersistentWatchListener } from './wire';
import type { ZkClient } from './zookeeper-client-types';
import type { ZooKeeperSession } from './zookeeper-session';

/**
 * Persistent recursive watches (addWatch, ZooKeeper ≥ 3.6) on the session's current client.
 *
 * `watch` registers the listener on the client's watcher registry (wire/persistent-routes.ts) and sends
 * `addWatch(path, PERSISTENT_RECURSIVE)` in the same tick, so nothing the server sends after it is missed. The
 * server forgets the watch when the connection drops (node-zookeeper-client's SetWatches replays one-shot
 * watches only) and when a new session starts: owners add it again after every reconnect (idempotent).
 *
 * `release` drops the listener; when it was the last one on that path, `removeWatches(path, ANY)` removes the
 * server's watch. ANY also removes one-shot watches of this connection on that exact path (ZooKeeper 3.8 has
 * no type for persistent watches alone), so: nothing is sent while one-shot watchers wait on the path (the
 * server's watch then stays, and its notifications find no listener), and one-shot watches registered while
 * the removal was in flight are fired at once (a spurious "changed", never a lost one).
 */

export interface PersistentWatch {
  release(): void;
}

/** Adds persistent recursive watches; injectable so that tests can play an old server. */
export type PersistentWatcher = (
  fullPath: string,
  listener: PersistentWatchListener,
) => Promise<PersistentWatch>;

export function sessionPersistentWatcher(session: ZooKeeperSession): PersistentWatcher {
  return async (fullPath, listener) => {
    let owner: ZkClient | undefined;
    await session.call<void>({ operation: 'addWatch', path: fullPath }, (client, done) => {
      const manager = wire.watchRegistry(client);
      owner = client;
      manager.persistent.add(fullPath, listener);
      wire.addWatch(client, fullPath, AddWatchMode.PERSISTENT_RECURSIVE, err => {
        if (err !== null) {
          manager.persistent.remove(fullPath, listener);
        }
        done(err, undefined);
      });
    });
    const client = owner as ZkClient;
    let released = false;
    return {
      release: () => {
        if (released) {
          return;
        }
        released = true;
        const manager = wire.watchRegistry(client);
        if (!manager.persistent.remove(fullPath, listener)) {
          return; // someone else still watches this path on this client
        }
        session
          .call<void>({ operation: 'removeWatches', path: fullPath }, (current, done) => {
            if (
              current !== client ||
              manager.persistent.has(fullPath) ||
              manager.hasOneShot(fullPath)
            ) {
              done(null, undefined);
              return;
            }
            manager.persistent.beginRemoval(fullPath);
            wire.removeWatches(current, fullPath, WatcherType.ANY, () => {
              if (manager.persistent.endRemoval(fullPath)) {
                manager.invalidateOneShots(fullPath);
              }
              done(null, undefined);
            });
          })
          .catch(() => undefined); // closed or disconnected: the server forgets the watch with the connection
      },
    };
  };
}
