import { averageAllocation } from './average-allocation';
import { javaHashCode } from './java-hash';

/**
 * ROUND_ROBIN ("rotate server by name", pure, deterministic): `offset = |hash| mod n` with `hash` the Java
 * `String.hashCode` of the job name (Java `Math.abs`: `-2147483648` stays negative, and its Java remainder is
 * used as is, giving a non-positive offset that we normalise into `0..n-1`); the instance list is rotated left
 * by `offset` (`rotated[i] = instances[(i + offset) % n]`), then {@link averageAllocation}.
 *
 * Worked examples (instances `host0, host1, host2`, 2 items):
 * - job `"1"` → offset 1 → host1 `[0]`, host2 `[1]`, host0 `[]`
 * - job `"2"` → offset 2 → host2 `[0]`, host0 `[1]`, host1 `[]`
 * - job `"3"` → offset 0 → host0 `[0]`, host1 `[1]`, host2 `[]`
 * Instances `[.13, .12, .11]`, 10 items: `orderJob` (1234284943, offset 1) → `.12 [0,1,2,9]  .11 [3,4,5]
 * .13 [6,7,8]`; `javaSimpleJob` (−694093655, offset 2) → `.11 [0,1,2,9]  .13 [3,4,5]  .12 [6,7,8]`.
 */
export function roundRobinByName(
  instances: readonly string[],
  totalCount: number,
  jobName: string,
): Map<string, number[]> {
  const n = instances.length;
  if (n === 0) {
    return new Map();
  }
  const hash = javaHashCode(jobName);
  // Java: Math.abs(Integer.MIN_VALUE) === Integer.MIN_VALUE; `%` keeps the sign of the dividend.
  const abs = hash === -2147483648 ? hash : Math.abs(hash);
  const offset = (((abs % n) + n) % n) | 0;
  const rotated = instances.map((_, i) => instances[(i + offset) % n] as string);
  return averageAllocation(rotated, totalCount);
}
