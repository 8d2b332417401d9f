import { expect } from 'chai';
import { join } from 'node:path';
import { createRegistryCenter } from '../../lib';
import { createLock } from '../../lib/recipes/distributed-lock';
import { createLeaderElection } from '../../lib/recipes/leader-election';
import type { CoordinatorRegistryCenter } from '../../lib/registry/registry-center';
import type { TransactionBuilder } from '../../lib/registry/txn';
import { EtcdServer } from '../harness/etcd-server';
import { uniqueNamespace } from '../harness/namespace';
import { spawnNode, type ChildHandle } from '../harness/process';
import { ms } from '../harness/timing';
import { ZooKeeperServer } from '../harness/zookeeper-server';

/**
 * The recipes across real processes on real servers: a child (test/fixtures/recipes-holder.ts) holds a lock
 * or leads; SIGKILL hands over after the session timeout / lease TTL; SIGSTOP beyond it hands over too, and
 * once resumed (SIGCONT) the child's signal aborts and its fenced write is refused.
 */

const FIXTURE = join(__dirname, '..', 'fixtures', 'recipes-holder.ts');

interface Backend {
  name: string;
  sessionTimeoutMs: number;
  start(): Promise<{ url: (ns: string) => string; stop: () => Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'zookeeper',
    sessionTimeoutMs: 2000,
    start: async () => {
      const server = await ZooKeeperServer.start({ tickTimeMs: 500 });
      return {
        url: ns => `zookeeper://${server.connectString}/${ns}?sessionTimeoutMs=2000`,
        stop: () => server.stop(),
      };
    },
  },
  {
    name: 'etcd',
    sessionTimeoutMs: 2000,
    start: async () => {
      const server = await EtcdServer.start();
      return {
        url: ns => `etcd://${server.endpoint}/${ns}?leaseTtlSeconds=2`,
        stop: () => server.stop(),
      };
    },
  },
];

/** A contender in this process: the same recipe the child uses. */
function contend(
  registry: CoordinatorRegistryCenter,
  mode: 'lock' | 'lead',
): {
  acquired: Promise<void>;
  fence: (tx: TransactionBuilder) => TransactionBuilder;
  close: () => Promise<void>;
} {
  if (mode === 'lock') {
    const lock = createLock(registry, '/recipe');
    return {
      acquired: lock.acquire().then(() => undefined),
      fence: tx => lock.fence(tx),
      close: () => lock.close(),
    };
  }
  const election = createLeaderElection(registry, '/recipe', { candidateId: 'parent' });
  return {
    acquired: election.campaign().then(() => undefined),
    fence: tx => election.fence(tx),
    close: () => election.close(),
  };
}

for (const backend of backends) {
  describe(`recipes across processes (${backend.name})`, function () {
    const T = backend.sessionTimeoutMs;
    this.timeout(ms(T * 6 + 20_000));
    let server: Awaited<ReturnType<Backend['start']>> | undefined;
    const children: ChildHandle[] = [];
    const closers: (() => Promise<void>)[] = [];

    before(async function () {
      this.timeout(30_000);
      server = await backend.start();
    });
    after(async () => {
      await server?.stop();
    });
    afterEach(async () => {
      for (const child of children.splice(0)) {
        child.kill('SIGKILL'); // by PID; works on a stopped process too
        await child.exited;
      }
      for (const close of closers.splice(0).reverse()) {
        await close();
      }
    });

    async function setup(mode: 'lock' | 'lead') {
      if (server === undefined) {
        throw new Error('server not running');
      }
      const url = server.url(uniqueNamespace('r'));
      const registry = createRegistryCenter(url);
      closers.push(() => registry.close());
      await registry.init();
      await registry.persist('/data', 'none');
      const child = spawnNode(FIXTURE, [url, mode, '/recipe', '/data'], { DEBUG_HOLDER: '1' });
      children.push(child);
      const first = await child.lines.take(ms(15_000), 'HELD').catch((err: Error) => {
        throw new Error(`${err.message}\nchild stderr: ${child.stderr()}`);
      });
      expect(first).to.equal('HELD /recipe');
      const contender = contend(registry, mode);
      closers.push(contender.close);
      return { registry, child, contender };
    }

    for (const mode of ['lock', 'lead'] as const) {
      it(`${mode}: SIGKILL of the holder hands over after the session timeout`, async () => {
        const { child, contender } = await setup(mode);
        const killedAt = Date.now();
        child.kill('SIGKILL');
        await contender.acquired;
        // Not before the server dropped the child's session (allow for the server's tick granularity).
        expect(Date.now() - killedAt).to.be.greaterThan(T / 2);
      });

      it(`${mode}: SIGSTOP beyond the timeout hands over; after SIGCONT the child's signal aborts and its fenced write is refused`, async () => {
        const { registry, child, contender } = await setup(mode);
        child.kill('SIGSTOP');
        await contender.acquired;
        await registry.executeInTransaction(tx => contender.fence(tx).setData('/data', 'parent'));
        child.kill('SIGCONT');
        const seen = await child.lines
          .takeUntil(
            line => line.startsWith('WRITE_'),
            // Resuming can cost up to two request timeouts (5 s): one on the dead connection, one retry.
            ms(T * 4 + 12_000),
            'the fenced write result',
          )
          .catch((err: Error) => {
            throw new Error(`${err.message}\nchild stderr:\n${child.stderr()}`);
          });
        expect(seen[seen.length - 1]).to.match(/^WRITE_REJECTED TransactionError /);
        if (!seen.some(line => line.startsWith('ABORTED'))) {
          const aborted = await child.lines.take(ms(T * 2), 'ABORTED');
          expect(aborted).to.match(/^ABORTED /);
        }
        expect(await registry.getDirectly('/data')).to.equal('parent');
      });
    }
  });
}
