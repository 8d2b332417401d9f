import type { Command } from 'commander';
import { withCommonOptions, withOperations, type CommonOptions } from '../cli-context';
import { printJson, printLine } from '../output';

/**
 * `shardline trigger <job>`: run the job once now on every live instance. `--json` prints
 * `{ "job", "instances": [ids asked] }`.
 */
export function registerTriggerCommand(program: Command): void {
  withCommonOptions(program.command('trigger'))
    .argument('<job>', 'job name')
    .description('run the job once now on every live instance')
    .action(async (job: string, options: CommonOptions) => {
      const result = await withOperations(options, 'trigger', ops => ops.trigger(job));
      if (options.json) {
        printJson(result);
      } else if (result.instances.length === 0) {
        printLine(`job ${job} has no live instance: nothing was triggered`);
      } else {
        printLine(`triggered job ${job} on ${result.instances.join(', ')}`);
      }
    });
}
