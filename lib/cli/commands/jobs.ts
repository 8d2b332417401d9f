import type { Command } from 'commander';
import { withCommonOptions, withOperations, type CommonOptions } from '../cli-context';
import { printJson, printLine, printTable } from '../output';

/**
 * `shardline jobs`: every job of the namespace with its status, cron, item count and live instances.
 * `--json` prints `[{ "job", "status", "cron", "shardingTotalCount", "instances": n }]`.
 */
export function registerJobsCommand(program: Command): void {
  withCommonOptions(program.command('jobs'))
    .description('list the jobs of the namespace')
    .action(async (options: CommonOptions) => {
      const jobs = await withOperations(options, 'jobs', ops => ops.listJobs());
      if (options.json) {
        printJson(jobs);
        return;
      }
      if (jobs.length === 0) {
        printLine('no jobs');
        return;
      }
      printTable(
        ['JOB', 'STATUS', 'CRON', 'ITEMS', 'INSTANCES'],
        jobs.map(j => [
          j.job,
          j.status,
          j.cron ?? '(one-off)',
          String(j.shardingTotalCount),
          String(j.instances),
        ]),
      );
    });
}
