import type { Command } from 'commander';
import { withCommonOptions, withOperations, type CommonOptions } from '../cli-context';
import { printJson, printLine, printTable } from '../output';

/**
 * `shardline status <job>`: the job's status, leader, live instances and items. `--json` prints
 * `{ "job", "status", "leader", "instances": [ids], "items": [{ "item", "instanceId", "status", "failover" }] }`,
 * plus `"corrupted": [{ "path", "reason" }]` when some instance node cannot be read (it is no instance).
 */
export function registerStatusCommand(program: Command): void {
  withCommonOptions(program.command('status'))
    .argument('<job>', 'job name')
    .description("show a job's status, leader, instances and sharding items")
    .action(async (job: string, options: CommonOptions) => {
      const status = await withOperations(options, 'status', ops => ops.getJobStatus(job));
      if (options.json) {
        printJson(status);
        return;
      }
      printLine(`job:       ${status.job}`);
      printLine(`status:    ${status.status}`);
      printLine(`leader:    ${status.leader ?? '(none)'}`);
      printLine(
        `instances: ${status.instances.length === 0 ? '(none)' : status.instances.join(', ')}`,
      );
      for (const node of status.corrupted ?? []) {
        printLine(`corrupted: ${node.path}: ${node.reason}`);
      }
      printLine();
      printTable(
        ['ITEM', 'INSTANCE', 'STATUS', 'FAILOVER'],
        status.items.map(i => [
          String(i.item),
          i.instanceId ?? '-',
          i.status,
          i.failover ? 'yes' : 'no',
        ]),
      );
    });
}
