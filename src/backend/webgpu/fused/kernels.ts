/** Shared host checks of the fused kernels (operands, counts, distinct in-place buffers). */

import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import type { GpuStorage } from '../storage.js';

/** A float32 operand of `length` elements (after the context's liveness and backend checks). */
export function f32Input(ctx: KernelContext, s: Storage, op: string, name: string, length: number): GpuStorage {
  const g = ctx.input(s, op);
  if (g.dtype !== 'float32') throw new Error(`webgpu: ${op}: ${name} must be float32 (the webgpu backend's fused kernels are float32 only), got ${g.dtype}`);
  if (g.length !== length) throw new Error(`webgpu: ${op}: ${name} has ${g.length} elements, expected ${length}`);
  return g;
}

/** Checks a count argument (rows, columns): a non-negative integer. */
export function checkCount(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`webgpu: ${op}: ${name} must be a non-negative integer, got ${v}`);
}

/** WebGPU forbids binding one buffer twice when a binding is writable: in-place operands must be distinct. */
export function checkDistinct(op: string, named: readonly (readonly [string, GpuStorage | null])[]): void {
  for (let a = 0; a < named.length; a++) {
    for (let b = a + 1; b < named.length; b++) {
      const [na, sa] = named[a]!;
      const [nb, sb] = named[b]!;
      if (sa && sb && sa.buffer === sb.buffer) throw new Error(`webgpu: ${op}: ${na} and ${nb} must be different storages (both are bound, one writable)`);
    }
  }
}
