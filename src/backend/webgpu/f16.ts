/**
 * float16 on WebGPU (device feature 'shader-f16'). Storage is array<f16>; conversions and matmul
 * have f16 kernels (shaders/f16.ts). Every other verb widens its f16 operands to f32, runs the f32
 * kernel and rounds the result to f16 once: PyTorch computes f16 elementwise ops and reductions in
 * f32 the same way, and the widening is exact, so the results are PyTorch's.
 */

import { halfCastKernel, matmulF16BiasKernel, matmulF16Kernel, MATMUL_F16_TILE } from '../../../shaders/f16.js';
import { WG_1D } from '../../../shaders/common.js';
import type { DType, MatmulArgs, Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import * as ew from './elementwise.js';
import type { GpuStorage } from './storage.js';

function convert(ctx: KernelContext, x: GpuStorage, from: 'f32' | 'f16', to: 'f32' | 'f16', op: string): GpuStorage {
  const out = ctx.output(x.length, to === 'f16' ? 'float16' : 'float32', op);
  if (x.length === 0) return out;
  dispatchKernel(ctx, op, halfCastKernel(from, to), { x: x.buffer, out: out.buffer }, { n: x.length }, Math.ceil(x.length / WG_1D));
  return out;
}

/** f16 → f32 (exact). */
export function widen(ctx: KernelContext, xs: Storage, op: string): GpuStorage {
  return convert(ctx, ctx.input(xs, op), 'f16', 'f32', op);
}

/** f32 → f16 (round to nearest even, ±inf beyond 65504); releases the f32 input when `consume`. */
export function narrow(ctx: KernelContext, x: GpuStorage, op: string, consume: boolean): GpuStorage {
  const out = convert(ctx, x, 'f32', 'f16', op);
  if (consume) ctx.releaseStorage(x);
  return out;
}

/** A cast where the source or the target is float16. */
export function castHalf(ctx: KernelContext, xs: Storage, dtype: DType): GpuStorage {
  const x = ctx.input(xs, 'cast');
  if (x.dtype === 'float16') {
    const wide = convert(ctx, x, 'f16', 'f32', 'cast');
    if (dtype === 'float16') return narrow(ctx, wide, 'cast', true); // a copy
    if (dtype === 'float32') return wide;
    const out = ew.cast(ctx, wide, dtype);
    ctx.releaseStorage(wide);
    return out;
  }
  if (x.dtype === 'float32') return convert(ctx, x, 'f32', 'f16', 'cast');
  const wide = ew.cast(ctx, x, 'float32'); // int32 → f32 → f16, as torch (int → float → half)
  return narrow(ctx, wide, 'cast', true);
}

/**
 * Runs an f32 verb on float16 operands: widens each f16 storage, calls `run`, releases the widened
 * copies and rounds the f32 result to f16. Storages of other dtypes pass through unchanged.
 */
export function viaFloat32(ctx: KernelContext, op: string, inputs: readonly Storage[], run: (wide: Storage[]) => Storage): GpuStorage {
  const temps: GpuStorage[] = [];
  const wide = inputs.map((s) => {
    if (s.dtype !== 'float16') return s;
    const w = widen(ctx, s, op);
    temps.push(w);
    return w;
  });
  const result = ctx.input(run(wide), op);
  for (const t of temps) ctx.releaseStorage(t);
  return result.dtype === 'float32' ? narrow(ctx, result, op, true) : result;
}

/** C = A·B (+ bias) for f16 A, B, bias: f16 in and out, f32 accumulation (shaders/f16.ts). */
export function matmulHalf(ctx: KernelContext, as: Storage, bs: Storage, args: MatmulArgs): GpuStorage {
  const a = ctx.input(as, 'matmul');
  const b = ctx.input(bs, 'matmul');
  const bias = args.bias ? ctx.input(args.bias, 'matmul') : null;
  for (const s of bias ? [a, b, bias] : [a, b]) {
    if (s.dtype !== 'float16') throw new Error(`webgpu: matmul: operands must all be float16 or all float32, got ${a.dtype}, ${b.dtype}${bias ? `, ${bias.dtype}` : ''}`);
  }
  const { batch, m, k, n, transA, transB, aBatchStride, bBatchStride } = args;
  const needA = batch > 0 && m * k > 0 ? (batch - 1) * aBatchStride + m * k : 0;
  const needB = batch > 0 && k * n > 0 ? (batch - 1) * bBatchStride + k * n : 0;
  if (a.length < needA) throw new Error(`webgpu: matmul: A has ${a.length} elements, the arguments need ${needA}`);
  if (b.length < needB) throw new Error(`webgpu: matmul: B has ${b.length} elements, the arguments need ${needB}`);
  if (bias && bias.length !== n) throw new Error(`webgpu: matmul: bias has ${bias.length} elements, expected n = ${n}`);
  const out = ctx.output(batch * m * n, 'float16', 'matmul');
  if (batch * m * n === 0) return out;
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.ceil(n / MATMUL_F16_TILE);
  const gy = Math.ceil(m / MATMUL_F16_TILE);
  if (gx > max || gy > max) throw new Error(`webgpu: matmul: a ${m}x${n} float16 result needs ${gx}x${gy} workgroups, more than the device's ${max} per axis`);
  const name = bias ? 'matmul+bias (float16)' : 'matmul (float16)';
  for (let z0 = 0; z0 < batch; z0 += max) {
    const values = { m, k, n, aBatchStride, bBatchStride, zOff: z0 };
    const groups = [gx, gy, Math.min(max, batch - z0)] as const;
    if (bias) dispatchKernel(ctx, name, matmulF16BiasKernel(transA, transB), { A: a.buffer, B: b.buffer, BIAS: bias.buffer, C: out.buffer }, values, groups);
    else dispatchKernel(ctx, name, matmulF16Kernel(transA, transB), { A: a.buffer, B: b.buffer, C: out.buffer }, values, groups);
  }
  return out;
}
