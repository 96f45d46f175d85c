/**
 * CPU reference of the dropout routine (twin of webgpu/fused/dropout.ts): the mask is regenerated
 * from the shared Philox stream, so CPU and GPU drop exactly the same elements.
 */
import type { TypedArray } from '../types.js';
import { uniformFromWord, philoxWords } from '../../random/philox.js';

export function dropoutKernel(x: TypedArray, out: TypedArray, p: number, seed: number, offset: number): void {
  const words = philoxWords(seed, offset, x.length);
  // float32 data: the scale rounded to float32 first, as the GPU computes it in f32 (same bits);
  // float64 data: the exact double scale, as PyTorch's double dropout.
  const scale = out instanceof Float64Array ? 1 / (1 - p) : Math.fround(1 / (1 - p));
  for (let i = 0; i < x.length; i++) out[i] = uniformFromWord(words[i]!) >= p ? x[i]! * scale : 0;
}
