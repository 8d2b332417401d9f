import { extname, isAbsolute, relative, resolve } from 'node:path';
import { isJobDefinition, type JobDefinition } from '../job/define-job';
import { CliError, EXIT_FAILURE } from './cli-errors';

/**
 * Loads the module behind `shardline run <module>` and collects its jobs: every `defineJob` result in the
 * default export (an array, or one job) or, when there is none, in the named exports. The path is resolved
 * against the current directory and loaded with `require()`, so a `.ts` module needs the process to run
 * through tsx (`npx tsx node_modules/.bin/shardline run jobs.ts`, or `node --import tsx …`).
 *
 * Throws `CliError` naming the module: when it cannot be loaded (with the cause: not found, syntax
 * error — with its file, line and column —, a `defineJob` call rejecting its options, …) and when it
 * exports no job.
 */
export function loadJobModule(module: string, cwd = process.cwd()): JobDefinition[] {
  const path = resolve(cwd, module);
  let exports: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading a user module by path is the point
    exports = require(path) as unknown;
  } catch (err) {
    throw new CliError(
      `cannot load module ${module}: ${describeLoadError(err, cwd)}${typeScriptHint(path, err)}`,
      EXIT_FAILURE,
      { cause: err },
    );
  }
  const jobs = collectJobs(exports);
  if (jobs.length === 0) {
    throw new CliError(`module ${module} exports no job (defineJob results)`);
  }
  return jobs;
}

/** The jobs of a module's exports, without duplicates, in export order. */
export function collectJobs(exports: unknown): JobDefinition[] {
  const found = new Set<JobDefinition>();
  const add = (value: unknown): void => {
    if (isJobDefinition(value)) {
      found.add(value);
    } else if (Array.isArray(value)) {
      value.filter(isJobDefinition).forEach(job => found.add(job));
    }
  };
  add(exports); // module.exports = job | [jobs]
  if (typeof exports === 'object' && exports !== null && !Array.isArray(exports)) {
    const named = exports as Record<string, unknown>;
    add(named.default);
    if (found.size === 0) {
      Object.values(named).forEach(value => {
        if (isJobDefinition(value)) {
          found.add(value);
        }
      });
    }
  }
  return [...found];
}

/**
 * The first line of a load error; for a syntax error, where it is. Neither form carries the place in its
 * message: Node puts `<file>:<line>` (then the source line and a caret) at the head of the SyntaxError's
 * stack, and esbuild (tsx) puts `<file>:<line>:<column>: ERROR: <text>` on the message's second line.
 */
export function describeLoadError(err: unknown, cwd: string): string {
  const where = syntaxErrorLocation(err);
  if (where === undefined) {
    return firstLine(err);
  }
  const rel = relative(cwd, where.file);
  const file = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : where.file;
  const column = where.column === undefined ? '' : `:${where.column}`;
  return `syntax error at ${file}:${where.line}${column}: ${where.text}`;
}

interface SyntaxErrorLocation {
  file: string;
  line: number;
  column: number | undefined;
  text: string;
}

function syntaxErrorLocation(err: unknown): SyntaxErrorLocation | undefined {
  if (!(err instanceof Error)) {
    return undefined;
  }
  const esbuild = /^(.+?):(\d+):(\d+): ERROR: (.+)$/m.exec(err.message);
  if (esbuild !== null) {
    const [, file = '', line = '0', column = '0', text = ''] = esbuild;
    return { file, line: Number(line), column: Number(column), text };
  }
  if (err.name !== 'SyntaxError') {
    return undefined;
  }
  const [head = '', , caret = ''] = (err.stack ?? '').split('\n');
  const node = /^(.+):(\d+)$/.exec(head);
  if (node === null) {
    return undefined;
  }
  const [, file = '', line = '0'] = node;
  const at = caret.indexOf('^');
  return { file, line: Number(line), column: at >= 0 ? at + 1 : undefined, text: firstLine(err) };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

function typeScriptHint(path: string, err: unknown): string {
  const isTs = ['.ts', '.mts', '.cts'].includes(extname(path));
  const notFound = (err as { code?: unknown }).code === 'MODULE_NOT_FOUND';
  return isTs && !notFound && !process.execArgv.some(a => a.includes('tsx'))
    ? ' (a TypeScript module needs tsx: run shardline with node --import tsx)'
    : '';
}
