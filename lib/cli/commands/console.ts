import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  DEFAULT_CONSOLE_HOST,
  DEFAULT_CONSOLE_PORT,
  startConsoleServer,
} from '../../console/console-server';
import { createPostgresHistory, type PostgresHistory } from '../../history/postgres-history';
import {
  openRegistry,
  requireRegistryUrl,
  withCommonOptions,
  type CommonOptions,
} from '../cli-context';
import { UsageError } from '../cli-errors';
import { printJson, printLine } from '../output';

interface ConsoleCliOptions extends CommonOptions {
  host: string;
  port: number;
  readOnly: boolean;
  token?: string;
  history?: string;
}

/**
 * `shardline console --registry <url> [--host 127.0.0.1] [--port 8899] [--read-only] [--token <t>]
 * [--history postgres://…]`: the web console on its own HTTP server (docs/console.md). Listens on loopback
 * unless `--host` says otherwise. `--token` (or `SHARDLINE_CONSOLE_TOKEN`) is required by every action; the
 * URL printed carries it in its fragment (`#token=…`), which the browser keeps to itself. `--history` reads
 * the execution history from the PostgreSQL table the workers' `createPostgresHistory` sink writes. Prints
 * one line, `shardline: console on <url> for <registry>` (`--json`: `{ "url", "registry", "readOnly" }`),
 * then serves until SIGTERM / SIGINT, closes the registry and exits 0.
 */
export function registerConsoleCommand(program: Command): void {
  withCommonOptions(program.command('console'))
    .description('serve the web console (jobs, items, instances, configuration, history, health)')
    .option('--host <host>', 'address to listen on', DEFAULT_CONSOLE_HOST)
    .option(
      '--port <port>',
      'port to listen on (0: any free port)',
      parsePort,
      DEFAULT_CONSOLE_PORT,
    )
    .option('--read-only', 'show no action and refuse every change (403)', false)
    .addOption(
      new Option('--token <token>', 'token every action must carry (prefer the env var)').env(
        'SHARDLINE_CONSOLE_TOKEN',
      ),
    )
    .option('--history <url>', 'execution history store to read (postgres://…)')
    .action(async (options: ConsoleCliOptions) => {
      const url = requireRegistryUrl(options, 'console');
      const history = openHistory(options.history);
      let registry;
      try {
        registry = await openRegistry(url);
      } catch (err) {
        await history?.close();
        throw err;
      }
      try {
        const token = options.token === '' ? undefined : options.token;
        const server = await startConsoleServer({
          registry,
          ...(history === undefined ? {} : { history }),
          host: options.host,
          port: options.port,
          readOnly: options.readOnly,
          ...(token === undefined ? {} : { token }),
        });
        const shown =
          token === undefined || options.readOnly
            ? server.url
            : `${server.url}#token=${encodeURIComponent(token)}`;
        if (options.json) {
          printJson({ url: shown, registry: registry.description, readOnly: options.readOnly });
        } else {
          printLine(`shardline: console on ${shown} for ${registry.description}`);
        }
        await untilSignal();
        await server.close();
      } finally {
        await history?.close();
        await registry.close();
      }
    });
}

/**
 * The history reader named by `--history` (the PostgreSQL table workers write with
 * `createPostgresHistory`); undefined without one: the console then shows each item's last run.
 */
function openHistory(url: string | undefined): PostgresHistory | undefined {
  if (url === undefined || url.trim() === '') {
    return undefined;
  }
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new UsageError('--history takes a postgres://user:password@host:port/database URL');
  }
  return createPostgresHistory(url);
}

/** Resolves at the first SIGTERM / SIGINT. */
export function untilSignal(): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve();
    };
    process.on('SIGTERM', done);
    process.on('SIGINT', done);
  });
}

/** A `--port` value: 0 to 65535. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError('a port is an integer from 0 to 65535.');
  }
  return port;
}
