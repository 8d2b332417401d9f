import { expect } from 'chai';
import { Deferred } from '../../../lib/internal/async';
import {
  OwnershipGuard,
  SAFE_SESSION_FRACTION,
  type OwnershipGuardHooks,
} from '../../../lib/job/ownership-guard';
import type {
  ConnectionState,
  CoordinatorRegistryCenter,
} from '../../../lib/registry/registry-center';

/** A registry as the guard sees it: its newest contact, timeout and state, set by the test. */
interface FakeRegistry {
  lastContactAt: number;
  sessionTimeoutMs: number;
  connectionState: ConnectionState;
}

function fake(lastContactAt: number, sessionTimeoutMs = 2000): FakeRegistry {
  return { lastContactAt, sessionTimeoutMs, connectionState: 'CONNECTED' };
}

function asRegistry(r: FakeRegistry): CoordinatorRegistryCenter {
  return r as unknown as CoordinatorRegistryCenter;
}

/** Hooks that record fences and let a test await the next fence or restore. */
function recordingHooks(): OwnershipGuardHooks & {
  reasons: string[];
  fenced: () => Promise<string>;
  restoredCount: number;
  restoredOnce: Deferred<void>;
} {
  let nextFence = new Deferred<string>();
  const hooks = {
    reasons: [] as string[],
    restoredCount: 0,
    restoredOnce: new Deferred<void>(),
    fence(reason: string) {
      hooks.reasons.push(reason);
      nextFence.resolve(reason);
      nextFence = new Deferred<string>();
    },
    restored() {
      hooks.restoredCount++;
      hooks.restoredOnce.resolve();
    },
    fenced: () => nextFence.promise,
  };
  return hooks;
}

/** Self-fencing judged by the wall clock at the moment of the call, and by timers in between. */
describe('OwnershipGuard', () => {
  it('holds while the newest contact is within the safe fraction of the session timeout', () => {
    const guard = new OwnershipGuard(asRegistry(fake(Date.now() - 200)), recordingHooks());
    expect(guard.problem()).to.equal(undefined);
  });

  it('fails at once when the newest contact is older — as after a SIGSTOP, before any timer ran', () => {
    const stale = Date.now() - SAFE_SESSION_FRACTION * 2000 - 50;
    const guard = new OwnershipGuard(asRegistry(fake(stale)), recordingHooks());
    expect(guard.problem()).to.match(/no registry contact for \d+ ms \(limit 1000 ms\)/);
  });

  it('fails while SUSPENDED, fences at the safe deadline, and at once on LOST', async () => {
    const hooks = recordingHooks();
    const guard = new OwnershipGuard(asRegistry(fake(Date.now() - 900)), hooks);
    guard.stateChanged('SUSPENDED');
    expect(guard.problem()).to.equal('the registry connection is suspended');
    expect(hooks.reasons).to.deep.equal([]);
    expect(await hooks.fenced()).to.contain('may expire'); // the deadline is ~100 ms away
    const lost = hooks.fenced();
    guard.stateChanged('LOST');
    expect(await lost).to.equal('the registry session was lost');
    guard.close();
  });

  it('cancels the fence when the connection comes back in time', async () => {
    const hooks = recordingHooks();
    const registry = fake(Date.now(), 400);
    const guard = new OwnershipGuard(asRegistry(registry), hooks);
    guard.stateChanged('SUSPENDED');
    guard.stateChanged('RECONNECTED');
    // Absence window: the SUSPENDED deadline (200 ms) passes; contact stays fresh meanwhile.
    const keepFresh = setInterval(() => (registry.lastContactAt = Date.now()), 20);
    await new Promise(resolve => setTimeout(resolve, 300));
    clearInterval(keepFresh);
    expect(hooks.reasons).to.deep.equal([]);
    guard.close();
  });

  it('connected but without contact past the safe fraction: fences, holds new work, and restores on a fresh answer', async () => {
    const hooks = recordingHooks();
    const registry = fake(Date.now() - 900);
    const guard = new OwnershipGuard(asRegistry(registry), hooks);
    guard.start();
    expect(guard.isConnected).to.equal(true);
    expect(await hooks.fenced()).to.match(/no registry contact for \d+ ms \(limit 1000 ms\)/);
    expect(guard.isConnected, 'nothing new starts while in doubt').to.equal(false);
    registry.lastContactAt = Date.now(); // a heartbeat answered
    await hooks.restoredOnce.promise;
    expect(guard.isConnected).to.equal(true);
    expect(guard.problem()).to.equal(undefined);
    guard.close();
  });

  it('a doubt that ends in LOST fences again and never restores', () => {
    const hooks = recordingHooks();
    const registry = fake(Date.now() - 1500);
    const guard = new OwnershipGuard(asRegistry(registry), hooks);
    guard.start(); // already past the limit: in doubt at once
    expect(hooks.reasons).to.have.length(1);
    expect(guard.isConnected).to.equal(false);
    guard.stateChanged('SUSPENDED');
    guard.stateChanged('LOST');
    registry.lastContactAt = Date.now();
    expect(hooks.reasons.at(-1)).to.equal('the registry session was lost');
    expect(guard.isConnected).to.equal(false);
    expect(hooks.restoredCount).to.equal(0);
    guard.close();
  });
});
