import { ConfigurationError } from '../errors';
import { formatValue } from './format-value';
import { MAX_PARAMETER_LENGTH } from './job-config-schema';

const isText = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= MAX_PARAMETER_LENGTH;

const ITEM_KEY = /^(0|[1-9]\d*)$/;

function itemError(reason: string): ConfigurationError {
  return new ConfigurationError(`shardingItemParameters: ${reason}`, 'shardingItemParameters');
}

/**
 * Parses item parameters: the ElasticJob string form "0=A,1=B" (spaces around pairs, keys and values are
 * trimmed; empty pairs skipped; a value keeps every '=' after the first one) or an object `{ 0: 'A' }`.
 * Returns a fresh record with canonical keys in ascending order. Malformed pairs, non-string values,
 * duplicate items and items outside 0..totalCount-1 → ConfigurationError naming 'shardingItemParameters'.
 */
export function parseItemParameters(
  input: string | Record<string | number, string>,
  totalCount: number,
): Record<string, string> {
  const pairs: [string, unknown][] = [];
  if (typeof input === 'string') {
    for (const piece of input.split(',')) {
      const pair = piece.trim();
      if (pair === '') {
        continue;
      }
      const eq = pair.indexOf('=');
      if (eq < 0) {
        throw itemError(`malformed pair ${formatValue(pair)} (expected "<item>=<value>")`);
      }
      pairs.push([pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()]);
    }
  } else if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    pairs.push(...Object.entries(input));
  } else {
    throw itemError(`must be a string like "0=A,1=B" or an object, got ${formatValue(input)}`);
  }
  const seen = new Map<number, string>();
  for (const [key, value] of pairs) {
    if (!ITEM_KEY.test(key)) {
      throw itemError(`item ${formatValue(key)} is not a non-negative integer`);
    }
    const item = Number(key);
    if (item >= totalCount) {
      throw itemError(
        `item ${item} is not in 0..${totalCount - 1} (shardingTotalCount is ${totalCount})`,
      );
    }
    if (seen.has(item)) {
      throw itemError(`item ${item} is given twice`);
    }
    if (!isText(value)) {
      throw itemError(`the value of item ${item} must be a string, got ${formatValue(value)}`);
    }
    seen.set(item, value);
  }
  const out: Record<string, string> = {};
  for (const item of [...seen.keys()].sort((a, b) => a - b)) {
    out[String(item)] = seen.get(item) as string;
  }
  return out;
}
