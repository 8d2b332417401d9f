import type { Command } from 'commander';
import { runDemo } from '../demo';
import { printLine } from '../output';

/** `shardline demo`: the quickstart on the embedded registry (see `lib/cli/demo.ts`). */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the quickstart on the embedded registry')
    .action(async () => {
      await runDemo(printLine);
    });
}
