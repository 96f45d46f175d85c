/**
 * The op suite for the core tensor ops (issue 12, part 1): argmax/argmin, min, maxDim/minDim,
 * where, slice/narrow, cat/stack, split/chunk, pad, var/std, cumsum, oneHot, logSoftmax on any
 * axis, gather/indexSelect, and the extra losses. Same harness as test/op-suite.test.ts: every
 * case runs on each backend in float32 (pool poisoned with NaN first) against the float64 CPU
 * reference, gradients of sum(op(x)·W) too; int results compare exactly, several against an
 * independent JS oracle.
 *
 * Index tensors are built inside `run` from fixed arrays (so they are not differentiable inputs).
 */
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { describeOpCases, type CaseCtx, type OpCase } from './helpers/oracle.js';
import { EXACT, TRANS, reductionTol, type Tol } from './helpers/compare.js';
import { DISTINCT, FIXED, GRID, INT, SPECIALS, U, maxAbs, prng, sizeOf, type Dist } from './helpers/random-data.js';
import type { Tensor } from '../src/tensor.js';
import {
  argmax, argmin, binaryCrossEntropyWithLogits, cat, chunk, crossEntropyWithSmoothing, cumsum, gather, gt, huberLoss,
  indexSelect, logSoftmax, maxDim, min, minDim, mul, narrow, nllLoss, oneHot, pad, slice, smoothL1Loss, split, stack,
  std, tensor, variance, where,
} from '../src/index.js';

const sh = (s: readonly number[]): string => `[${s.join(',')}]`;
const f = (shape: number[], dist: Dist = U()): { shape: number[]; dist: Dist } => ({ shape, dist });
const i32 = (shape: number[], dist: Dist = INT()): { shape: number[]; dist: Dist; int: true } => ({ shape, dist, int: true });

/** Fixed pseudo-random integers in [lo, hi] (for index tensors built inside `run`). */
function ints(n: number, lo: number, hi: number, seed: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
}
const idx = (like: Tensor, values: number[], shape: number[]): Tensor => tensor(values, { shape, dtype: 'int32', device: like.device });

/** Uniform values with NaN at the given flat positions. */
function withNaN(n: number, at: number[], seed: number): Dist {
  const r = prng(seed);
  const v = Array.from({ length: n }, () => Math.fround(-3 + 6 * r()));
  for (const p of at) v[p] = Number.NaN;
  return FIXED(v);
}

/** JS oracle for argmax/argmin along an axis: first index on ties, first NaN wins. */
function argOracle(shape: number[], axis: number | undefined, op: 'max' | 'min'): (x: Float64Array) => number[] {
  return (x) => {
    const a = axis === undefined ? 0 : axis < 0 ? axis + shape.length : axis;
    const flat = axis === undefined;
    const outer = flat ? 1 : sizeOf(shape.slice(0, a));
    const len = flat ? x.length : shape[a]!;
    const inner = flat ? 1 : sizeOf(shape.slice(a + 1));
    const out: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let bi = 0;
        for (let l = 0; l < len; l++) {
          const v = x[(o * len + l) * inner + j]!;
          if (Number.isNaN(v)) { bi = l; break; }
          const b = x[(o * len + bi) * inner + j]!;
          if (op === 'max' ? v > b : v < b) bi = l;
        }
        out.push(bi);
      }
    }
    return out;
  };
}

const CASES: OpCase[] = [];
const add_ = (c: OpCase): void => void CASES.push(c);

// ---------------------------------------------------------------------------------------------
// (a) argmax / argmin, min, maxDim / minDim.

const ARG_CASES: [number[], number | undefined, boolean][] = [
  [[17, 33], 0, false], [[17, 33], 1, true], [[17, 33], -1, false], [[3, 17, 5], 1, false],
  [[2, 3, 5, 7], 2, true], [[2, 3, 5, 7], 0, false], [[257], undefined, false], [[65, 1], 1, false],
  [[3, 17, 5], undefined, false], [[], undefined, false],
];
for (const [s, axis, keepdim] of ARG_CASES) {
  for (const [name, op, js] of [['argmax', argmax, 'max'], ['argmin', argmin, 'min']] as const) {
    const what = `${sh(s)} axis ${axis ?? 'all'}${keepdim ? ' keepdim' : ''}`;
    // GRID: many exact ties, so "the first index on ties" is exercised.
    add_({ name: `${name} ${what} (ties)`, inputs: [f(s, GRID(-1, 1, 0.5))], run: (x) => op(x, axis, keepdim), outInt: true, grad: false, oracle: argOracle(s, axis, js) });
    add_({ name: `${name} ${what} int32`, inputs: [i32(s)], run: (x) => op(x, axis, keepdim), outInt: true, oracle: argOracle(s, axis, js) });
  }
}
// NaN: PyTorch returns the (first) NaN's index.
for (const [name, op, js] of [['argmax', argmax, 'max'], ['argmin', argmin, 'min']] as const) {
  add_({ name: `${name} [17,33] axis 1 with NaN`, inputs: [f([17, 33], withNaN(17 * 33, [5, 40, 41, 33 * 16 + 32, 100], 7))], run: (x) => op(x, 1), outInt: true, grad: false, oracle: argOracle([17, 33], 1, js) });
  add_({ name: `${name} [3,17,5] axis 1 with NaN`, inputs: [f([3, 17, 5], withNaN(255, [0, 5, 12, 250], 8))], run: (x) => op(x, 1), outInt: true, grad: false, oracle: argOracle([3, 17, 5], 1, js) });
  add_({ name: `${name} [257] with NaN`, inputs: [f([257], withNaN(257, [200, 256], 9))], run: (x) => op(x), outInt: true, grad: false, oracle: argOracle([257], undefined, js) });
}

type Axis = number | number[] | undefined;
const MIN_CASES: [number[], Axis, boolean][] = [
  [[17, 33], 0, false], [[17, 33], -1, true], [[17, 33], undefined, false], [[3, 17, 5], [0, 2], false],
  [[2, 3, 5, 7], [1, 3], true], [[257], 0, false], [[65, 1], 1, false], [[], undefined, false],
];
for (const [s, axis, keepdim] of MIN_CASES) {
  const what = `${sh(s)} axis ${axis === undefined ? 'all' : JSON.stringify(axis)}${keepdim ? ' keepdim' : ''}`;
  add_({ name: `min ${what}`, inputs: [f(s, DISTINCT(-3, 3))], run: (x) => min(x, axis, keepdim), tol: EXACT });
}
// Ties: the gradient is shared evenly among tied minima (torch.amin / min() without dim).
add_({ name: 'min [17,33] axis 1 with ties', inputs: [f([17, 33], GRID(-1, 1, 0.5))], run: (x) => min(x, 1), tol: EXACT });
add_({ name: 'min [17,33] all with ties', inputs: [f([17, 33], GRID(-1, 1, 0.5))], run: (x) => min(x), tol: EXACT });
// min with NaN is −max(−x): it propagates NaN once the max-reduce kernel does (shaders/reduce.ts,
// fixed separately); maxDim/minDim below already do (the arg-reduce kernel's own NaN rule).
add_({
  name: 'min int32 [17,33] axis 0 (with ±2^31 extremes)', inputs: [i32([17, 33], SPECIALS([-2147483648, 2147483647, -1, 0], -1000, 1000))],
  run: (x) => min(x, 0), oracle: (x) => Array.from({ length: 33 }, (_, j) => Math.min(...Array.from({ length: 17 }, (_, i) => x[i * 33 + j]!))),
});

for (const [s, axis, keepdim] of [[[17, 33], 1, false], [[17, 33], 0, true], [[3, 17, 5], 1, false], [[2, 3, 5, 7], -1, false], [[257], 0, false], [[65, 1], 1, true]] as [number[], number, boolean][]) {
  for (const [name, op, js] of [['maxDim', maxDim, 'max'], ['minDim', minDim, 'min']] as const) {
    const what = `${sh(s)} axis ${axis}${keepdim ? ' keepdim' : ''}`;
    // GRID ties: the whole gradient goes to the first tied index (torch.max(x, dim)).
    add_({ name: `${name} values ${what} (ties)`, inputs: [f(s, GRID(-1, 1, 0.5))], run: (x) => op(x, axis, keepdim).values, tol: EXACT });
    add_({ name: `${name} indices ${what} (ties)`, inputs: [f(s, GRID(-1, 1, 0.5))], run: (x) => op(x, axis, keepdim).indices, outInt: true, grad: false, oracle: argOracle(s, axis, js) });
  }
}
add_({ name: 'maxDim values [17,33] axis 1 with NaN', inputs: [f([17, 33], withNaN(17 * 33, [5, 40, 41, 100], 7))], run: (x) => maxDim(x, 1).values, tol: EXACT, grad: false });
add_({ name: 'minDim indices [17,33] axis 0 with NaN', inputs: [f([17, 33], withNaN(17 * 33, [5, 40, 41, 100], 7))], run: (x) => minDim(x, 0).indices, outInt: true, grad: false, oracle: argOracle([17, 33], 0, 'min') });

// ---------------------------------------------------------------------------------------------
// (b) where, slice/narrow, cat/stack, split/chunk.

add_({ name: 'where [17,33] cond from a', inputs: [f([17, 33]), f([17, 33])], run: (a, b) => where(gt(a, 0), a, b) });
add_({ name: 'where [17,1],[1,33] broadcast', inputs: [f([17, 1]), f([1, 33])], run: (a, b) => where(gt(b, 0.2), a, b) });
add_({ name: 'where [2,3,5,7] with [5,1] b', inputs: [f([2, 3, 5, 7]), f([5, 1])], run: (a, b) => where(gt(a, b), a, b) });
add_({ name: 'where [65] vs scalar 0.5', inputs: [f([65])], run: (a) => where(gt(a, 0), a, 0.5) });
add_({ name: 'where [65] scalar -2 vs tensor', inputs: [f([65])], run: (a) => where(gt(a, 0), -2, a) });
add_({
  name: 'where float cond with NaN, -0 and 0', inputs: [f([7], FIXED([Number.NaN, -0, 0, 1, -1, 1e-30, Number.POSITIVE_INFINITY])), f([7]), f([7])],
  run: (c, a, b) => where(c, a, b), grad: false,
  oracle: (c, a, b) => Array.from(c, (v, i) => (v !== 0 ? a[i]! : b[i]!)),
});
add_({ name: 'where int32 cond [3,1,5] with [3,4,5] a, [4,1] b', inputs: [i32([3, 1, 5], INT(0, 1)), f([3, 4, 5]), f([4, 1])], run: (c, a, b) => where(c, a, b), grad: false });
add_({ name: 'where int32 values', inputs: [i32([17, 33]), i32([17, 33])], run: (a, b) => where(gt(a, 0), a, b) });

const SLICES: [number[], number, number, number | undefined, number][] = [
  [[17, 33], 1, 3, 30, 4], [[17, 33], 0, -5, undefined, 1], [[17, 33], 1, 0, 100, 7], [[2, 3, 5, 7], 2, 1, 5, 2],
  [[2, 3, 5, 7], -1, -5, -1, 1], [[3, 17, 5], 1, 16, 17, 1], [[257], 0, 1, 256, 3], [[17, 33], 1, 20, 10, 1],
];
for (const [s, axis, start, stop, step] of SLICES) {
  add_({ name: `slice ${sh(s)} axis ${axis} ${start}:${stop ?? ''}:${step}`, inputs: [f(s)], run: (x) => slice(x, axis, start, stop, step), tol: EXACT });
}
add_({ name: 'narrow [3,17,5] axis 1 from 4 len 9', inputs: [f([3, 17, 5])], run: (x) => narrow(x, 1, 4, 9), tol: EXACT });
add_({ name: 'narrow [17,33] axis -1 from -3 len 3', inputs: [f([17, 33])], run: (x) => narrow(x, -1, -3, 3), tol: EXACT });
add_({ name: 'slice int32 [17,33] axis 0 1::3', inputs: [i32([17, 33])], run: (x) => slice(x, 0, 1, undefined, 3) });

add_({ name: 'cat 3 along axis 1', inputs: [f([17, 3]), f([17, 33]), f([17, 1])], run: (a, b, c) => cat([a, b, c], 1), tol: EXACT });
add_({ name: 'cat 2 along axis 0 ([5,3,7],[1,3,7])', inputs: [f([5, 3, 7]), f([1, 3, 7])], run: (a, b) => cat([a, b], 0), tol: EXACT });
add_({ name: 'cat 2 along axis -1 ([2,3,5,7],[2,3,5,2])', inputs: [f([2, 3, 5, 7]), f([2, 3, 5, 2])], run: (a, b) => cat([a, b], -1), tol: EXACT });
add_({ name: 'cat same tensor twice', inputs: [f([17, 5])], run: (a) => cat([a, mul(a, 2), a], 0), tol: EXACT });
add_({ name: 'cat int32', inputs: [i32([4, 3]), i32([4, 5])], run: (a, b) => cat([a, b], 1) });
add_({ name: 'stack 3 [17,5] axis 0', inputs: [f([17, 5]), f([17, 5]), f([17, 5])], run: (a, b, c) => stack([a, b, c], 0), tol: EXACT });
add_({ name: 'stack 2 [3,5] axis 1', inputs: [f([3, 5]), f([3, 5])], run: (a, b) => stack([a, b], 1), tol: EXACT });
add_({ name: 'stack 2 [3,5] axis -1', inputs: [f([3, 5]), f([3, 5])], run: (a, b) => stack([a, b], -1), tol: EXACT });
add_({ name: 'stack 2 scalars', inputs: [f([]), f([])], run: (a, b) => stack([a, b]), tol: EXACT });
// split/chunk: the pieces reordered and rejoined, weighted, so each piece's gradient is distinct.
add_({ name: 'split [17,33] sizes [3,10,4] axis 0', inputs: [f([17, 33])], run: (x) => { const [p, q, r] = split(x, [3, 10, 4], 0); return cat([mul(r!, 2), p!, mul(q!, -1)], 0); }, tol: EXACT });
add_({ name: 'split [3,17,5] size 5 axis 1', inputs: [f([3, 17, 5])], run: (x) => { const ps = split(x, 5, 1); return cat([ps[3]!, ps[0]!, mul(ps[2]!, 4), ps[1]!], 1); }, tol: EXACT });
add_({ name: 'chunk [17,33] 4 along axis 1', inputs: [f([17, 33])], run: (x) => { const ps = chunk(x, 4, 1); return cat([ps[3]!, mul(ps[1]!, 2), ps[0]!, ps[2]!], 1); }, tol: EXACT });
add_({ name: 'chunk [5,2] 3 along axis 0 gives 3 pieces', inputs: [f([5, 2])], run: (x) => { const ps = chunk(x, 3, 0); return cat([ps[2]!, ps[1]!, mul(ps[0]!, 4)], 0); }, tol: EXACT });

// ---------------------------------------------------------------------------------------------
// (c) var/std, cumsum, logSoftmax on any axis, oneHot, pad.

const VARS: [number[], Axis, boolean, boolean][] = [
  [[17, 33], 1, true, false], [[17, 33], 0, false, true], [[17, 33], undefined, true, false],
  [[3, 17, 5], [0, 2], true, true], [[2, 3, 5, 7], -1, false, false], [[257], 0, true, false],
];
for (const [s, axis, unbiased, keepdim] of VARS) {
  const k = axis === undefined ? sizeOf(s) : (typeof axis === 'number' ? [axis] : axis).reduce((n, a) => n * s[a < 0 ? a + s.length : a]!, 1);
  const what = `${sh(s)} axis ${axis === undefined ? 'all' : JSON.stringify(axis)}${unbiased ? '' : ' biased'}${keepdim ? ' keepdim' : ''}`;
  const tol = (c: CaseCtx): Tol => reductionTol(k, maxAbs(c.inputs[0]!) ** 2 / Math.max(1, k - 1) * 4, { atol: 1e-7, rtol: 1e-5 });
  add_({ name: `var ${what}`, inputs: [f(s, U(-2, 3))], run: (x) => variance(x, axis, { unbiased, keepdim }), tol, gradK: [k] });
  add_({ name: `std ${what}`, inputs: [f(s, U(-2, 3))], run: (x) => std(x, axis, { unbiased, keepdim }), tol: { atol: 1e-6, rtol: 2e-5 }, gradK: [k] });
}
add_({ name: 'var [1] unbiased is NaN', inputs: [f([1])], run: (x) => variance(x), grad: false, oracle: () => [Number.NaN] });

for (const [s, axis] of [[[17, 33], 1], [[17, 33], 0], [[3, 17, 5], 1], [[2, 3, 5, 7], -1], [[257], 0], [[65, 1], 1]] as [number[], number][]) {
  const k = s[axis < 0 ? axis + s.length : axis]!;
  add_({ name: `cumsum ${sh(s)} axis ${axis}`, inputs: [f(s)], run: (x) => cumsum(x, axis), tol: (c) => reductionTol(k, maxAbs(c.inputs[0]!)), gradK: [k] });
}
add_({
  name: 'cumsum int32 [17,33] axis 1', inputs: [i32([17, 33])], run: (x) => cumsum(x, 1),
  oracle: (x) => { const o: number[] = []; for (let i = 0; i < 17; i++) { let a = 0; for (let j = 0; j < 33; j++) { a += x[i * 33 + j]!; o.push(a); } } return o; },
});

for (const [s, axis] of [[[2, 3, 5, 7], 0], [[2, 3, 5, 7], 1], [[3, 17, 5], -2], [[65, 1], 0]] as [number[], number][]) {
  const k = s[axis < 0 ? axis + s.length : axis]!;
  add_({ name: `logSoftmax ${sh(s)} axis ${axis}`, inputs: [f(s, SPECIALS([100, -100], -5, 5))], run: (x) => logSoftmax(x, axis), tol: { atol: 2e-6 + 16 * Math.sqrt(k) * 2 ** -23 * 100, rtol: 1e-5 }, gradK: [k] });
}

add_({
  name: 'oneHot [17] 5 classes', inputs: [i32([17], INT(0, 4))], run: (x) => oneHot(x, 5),
  oracle: (x) => Array.from(x).flatMap((v) => Array.from({ length: 5 }, (_, c) => (c === v ? 1 : 0))),
});
add_({ name: 'oneHot [3,4] 7 classes (out-of-range rows are zero)', inputs: [i32([3, 4], INT(-1, 7))], run: (x) => oneHot(x, 7),
  oracle: (x) => Array.from(x).flatMap((v) => Array.from({ length: 7 }, (_, c) => (c === v ? 1 : 0))) });

const PADS: [number[], number[], number][] = [
  [[17, 33], [1, 2], 0], [[17, 33], [0, 3, 2, 0], -1.5], [[3, 17, 5], [0, 1, 2, 3, 1, 1], 2], [[257], [5, 0], 0], [[2, 3, 5, 7], [1, 1], 0.25],
];
for (const [s, pads, value] of PADS) {
  add_({ name: `pad ${sh(s)} ${JSON.stringify(pads)} value ${value}`, inputs: [f(s)], run: (x) => pad(x, pads, value), tol: EXACT });
}
add_({ name: 'pad int32 [4,3] [1,1,2,0] value 7', inputs: [i32([4, 3])], run: (x) => pad(x, [1, 1, 2, 0], 7) });

// ---------------------------------------------------------------------------------------------
// (d) indexSelect / gather (repeated indices: the gradient accumulates, deterministically).

for (const [s, axis, count] of [[[17, 33], 0, 40], [[17, 33], 1, 5], [[3, 17, 5], 1, 65], [[2, 3, 5, 7], -1, 9], [[257], 0, 300]] as [number[], number, number][]) {
  const a = axis < 0 ? axis + s.length : axis;
  const values = ints(count, 0, s[a]! - 1, count * 31 + a);
  add_({ name: `indexSelect ${sh(s)} axis ${axis} ${count} indices (repeats)`, inputs: [f(s)], run: (x) => indexSelect(x, axis, idx(x, values, [count])), tol: EXACT, gradK: [count] });
}
for (const [s, axis, count] of [[[17, 33], 0, 20], [[17, 33], 1, 3], [[3, 17, 5], 1, 40], [[2, 3, 5, 7], 3, 7]] as [number[], number, number][]) {
  const ishape = s.map((d, i) => (i === axis ? count : d));
  const values = ints(sizeOf(ishape), 0, s[axis]! - 1, count * 17 + axis);
  add_({ name: `gather ${sh(s)} axis ${axis} index ${sh(ishape)} (repeats)`, inputs: [f(s)], run: (x) => gather(x, axis, idx(x, values, ishape)), tol: EXACT, gradK: [count] });
}
add_({
  name: 'gather out-of-range indices give NaN', inputs: [f([2, 3])], run: (x) => gather(x, 1, idx(x, [0, 3, -1, 2, 1, 7], [2, 3])), grad: false,
  oracle: (x) => [x[0]!, Number.NaN, Number.NaN, x[5]!, x[4]!, Number.NaN],
});
add_({ name: 'indexSelect int32', inputs: [i32([17, 5])], run: (x) => indexSelect(x, 0, idx(x, [3, 3, 0, 16], [4])) });

// ---------------------------------------------------------------------------------------------
// (e) losses.

const labelsFor = (n: number, c: number, seed: number): number[] => ints(n, 0, c - 1, seed);
for (const red of ['mean', 'sum', 'none'] as const) {
  add_({
    name: `binaryCrossEntropyWithLogits [17,33] ${red} (±100)`, inputs: [f([17, 33], SPECIALS([100, -100, 30, -30], -5, 5)), f([17, 33], U(0, 1))],
    run: (x, y) => binaryCrossEntropyWithLogits(x, y, red), tol: red === 'none' ? TRANS : (c) => reductionTol(561, 100, TRANS),
  });
  add_({
    name: `nllLoss [17,33] ${red}`, inputs: [f([17, 33], U(-5, 0))],
    run: (x) => nllLoss(x, idx(x, labelsFor(17, 33, 3), [17]), red), tol: (c) => reductionTol(17, 5), gradK: [1],
  });
  add_({
    name: `smoothL1Loss [17,33] beta 0.5 ${red}`, inputs: [f([17, 33], U(-2, 2)), f([17, 33], U(-2, 2))],
    run: (x, y) => smoothL1Loss(x, y, 0.5, red), tol: (c) => reductionTol(561, 4),
  });
  add_({
    name: `huberLoss [3,17,5] delta 1.5 ${red}`, inputs: [f([3, 17, 5], U(-3, 3)), f([3, 17, 5], U(-3, 3))],
    run: (x, y) => huberLoss(x, y, 1.5, red), tol: (c) => reductionTol(255, 9),
  });
  add_({
    name: `crossEntropyWithSmoothing [17,33] 0.1 ${red}`, inputs: [f([17, 33], U(-4, 4))],
    run: (x) => crossEntropyWithSmoothing(x, idx(x, labelsFor(17, 33, 4), [17]), 0.1, red), tol: (c) => reductionTol(33 * 17, 10, TRANS), gradK: [33],
  });
}
add_({ name: 'smoothL1Loss beta 0 (plain L1)', inputs: [f([65], U(-2, 2)), f([65], U(-2, 2))], run: (x, y) => smoothL1Loss(x, y, 0), tol: (c) => reductionTol(65, 4) });

describe('core-ops suite: case table', () => {
  it('has unique names', () => {
    const names = CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describeEachBackend('core ops', (device) => {
  describeOpCases(CASES, device);
});
