import { RegistryCommandRefusedError } from '../../errors';
import type { Logger } from '../../logger';
import type { JobDefinition, ShardingContext } from '../define-job';
import type { JobConfig } from '../job-config';
import { JobPaths } from '../job-paths';

export interface ScriptCommandPolicy {
  /** Run the command stored in the registry when it differs from the definition's (worker opt-in). */
  allowRegistryCommand: boolean;
  /** Where a refused stored command is reported (the worker's `error` event). */
  report(err: RegistryCommandRefusedError): void;
  logger: Logger;
}

export interface GuardedDefinition {
  definition: JobDefinition;
  /** Judges a stored configuration now (at start-up), reporting a differing command as a run would. */
  inspect: (stored: JobConfig) => void;
}

const LOGGED_COMMAND_CHARS = 200;

/**
 * Registry data never becomes code: decides which command a script job runs on this worker.
 *
 * - The stored command equals the definition's (or is absent): the definition's runs.
 * - It differs, without `allowRegistryCommand`: the definition's runs, and the difference is reported —
 *   `RegistryCommandRefusedError` (naming `/{job}/config`) on `error` plus a warning — once per distinct
 *   stored command, not per run.
 * - It differs, with `allowRegistryCommand`: the stored one runs; a warning names it once per distinct value.
 *
 * Other kinds pass through unchanged.
 */
export function guardScriptCommand(
  definition: JobDefinition,
  policy: ScriptCommandPolicy,
): GuardedDefinition {
  const own = definition.config.command;
  if (definition.config.type !== 'script' || own === null) {
    return { definition, inspect: () => undefined };
  }
  const path = new JobPaths(definition.name).config;
  const logger = policy.logger.child({ job: definition.name });
  let announced: string | null = null;
  const choose = (stored: JobConfig): string => {
    const registryCommand = stored.type === 'script' ? stored.command : null;
    if (registryCommand === null || registryCommand === own) {
      announced = null;
      return own;
    }
    if (registryCommand !== announced) {
      announced = registryCommand;
      const fields = { path, storedCommand: registryCommand.slice(0, LOGGED_COMMAND_CHARS) };
      if (policy.allowRegistryCommand) {
        logger.warn('running the command stored in the registry (allowRegistryCommand)', fields);
      } else {
        logger.warn(
          'the stored command differs from the definition: running the definition',
          fields,
        );
        policy.report(new RegistryCommandRefusedError(definition.name, path));
      }
    }
    return policy.allowRegistryCommand ? registryCommand : own;
  };
  const guarded: JobDefinition = Object.freeze({
    ...definition,
    run: (ctx: ShardingContext, config: JobConfig, scriptCommand?: string) =>
      definition.run(ctx, config, scriptCommand ?? choose(config)),
  });
  return { definition: guarded, inspect: stored => void choose(stored) };
}
