import { expect } from 'chai';
import { OwnershipGuard, SAFE_SESSION_FRACTION } from '../../../lib/job/ownership-guard';
import type { CoordinatorRegistryCenter } from '../../../lib/registry/registry-center';

/** Self-fencing judged by the wall clock at the moment of the call. */
describe('OwnershipGuard', () => {
  function fakeRegistry(lastContactAt: number, sessionTimeoutMs = 2000): CoordinatorRegistryCenter {
    return { lastContactAt, sessionTimeoutMs } as unknown as CoordinatorRegistryCenter;
  }

  it('holds while the newest contact is within the safe fraction of the session timeout', () => {
    const guard = new OwnershipGuard(fakeRegistry(Date.now() - 200), () => undefined);
    expect(guard.problem()).to.equal(undefined);
  });

  it('fails at once when the newest contact is older — as after a SIGSTOP, before any timer ran', () => {
    const stale = Date.now() - SAFE_SESSION_FRACTION * 2000 - 50;
    const guard = new OwnershipGuard(fakeRegistry(stale), () => undefined);
    expect(guard.problem()).to.match(/no registry contact for \d+ ms \(limit 1000 ms\)/);
  });

  it('fails while SUSPENDED, fences at the safe deadline, and at once on LOST', async () => {
    const reasons: string[] = [];
    const registry = fakeRegistry(Date.now() - 900);
    const guard = new OwnershipGuard(registry, reason => reasons.push(reason));
    guard.stateChanged('SUSPENDED');
    expect(guard.problem()).to.equal('the registry connection is suspended');
    expect(reasons).to.deep.equal([]);
    await new Promise(resolve => setTimeout(resolve, 150)); // the deadline is ~100 ms away
    expect(reasons).to.have.length(1);
    expect(reasons[0]).to.contain('may expire');
    guard.stateChanged('LOST');
    expect(reasons[1]).to.equal('the registry session was lost');
    guard.close();
  });

  it('cancels the fence when the connection comes back in time', async () => {
    const reasons: string[] = [];
    const guard = new OwnershipGuard(fakeRegistry(Date.now()), reason => reasons.push(reason));
    guard.stateChanged('SUSPENDED');
    guard.stateChanged('RECONNECTED');
    await new Promise(resolve => setTimeout(resolve, 1100));
    expect(reasons).to.deep.equal([]);
    guard.close();
  });
});
