import { trace } from '@opentelemetry/api';
import { expect } from 'chai';
import type { ExecutionRecord } from '../../../lib/history/execution-record';
import { Deferred, withTimeout } from '../../../lib/internal/async';
import { defineJob } from '../../../lib/job/define-job';
import { TRACER_NAME } from '../../../lib/job/execution-span';
import { ItemScheduler } from '../../../lib/job/item-scheduler';
import type { JobConfig } from '../../../lib/job/job-config';
import type { JobContext } from '../../../lib/job/job-context';
import { noopJobObserver } from '../../../lib/job/job-observer';
import { Scheduler } from '../../../lib/job/scheduler/scheduler';
import type { ExecutionService } from '../../../lib/job/services/execution-service';
import type { FailoverService } from '../../../lib/job/services/failover-service';
import type { MisfireService } from '../../../lib/job/services/misfire-service';
import type { ServerService } from '../../../lib/job/services/server-service';
import type { ShardingService } from '../../../lib/job/services/sharding-service';
import { noopLogger } from '../../../lib/logger';
import type { ConnectionState } from '../../../lib/registry/registry-center';

const INSTANCE = 'pod-a';

/**
 * A registry as the ownership guard sees it: state, session epoch and newest contact, set by the test.
 * The contact is "now" (minus `contactAgeMs`) on every read, so the guard is never in doubt unless a test
 * makes the contact stale.
 */
class FakeRegistry {
  connectionState: ConnectionState = 'CONNECTED';
  sessionEpoch = 1;
  readonly sessionTimeoutMs = 60_000;
  contactAgeMs = 0;
  get lastContactAt(): number {
    return Date.now() - this.contactAgeMs;
  }
}

/** One ended run as the history sees it: which item, and what started it. */
type Run = `${ExecutionRecord['trigger']}:${number}`;

interface Fixture {
  items: ItemScheduler;
  registry: FakeRegistry;
  runs: Run[];
  /** Resolves once `n` runs have ended; rejects after 2 s (a broken rule fails fast, not at mocha's timeout). */
  ran(n: number): Promise<void>;
  setDisabled(disabled: boolean): void;
  /** The registry reports `state` (the runtime passes it on to the item scheduler). */
  connection(state: ConnectionState): void;
  close(): void;
  reported: unknown[];
}

/**
 * A real ItemScheduler (with its real launcher, ownership guard and runs) over fakes: items 0 and 1 are
 * local, no resharding is pending, monitorExecution is off (no claim, no registry write), and the cron
 * never comes due during a test (the tests call fire() themselves).
 */
interface SetupOptions {
  /** The job's `misfire` setting (default on). */
  misfire?: boolean;
  /** A resharding is pending until this promise resolves (default: none pending). */
  settled?: Promise<void>;
}

function setup(registry = new FakeRegistry(), options: SetupOptions = {}): Fixture {
  const runs: Run[] = [];
  const waiters: (() => void)[] = [];
  const reported: unknown[] = [];
  const definition = defineJob({
    name: 'order-sync',
    cron: '0 0 0 1 1 *',
    shardingTotalCount: 2,
    monitorExecution: false,
    misfire: options.misfire ?? true,
    execute: () => undefined,
  });
  let pending = options.settled !== undefined;
  void options.settled?.then(() => (pending = false));
  let config: JobConfig = definition.config;
  const scheduler = new Scheduler();
  const ctx = {
    jobName: 'order-sync',
    instanceId: INSTANCE,
    ip: '10.0.0.1',
    registry,
    logger: noopLogger,
  } as unknown as JobContext;
  const items = new ItemScheduler({
    ctx,
    definition,
    sharding: {
      isPending: () => pending,
      waitSettled: () => options.settled ?? Promise.resolve(),
      localItems: () => [0, 1],
      isItemDisabled: () => false,
      ownerOf: () => INSTANCE,
      generation: () => ({ value: 1, version: 0, stamp: 1n, corrupt: false }),
    } as unknown as ShardingService,
    execution: {} as unknown as ExecutionService,
    servers: { isEnabled: () => true } as unknown as ServerService,
    failover: { pendingItems: () => [] } as unknown as FailoverService,
    misfire: {
      mark: () => Promise.resolve(),
      clear: () => Promise.resolve(),
    } as unknown as MisfireService,
    scheduler,
    config: () => config,
    events: () => undefined,
    report: err => reported.push(err),
    observability: {
      observer: {
        ...noopJobObserver,
        executionEnded: record => {
          runs.push(`${record.trigger}:${record.item}`);
          waiters.splice(0).forEach(w => w());
        },
      },
      tracer: trace.getTracer(TRACER_NAME),
    },
  });
  items.start();
  return {
    items,
    registry,
    runs,
    reported,
    ran: n =>
      withTimeout(
        (async () => {
          while (runs.length < n) {
            await new Promise<void>(resolve => waiters.push(resolve));
          }
        })(),
        2_000,
        `${n} runs (saw ${runs.length})`,
      ),
    setDisabled: disabled => {
      config = { ...config, disabled };
    },
    connection: state => {
      registry.connectionState = state;
      items.connectionChanged(state);
    },
    close: () => {
      items.close();
      scheduler.close();
    },
  };
}

/** Lets every promise callback queued so far run. */
function settle(): Promise<void> {
  return new Promise(resolve => setImmediate(resolve));
}

/**
 * The owed-fire rule: a cron fire that finds this instance cut off (SUSPENDED, or connected but in doubt)
 * runs once, as a misfire of the local items, when contact is back within the same session; it is dropped
 * when the session changed, and a fire the job's own state skipped (disabled) is not owed.
 */
describe('ItemScheduler owed fire', () => {
  let f: Fixture | undefined;

  afterEach(() => {
    f?.close();
    expect(f?.reported).to.deep.equal([]);
    f = undefined;
  });

  it('a cron fire while SUSPENDED runs nothing, then runs each local item once as a misfire on RECONNECTED', async () => {
    f = setup();
    f.connection('SUSPENDED');
    await f.items.fire('cron');
    await settle();
    expect(f.runs, 'nothing starts while cut off').to.deep.equal([]);

    f.connection('RECONNECTED'); // same session: sessionEpoch unchanged
    await f.ran(2);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['misfire:0', 'misfire:1']);
  });

  it('several fires missed in one SUSPENDED blip are owed once: one run per item', async () => {
    f = setup();
    f.connection('SUSPENDED');
    await f.items.fire('cron');
    await f.items.fire('cron');
    f.connection('RECONNECTED');
    await f.ran(2);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['misfire:0', 'misfire:1']);

    // A further run of the owed fire would show up before (or as a misfire beside) this cron fire's runs.
    await f.items.fire('cron');
    await f.ran(4);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['cron:0', 'cron:1', 'misfire:0', 'misfire:1']);
  });

  it('a fire owed in one session is dropped when contact comes back in a new one (LOST)', async () => {
    f = setup();
    f.connection('SUSPENDED');
    await f.items.fire('cron');
    f.connection('LOST');
    f.registry.sessionEpoch = 2; // the client built a new session
    f.connection('RECONNECTED');
    await settle();
    expect(f.runs, 'no owed run in the new session').to.deep.equal([]);

    // Contact is back and items do run now: the silence above is the rule, not a stalled fixture.
    await f.items.fire('cron');
    await f.ran(2);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['cron:0', 'cron:1']);
  });

  it('a fire skipped while connected because the job is disabled is not owed', async () => {
    f = setup();
    f.setDisabled(true);
    await f.items.fire('cron');
    f.setDisabled(false);
    f.connection('SUSPENDED');
    f.connection('RECONNECTED');
    await settle();
    expect(f.runs, 'a disabled job skips its fire for good').to.deep.equal([]);

    await f.items.fire('cron');
    await f.ran(2);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['cron:0', 'cron:1']);
  });

  it('a job with misfire off skips a fire that found it cut off: nothing is owed', async () => {
    f = setup(new FakeRegistry(), { misfire: false });
    f.connection('SUSPENDED');
    await f.items.fire('cron');
    f.connection('RECONNECTED');
    await settle();
    expect(f.runs, 'misfire: false skips what could not run').to.deep.equal([]);

    await f.items.fire('cron');
    await f.ran(2);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['cron:0', 'cron:1']);
  });

  it('a fire that waited for a resharding and found the instance cut off by then is owed all the same', async () => {
    const settled = new Deferred<void>();
    f = setup(new FakeRegistry(), { settled: settled.promise });
    const firing = f.items.fire('cron'); // connected: it waits for the resharding to settle
    f.connection('SUSPENDED');
    settled.resolve();
    await firing;
    await settle();
    expect(f.runs, 'nothing starts while cut off').to.deep.equal([]);

    f.connection('RECONNECTED');
    await f.ran(2);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['misfire:0', 'misfire:1']);
  });

  it('a cron fire while connected but in doubt (stale contact) runs as a misfire once contact is fresh', async () => {
    const registry = new FakeRegistry();
    registry.contactAgeMs = registry.sessionTimeoutMs; // past the safe fraction: in doubt from start()
    f = setup(registry);
    await f.items.fire('cron');
    await settle();
    expect(f.runs, 'nothing starts while in doubt').to.deep.equal([]);

    registry.contactAgeMs = 0; // a fresh heartbeat answer: the guard's recheck ends the doubt
    await f.ran(2);
    await settle();
    expect([...f.runs].sort()).to.deep.equal(['misfire:0', 'misfire:1']);
  });
});
