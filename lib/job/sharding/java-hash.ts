/**
 * Java's `String.hashCode` (pure): `h = 0; for each UTF-16 code unit c: h = 31 * h + c`, wrapped to a signed
 * 32-bit integer after every step. Documented and reproducible on any platform, so that the name-based
 * strategies give the same assignment as ElasticJob for the same job name.
 *
 * @example javaHashCode('hello') === 99162322; javaHashCode('') === 0; javaHashCode('myJob') === 104343153
 */
export function javaHashCode(value: string): number {
  let h = 0;
  for (let i = 0; i < value.length; i++) {
    h = (Math.imul(31, h) + value.charCodeAt(i)) | 0;
  }
  return h;
}
