/**
 * AVG_ALLOCATION, the default strategy (pure, deterministic). With `n` instances, `q = floor(total / n)` and
 * `r = total % n`, the instance at position `i` gets the contiguous block `[i*q, (i+1)*q)`; the `r` leftover
 * items `q*n .. total-1` then go one each to instances `0 .. r-1`. Every instance appears in the result
 * (possibly with `[]`); zero instances give an empty map. Item counts differ by at most one.
 *
 * Worked examples (instances in the order given, as rows of the unit test):
 * - 3 instances, 9 items  → `[0,1,2] [3,4,5] [6,7,8]`
 * - 3 instances, 8 items  → `[0,1,6] [2,3,7] [4,5]`
 * - 3 instances, 10 items → `[0,1,2,9] [3,4,5] [6,7,8]`
 * - 3 instances, 2 items  → `[0] [1] []`
 * - 1 instance, 3 items   → `[0,1,2]`
 *
 * Not sticky: one departure can move most items (3 → 2 instances, 10 items: `[0..4] [5..9]`).
 */
export function averageAllocation(
  instances: readonly string[],
  totalCount: number,
  _jobName = '',
): Map<string, number[]> {
  const result = new Map<string, number[]>();
  const n = instances.length;
  if (n === 0) {
    return result;
  }
  const q = Math.floor(totalCount / n);
  instances.forEach((instance, i) => {
    const items: number[] = [];
    for (let item = i * q; item < (i + 1) * q; item++) {
      items.push(item);
    }
    result.set(instance, items);
  });
  for (let item = q * n, i = 0; item < totalCount; item++, i++) {
    result.get(instances[i] as string)?.push(item);
  }
  return result;
}
