import { averageAllocation } from './average-allocation';
import { javaHashCode } from './java-hash';

/**
 * ODEVITY ("odevity sort by name", pure, deterministic): when the Java `String.hashCode` of the job name is
 * even (Java remainder: negative odd hashes count as odd), the instance list is reversed; then
 * {@link averageAllocation}. Spreads many small jobs over different instances instead of always loading the
 * first one.
 *
 * Worked examples (instances `host0, host1, host2`, in that order):
 * - job `"1"` (hash 49, odd, kept), 2 items → host0 `[0]`, host1 `[1]`, host2 `[]`
 * - job `"0"` (hash 48, even, reversed), 2 items → host2 `[0]`, host1 `[1]`, host0 `[]`
 * - instances `[.13, .12, .11]`, 10 items: `myJob` (104343153, odd) → `.13 [0,1,2,9]  .12 [3,4,5]  .11 [6,7,8]`;
 *   `test_job` (−1146456432, even) → `.13 [6,7,8]  .12 [3,4,5]  .11 [0,1,2,9]`
 */
export function odevityByName(
  instances: readonly string[],
  totalCount: number,
  jobName: string,
): Map<string, number[]> {
  const ordered = javaHashCode(jobName) % 2 === 0 ? [...instances].reverse() : instances;
  return averageAllocation(ordered, totalCount);
}
