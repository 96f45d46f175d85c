/** Host side of fill, cast, unary, activationGrad and broadcasting binary ops. */

import {
  activationGradShader,
  binaryShader,
  castShader,
  fillShader,
  isInt32UnaryOp,
  unaryShader,
  type OperandMode,
} from '../../../shaders/elementwise.js';
import { WG_1D, wgslType } from '../../../shaders/common.js';
import type { ActivationGradOp, BinaryOp, DType, Storage, UnaryOp } from '../types.js';
import { Params, scalarBits, type KernelContext } from './context.js';
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
  const kernel = ctx.pipelines.get(`fill:${t}:${w.vec4 ? 'v4' : 's'}`, 0, () => fillShader(t, w.vec4));
  const p = new Params(2);
  p.u32[0] = w.count;
  p.u32[1] = scalarBits(value, dtype);
  ctx.batcher.dispatch('fill', kernel, [out.buffer], p.u32, groups(w.count));
  return out;
}

export function cast(ctx: KernelContext, xs: Storage, dtype: DType): GpuStorage {
  const x = ctx.input(xs, 'cast');
  const from = wgslType(x.dtype);
  const to = wgslType(dtype);
  const out = ctx.output(x.length, dtype, 'cast');
  if (x.length === 0) return out;
  const kernel = ctx.pipelines.get(`cast:${from}:${to}`, 1, () => castShader(from, to));
  const p = new Params(2);
  p.u32[0] = x.length;
  ctx.batcher.dispatch('cast', kernel, [x.buffer, out.buffer], p.u32, groups(x.length));
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
  const kernel = ctx.pipelines.get(`unary:${op}:${t}:${w.vec4 ? 'v4' : 's'}`, 1, () => unaryShader(op, t, w.vec4));
  const p = new Params(2);
  p.u32[0] = w.count;
  p.u32[1] = scalarBits(param, x.dtype);
  ctx.batcher.dispatch(name, kernel, [x.buffer, out.buffer], p.u32, groups(w.count));
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
  const kernel = ctx.pipelines.get(`actgrad:${op}:${w.vec4 ? 'v4' : 's'}`, 2, () => activationGradShader(op, w.vec4));
  const p = new Params(2);
  p.u32[0] = w.count;
  p.u32[1] = scalarBits(param, 'float32');
  ctx.batcher.dispatch(name, kernel, [x.buffer, dy.buffer, out.buffer], p.u32, groups(w.count));
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
  const kernel = ctx.pipelines.get(`binary:${op}:${t}:${aMode}:${bMode}:${rank}:${vec4 ? 'v4' : 's'}`, 2, () => binaryShader(op, t, aMode, bMode, rank, vec4));
  const slots = Math.max(1, Math.ceil(rank / 4)) * 4;
  const p = new Params(strided ? 4 + 3 * slots : 2);
  p.u32[0] = count;
  p.u32[1] = rank;
  if (strided) {
    for (let d = 0; d < rank; d++) {
      p.u32[4 + d] = c.shape[d]!;
      p.u32[4 + slots + d] = c.sa[d]!;
      p.u32[4 + 2 * slots + d] = c.sb[d]!;
    }
  }
  ctx.batcher.dispatch(name, kernel, [a.buffer, b.buffer, out.buffer], p.u32, groups(count));
  return out;
}
