import { expect } from 'chai';
import { mock } from 'node:test';
import { OperationTimeoutError } from '../../../lib/errors';
import { Deferred } from '../../../lib/internal/async';
import { DrivenRegistryCenter } from '../../../lib/registry/driven-registry-center';
import type { RegistryDriver } from '../../../lib/registry/driver';
import { createRegistryCenter } from '../../../lib/registry/create-registry-center';

const TIMEOUT_MS = 100;

/** A driver whose `remove` takes as many steps as the test reports through `step()`. */
function steppingDriver(): {
  driver: RegistryDriver;
  removing: Deferred<void>;
  step(): void;
  finish(): void;
} {
  let progress: (() => void) | undefined;
  const removing = new Deferred<void>();
  let done: Deferred<void> | undefined;
  const driver = {
    description: 'stepping://test',
    setStateListener: () => undefined,
    sessionId: () => null,
    remove: (_path: string, onProgress?: () => void) => {
      progress = onProgress;
      done = new Deferred<void>();
      removing.resolve();
      return done.promise;
    },
  } as unknown as RegistryDriver;
  return {
    driver,
    removing,
    step: () => progress?.(),
    finish: () => done?.resolve(),
  };
}

/** Let pending promise callbacks run (no timers involved). */
const flush = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

describe('subtree remove deadline', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout'] });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  it('gives each step of a large removal the request timeout, not the whole removal', async () => {
    const d = steppingDriver();
    const registry = new DrivenRegistryCenter(d.driver, { requestTimeoutMs: TIMEOUT_MS });
    let outcome: unknown = 'pending';
    registry.remove('/big').then(
      () => (outcome = 'removed'),
      (e: unknown) => (outcome = e),
    );
    await d.removing.promise;
    // Ten steps of 60% of the timeout each: six times the timeout in all.
    for (let i = 0; i < 10; i++) {
      mock.timers.tick(TIMEOUT_MS * 0.6);
      await flush();
      expect(outcome, `after step ${i}`).to.equal('pending');
      d.step();
    }
    d.finish();
    await flush();
    expect(outcome).to.equal('removed');
  });

  it('still fails with OperationTimeoutError naming the path when one step hangs', async () => {
    const d = steppingDriver();
    const registry = new DrivenRegistryCenter(d.driver, { requestTimeoutMs: TIMEOUT_MS });
    let outcome: unknown = 'pending';
    registry.remove('/big').then(
      () => (outcome = 'removed'),
      (e: unknown) => (outcome = e),
    );
    await d.removing.promise;
    mock.timers.tick(TIMEOUT_MS * 0.6);
    d.step();
    mock.timers.tick(TIMEOUT_MS - 1);
    await flush();
    expect(outcome).to.equal('pending');
    mock.timers.tick(1);
    await flush();
    expect(outcome).to.be.instanceOf(OperationTimeoutError);
    expect((outcome as Error).message).to.contain('remove(/big)');
    expect((outcome as Error).message).to.contain(`${TIMEOUT_MS} ms`);
  });
});

describe('subtree remove of a large subtree (memory)', () => {
  it('removes 5,000 nodes and nothing beside them', async () => {
    const registry = createRegistryCenter({ type: 'memory', namespace: `remove-${process.pid}` });
    await registry.init();
    try {
      for (let i = 0; i < 50; i++) {
        await registry.executeInTransaction(tx => {
          tx.create(`/big${i === 0 ? '' : `/n${i}`}`, '');
          for (let j = 0; j < 99; j++) {
            tx.create(`/big${i === 0 ? '' : `/n${i}`}/c${j}`, 'x');
          }
        });
      }
      await registry.persist('/big-sibling', 'kept');
      await registry.remove('/big');
      expect(await registry.isExisted('/big')).to.equal(false);
      expect(await registry.getDirectly('/big-sibling')).to.equal('kept');
    } finally {
      await registry.close();
    }
  });
});
