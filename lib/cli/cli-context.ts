import { Option, type Command } from 'commander';
import { createOperations, type Operations } from '../ops/operations-api';
import { createRegistryCenter } from '../registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import { parseRegistryUrl } from '../registry/registry-url';
import { UnknownJobError } from '../errors';
import { CliError, EXIT_FAILURE, explainConnectionFailure } from './cli-errors';

/** Registry used when neither `--registry` nor `SHARDLINE_REGISTRY` is given. */
export const DEFAULT_REGISTRY_URL = 'memory://shardline';
/**
 * How long the CLI waits for the registry when the URL does not say (`?connectTimeoutMs=`): shorter than
 * the library's 15 s, so that a wrong address fails a command quickly.
 */
export const CLI_CONNECT_TIMEOUT_MS = 5000;

/** Options every command takes. */
export interface CommonOptions {
  registry: string;
  json: boolean;
}

/** Adds `--registry <url>` (env `SHARDLINE_REGISTRY`) and `--json` to `command`. */
export function withCommonOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--registry <url>',
        'registry URL: zookeeper://h:p/ns, etcd://h:p/ns or memory://ns',
      )
        .env('SHARDLINE_REGISTRY')
        .default(DEFAULT_REGISTRY_URL),
    )
    .option('--json', 'print machine-readable JSON', false);
}

/**
 * Connects to the registry at `url` (waiting at most {@link CLI_CONNECT_TIMEOUT_MS} unless the URL sets
 * `connectTimeoutMs`). A malformed URL throws `ConfigurationError` (field `url`); an unreachable registry a
 * `CliError` that says how long it waited. The caller closes the registry.
 */
export async function openRegistry(url: string): Promise<CoordinatorRegistryCenter> {
  const parsed = parseRegistryUrl(url);
  const connectTimeoutMs = parsed.connectTimeoutMs ?? CLI_CONNECT_TIMEOUT_MS;
  const registry = createRegistryCenter({ ...parsed, connectTimeoutMs });
  try {
    await registry.init();
  } catch (err) {
    await registry.close().catch(() => undefined); // the connection error is the one to report
    throw explainConnectionFailure(err, connectTimeoutMs);
  }
  return registry;
}

/**
 * Runs `action` with an operations API on a fresh registry connection and always closes it afterwards.
 * An error of `action` wins over an error of `close()`.
 */
export async function withOperations<T>(
  options: CommonOptions,
  action: (ops: Operations, registry: CoordinatorRegistryCenter) => Promise<T>,
): Promise<T> {
  const registry = await openRegistry(options.registry);
  let result: T;
  try {
    result = await action(createOperations(registry), registry);
  } catch (err) {
    await registry.close().catch(() => undefined); // keep the action's error
    if (err instanceof UnknownJobError) {
      // Name the registry: a job "missing" in the wrong namespace is the usual cause.
      throw new CliError(`${err.message} (not in ${registry.description})`, EXIT_FAILURE, {
        cause: err,
      });
    }
    throw err;
  }
  await registry.close();
  return result;
}
