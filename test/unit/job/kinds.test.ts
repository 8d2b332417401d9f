import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { JobExecutionError, OwnershipLostError } from '../../../lib/errors';
import { runDataflow } from '../../../lib/job/kinds/dataflow-kind';
import { runScript } from '../../../lib/job/kinds/script-kind';
import { runSimple } from '../../../lib/job/kinds/simple-kind';
import { ms } from '../../harness/timing';
import { fakeContext } from './kinds-fixture';

/** True while `pid` runs (a zombie awaiting its reaper counts as gone). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

const stdoutLines = (ctx: ReturnType<typeof fakeContext>): string[] =>
  ctx.logger.lines.filter(l => l.fields?.stream === 'stdout').map(l => String(l.fields?.line));

describe('job kinds', () => {
  describe('simple', () => {
    it('awaits execute with the context', async () => {
      const ctx = fakeContext();
      const seen: number[] = [];
      await runSimple(ctx, async c => {
        await Promise.resolve();
        seen.push(c.shardingItem);
      });
      expect(seen).to.deep.equal([1]);
    });

    it('rejects with the handler error, sync or async', async () => {
      await expect(
        runSimple(fakeContext(), () => Promise.reject(new Error('async'))),
      ).to.be.rejectedWith('async');
      await expect(
        runSimple(fakeContext(), () => {
          throw new Error('sync');
        }),
      ).to.be.rejectedWith('sync');
    });

    it('does not start on an aborted context', async () => {
      const controller = new AbortController();
      controller.abort();
      let called = false;
      await expect(
        runSimple(fakeContext(controller), () => void (called = true)),
      ).to.be.rejectedWith(OwnershipLostError);
      expect(called).to.equal(false);
    });
  });

  describe('dataflow', () => {
    it('one pass: fetches once and processes a non-empty batch', async () => {
      const calls: string[] = [];
      await runDataflow(
        fakeContext(),
        {
          fetchData: () => (calls.push('fetch'), [1, 2]),
          processData: (_c, data) => void calls.push(`process ${data.join(',')}`),
        },
        false,
      );
      expect(calls).to.deep.equal(['fetch', 'process 1,2']);
    });

    it('one pass: does not process an empty batch', async () => {
      const calls: string[] = [];
      await runDataflow(
        fakeContext(),
        {
          fetchData: () => (calls.push('fetch'), []),
          processData: () => void calls.push('process'),
        },
        false,
      );
      expect(calls).to.deep.equal(['fetch']);
    });

    it('streaming: fetch → process until a fetch returns []', async () => {
      const batches = [[1, 2], [3], []];
      const processed: number[][] = [];
      let fetches = 0;
      await runDataflow(
        fakeContext(),
        {
          fetchData: () => Promise.resolve((fetches++, batches.shift() ?? [9])),
          processData: (_c, data) => Promise.resolve(void processed.push(data)),
        },
        true,
      );
      expect(processed).to.deep.equal([[1, 2], [3]]);
      expect(fetches).to.equal(3);
    });

    it('streaming: stops between batches when the signal aborts', async () => {
      const controller = new AbortController();
      const processed: number[] = [];
      let n = 0;
      const run = runDataflow(
        fakeContext(controller),
        {
          fetchData: () => [++n],
          processData: (_c, data) => {
            processed.push(...data);
            if (n === 3) {
              controller.abort();
            }
          },
        },
        true,
      );
      await expect(run).to.be.rejectedWith(OwnershipLostError);
      expect(processed).to.deep.equal([1, 2, 3]);
    });

    it('does not process a batch fetched after the abort', async () => {
      const controller = new AbortController();
      let processed = false;
      const run = runDataflow(
        fakeContext(controller),
        {
          fetchData: () => (controller.abort(), [1]),
          processData: () => void (processed = true),
        },
        false,
      );
      await expect(run).to.be.rejectedWith(OwnershipLostError);
      expect(processed).to.equal(false);
    });

    it('rejects a fetch that does not return an array', async () => {
      const run = runDataflow(
        fakeContext(),
        { fetchData: () => null as unknown as number[], processData: () => undefined },
        false,
      );
      await expect(run).to.be.rejectedWith(JobExecutionError, /fetchData must return an array/);
    });
  });

  describe('script', function () {
    this.timeout(ms(10000));

    it('runs the command with the context JSON as its last argument', async () => {
      const ctx = fakeContext();
      await runScript(ctx, 'printf "%s\\n" first; printf "%s\\n"');
      const lines = stdoutLines(ctx);
      expect(lines[0]).to.equal('first');
      expect(JSON.parse(lines[1] ?? '')).to.deep.equal({
        jobName: 'order-sync',
        taskId: 'order-sync@-@1@-@READY@-@pod-a',
        shardingItem: 1,
        shardingParameter: 'Shanghai',
        shardingTotalCount: 3,
        jobParameter: 'p',
        instanceId: 'pod-a',
        fencingToken: 7,
      });
    });

    it('logs stderr lines at warn', async () => {
      const ctx = fakeContext();
      await runScript(ctx, 'echo oops >&2; true');
      expect(ctx.logger.lines).to.deep.include({
        level: 'warn',
        msg: 'script output',
        fields: { stream: 'stderr', line: 'oops' },
      });
    });

    it('rejects a non-zero exit with JobExecutionError carrying the code and the stderr tail', async () => {
      const ctx = fakeContext();
      const command =
        'i=0; while [ $i -lt 300 ]; do echo "noise $i" >&2; i=$((i+1)); done; echo "the real reason" >&2; exit 3; :';
      const err = (await runScript(ctx, command).then(
        () => expect.fail('expected a rejection'),
        (e: unknown) => e,
      )) as JobExecutionError;
      expect(err).to.be.instanceOf(JobExecutionError);
      expect(err.jobName).to.equal('order-sync');
      expect(err.item).to.equal(1);
      expect(err.message).to.contain('exited with code 3');
      expect(err.message).to.contain('the real reason');
      expect(err.message).not.to.contain('noise 0\n');
      expect(err.message.length).to.be.lessThan(1300);
    });

    it('reports a death by signal', async () => {
      await expect(runScript(fakeContext(), 'kill -9 $$; :')).to.be.rejectedWith(
        JobExecutionError,
        /SIGKILL/,
      );
    });

    it('kills the process group promptly when the signal aborts', async () => {
      const controller = new AbortController();
      const ctx = fakeContext(controller);
      const started = Date.now();
      const run = runScript(ctx, 'sleep 30 & echo $!; sleep 30; :');
      await until(() => stdoutLines(ctx).length > 0, ms(5000));
      const background = Number(stdoutLines(ctx)[0]);
      expect(isAlive(background)).to.equal(true);
      const abortedAt = Date.now();
      controller.abort(new Error('stop'));
      const err = (await run.then(
        () => expect.fail('expected a rejection'),
        (e: unknown) => e,
      )) as JobExecutionError;
      expect(err).to.be.instanceOf(JobExecutionError);
      expect(err.message).to.match(/aborted; script ended by signal SIGTERM/);
      expect((err.cause as Error).message).to.equal('stop');
      expect(Date.now() - abortedAt).to.be.lessThan(ms(500));
      await until(() => !isAlive(background), ms(300));
      expect(Date.now() - started).to.be.lessThan(ms(3000));
    });

    it('escalates to SIGKILL after 2 s when SIGTERM is ignored', async () => {
      const controller = new AbortController();
      const ctx = fakeContext(controller);
      const run = runScript(ctx, "trap '' TERM; echo ready; while :; do sleep 0.05; done; :");
      await until(() => stdoutLines(ctx).length > 0, ms(5000));
      const abortedAt = Date.now();
      controller.abort();
      await expect(run).to.be.rejectedWith(JobExecutionError, /SIGKILL/);
      const took = Date.now() - abortedAt;
      expect(took).to.be.at.least(1900);
      expect(took).to.be.lessThan(ms(3500));
    });

    it('does not leave the process group behind when the shell exits', async () => {
      const ctx = fakeContext();
      await runScript(ctx, 'sleep 30 & echo $!; :');
      const background = Number(stdoutLines(ctx)[0]);
      await until(() => !isAlive(background), ms(1000));
    });

    it('does not spawn on an aborted context', async () => {
      const controller = new AbortController();
      controller.abort();
      const ctx = fakeContext(controller);
      await expect(runScript(ctx, 'echo ran')).to.be.rejectedWith(OwnershipLostError);
      expect(stdoutLines(ctx)).to.deep.equal([]);
    });
  });
});
