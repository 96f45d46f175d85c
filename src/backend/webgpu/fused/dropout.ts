/** Host side of dropout: the Philox mask is regenerated in the kernel from (seed, offset). */

import { DROPOUT_WG, dropoutKernel } from '../../../../shaders/dropout.js';
import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import { dispatchKernel } from '../dispatch.js';
import type { GpuStorage } from '../storage.js';
import { f32Input } from './kernels.js';

const TWO32 = 4294967296;
const TWO53 = 2 ** 53;

function checkU53(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`webgpu: dropout: ${what} must be a non-negative safe integer, got ${v}`);
}

export function dropout(ctx: KernelContext, xs: Storage, p: number, seed: number, offset: number): GpuStorage {
  const x = f32Input(ctx, xs, 'dropout', 'x', xs.length);
  if (!(p >= 0 && p < 1)) throw new Error(`webgpu: dropout: p must be in [0, 1), got ${p}`);
  checkU53('seed', seed);
  checkU53('offset', offset);
  if (offset + x.length > TWO53) throw new Error(`webgpu: dropout: offset + length must be at most 2^53, got ${offset} + ${x.length}`);
  const out = ctx.output(x.length, 'float32', 'dropout');
  if (x.length === 0) return out;
  // Block q0 holds words 4q0..4q0+3; the first `skip` of them precede the offset.
  const q0 = Math.floor(offset / 4);
  const skip = offset - q0 * 4;
  const threads = Math.ceil((skip + x.length) / 4);
  const values = {
    n: x.length,
    threads,
    q0lo: q0 % TWO32,
    q0hi: Math.floor(q0 / TWO32),
    skip,
    keylo: seed % TWO32,
    keyhi: Math.floor(seed / TWO32),
    // u = k·2^-24 >= p  <=>  k >= ceil(p·2^24) (p·2^24 is exact in float64): the CPU's test, exactly.
    threshold: Math.ceil(p * 2 ** 24),
    // The CPU twin rounds the scale to float32 the same way (pack writes it as f32).
    scale: 1 / (1 - p),
  };
  dispatchKernel(ctx, 'dropout', dropoutKernel, { X: x.buffer, out: out.buffer }, values, Math.ceil(threads / DROPOUT_WG));
  return out;
}
