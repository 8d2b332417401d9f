import { expect } from 'chai';
import type { StalledEvent, WorkerEvents } from '../../../lib/job/job-events';
import { JobPaths } from '../../../lib/job/job-paths';
import { LivenessWatchdog, type WatchedJob } from '../../../lib/job/liveness-watchdog';
import type { MarkerState } from '../../../lib/job/services/sharding-service';
import type { DeadRecord, OwnRecord } from '../../../lib/job/services/execution-service';
import { noopLogger } from '../../../lib/logger';
import { defineJob } from '../../../lib/job/define-job';

/** A job whose state the test sets by hand; the watchdog is driven with explicit clock values. */
function fakeJob() {
  const state = {
    pending: undefined as string | undefined,
    marker: 'none' as MarkerState,
    dead: [] as DeadRecord[],
    /** Running records of this life of ours (before the isActive filter), and the releases asked for. */
    own: [] as OwnRecord[],
    active: new Set<number>(),
    released: [] as OwnRecord[],
    items: [0, 1],
    mayStart: true,
    lastFireAt: 0,
    leader: false,
    wakes: 0,
  };
  const stalls: StalledEvent[] = [];
  const paths = new JobPaths('job');
  const definition = defineJob({
    name: 'job',
    cron: '*/10 * * * * *',
    timeZone: 'UTC',
    shardingTotalCount: 2,
    execute: () => undefined,
  });
  const job: WatchedJob = {
    ctx: { jobName: 'job', paths, logger: noopLogger },
    sharding: {
      pendingPath: () => state.pending,
      marker: () => state.marker,
      localItems: () => state.items,
    },
    execution: {
      deadRecords: () => state.dead,
      idleOwnRecords: isActive => state.own.filter(r => !isActive(r.item)),
      releaseIdleOwnRecord: (item, stamp, isActive) => {
        if (isActive(item)) {
          return Promise.resolve(false); // the fresh look: something holds it now
        }
        state.released.push({ item, stamp });
        state.own = state.own.filter(r => r.item !== item);
        return Promise.resolve(true);
      },
    },
    isActive: item => state.active.has(item),
    config: () => definition.config,
    mayStart: () => state.mayStart,
    lastFireAt: () => state.lastFireAt,
    isLeader: () => state.leader,
    wakeLeader: () => void state.wakes++,
    events: <K extends keyof WorkerEvents>(event: K, ...args: WorkerEvents[K]) => {
      if (event === 'stalled') {
        stalls.push(args[0] as StalledEvent);
      }
    },
  };
  return { state, stalls, paths, watchdog: new LivenessWatchdog(job, 5000) };
}

/** Lets the watchdog's fresh look (a promise) finish. */
function settle(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0); // on a */10 s fire

describe('LivenessWatchdog', () => {
  it('reports a pending resharding once it has stood past the bound, once per episode, and wakes a leader', () => {
    const { state, stalls, paths, watchdog } = fakeJob();
    state.lastFireAt = T0;
    state.pending = paths.shardingNecessary;
    state.leader = true;
    watchdog.check(T0 + 1000);
    watchdog.check(T0 + 5999);
    expect(stalls).to.deep.equal([]);
    watchdog.check(T0 + 6000);
    watchdog.check(T0 + 9000);
    expect(stalls).to.deep.equal([
      {
        job: 'job',
        reason: 'reshardingNotSettled',
        path: paths.shardingNecessary,
        since: T0 + 1000,
      },
    ]);
    expect(state.wakes).to.equal(1);
    state.pending = undefined; // cleared, then back: a new episode
    watchdog.check(T0 + 9500);
    state.pending = paths.shardingNecessary;
    watchdog.check(T0 + 9600);
    watchdog.check(T0 + 14_600);
    expect(stalls).to.have.length(2);
  });

  it('reports a former term’s marker and a dead writer’s running record', () => {
    const { state, stalls, paths, watchdog } = fakeJob();
    state.lastFireAt = T0 + 9000;
    state.marker = 'foreign';
    state.dead = [{ item: 3, owner: 'gone', version: 0, stamp: 5n, why: 'no instance node' }];
    watchdog.check(T0 + 9000);
    watchdog.check(T0 + 14_000);
    expect(stalls.map(s => [s.reason, s.path])).to.have.deep.members([
      ['staleMarker', paths.shardingProcessing],
      ['deadRunningRecord', paths.itemRunning(3)],
    ]);
  });

  it('reports fires the cron expected that never dispatched the owned items, from the missed fire', () => {
    const { state, stalls, paths, watchdog } = fakeJob();
    state.lastFireAt = T0;
    watchdog.check(T0 + 1000); // eligible from here; the next fire is due at T0 + 10 s
    watchdog.check(T0 + 14_000);
    expect(stalls).to.deep.equal([]);
    watchdog.check(T0 + 15_000); // T0 + 10 s passed 5 s ago with no fire
    expect(stalls).to.deep.equal([
      { job: 'job', reason: 'firesMissed', path: paths.root, since: T0 + 10_000 },
    ]);
  });

  it('does not call a paused worker stalled: no items, cut off or disabled, the clock restarts', () => {
    const { state, stalls, watchdog } = fakeJob();
    state.lastFireAt = T0;
    state.mayStart = false; // SUSPENDED, or the job disabled
    watchdog.check(T0 + 1000);
    watchdog.check(T0 + 30_000);
    state.mayStart = true;
    watchdog.check(T0 + 30_500); // eligible again: the next expected fire is T0 + 40 s
    watchdog.check(T0 + 44_000);
    expect(stalls).to.deep.equal([]);
    state.lastFireAt = T0 + 40_000; // it fired
    watchdog.check(T0 + 46_000);
    expect(stalls).to.deep.equal([]);
  });
  it('releases a running record of this life that no run or start here holds, after 1 s, and reports it', async () => {
    const { state, stalls, paths, watchdog } = fakeJob();
    state.lastFireAt = T0;
    state.own = [
      { item: 0, stamp: 7n },
      { item: 1, stamp: 9n },
    ];
    state.active.add(1); // item 1 runs here: its record is not idle
    watchdog.check(T0 + 100);
    watchdog.check(T0 + 1099);
    await settle();
    expect(state.released).to.deep.equal([]);
    watchdog.check(T0 + 1100);
    await settle();
    expect(state.released).to.deep.equal([{ item: 0, stamp: 7n }]);
    expect(stalls).to.deep.equal([
      { job: 'job', reason: 'idleRunningRecord', path: paths.itemRunning(0), since: T0 + 100 },
    ]);
    watchdog.check(T0 + 9000);
    await settle();
    expect(state.released, 'item 1 stays: its run holds it').to.have.length(1);
  });

  it('neither releases nor reports a record whose run started meanwhile', async () => {
    const { state, stalls, watchdog } = fakeJob();
    state.lastFireAt = T0;
    state.own = [{ item: 0, stamp: 7n }];
    watchdog.check(T0 + 100);
    state.active.add(0); // the launch got its claim answer: the run starts
    watchdog.check(T0 + 600);
    watchdog.check(T0 + 5000);
    await settle();
    expect(state.released).to.deep.equal([]);
    expect(stalls).to.deep.equal([]);
  });
});
