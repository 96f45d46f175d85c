/**
 * Elementwise formulas: the unary ops and the activation derivatives, as tables mapped over the
 * op-name unions so a missing formula is a compile error. Arithmetic is in float64; the caller
 * stores into the dtype's typed array (so float32 results round like a GPU's would).
 */
import { isInt32UnaryOp, type ActivationGradOp, type Int32UnaryOp, type TypedArray, type UnaryOp } from '../types.js';
import { erfc, normalCdf, normalPdf } from './special.js';

/** √(2/π), the tanh-approximation gelu's scale. */
const GELU_TANH_C = Math.sqrt(2 / Math.PI);
const GELU_TANH_K = 0.044715;

/** Logistic function without overflow: exp is only ever taken of a non-positive number. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Float formulas, x the input and p the op's scalar parameter (slope, exponent or operand). */
export const UNARY: { [K in UnaryOp]: (x: number, p: number) => number } = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  abs: (x) => Math.abs(x),
  square: (x) => x * x,
  sign: (x) => Math.sign(x), // −1, 0 or 1; NaN for NaN
  reciprocal: (x) => 1 / x,
  sigmoid: (x) => sigmoid(x),
  tanh: (x) => Math.tanh(x),
  relu: (x) => Math.max(x, 0),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  leakyRelu: (x, p) => (x > 0 ? x : p * x),
  // 0.5·x·(1 + erf(x/√2)) written as 0.5·x·erfc(−x/√2): the same value, without the cancellation
  // of 1 + erf for very negative x.
  gelu: (x) => 0.5 * x * erfc(-x / Math.SQRT2),
  // 0.5·x·(1 + tanh u) = x·σ(2u): the same function without the cancellation of 1 + tanh u ≈ 0 for x ≲ −5.
  geluTanh: (x) => x * sigmoid(2 * GELU_TANH_C * (x + GELU_TANH_K * x * x * x)),
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  powScalar: (x, p) => Math.pow(x, p),
  addScalar: (x, p) => x + p,
  mulScalar: (x, p) => x * p,
  rsubScalar: (x, p) => p - x,
  maxScalar: (x, p) => Math.max(x, p),
  minScalar: (x, p) => Math.min(x, p),
  isNonFinite: (x) => (Number.isFinite(x) ? 0 : 1),
};

/**
 * int32 formulas with i32 wrap-around (like WGSL's i32): `| 0` after exact sums, Math.imul for
 * products (x*x in float64 is inexact beyond 2^53, so `| 0` of it would give the wrong low bits).
 * The parameter is taken as an i32 (`p | 0`).
 */
export const INT_UNARY: { [K in Int32UnaryOp]: (x: number, p: number) => number } = {
  neg: (x) => -x | 0,
  abs: (x) => Math.abs(x) | 0, // abs(−2^31) wraps to −2^31, as in WGSL
  square: (x) => Math.imul(x, x),
  sign: (x) => Math.sign(x) | 0,
  relu: (x) => Math.max(x, 0),
  addScalar: (x, p) => (x + (p | 0)) | 0,
  mulScalar: (x, p) => Math.imul(x, p | 0),
  rsubScalar: (x, p) => ((p | 0) - x) | 0,
  maxScalar: (x, p) => Math.max(x, p | 0),
  minScalar: (x, p) => Math.min(x, p | 0),
};

/**
 * Derivatives f'(x) of the activations (p: leakyRelu's slope). Finite at |x| = 100; at NaN and ±Inf
 * as PyTorch (test/fixtures/nan_numerics.json): NaN for the smooth ones at NaN, relu 1, relu6 0,
 * leakyRelu the slope.
 */
export const ACTIVATION_DERIVATIVE: { [K in ActivationGradOp]: (x: number, p: number) => number } = {
  // PyTorch's threshold_backward: 0 where x <= 0 (so relu'(0) = 0), else 1, NaN included.
  relu: (x) => (x <= 0 ? 0 : 1),
  // PyTorch's vectorized hardtanh_backward: 1 only inside (0, 6), so 0 at NaN.
  relu6: (x) => (x > 0 && x < 6 ? 1 : 0),
  leakyRelu: (x, p) => (x > 0 ? 1 : p), // slope at NaN, as PyTorch
  sigmoid: (x) => {
    const s = sigmoid(x);
    return s * (1 - s);
  },
  tanh: (x) => {
    const t = Math.tanh(x);
    return 1 - t * t;
  },
  gelu: (x) => normalCdf(x) + x * normalPdf(x),
  geluTanh: (x) => {
    // PyTorch gives NaN at ±Inf (its formula multiplies Inf by 0); the bell shortcut below would give 1 or 0.
    if (!Number.isFinite(x)) return NaN;
    // f = x·σ(2u), u = c·(x + k·x³)  ⇒  f' = σ(2u) + 2x·σ(2u)·σ(−2u)·c·(1 + 3k·x²)
    // (the σ forms avoid the cancellation in 1 + tanh u and 1 − tanh²u for very negative x).
    const u2 = 2 * GELU_TANH_C * (x + GELU_TANH_K * x * x * x);
    const s = sigmoid(u2);
    const bell = s * sigmoid(-u2);
    // bell is exactly 0 once σ saturates; skip the product so a huge x·(1 + 3k·x²) cannot turn 0·∞ into NaN.
    if (bell === 0) return s;
    return s + 2 * x * bell * GELU_TANH_C * (1 + 3 * GELU_TANH_K * x * x);
  },
  softplus: (x) => sigmoid(x),
};

/** out[i] = f(x[i], param) with the float or the int32 table. */
export function unaryKernel(op: UnaryOp, x: TypedArray, out: TypedArray, param: number, isInt: boolean): void {
  if (isInt) {
    if (!isInt32UnaryOp(op)) throw new Error(`cpu.unary: op '${op}' is not defined for int32 inputs`);
    const f = INT_UNARY[op];
    for (let i = 0; i < x.length; i++) out[i] = f(x[i]!, param);
    return;
  }
  const f = UNARY[op];
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]!, param);
}

/** out[i] = dy[i] · f'(x[i]). */
export function activationGradKernel(op: ActivationGradOp, x: TypedArray, dy: TypedArray, out: TypedArray, param: number): void {
  const df = ACTIVATION_DERIVATIVE[op];
  for (let i = 0; i < x.length; i++) out[i] = dy[i]! * df(x[i]!, param);
}
