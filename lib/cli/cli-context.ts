import { Option, type Command } from 'commander';
import { createOperations, type Operations } from '../ops/operations-api';
import { createRegistryCenter } from '../registry/create-registry-center';
import type { CoordinatorRegistryCenter } from '../registry/registry-center';
import { parseRegistryUrl } from '../registry/registry-url';
import { UnknownJobError } from '../errors';
import { CliError, EXIT_FAILURE, explainConnectionFailure, UsageError } from './cli-errors';

/** Registry of `run` when neither `--registry` nor `SHARDLINE_REGISTRY` is given. */
export const DEFAULT_REGISTRY_URL = 'memory://shardline';
/**
 * How long the CLI waits for the registry when the URL does not say (`?connectTimeoutMs=`): shorter than
 * the library's 15 s, so that a wrong address fails a command quickly.
 */
export const CLI_CONNECT_TIMEOUT_MS = 5000;

/** Options every command takes. `registry` is undefined when neither the option nor the env var is set. */
export interface CommonOptions {
  registry?: string;
  json: boolean;
}

/**
 * Adds `--registry <url>` (env `SHARDLINE_REGISTRY`) and `--json` to `command`. Only a command that runs
 * jobs in this process (`run`) passes `defaultRegistry`: the read/steer commands look at registry state
 * other processes wrote, which an embedded `memory://` registry of a fresh process never holds, so for them
 * a missing registry is a usage error ({@link requireRegistryUrl}).
 */
export function withCommonOptions(command: Command, defaultRegistry?: string): Command {
  const registry = new Option(
    '--registry <url>',
    'registry URL: zookeeper://h:p/ns or etcd://h:p/ns (credentials: prefer SHARDLINE_REGISTRY)',
  ).env('SHARDLINE_REGISTRY');
  return command
    .addOption(defaultRegistry === undefined ? registry : registry.default(defaultRegistry))
    .option('--json', 'print machine-readable JSON', false);
}

/**
 * The registry URL of a read/steer command: `--registry` or `SHARDLINE_REGISTRY`. Missing, or an embedded
 * `memory://` registry (which lives inside one process, so this one would always be empty), is a
 * `UsageError` (exit 2) saying what to pass.
 */
export function requireRegistryUrl(options: CommonOptions, command: string): string {
  const url = options.registry?.trim() ?? '';
  if (url === '') {
    throw new UsageError(
      `${command} needs the registry the workers use: pass --registry <url> or set SHARDLINE_REGISTRY ` +
        '(e.g. zookeeper://127.0.0.1:2181/ns or etcd://127.0.0.1:2379/ns)',
    );
  }
  if (/^memory:/i.test(url)) {
    throw new UsageError(
      `${command} cannot use a memory:// registry: it lives inside one process, so this one would be empty; ` +
        'pass the ZooKeeper or etcd URL the workers use',
    );
  }
  return url;
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
 * Runs `action` of `command` with an operations API on a fresh connection to the registry the command
 * line names ({@link requireRegistryUrl}) and always closes it afterwards.
 * An error of `action` wins over an error of `close()`.
 */
export async function withOperations<T>(
  options: CommonOptions,
  command: string,
  action: (ops: Operations, registry: CoordinatorRegistryCenter) => Promise<T>,
): Promise<T> {
  const registry = await openRegistry(requireRegistryUrl(options, command));
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
