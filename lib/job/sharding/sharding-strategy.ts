import { ConfigurationError } from '../../errors';
import type { StrategyName } from '../job-config';
import { averageAllocation } from './average-allocation';
import { odevityByName } from './odevity-by-name';
import { roundRobinByName } from './round-robin-by-name';

/**
 * A sharding strategy: a deterministic function of the live, enabled instances (sorted ascending
 * by instanceId), the item count and the job name, returning instanceId → items. Built-in strategies are
 * pure; a user function is validated by {@link computeAssignment} before anything is written.
 */
export type ShardingStrategyFunction = (
  instances: readonly string[],
  totalCount: number,
  jobName: string,
) => Map<string, number[]>;

const BUILT_IN: Readonly<Record<StrategyName, ShardingStrategyFunction>> = {
  AVG_ALLOCATION: averageAllocation,
  ODEVITY: odevityByName,
  ROUND_ROBIN: roundRobinByName,
};

/** The built-in strategy of that name; ConfigurationError('strategy') for any other name (e.g. 'CUSTOM'). */
export function resolveStrategy(name: StrategyName): ShardingStrategyFunction {
  const strategy = Object.prototype.hasOwnProperty.call(BUILT_IN, name)
    ? BUILT_IN[name]
    : undefined;
  if (strategy === undefined) {
    throw new ConfigurationError(
      `strategy: must be one of ${Object.keys(BUILT_IN).join(', ')}, got ${JSON.stringify(name)}`,
      'strategy',
    );
  }
  return strategy;
}

/**
 * The strategy a stored configuration asks for: the built-in one, or `custom` when it says 'CUSTOM'.
 * Throws ConfigurationError('strategy') when the configuration says 'CUSTOM' and no function is at hand
 * (a worker adopting a config written by a definition with a custom strategy).
 */
export function selectStrategy(
  name: StrategyName | 'CUSTOM',
  custom: ShardingStrategyFunction | undefined,
): ShardingStrategyFunction {
  if (name !== 'CUSTOM') {
    return resolveStrategy(name);
  }
  if (custom === undefined) {
    throw new ConfigurationError(
      'strategy: the configuration asks for a CUSTOM strategy but this job definition has no strategy function',
      'strategy',
    );
  }
  return custom;
}

/**
 * Runs `strategy` and validates its result before it may be written: every item `0..totalCount-1` exactly
 * once, only instances from `instances`, every instance present (missing ones are added with `[]`), item lists
 * sorted ascending (copies; the strategy's arrays are not kept). Zero instances give an empty map. A throwing
 * strategy or an invalid result → ConfigurationError('strategy') with the reason; nothing partial is returned.
 */
export function computeAssignment(
  strategy: ShardingStrategyFunction,
  instances: readonly string[],
  totalCount: number,
  jobName: string,
): Map<string, number[]> {
  const result = new Map<string, number[]>();
  if (instances.length === 0) {
    return result;
  }
  let raw: unknown;
  try {
    raw = strategy(instances, totalCount, jobName);
  } catch (err) {
    throw invalid(`the strategy threw: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!(raw instanceof Map)) {
    throw invalid('the strategy must return a Map<instanceId, number[]>');
  }
  const known = new Set(instances);
  const owner = new Map<number, string>();
  for (const [instance, items] of raw as Map<unknown, unknown>) {
    if (typeof instance !== 'string' || !known.has(instance)) {
      throw invalid(`unknown instance ${JSON.stringify(instance)}`);
    }
    if (!Array.isArray(items)) {
      throw invalid(`items of ${instance} must be an array`);
    }
    for (const item of items as unknown[]) {
      if (typeof item !== 'number' || !Number.isInteger(item) || item < 0 || item >= totalCount) {
        throw invalid(`item ${String(item)} of ${instance} is not in 0..${totalCount - 1}`);
      }
      const previous = owner.get(item);
      if (previous !== undefined) {
        throw invalid(`item ${item} is assigned twice (${previous}, ${instance})`);
      }
      owner.set(item, instance);
    }
  }
  for (let item = 0; item < totalCount; item++) {
    if (!owner.has(item)) {
      throw invalid(`item ${item} is not assigned`);
    }
  }
  for (const instance of instances) {
    const items = (raw as Map<string, number[]>).get(instance) ?? [];
    result.set(
      instance,
      [...items].sort((a, b) => a - b),
    );
  }
  return result;
}

function invalid(reason: string): ConfigurationError {
  return new ConfigurationError(`strategy: invalid assignment: ${reason}`, 'strategy');
}
