import { InvalidArgumentError, type Command } from 'commander';
import type { ToggleResult } from '../../ops/operations-api';
import { withCommonOptions, withOperations, type CommonOptions } from '../cli-context';
import { UsageError } from '../cli-errors';
import { printJson, printLine } from '../output';

interface ToggleOptions extends CommonOptions {
  server?: string;
  item?: number;
}

/**
 * `shardline disable|enable <job> [--server <ip>] [--item <n>]`. Without an option: the whole job
 * (`config.disabled`). `--server`: the job's instances on that IP. `--item`: one sharding item, for the
 * whole job. The two options cannot be combined (usage error). `--json` prints
 * `{ "job", "scope": "job"|"server"|"item", "server", "item", "enabled" }`.
 */
export function registerToggleCommands(program: Command): void {
  for (const enabled of [false, true]) {
    const name = enabled ? 'enable' : 'disable';
    withCommonOptions(program.command(name))
      .argument('<job>', 'job name')
      .option('--server <ip>', `${name} the job on one server only`)
      .option('--item <n>', `${name} one sharding item only`, parseItem)
      .description(
        enabled
          ? 'enable a job, its instances on one server, or one sharding item'
          : 'disable a job, its instances on one server, or one sharding item',
      )
      .action(async (job: string, options: ToggleOptions) => {
        if (options.server !== undefined && options.item !== undefined) {
          throw new UsageError(
            '--server and --item cannot be combined: an item is disabled or enabled for the whole job',
          );
        }
        const target = { server: options.server, item: options.item };
        const result = await withOperations(options, name, ops =>
          enabled ? ops.enable(job, target) : ops.disable(job, target),
        );
        if (options.json) {
          printJson(result);
        } else {
          printLine(describe(result));
        }
      });
  }
}

function describe(r: ToggleResult): string {
  const verb = r.enabled ? 'enabled' : 'disabled';
  switch (r.scope) {
    case 'server':
      return `${verb} job ${r.job} on server ${String(r.server)}`;
    case 'item':
      return `${verb} item ${String(r.item)} of job ${r.job}`;
    default:
      return `${verb} job ${r.job}`;
  }
}

function parseItem(value: string): number {
  if (!/^(0|[1-9]\d*)$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('an item is a non-negative integer.');
  }
  return Number(value);
}
