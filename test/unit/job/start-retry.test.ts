import { expect } from 'chai';
import { ConnectionLossError, InstanceIdConflictError } from '../../../lib/errors';
import { noopLogger } from '../../../lib/logger';
import { StartSteps, startRetryWindowMs } from '../../../lib/job/start-retry';

function steps(deadlineInMs: number, stopped = () => false): StartSteps {
  return new StartSteps({
    deadline: Date.now() + deadlineInMs,
    logger: noopLogger,
    isStopped: stopped,
    random: () => 0, // the shortest delay of each draw: 50 ms, then 100 ms, …
  });
}

describe('job start steps', () => {
  it('tries a step again after a retryable failure (a server died mid-start) until it succeeds', async () => {
    let tries = 0;
    const result = await steps(10_000).run('register the instance', () => {
      tries++;
      return tries < 3
        ? Promise.reject(new ConnectionLossError('multi: connection to ZooKeeper lost'))
        : Promise.resolve('registered');
    });
    expect(result).to.equal('registered');
    expect(tries).to.equal(3);
  });

  it('ends the start at once on an error that is not retryable', async () => {
    let tries = 0;
    const conflict = new InstanceIdConflictError('pod-a', '/j/instances/pod-a', {
      host: 'h',
      pid: 1,
      since: 0,
    });
    const err = await steps(10_000)
      .run('register the instance', () => {
        tries++;
        return Promise.reject(conflict);
      })
      .catch((e: unknown) => e);
    expect(err).to.equal(conflict);
    expect(tries).to.equal(1);
  });

  it('gives up with the last error once the next try would pass the deadline', async () => {
    let tries = 0;
    const err = await steps(120)
      .run('write or adopt the configuration', () => {
        tries++;
        return Promise.reject(new ConnectionLossError(`lost ${tries}`));
      })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ConnectionLossError);
    expect(tries, 'tries within 120 ms at 50 + 100 ms delays').to.equal(2);
    expect((err as Error).message).to.equal('lost 2');
  });

  it('gives up when the job was stopped meanwhile', async () => {
    let tries = 0;
    let stopped = false;
    const err = await steps(10_000, () => stopped)
      .run('request a resharding', () => {
        tries++;
        stopped = true;
        return Promise.reject(new ConnectionLossError('lost'));
      })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ConnectionLossError);
    expect(tries).to.equal(1);
  });

  it('retries for two session timeouts, at least 10 s', () => {
    expect(startRetryWindowMs(2000)).to.equal(10_000);
    expect(startRetryWindowMs(30_000)).to.equal(60_000);
  });
});
