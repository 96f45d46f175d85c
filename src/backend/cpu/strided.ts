/** Strided gather: out (contiguous, shape outShape)[i0..ik] = x[offset + Σ ij·strides[j]]. */
import type { TypedArray } from '../types.js';

/**
 * The smallest and largest source index the gather touches (for bounds checking); strides may be
 * negative (a flip) or 0 (a broadcast). Only meaningful when every dimension is non-empty.
 */
export function stridedIndexRange(outShape: readonly number[], strides: readonly number[], offset: number): [number, number] {
  let lo = offset;
  let hi = offset;
  for (let d = 0; d < outShape.length; d++) {
    const reach = (outShape[d]! - 1) * strides[d]!;
    if (reach < 0) lo += reach;
    else hi += reach;
  }
  return [lo, hi];
}

export function stridedKernel(
  x: TypedArray, out: TypedArray, outShape: readonly number[], strides: readonly number[], offset: number,
): void {
  const rank = outShape.length;
  const coord = new Array<number>(rank).fill(0);
  let src = offset;
  for (let i = 0; i < out.length; i++) {
    out[i] = x[src]!;
    // Odometer: advance the last coordinate, carrying into earlier ones.
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]!++;
      src += strides[d]!;
      if (coord[d]! < outShape[d]!) break;
      src -= strides[d]! * outShape[d]!;
      coord[d] = 0;
    }
  }
}
