import { Cron } from 'croner';
import { ConfigurationError } from '../../errors';

/**
 * Cron expressions (pure; wraps croner). Six fields (`sec min hour day-of-month month day-of-week`, as in
 * Quartz, `?` accepted) or five (`min hour dom month dow`, seconds = 0); nicknames like `@daily` work too.
 * Day-of-month and day-of-week combine with OR when both are restricted (Vixie cron). Evaluated in an IANA
 * time zone, so '0 0 9 * * *' in 'Asia/Shanghai' fires at 01:00 UTC, and DST gaps/overlaps follow the zone.
 */

/** Throws ConfigurationError('timeZone') unless `timeZone` is an IANA zone name this runtime knows. */
export function validateTimeZone(timeZone: string): void {
  if (typeof timeZone !== 'string' || timeZone.trim() === '') {
    throw new ConfigurationError(
      `timeZone: must be an IANA time zone name, got ${JSON.stringify(timeZone)}`,
      'timeZone',
    );
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new ConfigurationError(
      `timeZone: unknown IANA time zone ${JSON.stringify(timeZone)}`,
      'timeZone',
    );
  }
}

const cache = new Map<string, Cron>();
const CACHE_LIMIT = 256;

function compile(expr: string, timeZone: string): Cron {
  const key = `${timeZone}\u0000${expr}`;
  const hit = cache.get(key);
  if (hit !== undefined) {
    return hit;
  }
  validateTimeZone(timeZone);
  if (typeof expr !== 'string' || expr.trim() === '') {
    throw new ConfigurationError('cron: must be a non-empty cron expression', 'cron');
  }
  let cron: Cron;
  try {
    cron = new Cron(expr.trim(), { timezone: timeZone, paused: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigurationError(
      `cron: invalid expression ${JSON.stringify(expr)} (${reason})`,
      'cron',
    );
  }
  if (cache.size >= CACHE_LIMIT) {
    cache.clear();
  }
  cache.set(key, cron);
  return cron;
}

/**
 * Throws ConfigurationError naming 'cron' (malformed, or never fires again) or 'timeZone' (unknown zone).
 * An expression that can never fire (e.g. 30 February) is rejected rather than silently never running.
 */
export function validateCron(expr: string, timeZone: string): void {
  const cron = compile(expr, timeZone);
  if (cron.nextRun(new Date()) === null) {
    throw new ConfigurationError(`cron: expression ${JSON.stringify(expr)} never fires`, 'cron');
  }
}

/**
 * The first fire time strictly after `after` (fires are whole seconds), or null when the expression never fires
 * again. Throws ConfigurationError like {@link validateCron} for an invalid expression or zone.
 */
export function nextFireTime(expr: string, timeZone: string, after: Date): Date | null {
  const cron = compile(expr, timeZone);
  let next = cron.nextRun(after);
  // croner already moves to the next whole second; guard the "strictly after" promise anyway.
  for (let guard = 0; guard < 3 && next !== null && next.getTime() <= after.getTime(); guard++) {
    next = cron.nextRun(next);
  }
  return next !== null && next.getTime() > after.getTime() ? next : null;
}
