/** Elementwise two-input ops with NumPy broadcasting. */
import type { BinaryOp, TypedArray } from '../types.js';

/** Float formulas (float64 arithmetic). Comparisons give 1 or 0; any comparison with NaN gives 0. */
export const BINARY: { [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
  pow: (a, b) => Math.pow(a, b),
  eq: (a, b) => (a === b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

/**
 * int32 formulas with i32 wrap-around (like WGSL's i32). Division truncates toward zero and
 * division by zero gives 0 (WGSL's defined result for i32 `/` by 0 is the dividend, so the GPU
 * kernel must special-case it to match). pow is computed in float64 and wrapped on store.
 */
export const INT_BINARY: { [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: (a, b) => Math.imul(a, b),
  div: (a, b) => (b === 0 ? 0 : Math.trunc(a / b) | 0), // −2^31 / −1 wraps to −2^31
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
  pow: (a, b) => Math.pow(a, b) | 0,
  eq: (a, b) => (a === b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

/**
 * Strides of `shape` (row-major, contiguous) viewed inside `outShape` after right-alignment:
 * a dimension of size 1 (or a missing leading one) gets stride 0 so its one element repeats.
 */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = outShape.length - shape.length + i;
    strides[o] = shape[i] === 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}

/** out (contiguous, outShape) = f(a, b) with a and b broadcast to outShape. */
export function binaryKernel(
  f: (a: number, b: number) => number,
  a: TypedArray, aShape: readonly number[],
  b: TypedArray, bShape: readonly number[],
  out: TypedArray, outShape: readonly number[],
): void {
  const rank = outShape.length;
  const aStrides = broadcastStrides(aShape, outShape);
  const bStrides = broadcastStrides(bShape, outShape);
  // Odometer over the output coordinates, moving the a and b indices along with it.
  const coord = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = f(a[ia]!, b[ib]!);
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]!++;
      ia += aStrides[d]!;
      ib += bStrides[d]!;
      if (coord[d]! < outShape[d]!) break;
      // Dimension d wrapped: rewind it and carry into d − 1.
      ia -= aStrides[d]! * outShape[d]!;
      ib -= bStrides[d]! * outShape[d]!;
      coord[d] = 0;
    }
  }
}
