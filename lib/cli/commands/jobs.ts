import type { Command } from 'commander';
import { withCommonOptions, withOperations, type CommonOptions } from '../cli-context';
import { printJson, printLine, printTable } from '../output';

/**
 * `shardline jobs`: every job of the namespace with its status, cron, item count and live instances.
 * `--json` prints `[{ "job", "status", "cron", "shardingTotalCount", "instances": n }]`; a job whose
 * configuration cannot be read has status `CORRUPTED`, `cron` and `shardingTotalCount` null, and the
 * unreadable `path` with the `reason` (the table names them under the rows).
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
          j.status === 'CORRUPTED' ? '-' : (j.cron ?? '(one-off)'),
          j.status === 'CORRUPTED' ? '-' : String(j.shardingTotalCount),
          String(j.instances),
        ]),
      );
      for (const j of jobs) {
        if (j.status === 'CORRUPTED') {
          printLine(`${j.job}: unreadable data at ${j.path}: ${j.reason}`);
        }
      }
    });
}
