import type { Command } from 'commander';
import { withCommonOptions, withOperations, type CommonOptions } from '../cli-context';
import { printJson, printLine } from '../output';

interface RemoveCommandOptions extends CommonOptions {
  force: boolean;
}

/**
 * `shardline remove <job> [--force]`: delete the job from the registry. Refused while instances are
 * alive unless `--force`, and always when `/{job}` is not only a Shardline job (its config does not parse,
 * or it holds other nodes, such as a namespace nested inside the job name). `--json` prints
 * `{ "job", "liveInstances": [ids alive at removal] }`.
 */
export function registerRemoveCommand(program: Command): void {
  withCommonOptions(program.command('remove'))
    .argument('<job>', 'job name')
    .option('--force', 'remove even while instances are alive', false)
    .description('delete the job (refused while instances are alive unless --force)')
    .action(async (job: string, options: RemoveCommandOptions) => {
      const result = await withOperations(options, 'remove', ops =>
        ops.remove(job, { force: options.force }),
      );
      if (options.json) {
        printJson(result);
      } else if (result.liveInstances.length > 0) {
        printLine(
          `removed job ${job} (live instances lost it: ${result.liveInstances.join(', ')})`,
        );
      } else {
        printLine(`removed job ${job}`);
      }
    });
}
