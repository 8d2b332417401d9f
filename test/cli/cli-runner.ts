import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { trackChild } from '../harness/process';

/** The CLI entry point, run through tsx as a user of the sources would. */
export const CLI_MAIN = join(__dirname, '..', '..', 'lib', 'cli', 'main.ts');
const TSX = pathToFileURL(require.resolve('tsx')).href;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running `shardline` child: its output so far, and its end. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly done: Promise<CliResult>;
}

/**
 * Starts `node --import tsx lib/cli/main.ts ...args` with SHARDLINE_REGISTRY / SHARDLINE_DEBUG cleared
 * (unless given in `env`). Tests call {@link killSpawned} in an after hook; the harness also SIGKILLs
 * whatever outlives the test run.
 */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.SHARDLINE_REGISTRY;
  delete childEnv.SHARDLINE_DEBUG;
  const child = spawn(process.execPath, ['--import', TSX, CLI_MAIN, ...args], {
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  spawned.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null) => resolve({ code, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/**
 * Resolves with stdout so far once it matches `pattern`; rejects when the process ends first or after
 * `timeoutMs`, with both streams in the message.
 */
export function waitForStdout(
  cli: CliProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(cli.stdout())) {
        finish();
        resolve(cli.stdout());
      }
    };
    const ended = (): void => {
      finish();
      reject(new Error(`the CLI ended before printing ${String(pattern)}: ${describe(cli)}`));
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms: ${describe(cli)}`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      cli.child.stdout?.off('data', check);
      cli.child.off('close', ended);
    };
    cli.child.stdout?.on('data', check);
    cli.child.once('close', ended);
    check();
  });
}

function describe(cli: CliProcess): string {
  return `stdout=${JSON.stringify(cli.stdout())} stderr=${JSON.stringify(cli.stderr().slice(-2000))}`;
}

/** Runs the CLI to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

const spawned: ChildProcess[] = [];

/** For after hooks: SIGKILLs, by PID, every child started here that is still running. */
export function killSpawned(): void {
  for (const child of spawned.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}
