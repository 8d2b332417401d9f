#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_USAGE, reportFailure, stripCommanderPrefix, UsageError } from './cli-errors';
import { registerConsoleCommand } from './commands/console';
import { registerDemoCommand } from './commands/demo';
import { registerJobsCommand } from './commands/jobs';
import { registerRemoveCommand } from './commands/remove';
import { registerRunCommand } from './commands/run';
import { registerShutdownCommand } from './commands/shutdown';
import { registerStatusCommand } from './commands/status';
import { registerToggleCommands } from './commands/toggle';
import { registerTriggerCommand } from './commands/trigger';
import { tolerateClosedOutput } from './output';

/**
 * Where the CLI's own texts go (help, `--version`, the failure line). Command output proper is printed
 * to stdout by the commands (`output.ts`).
 */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const PROCESS_IO: CliIo = {
  out: text => {
    process.stdout.write(text);
  },
  err: text => {
    process.stderr.write(text);
  },
};

/**
 * The `shardline` command: `run`, `jobs`, `status`, `trigger`, `disable`, `enable`, `shutdown`, `remove`,
 * `console` and `demo` (docs/operations.md). Commands are thin: parse, call the operations API, print.
 *
 * Every failure ends with ONE line `shardline: <reason>` on stderr and exit code 1 (2 for usage errors);
 * `SHARDLINE_DEBUG=1` adds the stack. Every command closes its registry before returning, so the process
 * ends by itself: the exit code is set through `process.exitCode`.
 */
export async function main(argv: string[], io: CliIo = PROCESS_IO): Promise<number> {
  const writeErr = io.err;
  const program = new Command()
    .name('shardline')
    .description('Distributed sharding jobs over ZooKeeper, etcd or an embedded registry')
    .version(packageVersion(), '-V, --version', 'print the version of shardline')
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      // commander's own errors (unknown option, missing argument…) become our one line too.
      outputError: (text, write) =>
        write(`shardline: ${stripCommanderPrefix(text)} (see 'shardline --help')\n`),
    });
  registerRunCommand(program);
  registerJobsCommand(program);
  registerStatusCommand(program);
  registerTriggerCommand(program);
  registerToggleCommands(program);
  registerShutdownCommand(program);
  registerRemoveCommand(program);
  registerConsoleCommand(program);
  registerDemoCommand(program);
  try {
    if (argv.length <= 2) {
      throw new UsageError("no command given (see 'shardline --help')");
    }
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with 0; anything else commander already reported through outputError.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return reportFailure(err, writeErr);
  }
}

/**
 * The `version` of our package.json, which sits two levels up both from `lib/cli/main.ts` and from the
 * built `dist/cli/main.js`.
 */
function packageVersion(): string {
  const raw = readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8');
  return (JSON.parse(raw) as { version: string }).version;
}

/** Force the exit if something (a driver's socket or timer) still holds the event loop this long after. */
const EXIT_GRACE_MS = 3000;

if (require.main === module) {
  tolerateClosedOutput();
  void main(process.argv).then(code => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  });
}
