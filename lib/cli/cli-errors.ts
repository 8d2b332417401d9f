import { CommanderError } from 'commander';
import {
  ConfigurationError,
  InvalidArgumentError,
  InvalidPathError,
  RegistryConnectionError,
} from '../errors';

/**
 * How the CLI reports a failure: ONE line `shardline: <reason>` on stderr and an exit code. Exit 2 for a
 * usage error: commander's, `UsageError`, a bad argument or path (`InvalidArgumentError`,
 * `InvalidPathError`) and a malformed registry URL (`ConfigurationError` on the field `url`). Exit 1 for
 * everything else, whichever branch of `ShardlineError` (coordination, job, other configuration) or plain
 * `Error` it is. Stack traces only with `SHARDLINE_DEBUG=1`.
 */

/** Exit code of a usage error (bad option, missing argument, malformed registry URL, …). */
export const EXIT_USAGE = 2;
/** Exit code of every other failure. */
export const EXIT_FAILURE = 1;

/** A command line that cannot be carried out as written. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Wraps a failure with a message for the CLI user, keeping the original as `cause`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export interface Failure {
  message: string;
  exitCode: number;
}

/** The line (without the `shardline: ` prefix) and exit code for `err`. */
export function describeFailure(err: unknown): Failure {
  if (err instanceof CommanderError) {
    return { message: stripCommanderPrefix(err.message), exitCode: EXIT_USAGE };
  }
  const message = oneLine(err instanceof Error ? err.message : String(err));
  if (err instanceof CliError) {
    return { message, exitCode: err.exitCode };
  }
  if (
    err instanceof UsageError ||
    err instanceof InvalidArgumentError ||
    err instanceof InvalidPathError ||
    (err instanceof ConfigurationError && err.field === 'url')
  ) {
    return { message, exitCode: EXIT_USAGE };
  }
  return { message, exitCode: EXIT_FAILURE };
}

/** Adds what a CLI user can do about an unreachable registry. */
export function explainConnectionFailure(err: unknown, connectTimeoutMs: number): unknown {
  if (!(err instanceof RegistryConnectionError)) {
    return err;
  }
  return new CliError(
    `${err.message} (is the registry running? the CLI waits connectTimeoutMs=${connectTimeoutMs} ms; ` +
      'change it with ?connectTimeoutMs=<ms> in the registry URL)',
    EXIT_FAILURE,
    { cause: err },
  );
}

/** Writes the failure line, plus the stack and causes when `SHARDLINE_DEBUG=1`; returns the exit code. */
export function reportFailure(err: unknown, writeErr: (text: string) => void): number {
  const { message, exitCode } = describeFailure(err);
  writeErr(`shardline: ${message}\n`);
  if (process.env.SHARDLINE_DEBUG === '1') {
    let current: unknown = err;
    while (current instanceof Error) {
      writeErr(`${current.stack ?? current.message}\n`);
      current = current.cause;
      if (current !== undefined) {
        writeErr('caused by: ');
      }
    }
  }
  return exitCode;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** commander's messages start with "error: "; ours start with "shardline: ". */
export function stripCommanderPrefix(text: string): string {
  return oneLine(text.replace(/^error:\s*/i, ''));
}
