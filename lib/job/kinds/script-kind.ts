import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { JobExecutionError } from '../../errors';
import type { ShardingContext } from './sharding-context';

/** Grace between SIGTERM and SIGKILL when an execution is aborted. */
export const SCRIPT_KILL_GRACE_MS = 2000;
/** How much of the end of stderr a failure message carries. */
export const SCRIPT_STDERR_TAIL = 1024;
const MAX_LINE = 8192;
/** After the shell exits, how long its output pipes may stay open (held by leftover children). */
const CLOSE_GRACE_MS = 200;

/** The JSON handed to a script as its last argument. */
export function scriptContextJson(ctx: ShardingContext): string {
  const { jobName, taskId, shardingItem, shardingParameter, shardingTotalCount } = ctx;
  const { jobParameter, instanceId, fencingToken } = ctx;
  return JSON.stringify({
    jobName,
    taskId,
    shardingItem,
    shardingParameter,
    shardingTotalCount,
    jobParameter,
    instanceId,
    fencingToken,
  });
}

/**
 * Runs a script job for one item, once: `/bin/sh -c '<command> "$1"' shardline <contextJson>`, so the command
 * gets the context JSON (see {@link scriptContextJson}) as its last argument. The process runs in its own
 * process group; stdout lines are logged at info, stderr lines at warn (`'script output'`).
 *
 * Failure semantics: exit code 0 resolves. A non-zero exit or a death by signal rejects with
 * JobExecutionError carrying the code/signal and the last ~1 KB of stderr. When `ctx.signal` aborts, the
 * whole process group gets SIGTERM, then SIGKILL after 2 s, and the promise rejects (JobExecutionError,
 * `cause` = the abort reason) only once the shell has exited. The process group does not outlive the run:
 * children left behind when the shell exits get SIGTERM.
 */
export async function runScript(ctx: ShardingContext, command: string): Promise<void> {
  ctx.checkOwnership();
  const { jobName, shardingItem: item, signal, logger } = ctx;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${command} "$1"`, 'shardline', scriptContextJson(ctx)], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderrTail = '';
    let killTimer: NodeJS.Timeout | undefined;
    let aborted = false;
    let settled = false;
    const open = new Set<Readable>();

    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) {
        return;
      }
      try {
        process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is already gone.
      }
    };
    const onAbort = (): void => {
      aborted = true;
      logger.warn('script aborted', { pid: child.pid });
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), SCRIPT_KILL_GRACE_MS);
    };
    const finish = (error: Error | undefined): void => {
      if (settled) {
        return;
      }
      settled = true;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (error === undefined) {
        resolve();
      } else {
        reject(error);
      }
    };

    const pipe = (stream: Readable, name: 'stdout' | 'stderr'): void => {
      open.add(stream);
      let partial = '';
      const emit = (line: string): void => {
        if (name === 'stdout') {
          logger.info('script output', { stream: name, line });
        } else {
          logger.warn('script output', { stream: name, line });
        }
      };
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        if (name === 'stderr') {
          stderrTail = (stderrTail + chunk).slice(-SCRIPT_STDERR_TAIL);
        }
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        lines.forEach(emit);
        while (partial.length > MAX_LINE) {
          emit(partial.slice(0, MAX_LINE));
          partial = partial.slice(MAX_LINE);
        }
      });
      stream.on('close', () => {
        if (partial !== '') {
          emit(partial);
        }
        open.delete(stream);
      });
    };
    pipe(child.stdout, 'stdout');
    pipe(child.stderr, 'stderr');

    child.on('error', err => {
      finish(
        new JobExecutionError(jobName, item, `could not start script: ${err.message}`, {
          cause: err,
        }),
      );
    });
    child.on('exit', (code, sig) => {
      const outcome = (): Error | undefined => {
        const tail = stderrTail.trim() === '' ? '' : `; stderr: ${stderrTail.trim()}`;
        if (code === 0) {
          return undefined;
        }
        if (aborted) {
          const how = sig === null ? `exit code ${String(code)}` : `signal ${sig}`;
          return new JobExecutionError(jobName, item, `aborted; script ended by ${how}${tail}`, {
            cause: signal.reason,
          });
        }
        const how =
          sig === null ? `exited with code ${String(code)}` : `was killed by signal ${sig}`;
        return new JobExecutionError(jobName, item, `script ${how}${tail}`);
      };
      if (open.size === 0) {
        finish(outcome());
        return;
      }
      // Leftover children hold the pipes: end the group, then give the pipes a moment to drain.
      killGroup('SIGTERM');
      const done = (): void => {
        clearTimeout(grace);
        finish(outcome());
      };
      const grace = setTimeout(() => {
        open.forEach(stream => stream.destroy());
        done();
      }, CLOSE_GRACE_MS);
      child.on('close', done);
    });

    if (signal.aborted) {
      onAbort();
    } else {
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}
