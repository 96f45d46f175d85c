/** Host side of the strided gather (transpose, permute, broadcastTo, slices). */

import { WG_1D } from '../../../shaders/common.js';
import { stridedKernel } from '../../../shaders/strided.js';
import type { Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import type { GpuStorage } from './storage.js';

/** Drops size-1 axes and merges neighbours that are contiguous in the source. */
export function collapseStrided(shape: readonly number[], strides: readonly number[]): { shape: number[]; strides: number[] } {
  const s: number[] = [];
  const st: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && st[last] === strides[d]! * n) {
      s[last] = s[last]! * n;
      st[last] = strides[d]!;
    } else {
      s.push(n);
      st.push(strides[d]!);
    }
  }
  if (s.length === 0) return { shape: [1], strides: [0] };
  return { shape: s, strides: st };
}

export function strided(ctx: KernelContext, xs: Storage, outShape: readonly number[], strides: readonly number[], offset: number): GpuStorage {
  const x = ctx.input(xs, 'strided');
  if (strides.length !== outShape.length) {
    throw new Error(`webgpu: strided: ${strides.length} strides for an output of rank ${outShape.length}`);
  }
  const n = outShape.reduce((a, b) => a * b, 1);
  const out = ctx.output(n, x.dtype, 'strided');
  if (n === 0) return out;
  const c = collapseStrided(outShape, strides);
  const rank = c.shape.length;
  dispatchKernel(ctx, 'strided', stridedKernel(rank), { X: x.buffer, out: out.buffer }, { n, rank, offset, shape: c.shape, strides: c.strides }, Math.ceil(n / WG_1D));
  return out;
}
