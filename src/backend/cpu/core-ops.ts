/**
 * CPU reference of the core-op kernels (see CoreOpKernels in ../types.ts): arg-reductions,
 * gather / scatter-add, select, strided write, cumsum. Plain loops, float64 arithmetic; each
 * function checks its storages and sizes and throws naming the kernel.
 */
import { typedArrayFor, type ArgReduceOp, type IndexLayout, type Storage, type TypedArray } from '../types.js';
import { CpuStorage, cpuStorage } from './storage.js';
import { stridedIndexRange } from './strided.js';

function checkCount(kernel: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`cpu.${kernel}: ${name} must be a non-negative integer, got ${v}`);
}

function checkLength(kernel: string, name: string, s: CpuStorage, expected: number): void {
  if (s.length !== expected) throw new Error(`cpu.${kernel}: ${name} has ${s.length} elements, expected ${expected}`);
}

function int32Indices(kernel: string, indices: Storage, layout: IndexLayout, outer: number, inner: number, count: number): Int32Array {
  const ix = cpuStorage(kernel, 'indices', indices);
  if (ix.dtype !== 'int32') throw new Error(`cpu.${kernel}: indices must be int32, got ${ix.dtype}`);
  checkLength(kernel, 'indices', ix, layout === 'shared' ? count : outer * count * inner);
  return ix.data as Int32Array;
}

/** The position along the axis that output/source element (o, c, j) refers to. */
function indexAt(ix: Int32Array, layout: IndexLayout, o: number, c: number, j: number, count: number, inner: number): number {
  return layout === 'shared' ? ix[c]! : ix[(o * count + c) * inner + j]!;
}

export function argReduceCpu(op: ArgReduceOp, x: Storage, outer: number, length: number, inner: number): CpuStorage {
  const xs = cpuStorage('argReduce', 'x', x);
  for (const [n, v] of [['outer', outer], ['length', length], ['inner', inner]] as const) checkCount('argReduce', n, v);
  if (length < 1) throw new Error('cpu.argReduce: length must be at least 1');
  checkLength('argReduce', 'x', xs, outer * length * inner);
  const data = xs.data;
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * length * inner + j;
      let best = data[base]!;
      let bi = 0;
      if (!Number.isNaN(best)) {
        for (let l = 1; l < length; l++) {
          const v = data[base + l * inner]!;
          if (Number.isNaN(v)) { bi = l; break; } // the first NaN wins, as in PyTorch
          if (op === 'argmax' ? v > best : v < best) { best = v; bi = l; }
        }
      }
      out[o * inner + j] = bi;
    }
  }
  return new CpuStorage('int32', out);
}

export function gatherCpu(
  x: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number,
): CpuStorage {
  const xs = cpuStorage('gather', 'x', x);
  for (const [n, v] of [['outer', outer], ['length', length], ['inner', inner], ['count', count]] as const) checkCount('gather', n, v);
  checkLength('gather', 'x', xs, outer * length * inner);
  const ix = int32Indices('gather', indices, layout, outer, inner, count);
  const out = typedArrayFor(xs.dtype, outer * count * inner);
  const bad = xs.dtype === 'int32' ? 0 : Number.NaN;
  const data = xs.data;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < count; c++) {
      for (let j = 0; j < inner; j++) {
        const idx = indexAt(ix, layout, o, c, j, count, inner);
        out[(o * count + c) * inner + j] = idx >= 0 && idx < length ? data[(o * length + idx) * inner + j]! : bad;
      }
    }
  }
  return new CpuStorage(xs.dtype, out);
}

export function scatterAddCpu(
  src: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number,
): CpuStorage {
  const ss = cpuStorage('scatterAdd', 'src', src);
  for (const [n, v] of [['outer', outer], ['length', length], ['inner', inner], ['count', count]] as const) checkCount('scatterAdd', n, v);
  checkLength('scatterAdd', 'src', ss, outer * count * inner);
  const ix = int32Indices('scatterAdd', indices, layout, outer, inner, count);
  const acc = new Float64Array(outer * length * inner);
  const data = ss.data;
  // Ascending c for every target: the same order the GPU kernel sums in.
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < count; c++) {
      for (let j = 0; j < inner; j++) {
        const idx = indexAt(ix, layout, o, c, j, count, inner);
        if (idx >= 0 && idx < length) acc[(o * length + idx) * inner + j]! += data[(o * count + c) * inner + j]!;
      }
    }
  }
  const out = typedArrayFor(ss.dtype, acc.length);
  out.set(acc);
  return new CpuStorage(ss.dtype, out);
}

export function selectCpu(cond: Storage, a: Storage, b: Storage): CpuStorage {
  const cs = cpuStorage('select', 'cond', cond);
  const as = cpuStorage('select', 'a', a);
  const bs = cpuStorage('select', 'b', b);
  if (as.dtype !== bs.dtype) throw new Error(`cpu.select: a and b have different dtypes (${as.dtype}, ${bs.dtype})`);
  checkLength('select', 'cond', cs, as.length);
  checkLength('select', 'b', bs, as.length);
  const out = typedArrayFor(as.dtype, as.length);
  const c = cs.data;
  const ad = as.data;
  const bd = bs.data;
  // NaN is "true" (as bool(nan) in PyTorch); -0 is false.
  for (let i = 0; i < out.length; i++) out[i] = c[i] !== 0 ? ad[i]! : bd[i]!;
  return new CpuStorage(as.dtype, out);
}

export function stridedWriteCpu(dst: Storage, src: Storage, srcShape: readonly number[], strides: readonly number[], offset: number): void {
  const ds = cpuStorage('stridedWrite', 'dst', dst);
  const ss = cpuStorage('stridedWrite', 'src', src);
  if (ds.dtype !== ss.dtype) throw new Error(`cpu.stridedWrite: dst and src have different dtypes (${ds.dtype}, ${ss.dtype})`);
  if (strides.length !== srcShape.length || !strides.every(Number.isSafeInteger) || !Number.isSafeInteger(offset)) {
    throw new Error(`cpu.stridedWrite: need ${srcShape.length} integer strides and an integer offset`);
  }
  const n = srcShape.reduce((p, d) => p * d, 1);
  checkLength('stridedWrite', 'src', ss, n);
  if (n === 0) return;
  const [lo, hi] = stridedIndexRange(srcShape, strides, offset);
  if (lo < 0 || hi >= ds.length) throw new Error(`cpu.stridedWrite: the view writes indices ${lo}..${hi}, outside dst's ${ds.length} elements`);
  const rank = srcShape.length;
  const coord = new Array<number>(rank).fill(0);
  const out = ds.data;
  const data = ss.data;
  let at = offset;
  for (let i = 0; i < n; i++) {
    out[at] = data[i]!;
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]!++;
      at += strides[d]!;
      if (coord[d]! < srcShape[d]!) break;
      at -= strides[d]! * srcShape[d]!;
      coord[d] = 0;
    }
  }
}

export function cumsumCpu(x: Storage, outer: number, length: number, inner: number, reverse: boolean): CpuStorage {
  const xs = cpuStorage('cumsum', 'x', x);
  for (const [n, v] of [['outer', outer], ['length', length], ['inner', inner]] as const) checkCount('cumsum', n, v);
  checkLength('cumsum', 'x', xs, outer * length * inner);
  const out: TypedArray = typedArrayFor(xs.dtype, xs.length);
  const data = xs.data;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      let acc = 0;
      for (let k = 0; k < length; k++) {
        const l = reverse ? length - 1 - k : k;
        const at = (o * length + l) * inner + j;
        acc += data[at]!;
        out[at] = acc;
      }
    }
  }
  return new CpuStorage(xs.dtype, out);
}
