/**
 * The op suite: written once, run on every backend (describeEachBackend), against the CPU
 * reference in float64. Each case draws fresh seeded inputs (the seed is in the test's name; set
 * WEBGRAD_TEST_SEED to draw others), runs the op on float64 CPU tensors and on float32 tensors of
 * the device under test (after poisoning the device's pool with NaN buffers), and compares with a
 * per-op tolerance. Differentiable cases also compare the gradients of sum(op(x)·W).
 */
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import {
  caseSeed, describeOpCases, expectNoLeak, readAndDispose, type CaseCtx, type OpCase,
} from './helpers/oracle.js';
import { ARITH, EPS32, EXACT, TRANS, assertClose, poison, reductionTol, type Tol } from './helpers/compare.js';
import {
  JS_ACT, expandOracle, matmulOracle, maxOf, meanOf, permuteOracle, reduceOracle, softmaxOracle, sumOf, swapPerm,
} from './helpers/js-oracles.js';
import { AWAY, DISTINCT, FIXED, GRID, INT, SPECIALS, U, maxAbs, sizeOf, type Dist } from './helpers/random-data.js';
import type { Tensor } from '../src/tensor.js';
import {
  abs, add, arange, clamp, div, eq, exp, expand, full, ge, gelu, gt, isNonFinite, le, leakyRelu, log, logSoftmax, lt,
  manualSeed, matmul, max, maximum, mean, minimum, mul, neg, ones, onesLike, permute, pow, rand, randn, reciprocal, relu,
  relu6, reshape, sigmoid, sign, softmax, softplus, sqrt, square, sub, sum, tanh, tensor, transpose, zeros, zerosLike,
} from '../src/index.js';
import { dispose } from '../src/lifetime.js';

// ---------------------------------------------------------------------------------------------
// Helpers for the case table.

const sh = (s: readonly number[]): string => `[${s.join(',')}]`;
const f = (shape: number[], dist: Dist = U()): { shape: number[]; dist: Dist } => ({ shape, dist });
const i32 = (shape: number[], dist: Dist = INT()): { shape: number[]; dist: Dist; int: true } => ({ shape, dist, int: true });

/** Flat row-major broadcasting of a binary function (the JS oracle for int ops). */
function broadcastOracle(
  aShape: readonly number[], bShape: readonly number[], fn: (a: number, b: number) => number,
): (a: Float64Array, b: Float64Array) => number[] {
  const rank = Math.max(aShape.length, bShape.length);
  const pad = (s: readonly number[]): number[] => [...new Array<number>(rank - s.length).fill(1), ...s];
  const A = pad(aShape);
  const B = pad(bShape);
  const out = A.map((d, i) => Math.max(d, B[i]!));
  const strides = (s: number[]): number[] => {
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let i = rank - 1; i >= 0; i--) {
      st[i] = s[i] === 1 ? 0 : acc;
      acc *= s[i]!;
    }
    return st;
  };
  const sa = strides(A);
  const sb = strides(B);
  return (a, b) => {
    const n = sizeOf(out);
    const res: number[] = [];
    for (let idx = 0; idx < n; idx++) {
      let rem = idx;
      let ia = 0;
      let ib = 0;
      for (let d = rank - 1; d >= 0; d--) {
        const c = rem % out[d]!;
        rem = Math.floor(rem / out[d]!);
        ia += c * sa[d]!;
        ib += c * sb[d]!;
      }
      res.push(fn(a[ia]!, b[ib]!));
    }
    return res;
  };
}

const elementwise = (fn: (x: number) => number) => (x: Float64Array): number[] => Array.from(x, fn);

/** 0/1 results of a comparison. */
const cmp = (p: boolean): number => (p ? 1 : 0);

const CASES: OpCase[] = [];
const add_ = (c: OpCase): void => void CASES.push(c);

// ---------------------------------------------------------------------------------------------
// Binary ops, tensor-tensor with broadcasting.

const PAIRS: [number[], number[]][] = [
  [[17, 33], [17, 33]],
  [[17, 1], [1, 33]],
  [[3, 1, 5], [4, 1]],
  [[], [65]],
  [[65], []],
  [[2, 3, 1, 5], [3, 4, 1]],
  [[1], [257]],
  [[], []],
];

for (const [a, b] of PAIRS) {
  add_({ name: `add ${sh(a)}+${sh(b)}`, inputs: [f(a), f(b)], run: (x, y) => add(x, y), oracle: broadcastOracle(a, b, (p, q) => p + q) });
  add_({ name: `sub ${sh(a)}-${sh(b)}`, inputs: [f(a), f(b)], run: (x, y) => sub(x, y), oracle: broadcastOracle(a, b, (p, q) => p - q) });
  add_({ name: `mul ${sh(a)}*${sh(b)}`, inputs: [f(a, U(-2, 2)), f(b, U(-2, 2))], run: (x, y) => mul(x, y), oracle: broadcastOracle(a, b, (p, q) => p * q) });
  add_({ name: `div ${sh(a)}/${sh(b)}`, inputs: [f(a, U(-2, 2)), f(b, AWAY())], run: (x, y) => div(x, y), oracle: broadcastOracle(a, b, (p, q) => p / q) });
}
for (const [a, b] of [PAIRS[0]!, PAIRS[1]!, PAIRS[2]!, PAIRS[3]!, PAIRS[5]!]) {
  // GRID values: many exact ties (the gradient splits them evenly, on every backend alike).
  add_({ name: `maximum ${sh(a)},${sh(b)}`, inputs: [f(a, GRID()), f(b, GRID())], run: (x, y) => maximum(x, y), oracle: broadcastOracle(a, b, Math.max) });
  add_({ name: `minimum ${sh(a)},${sh(b)}`, inputs: [f(a, GRID()), f(b, GRID())], run: (x, y) => minimum(x, y), oracle: broadcastOracle(a, b, Math.min) });
}
add_({ name: 'maximum [17,33] continuous', inputs: [f([17, 33]), f([17, 33])], run: (x, y) => maximum(x, y), oracle: broadcastOracle([17, 33], [17, 33], Math.max) });
add_({ name: 'minimum [3,1,5],[4,1] continuous', inputs: [f([3, 1, 5]), f([4, 1])], run: (x, y) => minimum(x, y), oracle: broadcastOracle([3, 1, 5], [4, 1], Math.min) });

// Tensor-scalar, both sides.
for (const s of [[17, 33], [], [2, 3, 5, 7]]) {
  add_({ name: `add ${sh(s)}+2.5`, inputs: [f(s)], run: (x) => add(x, 2.5), oracle: elementwise((x) => x + 2.5) });
  add_({ name: `add 2.5+${sh(s)}`, inputs: [f(s)], run: (x) => add(2.5, x), oracle: elementwise((x) => 2.5 + x) });
  add_({ name: `sub ${sh(s)}-1.5`, inputs: [f(s)], run: (x) => sub(x, 1.5), oracle: elementwise((x) => x - 1.5) });
  add_({ name: `sub 1.5-${sh(s)}`, inputs: [f(s)], run: (x) => sub(1.5, x), oracle: elementwise((x) => 1.5 - x) });
  add_({ name: `mul ${sh(s)}*-3`, inputs: [f(s)], run: (x) => mul(x, -3), oracle: elementwise((x) => x * -3) });
  add_({ name: `mul -3*${sh(s)}`, inputs: [f(s)], run: (x) => mul(-3, x), oracle: elementwise((x) => -3 * x) });
  add_({ name: `div ${sh(s)}/3`, inputs: [f(s)], run: (x) => div(x, 3), oracle: elementwise((x) => x / 3) });
  add_({ name: `div 2/${sh(s)}`, inputs: [f(s, AWAY())], run: (x) => div(2, x), oracle: elementwise((x) => 2 / x) });
}
for (const s of [[17, 33], []]) {
  add_({ name: `maximum ${sh(s)},0.5`, inputs: [f(s, GRID())], run: (x) => maximum(x, 0.5), oracle: elementwise((x) => Math.max(x, 0.5)) });
  add_({ name: `maximum 0.5,${sh(s)}`, inputs: [f(s, GRID())], run: (x) => maximum(0.5, x), oracle: elementwise((x) => Math.max(0.5, x)) });
  add_({ name: `minimum ${sh(s)},-0.5`, inputs: [f(s, GRID())], run: (x) => minimum(x, -0.5), oracle: elementwise((x) => Math.min(x, -0.5)) });
  add_({ name: `minimum -0.5,${sh(s)}`, inputs: [f(s, GRID())], run: (x) => minimum(-0.5, x), oracle: elementwise((x) => Math.min(-0.5, x)) });
}

// Comparisons (not differentiable; exact; GRID inputs so ties occur).
const CMPS = [
  ['eq', eq, (a: number, b: number) => cmp(a === b)],
  ['gt', gt, (a: number, b: number) => cmp(a > b)],
  ['ge', ge, (a: number, b: number) => cmp(a >= b)],
  ['lt', lt, (a: number, b: number) => cmp(a < b)],
  ['le', le, (a: number, b: number) => cmp(a <= b)],
] as const;
for (const [name, op, js] of CMPS) {
  for (const [a, b] of [PAIRS[0]!, PAIRS[1]!, PAIRS[3]!, PAIRS[5]!]) {
    add_({
      name: `${name} ${sh(a)},${sh(b)}`, inputs: [f(a, GRID()), f(b, GRID())], run: (x, y) => op(x, y),
      tol: EXACT, grad: false, oracle: broadcastOracle(a, b, js),
    });
  }
  add_({
    name: `${name} [17,33],0.5`, inputs: [f([17, 33], GRID())], run: (x) => op(x, 0.5),
    tol: EXACT, grad: false, oracle: elementwise((x) => js(x, 0.5)),
  });
  add_({
    name: `${name} -1,[65]`, inputs: [f([65], GRID())], run: (x) => op(-1, x),
    tol: EXACT, grad: false, oracle: elementwise((x) => js(-1, x)),
  });
}

// ---------------------------------------------------------------------------------------------
// Unary ops.

const UN_SHAPES: number[][] = [[], [257], [2, 3, 5, 7]];
const POS = U(0.05, 4);
for (const s of UN_SHAPES) {
  add_({ name: `neg ${sh(s)}`, inputs: [f(s)], run: (x) => neg(x), oracle: elementwise((x) => -x) });
  add_({ name: `exp ${sh(s)}`, inputs: [f(s, U(-10, 10))], run: (x) => exp(x), tol: TRANS, oracle: elementwise((x) => Math.exp(x)) });
  add_({ name: `log ${sh(s)}`, inputs: [f(s, POS)], run: (x) => log(x), tol: TRANS, oracle: elementwise((x) => Math.log(x)) });
  add_({ name: `sqrt ${sh(s)}`, inputs: [f(s, POS)], run: (x) => sqrt(x), tol: TRANS, oracle: elementwise((x) => Math.sqrt(x)) });
  add_({ name: `abs ${sh(s)}`, inputs: [f(s, AWAY(0.01, 3))], run: (x) => abs(x), oracle: elementwise((x) => Math.abs(x)) });
  add_({ name: `square ${sh(s)}`, inputs: [f(s, U(-3, 3))], run: (x) => square(x), oracle: elementwise((x) => x * x) });
  add_({ name: `reciprocal ${sh(s)}`, inputs: [f(s, AWAY(0.1, 4))], run: (x) => reciprocal(x), tol: TRANS, oracle: elementwise((x) => 1 / x) });
  add_({ name: `pow ${sh(s)}^0.5`, inputs: [f(s, POS)], run: (x) => pow(x, 0.5), tol: TRANS, oracle: elementwise((x) => x ** 0.5) });
  // Negative bases with integer exponents are well defined (−2³ = −8, as torch.pow).
  add_({ name: `pow ${sh(s)}^3`, inputs: [f(s, U(-3, 3))], run: (x) => pow(x, 3), tol: TRANS, oracle: elementwise((x) => x ** 3) });
  add_({ name: `pow ${sh(s)}^-1`, inputs: [f(s, AWAY(0.1, 4))], run: (x) => pow(x, -1), tol: TRANS, oracle: elementwise((x) => x ** -1) });
  add_({ name: `pow ${sh(s)}^2`, inputs: [f(s, U(-3, 3))], run: (x) => pow(x, 2), oracle: elementwise((x) => x ** 2) });
  add_({ name: `clamp ${sh(s)} [-0.5,0.75]`, inputs: [f(s, U(-2, 2))], run: (x) => clamp(x, -0.5, 0.75), oracle: elementwise((x) => Math.min(Math.max(x, -0.5), 0.75)) });
  add_({ name: `clamp ${sh(s)} [0.25,∞)`, inputs: [f(s, U(-2, 2))], run: (x) => clamp(x, 0.25, null), oracle: elementwise((x) => Math.max(x, 0.25)) });
  add_({ name: `clamp ${sh(s)} (-∞,-0.25]`, inputs: [f(s, U(-2, 2))], run: (x) => clamp(x, null, -0.25), oracle: elementwise((x) => Math.min(x, -0.25)) });
}
add_({
  name: 'sign [257] (with zeros)', inputs: [f([257], SPECIALS([0, -0, 1e-30, -1e-30, 100, -100], -3, 3))],
  run: (x) => sign(x), tol: EXACT, grad: false, oracle: elementwise((x) => Math.sign(x)),
});
add_({
  name: 'isNonFinite [3,3]',
  inputs: [f([3, 3], FIXED([0, Number.NaN, Infinity, -Infinity, 1, -3.5, 3e38, -3e38, 1e-40]))],
  run: (x) => isNonFinite(x), tol: EXACT, grad: false, oracle: elementwise((x) => cmp(!Number.isFinite(x))),
});

// Activations, with ±100 among the inputs: results (and gradients) must stay finite and match.
const ACT_SPECIALS = [-100, 100, -30, 30, -10, 10, -0.001, 0.001, 0, 6, -6, 5.75, 6.25, 0.5, -0.5];
const ACT_SHAPES: number[][] = [[257], [3, 17, 5], [1]];
// The JS closed form of each (null: gelu's erf form, which JavaScript has no erf for; its
// values are checked against PyTorch in test/pytorch-parity.test.ts).
const ACTS: [string, (x: Tensor) => Tensor, Tol, ((x: number) => number) | null][] = [
  ['sigmoid', (x) => sigmoid(x), TRANS, JS_ACT.sigmoid],
  ['tanh', (x) => tanh(x), TRANS, JS_ACT.tanh],
  ['relu', (x) => relu(x), EXACT, JS_ACT.relu],
  ['relu6', (x) => relu6(x), EXACT, JS_ACT.relu6],
  ['leakyRelu', (x) => leakyRelu(x), ARITH, JS_ACT.leakyRelu(0.01)],
  ['leakyRelu(0.2)', (x) => leakyRelu(x, 0.2), ARITH, JS_ACT.leakyRelu(0.2)],
  ['gelu', (x) => gelu(x), { atol: 1e-5, rtol: 1e-5 }, null],
  ["gelu('tanh')", (x) => gelu(x, 'tanh'), { atol: 1e-5, rtol: 1e-5 }, JS_ACT.geluTanh],
  ['softplus', (x) => softplus(x), TRANS, JS_ACT.softplus],
];
for (const [name, run, tol, js] of ACTS) {
  const oracle = js ? { oracle: elementwise(js) } : {};
  for (const s of ACT_SHAPES) {
    const dist = s.length === 1 && s[0] === 1 ? FIXED([-100]) : SPECIALS(ACT_SPECIALS);
    add_({ name: `${name} ${sh(s)} (±100 included)`, inputs: [f(s, dist)], run, tol, ...oracle });
  }
  add_({ name: `${name} [] (100)`, inputs: [f([], FIXED([100]))], run, tol, ...oracle });
}

// ---------------------------------------------------------------------------------------------
// Reductions over each axis, several axes, all axes, keepdim both ways.

type Axis = number | number[] | undefined;
const REDUCTIONS: [number[], Axis, boolean][] = [
  [[17, 33], 0, false],
  [[17, 33], 1, false],
  [[17, 33], -1, true],
  [[17, 33], undefined, false],
  [[17, 33], [0, 1], true],
  [[3, 17, 5], [0, 2], false],
  [[3, 17, 5], 1, true],
  [[2, 3, 5, 7], 1, false],
  [[2, 3, 5, 7], [1, 3], true],
  [[2, 3, 5, 7], [0, 2, 3], false],
  [[2, 3, 5, 7], undefined, true],
  [[257], 0, false],
  [[65, 1], 1, false],
  [[65, 1], 0, true],
  // every single axis of a rank-3 and a rank-4 shape, keepdim alternating
  [[3, 17, 5], 0, false],
  [[3, 17, 5], 2, true],
  [[3, 17, 5], -2, false],
  [[2, 3, 5, 7], 0, true],
  [[2, 3, 5, 7], 2, false],
  [[2, 3, 5, 7], 3, true],
  [[2, 3, 5, 7], -3, true],
  [[], undefined, false],
];

function reducedCount(shape: readonly number[], axis: Axis): number {
  if (axis === undefined) return sizeOf(shape);
  const axes = typeof axis === 'number' ? [axis] : axis;
  return axes.reduce((n, a) => n * shape[a < 0 ? a + shape.length : a]!, 1);
}
const axisStr = (a: Axis): string => (a === undefined ? 'all' : JSON.stringify(a));

for (const [s, axis, keepdim] of REDUCTIONS) {
  const k = reducedCount(s, axis);
  const what = `${sh(s)} axis ${axisStr(axis)}${keepdim ? ' keepdim' : ''}`;
  add_({
    name: `sum ${what}`, inputs: [f(s)], run: (x) => sum(x, axis, keepdim), oracle: reduceOracle(s, axis, keepdim, sumOf),
    tol: (c: CaseCtx) => reductionTol(k, maxAbs(c.inputs[0]!)),
  });
  add_({
    name: `mean ${what}`, inputs: [f(s)], run: (x) => mean(x, axis, keepdim), oracle: reduceOracle(s, axis, keepdim, meanOf),
    tol: (c: CaseCtx) => reductionTol(k, maxAbs(c.inputs[0]!) / k, { atol: 1e-7, rtol: 8 * EPS32 }),
  });
  add_({ name: `max ${what}`, inputs: [f(s, DISTINCT(-3, 3))], run: (x) => max(x, axis, keepdim), tol: EXACT, oracle: reduceOracle(s, axis, keepdim, maxOf) });
}
// Ties in max: the gradient is shared among the tied maxima on every backend alike.
add_({ name: 'max [17,33] axis 1 with ties', inputs: [f([17, 33], GRID(-1, 1, 0.5))], run: (x) => max(x, 1), tol: EXACT, oracle: reduceOracle([17, 33], 1, false, maxOf) });
add_({ name: 'max [3,17,5] axis [0,2] keepdim with ties', inputs: [f([3, 17, 5], GRID(-1, 1, 0.5))], run: (x) => max(x, [0, 2], true), tol: EXACT, oracle: reduceOracle([3, 17, 5], [0, 2], true, maxOf) });

// ---------------------------------------------------------------------------------------------
// Shape ops (exact).

add_({ name: 'reshape [17,33]→[-1,3]', inputs: [f([17, 33])], run: (x) => reshape(x, [-1, 3]), tol: EXACT, oracle: elementwise((v) => v) });
add_({ name: 'reshape [2,3,5,7]→[6,-1]', inputs: [f([2, 3, 5, 7])], run: (x) => reshape(x, [6, -1]), tol: EXACT, oracle: elementwise((v) => v) });
add_({ name: 'reshape [1,1]→[]', inputs: [f([1, 1])], run: (x) => reshape(x, []), tol: EXACT, oracle: elementwise((v) => v) });
add_({ name: 'reshape []→[1,1,1]', inputs: [f([])], run: (x) => reshape(x, [1, 1, 1]), tol: EXACT, oracle: elementwise((v) => v) });
add_({ name: 'reshape [3,17,5]→[-1] then ·2', inputs: [f([3, 17, 5])], run: (x) => mul(reshape(x, [-1]), 2), tol: EXACT, oracle: elementwise((v) => 2 * v) });
add_({ name: 'transpose [17,33]', inputs: [f([17, 33])], run: (x) => transpose(x), tol: EXACT, oracle: permuteOracle([17, 33], [1, 0]) });
add_({ name: 'transpose [3,17,5] (0,2)', inputs: [f([3, 17, 5])], run: (x) => transpose(x, 0, 2), tol: EXACT, oracle: permuteOracle([3, 17, 5], swapPerm(3, 0, 2)) });
add_({ name: 'transpose [2,3,5,7] (1,-1)', inputs: [f([2, 3, 5, 7])], run: (x) => transpose(x, 1, -1), tol: EXACT, oracle: permuteOracle([2, 3, 5, 7], swapPerm(4, 1, -1)) });
add_({ name: 'transpose [65,1]', inputs: [f([65, 1])], run: (x) => transpose(x), tol: EXACT, oracle: permuteOracle([65, 1], [1, 0]) });
add_({ name: 'permute [2,3,5,7] [2,0,3,1]', inputs: [f([2, 3, 5, 7])], run: (x) => permute(x, [2, 0, 3, 1]), tol: EXACT, oracle: permuteOracle([2, 3, 5, 7], [2, 0, 3, 1]) });
add_({ name: 'permute [3,17,5] [1,2,0]', inputs: [f([3, 17, 5])], run: (x) => permute(x, [1, 2, 0]), tol: EXACT, oracle: permuteOracle([3, 17, 5], [1, 2, 0]) });
add_({ name: 'permute [1,65] [-1,0]', inputs: [f([1, 65])], run: (x) => permute(x, [-1, 0]), tol: EXACT, oracle: permuteOracle([1, 65], [-1, 0]) });
add_({ name: 'expand [17,1]→[17,33]', inputs: [f([17, 1])], run: (x) => expand(x, [17, 33]), tol: EXACT, oracle: expandOracle([17, 1], [17, 33]) });
add_({ name: 'expand [3,1,5]→[2,3,4,5]', inputs: [f([3, 1, 5])], run: (x) => expand(x, [2, 3, 4, 5]), tol: EXACT, oracle: expandOracle([3, 1, 5], [2, 3, 4, 5]) });
add_({ name: 'expand []→[65]', inputs: [f([])], run: (x) => expand(x, [65]), tol: EXACT, oracle: expandOracle([], [65]) });
add_({ name: 'expand [1]→[3,257]', inputs: [f([1])], run: (x) => expand(x, [3, 257]), tol: EXACT, oracle: expandOracle([1], [3, 257]) });
add_({ name: 'expand [4,1]→[3,4,5]', inputs: [f([4, 1])], run: (x) => expand(x, [3, 4, 5]), tol: EXACT, oracle: expandOracle([4, 1], [3, 4, 5]) });
add_({ name: 'expand [17,33]→[17,33] (identity)', inputs: [f([17, 33])], run: (x) => expand(x, [17, 33]), tol: EXACT, oracle: expandOracle([17, 33], [17, 33]) });

// ---------------------------------------------------------------------------------------------
// Matmul. Tolerance ∝ √K·eps32·max|a|·max|b|; gradient K: n for a, m × (broadcast batch) for b.

interface MM { a: number[]; b: number[]; run?: (x: Tensor, y: Tensor) => Tensor; k: number; gradK: [number, number]; name?: string; trans?: [boolean, boolean] }
const MATMULS: MM[] = [
  { a: [1, 1], b: [1, 1], k: 1, gradK: [1, 1] },
  { a: [3, 17], b: [17, 33], k: 17, gradK: [33, 3] },
  { a: [65, 257], b: [257, 3], k: 257, gradK: [3, 65] },
  { a: [4, 17, 33], b: [4, 33, 5], k: 33, gradK: [5, 17] },
  { a: [3, 17, 33], b: [33, 5], k: 33, gradK: [5, 3 * 17] },
  { a: [17, 33], b: [3, 33, 5], k: 33, gradK: [3 * 5, 17] },
  { a: [2, 1, 3, 5], b: [3, 5, 4], k: 5, gradK: [3 * 4, 2 * 3] },
  { a: [1, 17], b: [17, 1], k: 17, gradK: [1, 1] },
  { name: 'matmul [17,33]·[5,33]ᵀ', a: [17, 33], b: [5, 33], run: (x, y) => matmul(x, transpose(y)), k: 33, gradK: [5, 17], trans: [false, true] },
  { name: 'matmul [33,17]ᵀ·[33,5]', a: [33, 17], b: [33, 5], run: (x, y) => matmul(transpose(x), y), k: 33, gradK: [5, 17], trans: [true, false] },
];
for (const m of MATMULS) {
  add_({
    name: m.name ?? `matmul ${sh(m.a)}·${sh(m.b)}`,
    inputs: [f(m.a), f(m.b)],
    run: m.run ?? ((x, y) => matmul(x, y)),
    oracle: matmulOracle(m.a, m.b, m.trans?.[0], m.trans?.[1]),
    tol: (c: CaseCtx) => reductionTol(m.k, maxAbs(c.inputs[0]!) * maxAbs(c.inputs[1]!)),
    gradK: m.gradK,
  });
}

// ---------------------------------------------------------------------------------------------
// softmax / logSoftmax on several axes, inputs up to ±100.

const SOFTMAXES: [number[], number][] = [[[17, 33], -1], [[17, 33], 0], [[3, 17, 5], 1], [[65], 0], [[2, 3, 5, 7], 2]];
for (const [s, axis] of SOFTMAXES) {
  const k = s[axis < 0 ? axis + s.length : axis]!;
  const big = SPECIALS([100, -100, 99.5, -99.5], -100, 100);
  add_({
    name: `softmax ${sh(s)} axis ${axis} (±100)`, inputs: [f(s, big)], run: (x) => softmax(x, axis), oracle: softmaxOracle(s, axis, false),
    tol: { atol: 1e-6, rtol: 2e-5 + 16 * Math.sqrt(k) * EPS32 }, gradK: [k, k],
  });
  add_({
    name: `logSoftmax ${sh(s)} axis ${axis} (±100)`, inputs: [f(s, big)], run: (x) => logSoftmax(x, axis), oracle: softmaxOracle(s, axis, true),
    tol: { atol: 2e-6 + 16 * Math.sqrt(k) * EPS32, rtol: 1e-5 }, gradK: [k, k],
  });
  add_({ name: `softmax ${sh(s)} axis ${axis} (small)`, inputs: [f(s, U(-3, 3))], run: (x) => softmax(x, axis), tol: { atol: 1e-7, rtol: 1e-5 }, gradK: [k, k], oracle: softmaxOracle(s, axis, false) });
}

// ---------------------------------------------------------------------------------------------
// int32 (exact everywhere, with a JS oracle so the CPU run checks something too).

const I = 2147483647;
const IMIN = -2147483648;
const wrap = (v: number): number => v | 0;
const truncDiv = (a: number, b: number): number => (b === 0 ? 0 : Math.trunc(a / b) | 0);
const INT_BIN: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
  ['add', (a, b) => add(a, b), (a, b) => wrap(a + b)],
  ['sub', (a, b) => sub(a, b), (a, b) => wrap(a - b)],
  ['mul', (a, b) => mul(a, b), (a, b) => Math.imul(a, b)],
  ['div', (a, b) => div(a, b), truncDiv],
  ['maximum', (a, b) => maximum(a, b), Math.max],
  ['minimum', (a, b) => minimum(a, b), Math.min],
  ['eq', (a, b) => eq(a, b), (a, b) => cmp(a === b)],
  ['gt', (a, b) => gt(a, b), (a, b) => cmp(a > b)],
  ['ge', (a, b) => ge(a, b), (a, b) => cmp(a >= b)],
  ['lt', (a, b) => lt(a, b), (a, b) => cmp(a < b)],
  ['le', (a, b) => le(a, b), (a, b) => cmp(a <= b)],
];
for (const [name, op, js] of INT_BIN) {
  const small = name === 'eq' || name === 'gt' || name === 'ge' || name === 'lt' || name === 'le';
  const da = small ? INT(-3, 3) : INT(-50, 50);
  const db = name === 'div' ? INT(-7, 7, true) : da;
  add_({ name: `int32 ${name} [17,33]`, inputs: [i32([17, 33], da), i32([17, 33], db)], run: op, oracle: broadcastOracle([17, 33], [17, 33], js) });
  add_({ name: `int32 ${name} [17,1],[1,33]`, inputs: [i32([17, 1], da), i32([1, 33], db)], run: op, oracle: broadcastOracle([17, 1], [1, 33], js) });
}
add_({
  name: 'int32 div truncates toward zero; x/0 = 0; MIN/-1 wraps',
  inputs: [i32([9], FIXED([7, -7, 7, -7, 0, 5, IMIN, 1, -1])), i32([9], FIXED([2, 2, -2, -2, 3, 0, -1, 0, 3]))],
  run: (a, b) => div(a, b), oracle: broadcastOracle([9], [9], truncDiv),
});
add_({
  name: 'int32 add/mul wrap around',
  inputs: [i32([4], FIXED([I, IMIN, 123456789, -65536])), i32([4], FIXED([1, -1, 987654321, 65537]))],
  run: (a, b) => add(mul(a, b), a),
  oracle: (a, b) => Array.from(a, (x, i) => wrap(Math.imul(x, b[i]!) + x)),
});
const INT_UN: [string, (x: Tensor) => Tensor, (x: number) => number][] = [
  ['neg', (x) => neg(x), (x) => wrap(-x)],
  ['abs', (x) => abs(x), (x) => wrap(Math.abs(x))],
  ['square', (x) => square(x), (x) => Math.imul(x, x)],
  ['sign', (x) => sign(x), (x) => Math.sign(x)],
  ['relu', (x) => relu(x), (x) => Math.max(x, 0)],
  ['add 3', (x) => add(x, 3), (x) => wrap(x + 3)],
  ['5 - x', (x) => sub(5, x), (x) => wrap(5 - x)],
  ['mul -2', (x) => mul(x, -2), (x) => Math.imul(x, -2)],
  ['div 3', (x) => div(x, 3), (x) => truncDiv(x, 3)],
  ['div -7/x', (x) => div(-7, x), (x) => truncDiv(-7, x)],
  ['maximum 0', (x) => maximum(x, 0), (x) => Math.max(x, 0)],
  ['minimum -5', (x) => minimum(x, -5), (x) => Math.min(x, -5)],
  ['gt 0', (x) => gt(x, 0), (x) => cmp(x > 0)],
  ['le 0', (x) => le(x, 0), (x) => cmp(x <= 0)],
];
for (const [name, op, js] of INT_UN) {
  // The i32 extremes are included: the CPU reference documents WGSL's wrap-around (and x/0 = 0).
  add_({ name: `int32 ${name} [257]`, inputs: [i32([257], SPECIALS([IMIN, I, 0, -1, 1, IMIN + 1], -50, 50))], run: op, oracle: elementwise(js) });
}
add_({
  name: 'int32 sum [17,33] axis 1', inputs: [i32([17, 33], INT(-1000, 1000))], run: (x) => sum(x, 1),
  oracle: (x) => Array.from({ length: 17 }, (_, r) => x.slice(r * 33, r * 33 + 33).reduce((s, v) => s + v, 0)),
});
add_({
  name: 'int32 max [17,33] axis 0', inputs: [i32([17, 33], INT(-1000, 1000))], run: (x) => max(x, 0),
  oracle: (x) => Array.from({ length: 33 }, (_, c) => Math.max(...Array.from({ length: 17 }, (_, r) => x[r * 33 + c]!))),
});
add_({
  name: 'int32 reshape/transpose/expand [3,1,5]', inputs: [i32([3, 1, 5])],
  run: (x) => transpose(expand(reshape(x, [3, 1, 5]), [3, 4, 5]), 0, 2),
  // out[k][j][i] = x[i][0][k], out shape [5, 4, 3]
  oracle: (x) => Array.from({ length: 60 }, (_, idx) => x[(idx % 3) * 5 + Math.floor(idx / 12)]!),
});
add_({
  name: 'cast float32→int32 truncates toward zero', inputs: [f([257], SPECIALS([-0.5, 0.5, -1.5, 2.999, -2.999], -100, 100))],
  run: (x) => x.cast('int32'), outInt: true, grad: false, oracle: elementwise((x) => Math.trunc(x)),
});
add_({
  name: 'cast int32→float', inputs: [i32([65], INT(-100000, 100000))],
  run: (x) => x.cast('float32').mul(0.5).cast('int32'), oracle: elementwise((x) => Math.trunc(Math.fround(x) * 0.5)),
});

// ---------------------------------------------------------------------------------------------

describeEachBackend('op suite vs the CPU float64 reference', (device) => {
  describeOpCases(CASES, device);
});

// ---------------------------------------------------------------------------------------------
// Creation.

const read = readAndDispose;

describeEachBackend('creation', (device) => {
  it('zeros / ones / full / zerosLike / onesLike: values, shape, dtype and device', async () => {
    await expectNoLeak('creation', async () => {
      const cases: [string, () => Tensor, number[], string, number][] = [
        ['zeros [17,33]', () => zeros([17, 33], { device }), [17, 33], 'float32', 0],
        ['ones []', () => ones([], { device }), [], 'float32', 1],
        ['full [3,1,5] -2.5', () => full([3, 1, 5], -2.5, { device }), [3, 1, 5], 'float32', -2.5],
        ['full [2,3,5,7] int32 7', () => full([2, 3, 5, 7], 7, { device, dtype: 'int32' }), [2, 3, 5, 7], 'int32', 7],
        ['ones [257] int32', () => ones([257], { device, dtype: 'int32' }), [257], 'int32', 1],
        ['full [65] 1e30', () => full([65], 1e30, { device }), [65], 'float32', Math.fround(1e30)],
      ];
      for (const [what, make, shape, dtype, value] of cases) {
        poison(device, [sizeOf(shape)]);
        const t = make();
        expect(t.shape, what).toEqual(shape);
        expect(t.dtype, what).toBe(dtype);
        expect(t.device, what).toBe(device);
        assertClose(`${what} on ${device}`, await read(t), new Array<number>(sizeOf(shape)).fill(value), shape, EXACT);
      }
      const like = tensor([[1, 2, 3]], { device, dtype: 'int32' });
      for (const [what, make, value] of [['zerosLike', zerosLike, 0], ['onesLike', onesLike, 1]] as const) {
        poison(device, [3]);
        const t = make(like);
        expect([t.shape, t.dtype, t.device], what).toEqual([[1, 3], 'int32', device]);
        expect(await read(t), what).toEqual([value, value, value]);
      }
      like.dispose();
    });
  });

  it('arange: integer (int32) and fractional (float32) ranges', async () => {
    await expectNoLeak('arange', async () => {
      const a = arange(17, undefined, 1, { device });
      expect([a.dtype, a.shape, a.device]).toEqual(['int32', [17], device]);
      expect(await read(a)).toEqual(Array.from({ length: 17 }, (_, i) => i));
      const b = arange(-3, 5, 0.5, { device });
      expect([b.dtype, b.shape]).toEqual(['float32', [16]]);
      expect(await read(b)).toEqual(Array.from({ length: 16 }, (_, i) => -3 + 0.5 * i));
      const c = arange(0, 1, 0.1, { device, dtype: 'float32' });
      expect(await read(c)).toEqual(Array.from({ length: 10 }, (_, i) => Math.fround(i * 0.1)));
      const d = arange(257, undefined, 1, { device, dtype: 'float32' });
      expect(await read(d)).toEqual(Array.from({ length: 257 }, (_, i) => i));
      const e = arange(10, 0, -3, { device });
      expect(await read(e)).toEqual([10, 7, 4, 1]);
    });
  });

  const RAND_SHAPES: number[][] = [[1], [17, 33], [257], [3, 1, 5], [2, 3, 5, 7]];
  for (const shape of RAND_SHAPES) {
    for (const seed of [0, 1, 12345, 2 ** 40 + 3]) {
      it(`rand ${sh(shape)} seed ${seed}: the CPU's values exactly, in [0, 1)`, async () => {
        await expectNoLeak('rand', async () => {
          const ref = await read(rand(shape, { seed, device: 'cpu', dtype: 'float64' }));
          poison(device, [sizeOf(shape)]);
          const t = rand(shape, { seed, device, dtype: 'float32' });
          expect([t.shape, t.dtype, t.device]).toEqual([shape, 'float32', device]);
          const got = await read(t);
          assertClose(`rand ${sh(shape)} seed ${seed} on ${device}`, got, ref, shape, EXACT);
          for (const v of got) expect(v >= 0 && v < 1, `rand value ${v} outside [0, 1)`).toBe(true);
          if (got.length > 1) expect(new Set(got).size, 'rand values repeat').toBeGreaterThan(got.length * 0.9);
        });
      });
      it(`randn ${sh(shape)} seed ${seed}: the CPU's values within 1e-5`, async () => {
        await expectNoLeak('randn', async () => {
          const ref = await read(randn(shape, { seed, device: 'cpu', dtype: 'float64' }));
          poison(device, [sizeOf(shape)]);
          const t = randn(shape, { seed, device, dtype: 'float32' });
          expect([t.shape, t.dtype, t.device]).toEqual([shape, 'float32', device]);
          assertClose(`randn ${sh(shape)} seed ${seed} on ${device}`, await read(t), ref, shape, { atol: 1e-5, rtol: 1e-5 });
        });
      });
    }
  }

  it('different seeds give different draws; rand and randn are roughly U(0,1) and N(0,1)', async () => {
    await expectNoLeak('rand stats', async () => {
      const a = await read(rand([4096], { seed: 1, device }));
      const b = await read(rand([4096], { seed: 2, device }));
      expect(a.filter((v, i) => v === b[i]!).length).toBeLessThan(10);
      const meanU = a.reduce((s, v) => s + v, 0) / a.length;
      expect(Math.abs(meanU - 0.5)).toBeLessThan(0.02);
      const n = await read(randn([4096], { seed: 3, device }));
      const m = n.reduce((s, v) => s + v, 0) / n.length;
      const v = n.reduce((s, x) => s + (x - m) ** 2, 0) / n.length;
      expect(Math.abs(m)).toBeLessThan(0.06);
      expect(Math.abs(v - 1)).toBeLessThan(0.08);
      expect(n.every(Number.isFinite)).toBe(true);
    });
  });

  it('the global stream (manualSeed, no explicit seed) gives the CPU values too', async () => {
    await expectNoLeak('global stream', async () => {
      manualSeed(77);
      const d1 = rand([17, 3], { device });
      const d2 = randn([33], { device });
      const d3 = rand([5], { device });
      manualSeed(77);
      const c1 = rand([17, 3], { device: 'cpu' });
      const c2 = randn([33], { device: 'cpu' });
      const c3 = rand([5], { device: 'cpu' });
      const [g1, g2, g3, r1, r2, r3] = [await read(d1), await read(d2), await read(d3), await read(c1), await read(c2), await read(c3)];
      assertClose('rand 1', g1, r1, [17, 3], EXACT);
      assertClose('randn 2', g2, r2, [33], { atol: 1e-5, rtol: 1e-5 });
      assertClose('rand 3', g3, r3, [5], EXACT);
      // Consecutive draws continue the stream rather than repeating it.
      expect(g3).not.toEqual(g1.slice(0, 5));
    });
  });

  it('to() copies values between the device and the CPU', async () => {
    await expectNoLeak('to', async () => {
      const values = Float32Array.from({ length: 65 }, (_, i) => Math.fround(Math.sin(i) * 10));
      const t = tensor(values, { shape: [5, 13], device });
      const c = await t.to('cpu');
      const back = await c.to(device);
      expect([c.device, back.device, back.shape]).toEqual(['cpu', device, [5, 13]]);
      expect(await read(back)).toEqual(Array.from(values));
      dispose([t, c]);
    });
  });
});

describeEachBackend('edge cases', (device) => {
  it('reducing a rank-0 tensor over axis 0 or -1 returns its value with shape [] (as torch.sum(x, 0))', async () => {
    await expectNoLeak('rank-0 reductions', async () => {
      const x = tensor(Float32Array.from([2.5]), { shape: [], device });
      const problems: string[] = [];
      for (const [name, op] of [['sum', sum], ['mean', mean], ['max', max]] as const) {
        for (const axis of [0, -1]) {
          for (const keepdim of [false, true]) {
            try {
              const r = op(x, axis, keepdim);
              const v = await read(r);
              if (r.shape.length !== 0 || v[0] !== 2.5) problems.push(`${name}(x, ${axis}, ${keepdim}): shape [${r.shape}] value ${v}`);
            } catch (e) {
              problems.push(`${name}(x, ${axis}, ${keepdim}) threw: ${e instanceof Error ? e.message : String(e)}`);
            }
          }
        }
      }
      x.dispose();
      expect(problems).toEqual([]);
    });
  });
});

describe('op suite self-checks', () => {
  it('the comparison catches a wrong element, a NaN and a shape-length mismatch', () => {
    expect(() => assertClose('x', [1, 2, 3], [1, 2, 3.001], [3], ARITH)).toThrow(/1 of 3 elements differ; first at flat 2 \[2\]/);
    expect(() => assertClose('x', [1, Number.NaN], [1, 2], [2], { atol: 1, rtol: 1 })).toThrow(/got NaN/);
    expect(() => assertClose('x', [1, 2], [1, 2, 3], [3], ARITH)).toThrow(/got 2 elements, expected 3/);
    expect(() => assertClose('x', [Infinity], [3e38], [1], TRANS)).toThrow(/differ/);
    expect(() => assertClose('x', [1, 2.0000001], [1, 2], [2], ARITH)).not.toThrow();
  });

  it('the case table covers every differentiable and non-differentiable op family', () => {
    const names = CASES.map((c) => c.name.split(' ')[0]);
    for (const op of [
      'add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'eq', 'gt', 'ge', 'lt', 'le', 'neg', 'exp', 'log', 'sqrt', 'abs',
      'square', 'sign', 'reciprocal', 'pow', 'clamp', 'sigmoid', 'tanh', 'relu', 'relu6', 'leakyRelu', 'leakyRelu(0.2)',
      'gelu', "gelu('tanh')", 'softplus', 'isNonFinite', 'sum', 'mean', 'max', 'reshape', 'transpose', 'permute',
      'expand', 'matmul', 'softmax', 'logSoftmax', 'int32', 'cast',
    ]) {
      expect(names, op).toContain(op);
    }
    expect(new Set(CASES.map((c) => c.name)).size, 'case names must be unique (they seed the inputs)').toBe(CASES.length);
  });

  it('every case has an independent JS oracle (the CPU run is checked against it, not only against itself)', () => {
    // gelu's erf form only: JavaScript has no erf; PyTorch fixtures check it (pytorch-parity).
    const without = CASES.filter((c) => !c.oracle).map((c) => c.name);
    expect(without.every((n) => n.startsWith('gelu ')), without.join('; ')).toBe(true);
    expect(without.length).toBeLessThanOrEqual(ACT_SHAPES.length + 1);
  });
});
