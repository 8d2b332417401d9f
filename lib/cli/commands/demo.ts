import type { Command } from 'commander';
import { runDemo } from '../demo';
import { printLine } from '../output';
import { parsePort, untilSignal } from './console';

interface DemoCliOptions {
  console: boolean;
  consolePort: number;
  keepOpen: boolean;
}

/**
 * `shardline demo [--keep-open] [--console-port <p>] [--no-console]`: the quickstart on the embedded
 * registry (see `lib/cli/demo.ts`), with the web console on 127.0.0.1 while it runs. `--keep-open` keeps
 * the workers and the console running after the scenario until SIGINT / SIGTERM.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the quickstart on the embedded registry, with the web console')
    .option('--keep-open', 'keep the workers and the console running until Ctrl-C', false)
    .option('--console-port <port>', 'port of the web console (0: any free port)', parsePort, 8899)
    .option('--no-console', 'do not serve the web console')
    .action(async (options: DemoCliOptions) => {
      const keepOpenUntil = options.keepOpen ? untilSignal() : undefined;
      await runDemo(
        printLine,
        options.console
          ? { console: { port: options.consolePort, ...(keepOpenUntil ? { keepOpenUntil } : {}) } }
          : {},
      );
    });
}
