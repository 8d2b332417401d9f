import { expect } from 'chai';
import { defineJob } from '../../../lib/job/define-job';
import { FailoverClaimer, type ClaimedRunLauncher } from '../../../lib/job/failover-claimer';
import type { ClaimedRun } from '../../../lib/job/item-runs';
import type { JobContext } from '../../../lib/job/job-context';
import type { FailoverClaim, FailoverService } from '../../../lib/job/services/failover-service';
import { Deferred } from '../../../lib/internal/async';

const config = defineJob({
  name: 'order-sync',
  execute: () => undefined,
  failover: true,
  monitorExecution: true,
}).config;

/** A failover queue the test fills, and claims the test answers one by one. */
class FakeFailover {
  queue: number[] = [];
  readonly claims: Deferred<FailoverClaim | undefined>[] = [];
  private readonly claimWaiters: (() => void)[] = [];

  pendingItems(): number[] {
    return [...this.queue];
  }

  claim(): Promise<FailoverClaim | undefined> {
    const d = new Deferred<FailoverClaim | undefined>();
    this.claims.push(d);
    this.claimWaiters.splice(0).forEach(w => w());
    return d.promise;
  }

  /** Resolves once `n` claims were asked for (an event, not a timer). */
  async claimCount(n: number): Promise<void> {
    while (this.claims.length < n) {
      await new Promise<void>(resolve => this.claimWaiters.push(resolve));
    }
  }
}

class FakeLauncher implements ClaimedRunLauncher {
  isClosed = false;
  busy = false;
  readonly launched: ClaimedRun[] = [];
  isBusy(): boolean {
    return this.busy;
  }
  mayStart(): boolean {
    return true;
  }
  launchClaimed(run: ClaimedRun): Promise<void> {
    this.launched.push(run);
    return Promise.resolve();
  }
}

function setup(): {
  claimer: FailoverClaimer;
  failover: FakeFailover;
  launcher: FakeLauncher;
  reported: unknown[];
} {
  const failover = new FakeFailover();
  const launcher = new FakeLauncher();
  const reported: unknown[] = [];
  const claimer = new FailoverClaimer(
    {
      ctx: { registry: { sessionTimeoutMs: 2000 } } as unknown as JobContext,
      failover: failover as unknown as FailoverService,
      config: () => config,
      report: err => reported.push(err),
    },
    launcher,
  );
  return { claimer, failover, launcher, reported };
}

/** Lets every promise callback queued so far run. */
function settle(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

describe('FailoverClaimer', () => {
  it('runs a claimed item once, as a failover run', async () => {
    const { claimer, failover, launcher } = setup();
    failover.queue = [4];
    claimer.available();
    await failover.claimCount(1);
    failover.claims[0]!.resolve({ item: 4, fencingToken: 9, sessionEpoch: 1 });
    await settle();
    expect(launcher.launched).to.have.length(1);
    expect(launcher.launched[0]).to.include({
      item: 4,
      fencingToken: 9,
      failover: true,
      trigger: 'failover',
    });
    claimer.close();
  });

  it('a wake-up that arrives while a claim is in flight is not lost: it looks again when the claim ends', async () => {
    const { claimer, failover, launcher } = setup();
    failover.queue = [1];
    claimer.available();
    await failover.claimCount(1);
    // Another crashed instance's item is queued while the first claim is in flight (it may have read the
    // queue before the new entry): the wake-up must not be dropped.
    failover.queue = [1, 2];
    claimer.available();
    expect(failover.claims, 'no second claim while one is in flight').to.have.length(1);
    failover.queue = [2];
    failover.claims[0]!.resolve(undefined); // item 1 went to another instance
    await failover.claimCount(2);
    failover.claims[1]!.resolve({ item: 2, fencingToken: 3, sessionEpoch: 1 });
    await settle();
    expect(launcher.launched.map(r => r.item)).to.deep.equal([2]);
    claimer.close();
  });

  it('a claim that failed on a registry error is reported and tried again after a pause', async () => {
    const { claimer, failover, launcher, reported } = setup();
    failover.queue = [7];
    claimer.available();
    await failover.claimCount(1);
    const boom = new Error('connection lost');
    failover.claims[0]!.reject(boom);
    await failover.claimCount(2); // the retry: nobody calls available() again
    expect(reported).to.deep.equal([boom]);
    failover.claims[1]!.resolve({ item: 7, fencingToken: 2, sessionEpoch: 1 });
    await settle();
    expect(launcher.launched.map(r => r.item)).to.deep.equal([7]);
    claimer.close();
  });

  it('claims nothing when the queue is empty or the instance is busy', async () => {
    const { claimer, failover, launcher } = setup();
    claimer.available(); // empty queue
    failover.queue = [1];
    launcher.busy = true;
    claimer.available();
    await settle();
    expect(failover.claims).to.have.length(0);
    claimer.close();
  });
});
