/**
 * Host side of the core-op kernels (see CoreOpKernels in ../types.ts): argReduce, gather,
 * scatterAdd, select, stridedWrite, cumsum. Each validates sizes, allocates its output and
 * writes its uniforms here, in one place per kernel.
 */
import { WG_1D, vec4Slots, wgslType, type WgslScalar } from '../../../shaders/common.js';
import { argReduceShader } from '../../../shaders/argreduce.js';
import { gatherShader, histogramShader, placeShader, scatterAddShader, segmentSumShader } from '../../../shaders/indexing.js';
import { selectShader, stridedWriteShader } from '../../../shaders/select.js';
import { cumsumShader } from '../../../shaders/scan.js';
import type { ArgReduceOp, IndexLayout, Storage } from '../types.js';
import { Params, type KernelContext } from './context.js';
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
  const kernel = ctx.pipelines.get(`argreduce:${op}:${t}`, 1, () => argReduceShader(op, t));
  const p = new Params(3);
  p.u32.set([n, length, inner]);
  ctx.batcher.dispatch(op, kernel, [x.buffer, out.buffer], p.u32, groups(n));
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
  const kernel = ctx.pipelines.get(`gather:${layout}`, 2, () => gatherShader(layout));
  const p = new Params(5);
  p.u32.set([n, length, inner, count, x.dtype === 'int32' ? 0 : 0x7fc00000]);
  // With length 0 every index is out of range; x's buffer still needs a binding of non-zero size.
  ctx.batcher.dispatch('gather', kernel, [x.buffer, ix.buffer, out.buffer], p.u32, groups(n));
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
  const kernel = ctx.pipelines.get(`scatteradd:${layout}:${t}`, 2, () => scatterAddShader(layout, t));
  const p = new Params(4);
  p.u32.set([n, length, inner, count]);
  ctx.batcher.dispatch('scatterAdd', kernel, [src.buffer, ix.buffer, out.buffer], p.u32, groups(n));
  return out;
}

/** The bucketed path for a shared index list (see shaders/indexing.ts): deterministic, ~linear. */
function scatterAddShared(ctx: KernelContext, src: GpuStorage, ix: GpuStorage, outer: number, length: number, inner: number, count: number, t: WgslScalar): GpuStorage {
  const op = 'scatterAdd';
  const p2 = new Params(2);
  p2.u32.set([count, length]);
  // 1. counts per index.
  const counts = fill(ctx, length, 0, 'int32');
  ctx.batcher.dispatch(op, ctx.pipelines.get('scatteradd:histogram', 1, histogramShader), [ix.buffer, counts.buffer], p2.u32, groups(count));
  // 2. start[l] = Σ counts[< l], start[length] = the in-range total: write counts at offset 1 of zeros, then an inclusive scan.
  const shifted = fill(ctx, length + 1, 0, 'int32');
  stridedWrite(ctx, shifted, counts, [length], [1], 1);
  ctx.releaseStorage(counts);
  const start = cumsum(ctx, shifted, 1, length + 1, 1, false);
  ctx.releaseStorage(shifted);
  // 3. each bucket's sources in ascending order.
  const list = ctx.output(count, 'int32', op);
  ctx.batcher.dispatch(op, ctx.pipelines.get('scatteradd:place', 2, placeShader), [ix.buffer, start.buffer, list.buffer], p2.u32, groups(count));
  // 4. each output element sums its bucket.
  const n = outer * length * inner;
  const out = ctx.output(n, src.dtype, op);
  const p4 = new Params(4);
  p4.u32.set([n, length, inner, count]);
  ctx.batcher.dispatch(op, ctx.pipelines.get(`scatteradd:segsum:${t}`, 3, () => segmentSumShader(t)), [src.buffer, start.buffer, list.buffer, out.buffer], p4.u32, groups(n));
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
  const kernel = ctx.pipelines.get(`select:${ct}`, 3, () => selectShader(ct));
  const p = new Params(1);
  p.u32[0] = n;
  ctx.batcher.dispatch('select', kernel, [cond.buffer, a.buffer, b.buffer, out.buffer], p.u32, groups(n));
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
  const slots = vec4Slots(rank) * 4;
  const kernel = ctx.pipelines.get(`stridedwrite:${rank}`, 1, () => stridedWriteShader(rank));
  const p = new Params(4 + 2 * slots);
  p.u32[0] = n;
  p.u32[1] = rank;
  p.i32[2] = offset;
  for (let d = 0; d < rank; d++) {
    p.u32[4 + d] = c.shape[d]!;
    p.i32[4 + slots + d] = c.strides[d]!;
  }
  ctx.batcher.dispatch('stridedWrite', kernel, [src.buffer, dst.buffer], p.u32, groups(n));
}

export function cumsum(ctx: KernelContext, xs: Storage, outer: number, length: number, inner: number, reverse: boolean): GpuStorage {
  const x = ctx.input(xs, 'cumsum');
  checkCounts('cumsum', { outer, length, inner });
  checkLength('cumsum', 'x', x, outer * length * inner);
  const out = ctx.output(x.length, x.dtype, 'cumsum');
  const n = outer * inner;
  if (x.length === 0) return out;
  const t = wgslType(x.dtype);
  const kernel = ctx.pipelines.get(`cumsum:${t}:${reverse ? 'rev' : 'fwd'}`, 1, () => cumsumShader(t, reverse));
  const p = new Params(3);
  p.u32.set([n, length, inner]);
  ctx.batcher.dispatch('cumsum', kernel, [x.buffer, out.buffer], p.u32, groups(n));
  return out;
}
