/** Reduction over the middle axis of x viewed as [outer, length, inner] → [outer, inner]. */
import type { ReduceOp, TypedArray } from '../types.js';

/**
 * Accumulates in float64. sum of nothing is 0; max of nothing is −Infinity (for int32 outputs,
 * which cannot hold −Infinity, the i32 minimum −2^31). max propagates NaN (Math.max does).
 */
export function reduceKernel(
  op: ReduceOp, x: TypedArray, out: TypedArray, outer: number, length: number, inner: number, isInt: boolean,
): void {
  const emptyMax = isInt ? -2147483648 : -Infinity;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * length * inner + j;
      let acc = op === 'sum' ? 0 : emptyMax;
      for (let r = 0; r < length; r++) {
        const v = x[base + r * inner]!;
        acc = op === 'sum' ? acc + v : Math.max(acc, v);
      }
      out[o * inner + j] = acc;
    }
  }
}
