/**
 * Host side of the core-op kernels (see CoreOpKernels in ../types.ts): argReduce, gather,
 * scatterAdd, select, stridedWrite, cumsum. Each validates sizes, allocates its output and
 * writes its uniforms here, in one place per kernel.
 */
import { WG_1D, wgslType, type WgslScalar } from '../../../shaders/common.js';
import { argReduceKernel } from '../../../shaders/argreduce.js';
import { gatherKernel, histogramKernel, placeKernel, scatterAddKernel, segmentSumKernel } from '../../../shaders/indexing.js';
import { selectKernel, stridedWriteKernel } from '../../../shaders/select.js';
import { cumsumKernel } from '../../../shaders/scan.js';
import type { ArgReduceOp, IndexLayout, Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import { fill } from './elementwise.js';
import { collapseStrided } from './strided.js';
import type { GpuStorage } from './storage.js';

const groups = (n: number): number => Math.ceil(n / WG_1D);

function checkCounts(op: string, counts: Record<string, number>): void {
  for (const [name, v] of Object.entries(counts)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`webgpu: ${op}: ${name} must be a non-negative integer, got ${v}`);
  }
}

function checkLength(op: string, name: string, s: GpuStorage, expected: number): void {
  if (s.length !== expected) throw new Error(`webgpu: ${op}: ${name} has ${s.length} elements, expected ${expected}`);
}

function indexInput(ctx: KernelContext, op: string, indices: Storage, layout: IndexLayout, outer: number, inner: number, count: number): GpuStorage {
  const ix = ctx.input(indices, op);
  if (ix.dtype !== 'int32') throw new Error(`webgpu: ${op}: indices must be int32, got ${ix.dtype}`);
  checkLength(op, 'indices', ix, layout === 'shared' ? count : outer * count * inner);
  return ix;
}

export function argReduce(ctx: KernelContext, op: ArgReduceOp, xs: Storage, outer: number, length: number, inner: number): GpuStorage {
  const x = ctx.input(xs, op);
  checkCounts(op, { outer, length, inner });
  if (length < 1) throw new Error(`webgpu: ${op}: length must be at least 1`);
  checkLength(op, 'x', x, outer * length * inner);
  const n = outer * inner;
  const out = ctx.output(n, 'int32', op);
  if (n === 0) return out;
  const t = wgslType(x.dtype);
  dispatchKernel(ctx, op, argReduceKernel(op, t), { X: x.buffer, out: out.buffer }, { n, length, inner }, groups(n));
  return out;
}

export function gather(ctx: KernelContext, xs: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number): GpuStorage {
  const x = ctx.input(xs, 'gather');
  checkCounts('gather', { outer, length, inner, count });
  checkLength('gather', 'x', x, outer * length * inner);
  const ix = indexInput(ctx, 'gather', indices, layout, outer, inner, count);
  const n = outer * count * inner;
  const out = ctx.output(n, x.dtype, 'gather');
  if (n === 0) return out;
  const values = { n, length, inner, count, bad: x.dtype === 'int32' ? 0 : 0x7fc00000 };
  // With length 0 every index is out of range; x's buffer still needs a binding of non-zero size.
  dispatchKernel(ctx, 'gather', gatherKernel(layout), { X: x.buffer, I: ix.buffer, out: out.buffer }, values, groups(n));
  return out;
}

export function scatterAdd(ctx: KernelContext, srcs: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number): GpuStorage {
  const src = ctx.input(srcs, 'scatterAdd');
  checkCounts('scatterAdd', { outer, length, inner, count });
  checkLength('scatterAdd', 'src', src, outer * count * inner);
  const ix = indexInput(ctx, 'scatterAdd', indices, layout, outer, inner, count);
  const n = outer * length * inner;
  if (n === 0) return ctx.output(0, src.dtype, 'scatterAdd');
  if (count === 0) return fill(ctx, n, 0, src.dtype);
  const t = wgslType(src.dtype);
  if (layout === 'shared') return scatterAddShared(ctx, src, ix, outer, length, inner, count, t);
  const out = ctx.output(n, src.dtype, 'scatterAdd');
  const buffers = { S: src.buffer, I: ix.buffer, out: out.buffer };
  dispatchKernel(ctx, 'scatterAdd', scatterAddKernel(layout, t), buffers, { n, length, inner, count }, groups(n));
  return out;
}

/** The bucketed path for a shared index list (see shaders/indexing.ts): deterministic, ~linear. */
function scatterAddShared(ctx: KernelContext, src: GpuStorage, ix: GpuStorage, outer: number, length: number, inner: number, count: number, t: WgslScalar): GpuStorage {
  const op = 'scatterAdd';
  // 1. counts per index.
  const counts = fill(ctx, length, 0, 'int32');
  dispatchKernel(ctx, op, histogramKernel, { I: ix.buffer, counts: counts.buffer }, { n: count, length }, groups(count));
  // 2. start[l] = Σ counts[< l], start[length] = the in-range total: write counts at offset 1 of zeros, then an inclusive scan.
  const shifted = fill(ctx, length + 1, 0, 'int32');
  stridedWrite(ctx, shifted, counts, [length], [1], 1);
  ctx.releaseStorage(counts);
  const start = cumsum(ctx, shifted, 1, length + 1, 1, false);
  ctx.releaseStorage(shifted);
  // 3. each bucket's sources in ascending order.
  const list = ctx.output(count, 'int32', op);
  dispatchKernel(ctx, op, placeKernel, { I: ix.buffer, start: start.buffer, list: list.buffer }, { n: count, length }, groups(count));
  // 4. each output element sums its bucket.
  const n = outer * length * inner;
  const out = ctx.output(n, src.dtype, op);
  const buffers = { S: src.buffer, start: start.buffer, list: list.buffer, out: out.buffer };
  dispatchKernel(ctx, op, segmentSumKernel(t), buffers, { n, length, inner, count }, groups(n));
  ctx.releaseStorage(start);
  ctx.releaseStorage(list);
  return out;
}

export function select(ctx: KernelContext, conds: Storage, as: Storage, bs: Storage): GpuStorage {
  const cond = ctx.input(conds, 'select');
  const a = ctx.input(as, 'select');
  const b = ctx.input(bs, 'select');
  if (a.dtype !== b.dtype) throw new Error(`webgpu: select: a and b have different dtypes (${a.dtype}, ${b.dtype})`);
  checkLength('select', 'cond', cond, a.length);
  checkLength('select', 'b', b, a.length);
  const n = a.length;
  const out = ctx.output(n, a.dtype, 'select');
  if (n === 0) return out;
  const ct = wgslType(cond.dtype);
  const buffers = { C: cond.buffer, A: a.buffer, B: b.buffer, out: out.buffer };
  dispatchKernel(ctx, 'select', selectKernel(ct), buffers, { n }, groups(n));
  return out;
}

export function stridedWrite(ctx: KernelContext, dsts: Storage, srcs: Storage, srcShape: readonly number[], strides: readonly number[], offset: number): void {
  const dst = ctx.input(dsts, 'stridedWrite');
  const src = ctx.input(srcs, 'stridedWrite');
  if (dst.dtype !== src.dtype) throw new Error(`webgpu: stridedWrite: dst and src have different dtypes (${dst.dtype}, ${src.dtype})`);
  if (strides.length !== srcShape.length) throw new Error(`webgpu: stridedWrite: ${strides.length} strides for a source of rank ${srcShape.length}`);
  const n = srcShape.reduce((x, y) => x * y, 1);
  checkLength('stridedWrite', 'src', src, n);
  if (n === 0) return;
  const c = collapseStrided(srcShape, strides);
  const rank = c.shape.length;
  const values = { n, rank, offset, shape: c.shape, strides: c.strides };
  dispatchKernel(ctx, 'stridedWrite', stridedWriteKernel(rank), { S: src.buffer, out: dst.buffer }, values, groups(n));
}

export function cumsum(ctx: KernelContext, xs: Storage, outer: number, length: number, inner: number, reverse: boolean): GpuStorage {
  const x = ctx.input(xs, 'cumsum');
  checkCounts('cumsum', { outer, length, inner });
  checkLength('cumsum', 'x', x, outer * length * inner);
  const out = ctx.output(x.length, x.dtype, 'cumsum');
  const n = outer * inner;
  if (x.length === 0) return out;
  const t = wgslType(x.dtype);
  dispatchKernel(ctx, 'cumsum', cumsumKernel(t, reverse), { X: x.buffer, out: out.buffer }, { n, length, inner }, groups(n));
  return out;
}
