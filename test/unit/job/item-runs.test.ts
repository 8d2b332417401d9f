import { expect } from 'chai';
import { Deferred } from '../../../lib/internal/async';
import type { Executor, ItemOutcome } from '../../../lib/job/executor';
import type { JobContext } from '../../../lib/job/job-context';
import { ItemRuns, type ClaimedRun } from '../../../lib/job/item-runs';
import type { ExecutionService } from '../../../lib/job/services/execution-service';
import { defineJob } from '../../../lib/job/define-job';
import { recordingLogger } from './kinds-fixture';

const config = defineJob({ name: 'order-sync', execute: () => undefined }).config;

function claimed(item: number): ClaimedRun {
  return { item, fencingToken: 1, sessionEpoch: undefined, config, failover: false };
}

/** ItemRuns over an executor whose runs end only when the test says so (or on abort, if `obeysAbort`). */
function fixture(obeysAbort: boolean): {
  runs: ItemRuns;
  logger: ReturnType<typeof recordingLogger>;
  started: Deferred<void>;
  finishAll(): void;
} {
  const logger = recordingLogger();
  const pending: Deferred<ItemOutcome>[] = [];
  const started = new Deferred<void>();
  const executor = {
    run: ({ item, signal }: { item: number; signal: AbortSignal }) => {
      const outcome = new Deferred<ItemOutcome>();
      const result: ItemOutcome = { item, durationMs: 0, attempts: 1, error: undefined, interrupted: false };
      if (obeysAbort) {
        signal.addEventListener('abort', () => outcome.resolve(result));
      }
      pending.push(outcome);
      started.resolve();
      return outcome.promise.then(() => result);
    },
  } as unknown as Executor;
  const ctx = {
    jobName: 'order-sync',
    instanceId: 'pod-a',
    logger,
  } as unknown as JobContext;
  const runs = new ItemRuns(
    ctx,
    executor,
    {} as ExecutionService,
    () => undefined,
    () => undefined,
    5,
  );
  return {
    runs,
    logger,
    started,
    finishAll: () =>
      pending.forEach(d => d.resolve({ item: 0, durationMs: 0, attempts: 1, error: undefined, interrupted: false })),
  };
}

describe('ItemRuns drain', () => {
  it('logs a warn naming the job, the item and how long it ran for a handler abandoned after the deadline', async () => {
    const f = fixture(false);
    f.runs.start(claimed(2), () => undefined);
    await f.started.promise;
    await f.runs.drain(5);
    const warns = f.logger.lines.filter(l => l.level === 'warn');
    expect(warns).to.have.length(1);
    expect(warns[0]?.msg).to.equal('handler abandoned after the drain deadline');
    expect(warns[0]?.fields).to.include({ job: 'order-sync', item: 2, drainTimeoutMs: 5 });
    expect(warns[0]?.fields?.ranForMs).to.be.a('number').and.at.least(5);
    f.finishAll();
  });

  it('logs nothing when the aborted handler stops within the grace', async () => {
    const f = fixture(true);
    f.runs.start(claimed(1), () => undefined);
    await f.started.promise;
    await f.runs.drain(5);
    expect(f.logger.lines.filter(l => l.level === 'warn')).to.deep.equal([]);
    expect(f.runs.size).to.equal(0);
  });
});
