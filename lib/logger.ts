/**
 * The logging seam: fixed messages, variable data in `fields`. Silent by default; adapt pino or
 * winston with a four-method object and `child`. `lib/` never writes to the console by itself.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const noop = (): void => undefined;

/** Drops everything: the default. */
export const noopLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => noopLogger,
};

type Level = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One JSON-ish line per call on stderr, from `minLevel` up (for the CLI and examples). */
export function consoleLogger(minLevel: Level = 'info', bound: LogFields = {}): Logger {
  const write =
    (level: Level) =>
    (msg: string, fields?: LogFields): void => {
      if (LEVELS[level] < LEVELS[minLevel]) {
        return;
      }
      const all = { ...bound, ...fields };
      const extra = Object.keys(all).length === 0 ? '' : ` ${JSON.stringify(all, errorReplacer)}`;
      process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${msg}${extra}\n`);
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: fields => consoleLogger(minLevel, { ...bound, ...fields }),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? `${value.name}: ${value.message}` : value;
}
