import { extname, resolve } from 'node:path';
import { isJobDefinition, type JobDefinition } from '../job/define-job';
import { CliError, EXIT_FAILURE } from './cli-errors';

/**
 * Loads the module behind `shardline run <module>` and collects its jobs: every `defineJob` result in the
 * default export (an array, or one job) or, when there is none, in the named exports. The path is resolved
 * against the current directory and loaded with `require()`, so a `.ts` module needs the process to run
 * through tsx (`npx tsx node_modules/.bin/shardline run jobs.ts`, or `node --import tsx …`).
 *
 * Throws `CliError` naming the module: when it cannot be loaded (with the cause: not found, syntax
 * error, a `defineJob` call rejecting its options, …) and when it exports no job.
 */
export function loadJobModule(module: string, cwd = process.cwd()): JobDefinition[] {
  const path = resolve(cwd, module);
  let exports: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loading a user module by path is the point
    exports = require(path) as unknown;
  } catch (err) {
    throw new CliError(
      `cannot load module ${module}: ${firstLine(err)}${typeScriptHint(path, err)}`,
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
