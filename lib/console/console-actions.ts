import { ConfigurationError, InvalidArgumentError } from '../errors';
import { parseItemParameters } from '../job/item-parameters';
import { validateJobConfig, type JobConfig } from '../ops/job-layer';
import type { Operations } from '../ops/operations-api';
import type { ConsoleViews } from './console-views';

/**
 * The console's state changes, each one call of the operations API (the CLI's verbs): trigger,
 * disable/enable of a job, item or server, shutdown of a job or of one instance, and the configuration
 * edit (validated with the job layer's own schema, every problem reported with its field, written against
 * the version the form showed). Bodies are JSON objects; a malformed one is an `InvalidArgumentError`.
 */

/** The fields the configuration form edits (the rest of the stored configuration is kept as stored). */
export const EDITABLE_FIELDS = [
  'cron',
  'timeZone',
  'shardingTotalCount',
  'shardingItemParameters',
  'jobParameter',
  'failover',
  'misfire',
  'monitorExecution',
  'disabled',
  'description',
] as const satisfies readonly (keyof JobConfig)[];

/** A refused configuration edit: every problem with the field it belongs to. */
export class ConfigIssuesError extends ConfigurationError {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(i => i.message).join('; '), issues[0]?.field);
  }
}

export type ActionName = 'trigger' | 'disable' | 'enable' | 'shutdown' | 'config';

export function isActionName(name: string): name is ActionName {
  return ['trigger', 'disable', 'enable', 'shutdown', 'config'].includes(name);
}

/** Runs `action` on `job` with the request `body`; resolves with what the operations API returned. */
export async function runAction(
  ops: Operations,
  views: ConsoleViews,
  job: string,
  action: ActionName,
  body: Record<string, unknown>,
): Promise<unknown> {
  switch (action) {
    case 'trigger':
      return ops.trigger(job);
    case 'disable':
    case 'enable': {
      const item = optionalItem(body.item);
      const server = optionalString(body.server, 'server');
      const target = { ...(item === undefined ? {} : { item }), ...(server ? { server } : {}) };
      return action === 'enable' ? ops.enable(job, target) : ops.disable(job, target);
    }
    case 'shutdown': {
      const instanceId = optionalString(body.instanceId, 'instanceId');
      return ops.shutdown(job, instanceId === undefined ? {} : { instanceId });
    }
    case 'config':
      return editConfig(ops, views, job, body);
  }
}

async function editConfig(
  ops: Operations,
  views: ConsoleViews,
  job: string,
  body: Record<string, unknown>,
): Promise<JobConfig> {
  const version = body.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) {
    throw new InvalidArgumentError('version: the configuration version the edit was made against');
  }
  const patch = body.patch;
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new InvalidArgumentError('patch: an object of configuration fields');
  }
  const given: Record<string, unknown> = { ...(patch as Record<string, unknown>) };
  const unknown = Object.keys(given).filter(
    k => !(EDITABLE_FIELDS as readonly string[]).includes(k),
  );
  if (unknown.length > 0) {
    throw new InvalidArgumentError(`not editable here: ${unknown.join(', ')}`);
  }
  if (typeof given.cron === 'string' && given.cron.trim() === '') {
    given.cron = null; // an empty cron field: a one-off job
  }
  const issues: ConfigIssue[] = [];
  if (typeof given.shardingItemParameters === 'string') {
    const count =
      typeof given.shardingTotalCount === 'number'
        ? given.shardingTotalCount
        : (await views.job(job)).config.shardingTotalCount;
    try {
      given.shardingItemParameters = parseItemParameters(given.shardingItemParameters, count);
    } catch (err) {
      if (!(err instanceof ConfigurationError)) {
        throw err;
      }
      issues.push({ field: 'shardingItemParameters', message: err.message });
      delete given.shardingItemParameters;
    }
  }
  if (issues.length > 0) {
    // Nothing is written; the other fields are still checked so every problem shows at once.
    const { config } = await views.job(job);
    try {
      validateJobConfig({ ...config, ...given });
    } catch (err) {
      if (!(err instanceof ConfigurationError)) {
        throw err;
      }
      issues.push(...issuesOf(err).filter(i => i.field !== 'shardingItemParameters'));
    }
    throw new ConfigIssuesError(issues);
  }
  try {
    // Checked by the job layer's schema inside updateJobConfig (ConfigurationError naming the field).
    const patch = given as unknown as Partial<JobConfig>;
    return await ops.updateJobConfig(job, patch, {
      expectedVersion: version,
    });
  } catch (err) {
    if (err instanceof ConfigurationError) {
      throw new ConfigIssuesError(issuesOf(err));
    }
    throw err;
  }
}

export interface ConfigIssue {
  field: string;
  message: string;
}

/**
 * The problems of a `ConfigurationError`, each with its field: the job layer's message lists them as
 * `<field>: <rule>, got <value>` joined by '; ' (and names the first in `field`).
 */
export function issuesOf(err: ConfigurationError): ConfigIssue[] {
  const starts = /(?:^|; )([A-Za-z]+(?:\.[A-Za-z]+)*): /g;
  const found: { field: string; at: number; from: number }[] = [];
  for (const m of err.message.matchAll(starts)) {
    const field = m[1] ?? '';
    if (KNOWN_FIELDS.has(field.split('.')[0] ?? '')) {
      found.push({ field, at: m.index, from: m.index + (m[0].startsWith('; ') ? 2 : 0) });
    }
  }
  if (found.length === 0) {
    return [{ field: err.field ?? 'config', message: err.message }];
  }
  return found.map((f, i) => ({
    field: f.field,
    message: err.message.slice(f.from, found[i + 1]?.at ?? err.message.length),
  }));
}

const KNOWN_FIELDS = new Set<string>([...EDITABLE_FIELDS, 'config', 'retry', 'strategy', 'type']);

function optionalItem(value: unknown): number | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `item must be a non-negative integer, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`${field} must be a string`);
  }
  return value;
}
