import { expect } from 'chai';
import type { ConnectionState, RegistryEvent } from '../../lib/registry/registry-center';
import { ms } from '../harness/timing';
import type { BackendFactory } from './backend-factory';
import { Clients, queueOf } from './clients';

/** A registry server killed and restarted: clients come back by themselves and their caches converge. */
export function describeServerRestartContract(factory: BackendFactory): void {
  if (factory.restartServer === undefined) {
    return; // the embedded backend has no server to restart
  }
  const restart = (): Promise<void> => factory.restartServer?.() ?? Promise.resolve();
  describe(`server restart contract (${factory.name})`, function () {
    let clients: Clients;

    beforeEach(() => {
      clients = new Clients(factory);
    });
    afterEach(() => clients.closeAll());

    it('survives a server kill + restart: states, ephemerals, cache and writes all recover', async function () {
      this.timeout(ms(60_000));
      const a = await clients.connect();
      await a.persist('/r/config', 'v1');
      await a.persistEphemeral('/r/instances/a', 'alive');
      await a.addCacheData('/r');
      const cache = a.getRawCache('/r');
      if (cache === undefined) {
        throw new Error('no cache');
      }
      const states = queueOf<ConnectionState>(push => a.on('connectionStateChanged', push));
      const events = queueOf<RegistryEvent>(push => cache.on('event', push));
      const epoch = a.sessionEpoch;

      await restart();

      const seen = await states.takeUntil(
        s => s === 'RECONNECTED',
        ms(factory.sessionTimeoutMs * 10),
        'RECONNECTED',
      );
      expect(seen[0]).to.equal('SUSPENDED');
      const lost = seen.includes('LOST');
      expect(a.sessionEpoch).to.equal(
        lost ? epoch + 1 : epoch,
        'the epoch grows exactly when the session was replaced',
      );
      // The layer above re-registers after LOST; the registry itself never re-creates ephemerals.
      if (lost) {
        await a.persistEphemeral('/r/instances/a', 'alive');
      }
      const w = await clients.connect();
      expect(await w.getDirectly('/r/instances/a')).to.equal('alive');
      await w.update('/r/config', 'v2');
      await cache.waitFor(c => c.get('/r/config') === 'v2', { timeoutMs: ms(10_000) });
      const updates = events.seen.filter(e => e.path === '/r/config');
      expect(updates.map(e => `${String(e.previous)}->${String(e.value)}`)).to.deep.equal([
        'v1->v2',
      ]);
      await a.persist('/r/after', 'ok');
      expect(await w.getDirectly('/r/after')).to.equal('ok');
    });
  });
}
