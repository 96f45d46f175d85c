/**
 * CPU reference of the dropout routines (twin of webgpu/fused/dropout.ts): the keep decisions come
 * from the shared Philox stream, so CPU and GPU drop exactly the same elements; the optional mask
 * is bit-packed the same way (bit i mod 32 of word floor(i / 32) set iff element i is kept).
 */
import type { TypedArray } from '../types.js';
import { uniformFromWord, philoxWords } from '../../random/philox.js';

/** Mask words for n elements. */
export function dropoutMaskWords(n: number): number {
  return Math.ceil(n / 32);
}

// float32 data: the scale rounded to float32 first, as the GPU computes it in f32 (same bits);
// float64 data: the exact double scale, as PyTorch's double dropout.
function scaleFor(out: TypedArray, p: number): number {
  return out instanceof Float64Array ? 1 / (1 - p) : Math.fround(1 / (1 - p));
}

export function dropoutKernel(x: TypedArray, out: TypedArray, p: number, seed: number, offset: number, mask: Int32Array | null = null): void {
  const words = philoxWords(seed, offset, x.length);
  const scale = scaleFor(out, p);
  for (let i = 0; i < x.length; i++) {
    const keep = uniformFromWord(words[i]!) >= p;
    out[i] = keep ? x[i]! * scale : 0;
    if (mask && keep) mask[i >>> 5] = mask[i >>> 5]! | (1 << (i & 31));
  }
}

/** out_i = mask bit i ? dy_i·scale : 0. */
export function dropoutApplyMaskKernel(dy: TypedArray, mask: TypedArray, out: TypedArray, p: number): void {
  const scale = scaleFor(out, p);
  for (let i = 0; i < dy.length; i++) out[i] = (mask[i >>> 5]! >>> (i & 31)) & 1 ? dy[i]! * scale : 0;
}
