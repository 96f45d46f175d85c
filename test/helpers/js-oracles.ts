/**
 * Plain float64 JavaScript versions of the ops, written independently of src/ (row-major index
 * arithmetic, no shared code with the CPU backend), so the op suite's CPU run is checked against
 * something other than itself.
 */
import { sizeOf } from './random-data.js';

function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i]!;
  }
  return st;
}

/** Multi-index of flat position idx in shape. */
function unravel(idx: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = idx % shape[d]!;
    idx = Math.floor(idx / shape[d]!);
  }
  return c;
}

const norm = (a: number, rank: number): number => (a < 0 ? a + rank : a);

/** Reduction over `axis` (all when undefined) with `fn` folding the values of each output element. */
export function reduceOracle(shape: readonly number[], axis: number | readonly number[] | undefined, keepdim: boolean, fn: (vals: number[]) => number) {
  const rank = shape.length;
  const axes = new Set(axis === undefined ? shape.map((_, i) => i) : (typeof axis === 'number' ? [axis] : axis).map((a) => norm(a, rank)));
  const kept = shape.map((d, i) => (axes.has(i) ? 1 : d));
  void keepdim; // the flat order is the same with or without the kept unit axes
  return (x: Float64Array): number[] => {
    const groups: number[][] = Array.from({ length: sizeOf(kept) }, () => []);
    const ks = stridesOf(kept);
    for (let i = 0; i < x.length; i++) {
      const c = unravel(i, shape);
      let o = 0;
      for (let d = 0; d < rank; d++) if (!axes.has(d)) o += c[d]! * ks[d]!;
      groups[o]!.push(x[i]!);
    }
    return groups.map(fn);
  };
}

export const sumOf = (v: number[]): number => v.reduce((s, t) => s + t, 0);
export const meanOf = (v: number[]): number => sumOf(v) / v.length;
export const maxOf = (v: number[]): number => v.reduce((m, t) => Math.max(m, t), -Infinity);

/** out[c_perm] = x[c]: the permutation of axes (out axis i is input axis perm[i]). */
export function permuteOracle(shape: readonly number[], perm: readonly number[]) {
  const rank = shape.length;
  const p = perm.map((a) => norm(a, rank));
  const outShape = p.map((a) => shape[a]!);
  const xs = stridesOf(shape);
  return (x: Float64Array): number[] => Array.from({ length: x.length }, (_, i) => {
    const c = unravel(i, outShape);
    let src = 0;
    for (let d = 0; d < rank; d++) src += c[d]! * xs[p[d]!]!;
    return x[src]!;
  });
}

/** The permutation that swaps axes a and b. */
export function swapPerm(rank: number, a: number, b: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  const i = norm(a, rank);
  const j = norm(b, rank);
  [p[i], p[j]] = [p[j]!, p[i]!];
  return p;
}

/** Broadcast x of `shape` to `outShape` (numpy rules). */
export function expandOracle(shape: readonly number[], outShape: readonly number[]) {
  const pad = outShape.length - shape.length;
  const xs = stridesOf(shape);
  return (x: Float64Array): number[] => Array.from({ length: sizeOf(outShape) }, (_, i) => {
    const c = unravel(i, outShape);
    let src = 0;
    for (let d = 0; d < shape.length; d++) if (shape[d] !== 1) src += c[d + pad]! * xs[d]!;
    return x[src]!;
  });
}

/**
 * torch.matmul of a and b (1-D operands promoted; batch dimensions broadcast), optionally reading
 * the last two axes of a or b transposed.
 */
export function matmulOracle(aShape: readonly number[], bShape: readonly number[], transA = false, transB = false) {
  const a2 = aShape.length === 1 ? [1, aShape[0]!] : [...aShape];
  const b2 = bShape.length === 1 ? [bShape[0]!, 1] : [...bShape];
  const t = (s: number[], tr: boolean): number[] => (tr ? [...s.slice(0, -2), s.at(-1)!, s.at(-2)!] : s);
  const A = t(a2, transA);
  const B = t(b2, transB);
  const m = A.at(-2)!;
  const k = A.at(-1)!;
  const n = B.at(-1)!;
  if (B.at(-2) !== k) throw new Error('matmulOracle: inner dimensions differ');
  const aBatch = A.slice(0, -2);
  const bBatch = B.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const padTo = (s: number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
  const ab = padTo(aBatch);
  const bb = padTo(bBatch);
  const batch = ab.map((d, i) => Math.max(d, bb[i]!));
  const batchIndex = (c: number[], s: number[]): number => c.reduce((o, ci, d) => o * s[d]! + (s[d] === 1 ? 0 : ci), 0);
  return (a: Float64Array, b: Float64Array): number[] => {
    const out: number[] = [];
    const aAt = (bi: number, i: number, l: number): number => (transA ? a[bi * m * k + l * m + i]! : a[bi * m * k + i * k + l]!);
    const bAt = (bi: number, l: number, j: number): number => (transB ? b[bi * k * n + j * k + l]! : b[bi * k * n + l * n + j]!);
    for (let z = 0; z < sizeOf(batch); z++) {
      const c = unravel(z, batch);
      const za = batchIndex(c, ab);
      const zb = batchIndex(c, bb);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let l = 0; l < k; l++) s += aAt(za, i, l) * bAt(zb, l, j);
          out.push(s);
        }
      }
    }
    return out;
  };
}

/** softmax or logSoftmax along `axis`, with the maximum subtracted. */
export function softmaxOracle(shape: readonly number[], axis: number, log: boolean) {
  const ax = norm(axis, shape.length);
  const st = stridesOf(shape)[ax]!;
  const len = shape[ax]!;
  return (x: Float64Array): number[] => {
    const out = new Array<number>(x.length).fill(0);
    for (let i = 0; i < x.length; i++) {
      if (unravel(i, shape)[ax] !== 0) continue;
      const idx = Array.from({ length: len }, (_, r) => i + r * st);
      const mx = Math.max(...idx.map((j) => x[j]!));
      const lse = Math.log(sumOf(idx.map((j) => Math.exp(x[j]! - mx))));
      for (const j of idx) out[j] = log ? x[j]! - mx - lse : Math.exp(x[j]! - mx - lse);
    }
    return out;
  };
}

/** Numerically stable closed forms of the activations. */
export const JS_ACT = {
  sigmoid: (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  tanh: Math.tanh,
  relu: (x: number): number => (x > 0 ? x : 0),
  relu6: (x: number): number => Math.min(Math.max(x, 0), 6),
  leakyRelu: (slope: number) => (x: number): number => (x > 0 ? x : slope * x),
  softplus: (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  /** tanh-approximated gelu: 0.5·x·(1 + tanh u) = x·σ(2u), u = √(2/π)·(x + 0.044715·x³). */
  geluTanh: (x: number): number => {
    const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
    return x * JS_ACT.sigmoid(2 * u);
  },
};
