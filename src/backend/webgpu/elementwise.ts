/** Host side of fill, cast, unary, activationGrad and broadcasting binary ops. */

import {
  activationGradKernel,
  binaryKernel,
  binaryStridedKernel,
  castKernel,
  fillKernel,
  isInt32UnaryOp,
  unaryKernel,
  type OperandMode,
} from '../../../shaders/elementwise.js';
import { WG_1D, wgslType } from '../../../shaders/common.js';
import type { ActivationGradOp, BinaryOp, DType, Storage, UnaryOp } from '../types.js';
import { scalarBits, type KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import type { GpuStorage } from './storage.js';

function groups(n: number): number {
  return Math.ceil(n / WG_1D);
}

/** Whether a length runs through the vec4 form of the elementwise kernels (see shaders/elementwise.ts). */
function useVec4(length: number): boolean {
  return length % 4 === 0;
}

/** Invocations for `length` elements: one per vec4, or one per element. */
function width(length: number): { vec4: boolean; count: number } {
  const vec4 = useVec4(length);
  return { vec4, count: vec4 ? length / 4 : length };
}

export function fill(ctx: KernelContext, length: number, value: number, dtype: DType): GpuStorage {
  const t = wgslType(dtype);
  const out = ctx.output(length, dtype, 'fill');
  if (length === 0) return out;
  const w = width(length);
  dispatchKernel(ctx, 'fill', fillKernel(t, w.vec4), { out: out.buffer }, { n: w.count, bits: scalarBits(value, dtype) }, groups(w.count));
  return out;
}

export function cast(ctx: KernelContext, xs: Storage, dtype: DType): GpuStorage {
  const x = ctx.input(xs, 'cast');
  const from = wgslType(x.dtype);
  const to = wgslType(dtype);
  const out = ctx.output(x.length, dtype, 'cast');
  if (x.length === 0) return out;
  dispatchKernel(ctx, 'cast', castKernel(from, to), { x: x.buffer, out: out.buffer }, { n: x.length, bits: 0 }, groups(x.length));
  return out;
}

export function unary(ctx: KernelContext, op: UnaryOp, xs: Storage, param: number): GpuStorage {
  const name = `unary ${op}`;
  const x = ctx.input(xs, name);
  const t = wgslType(x.dtype);
  if (t === 'i32' && !isInt32UnaryOp(op)) throw new Error(`webgpu: unary op '${op}' is not defined for int32 tensors`);
  const out = ctx.output(x.length, x.dtype, name);
  if (x.length === 0) return out;
  const w = width(x.length);
  const values = { n: w.count, bits: scalarBits(param, x.dtype) };
  dispatchKernel(ctx, name, unaryKernel(op, t, w.vec4), { X: x.buffer, out: out.buffer }, values, groups(w.count));
  return out;
}

export function activationGrad(ctx: KernelContext, op: ActivationGradOp, xs: Storage, dys: Storage, param: number): GpuStorage {
  const name = `activationGrad ${op}`;
  const x = ctx.input(xs, name);
  const dy = ctx.input(dys, name);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`webgpu: ${name} needs float32 tensors, got ${x.dtype} and ${dy.dtype}`);
  if (x.length !== dy.length) throw new Error(`webgpu: ${name}: x has ${x.length} elements but dy has ${dy.length}`);
  const out = ctx.output(x.length, 'float32', name);
  if (x.length === 0) return out;
  const w = width(x.length);
  const values = { n: w.count, bits: scalarBits(param, 'float32') };
  dispatchKernel(ctx, name, activationGradKernel(op, w.vec4), { X: x.buffer, DY: dy.buffer, out: out.buffer }, values, groups(w.count));
  return out;
}

export interface CollapsedBroadcast {
  /** Output shape with size-1 axes dropped and mergeable neighbours merged (at least rank 1). */
  shape: number[];
  /** Element strides of a and b over `shape` (0 on broadcast axes). */
  sa: number[];
  sb: number[];
}

function operandStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    const o = rank - shape.length + i;
    strides[o] = d === 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

/** Simplifies a broadcast so the shader does as little index math as possible. */
export function collapseBroadcast(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]): CollapsedBroadcast {
  const fa = operandStrides(aShape, outShape);
  const fb = operandStrides(bShape, outShape);
  const shape: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  for (let d = 0; d < outShape.length; d++) {
    const n = outShape[d]!;
    if (n === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && sa[last] === fa[d]! * n && sb[last] === fb[d]! * n) {
      shape[last] = shape[last]! * n;
      sa[last] = fa[d]!;
      sb[last] = fb[d]!;
    } else {
      shape.push(n);
      sa.push(fa[d]!);
      sb.push(fb[d]!);
    }
  }
  if (shape.length === 0) return { shape: [1], sa: [0], sb: [0] };
  return { shape, sa, sb };
}

function modeOf(strides: readonly number[], shape: readonly number[]): OperandMode {
  if (strides.every((s) => s === 0)) return 'scalar';
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (strides[d] !== s) return 'strided';
    s *= shape[d]!;
  }
  return 'same';
}

export function binary(
  ctx: KernelContext,
  op: BinaryOp,
  as: Storage,
  aShape: readonly number[],
  bs: Storage,
  bShape: readonly number[],
  outShape: readonly number[],
): GpuStorage {
  const name = `binary ${op}`;
  const a = ctx.input(as, name);
  const b = ctx.input(bs, name);
  if (a.dtype !== b.dtype) throw new Error(`webgpu: ${name}: operands have different dtypes (${a.dtype}, ${b.dtype})`);
  const t = wgslType(a.dtype);
  const n = outShape.reduce((x, y) => x * y, 1);
  const out = ctx.output(n, a.dtype, name);
  if (n === 0) return out;
  const c = collapseBroadcast(aShape, bShape, outShape);
  const aMode = modeOf(c.sa, c.shape);
  const bMode = modeOf(c.sb, c.shape);
  const strided = aMode === 'strided' || bMode === 'strided';
  const rank = strided ? c.shape.length : 0;
  const vec4 = !strided && useVec4(n);
  const count = vec4 ? n / 4 : n;
  const buffers = { A: a.buffer, B: b.buffer, out: out.buffer };
  if (strided) {
    const values = { n: count, rank, shape: c.shape, sa: c.sa, sb: c.sb };
    dispatchKernel(ctx, name, binaryStridedKernel(op, t, aMode, bMode, rank), buffers, values, groups(count));
  } else {
    dispatchKernel(ctx, name, binaryKernel(op, t, aMode, bMode, vec4), buffers, { n: count, rank }, groups(count));
  }
  return out;
}
