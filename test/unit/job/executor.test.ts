import { expect } from 'chai';
import { JobExecutionError, OwnershipLostError } from '../../../lib/errors';
import { defineJob, type ShardingContext } from '../../../lib/job/define-job';
import { Executor, type ItemRun } from '../../../lib/job/executor';
import { noopLogger } from '../../../lib/logger';

/** The per-item runner: context, retries with backoff, timeouts, ownership checks. */
describe('Executor', () => {
  function request(
    execute: (ctx: ShardingContext) => Promise<void> | void,
    overrides: Parameters<typeof defineJob>[0] extends infer O ? Partial<O & object> : never = {},
    signal = new AbortController().signal,
  ): { executor: Executor; run: ItemRun } {
    const definition = defineJob({
      name: 'job',
      shardingTotalCount: 2,
      shardingItemParameters: '0=A,1=B',
      jobParameter: 'jp',
      execute,
      ...(overrides as object),
    });
    return {
      executor: new Executor(definition, 'w-1', noopLogger, () => undefined),
      run: { item: 1, fencingToken: 7, failover: false, config: definition.config, signal },
    };
  }

  it('hands the handler the item, its parameter, the fencing token and a task id', async () => {
    let seen: ShardingContext | undefined;
    const { executor, run } = request(ctx => {
      seen = ctx;
    });
    const outcome = await executor.run(run);
    expect(outcome.error).to.equal(undefined);
    expect(outcome.attempts).to.equal(1);
    expect(seen).to.include({
      jobName: 'job',
      shardingItem: 1,
      shardingParameter: 'B',
      shardingTotalCount: 2,
      jobParameter: 'jp',
      instanceId: 'w-1',
      fencingToken: 7,
      attempt: 1,
      failover: false,
    });
    expect(seen!.taskId).to.match(/^job@-@1@-@w-1@-@\d+$/);
  });

  it('retries a failing handler with backoff and succeeds within the attempts', async () => {
    const attempts: number[] = [];
    const { executor, run } = request(
      ctx => {
        attempts.push(ctx.attempt);
        if (ctx.attempt < 3) {
          throw new Error(`fail ${ctx.attempt}`);
        }
      },
      { retry: { attempts: 3, backoffMs: 1, maxBackoffMs: 2 } },
    );
    const outcome = await executor.run(run);
    expect(outcome.error).to.equal(undefined);
    expect(outcome.attempts).to.equal(3);
    expect(attempts).to.deep.equal([1, 2, 3]);
  });

  it('wraps the last failure in a JobExecutionError with the cause', async () => {
    const { executor, run } = request(
      () => {
        throw new Error('always');
      },
      { retry: { attempts: 2, backoffMs: 1 } },
    );
    const outcome = await executor.run(run);
    expect(outcome.attempts).to.equal(2);
    expect(outcome.error).to.be.instanceOf(JobExecutionError);
    expect(outcome.error!.message).to.contain('job job item 1: always');
    expect((outcome.error!.cause as Error).message).to.equal('always');
  });

  it('aborts the signal at the per-item timeout and reports it', async () => {
    const { executor, run } = request(
      ctx => new Promise<void>(resolve => ctx.signal.addEventListener('abort', () => resolve())),
      { timeoutMs: 30 },
    );
    const outcome = await executor.run(run);
    expect(outcome.error!.message).to.contain('timed out after 30 ms');
  });

  it('checkOwnership throws OwnershipLostError once the run is aborted, and no retry follows', async () => {
    const controller = new AbortController();
    let calls = 0;
    const { executor, run } = request(
      ctx => {
        calls++;
        ctx.checkOwnership();
        controller.abort(new Error('the registry session was lost'));
        ctx.checkOwnership();
      },
      { retry: { attempts: 3, backoffMs: 1 } },
      controller.signal,
    );
    const outcome = await executor.run(run);
    expect(calls).to.equal(1);
    expect(outcome.error!.cause).to.be.instanceOf(OwnershipLostError);
    expect(outcome.error!.message).to.contain('ownership lost (the registry session was lost)');
  });
});
