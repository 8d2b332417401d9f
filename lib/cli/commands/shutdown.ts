import type { Command } from 'commander';
import { withCommonOptions, withOperations, type CommonOptions } from '../cli-context';
import { printJson, printLine } from '../output';

/**
 * `shardline shutdown <job>`: stop the job on every live instance (each worker keeps its other jobs).
 * `--json` prints `{ "job", "instances": [ids asked] }`.
 */
export function registerShutdownCommand(program: Command): void {
  withCommonOptions(program.command('shutdown'))
    .argument('<job>', 'job name')
    .description('stop the job on every live instance (workers keep their other jobs)')
    .action(async (job: string, options: CommonOptions) => {
      const result = await withOperations(options, 'shutdown', ops => ops.shutdown(job));
      if (options.json) {
        printJson(result);
      } else if (result.instances.length === 0) {
        printLine(`job ${job} has no live instance: nothing to shut down`);
      } else {
        printLine(`asked ${result.instances.join(', ')} to shut down job ${job}`);
      }
    });
}
