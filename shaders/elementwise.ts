/**
 * Elementwise WGSL: fill, cast, unary ops, activation gradients, broadcasting binary ops.
 *
 * The per-op expressions are mapped types over the op unions, so an op without its WGSL is a
 * compile error. Expressions are in `x` (input), `p` (the scalar parameter), `dy` (incoming
 * gradient), `a`/`b` (binary operands), and may call the helpers of MATH_WGSL.
 */

import { isInt32UnaryOp, type ActivationGradOp, type BinaryOp, type Int32UnaryOp, type UnaryOp } from './kernel-types.js';
import { FLOAT_BITS_WGSL, uniformAt, WG_1D, type WgslScalar } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

/**
 * Numerically careful helpers (float32). WGSL may assume there is no NaN or Inf, so special
 * values are produced by bit-casting a private variable (never a constant expression, which
 * would be a shader-creation error) and detected by testing bits (FLOAT_BITS_WGSL), never by
 * float comparisons. The kernels' wrappers (op_f, grad_f, act) return a NaN input unchanged
 * before any helper runs, so the helpers see only numbers and ±Inf.
 */
export const MATH_WGSL = /* wgsl */ `
${FLOAT_BITS_WGSL}
var<private> BITS_INF: u32 = 0x7f800000u;
var<private> BITS_NINF: u32 = 0xff800000u;
var<private> BITS_NAN: u32 = 0x7fc00000u;
fn f_inf() -> f32 { return bitcast<f32>(BITS_INF); }
fn f_ninf() -> f32 { return bitcast<f32>(BITS_NINF); }
fn f_nan() -> f32 { return bitcast<f32>(BITS_NAN); }
fn is_non_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u; }
// 1/(1+exp(-x)) for x >= 0 and exp(x)/(1+exp(x)) below, sharing e = exp(-|x|) <= 1: no overflow.
fn sigmoid_f(x: f32) -> f32 {
  let e = exp(-abs(x));
  let r = 1.0 / (1.0 + e);
  return pick(e * r, r, !is_neg(x));
}
fn relu_f(x: f32) -> f32 { return pick(0.0, x, is_pos(x)); }
fn relu6_f(x: f32) -> f32 { return pick(0.0, min_f(x, 6.0), is_pos(x)); }
fn leaky_f(x: f32, p: f32) -> f32 { return pick(p * x, x, is_pos(x)); }
fn abs_f(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) & 0x7fffffffu); }
fn sign_f(x: f32) -> f32 { return pick(pick(0.0, -1.0, is_neg(x)), 1.0, is_pos(x)); }
// log with log(±0) = -Inf, log(x < 0) = NaN, log(+Inf) = +Inf on every driver, and subnormal x
// (which a flushing driver would read as 0) taken from its integer mantissa: x = m * 2^-149.
fn log_f(x: f32) -> f32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7fffffffu) == 0u) { return f_ninf(); }
  if (u > 0x80000000u) { return f_nan(); }
  if (u == 0x7f800000u) { return x; }
  if (u < 0x00800000u) { return log(f32(u)) - 103.27892990343185; }
  return log(x);
}
// sqrt with sqrt(±0) = ±0, sqrt(x < 0) = NaN, sqrt(+Inf) = +Inf; subnormals as in log_f
// (sqrt(m * 2^-149) = sqrt(m) * 2^-74.5).
fn sqrt_f(x: f32) -> f32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7fffffffu) == 0u || u == 0x7f800000u) { return x; }
  if (u > 0x80000000u) { return f_nan(); }
  if (u < 0x00800000u) { return sqrt(f32(u)) * 3.7433921e-23; }
  return sqrt(x);
}
// Some drivers overflow inside tanh for large |x|; tanh(15) is 1 in float32. lavapipe's tanh near 0
// is (e^2x - 1)/(e^2x + 1), which cancels (tanh(1e-38) = 3e-8 there): below |x| = 2^-12, tanh(x)
// rounds to x in float32, so return x itself.
fn tanh_f(x: f32) -> f32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) < 0x39800000u) { return x; }
  return tanh(clamp(x, -15.0, 15.0));
}
// log(1 + e) for 0 <= e <= 1, accurate for tiny e where 1 + e rounds to 1.
fn log1p_f(e: f32) -> f32 {
  if (e < 1e-3) { return e * (1.0 - e * (0.5 - e * 0.33333333)); }
  return log(1.0 + e);
}
fn softplus_f(x: f32) -> f32 { return max(x, 0.0) + log1p_f(exp(-abs(x))); }
// erfc(z) for z >= 0 (Numerical Recipes erfcc, Chebyshev fit): relative error < 1.2e-7 everywhere,
// so Phi(x) below keeps relative accuracy in the far negative tail too.
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + poly);
}
// Standard normal CDF.
fn ncdf(x: f32) -> f32 {
  let c = 0.5 * erfc_pos(abs(x) * 0.70710678118654752);
  return pick(c, 1.0 - c, !is_neg(x));
}
fn sigmoid_grad(x: f32) -> f32 { let s = sigmoid_f(x); return s * (1.0 - s); }
// 1 - tanh^2 = 1/cosh^2 = 4e/(1 + e)^2 with e = exp(-2|x|) <= 1: no cancellation near saturation
// (1 - t*t from a rounded t loses all digits by |x| = 7) and no overflow.
fn tanh_grad(x: f32) -> f32 { let e = exp(-2.0 * abs(x)); let d = 1.0 + e; return 4.0 * e / (d * d); }
fn gelu_f(x: f32) -> f32 { return x * ncdf(x); }
fn gelu_grad(x: f32) -> f32 { return ncdf(x) + x * 0.39894228040143268 * exp(-0.5 * x * x); }
// 0.5(1 + tanh(u)) = sigmoid(2u), which stays accurate where 1 + tanh(u) would cancel.
fn gelu_tanh_u(x: f32) -> f32 { return 0.79788456080286536 * (x + 0.044715 * x * x * x); }
fn gelu_tanh_f(x: f32) -> f32 { return x * sigmoid_f(2.0 * gelu_tanh_u(x)); }
fn gelu_tanh_grad(x: f32) -> f32 {
  // PyTorch gives NaN at ±Inf (its formula multiplies Inf by 0).
  if (is_non_finite(x)) { return f_nan(); }
  let s = sigmoid_f(2.0 * gelu_tanh_u(x));
  let bell = s * (1.0 - s);
  // bell is exactly 0 once the sigmoid saturates: skip the product, so x^2 overflowing (|x| > 1e19)
  // cannot turn 0 * Inf into NaN (the exact derivative there is 1 or 0).
  if (is_zero(bell)) { return s; }
  // d/dx [x s] with ds/dx = 2 s (1 - s) du/dx, du/dx = c (1 + 3 * 0.044715 x^2)
  return s + x * 2.0 * bell * 0.79788456080286536 * (1.0 + 0.134145 * x * x);
}
// Math.pow semantics for real x and p: negative bases with integer exponents keep their sign,
// with other exponents give NaN; 0^0 = 1; 0^negative = Inf.
fn pow_f(x: f32, p: f32) -> f32 {
  if (p == 0.0) { return 1.0; }
  if (p == 1.0) { return x; }
  if (p == 2.0) { return x * x; }
  if (p == 3.0) { return x * x * x; }
  if (p == -1.0) { return 1.0 / x; }
  if (p == 0.5 && x >= 0.0) { return sqrt(x); }
  let ax = abs(x);
  var r: f32;
  if (ax == 0.0) {
    r = select(0.0, f_inf(), p < 0.0);
  } else {
    r = exp2(p * log2(ax));
  }
  if (x < 0.0) {
    if (floor(p) != p) { return f_nan(); }
    if (fract(p * 0.5) != 0.0) { r = -r; }
  }
  return r;
}
// Integer power with wrapping multiplication; negative exponents truncate 1/a^|b| toward zero.
fn pow_i(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(1, -1, (b & 1) != 0); }
    return 0;
  }
  var r = 1;
  var base = a;
  var e = u32(b);
  loop {
    if (e == 0u) { break; }
    if ((e & 1u) != 0u) { r = r * base; }
    base = base * base;
    e = e >> 1u;
  }
  return r;
}
`;

/** float32 unary expressions in x and p. */
export const UNARY_WGSL: { [K in UnaryOp]: string } = {
  neg: '-x',
  exp: 'exp(x)',
  log: 'log_f(x)',
  sqrt: 'sqrt_f(x)',
  abs: 'abs_f(x)',
  square: 'x * x',
  sign: 'sign_f(x)',
  reciprocal: '1.0 / x',
  sigmoid: 'sigmoid_f(x)',
  tanh: 'tanh_f(x)',
  relu: 'relu_f(x)',
  relu6: 'relu6_f(x)',
  leakyRelu: 'leaky_f(x, p)',
  gelu: 'gelu_f(x)',
  geluTanh: 'gelu_tanh_f(x)',
  softplus: 'softplus_f(x)',
  powScalar: 'pow_f(x, p)',
  addScalar: 'x + p',
  mulScalar: 'x * p',
  rsubScalar: 'p - x',
  maxScalar: 'max_f(x, p)',
  minScalar: 'min_f(x, p)',
  isNonFinite: 'select(0.0, 1.0, is_non_finite(x))',
};

/**
 * float32 unary ops whose result at NaN is not NaN, so the kernel must not return a NaN input
 * unchanged before evaluating them: isNonFinite (1), powScalar (x^0 = 1).
 */
const UNARY_NAN_OWN: ReadonlySet<UnaryOp> = new Set<UnaryOp>(['isNonFinite', 'powScalar']);

export { INT32_UNARY_OPS, isInt32UnaryOp, type Int32UnaryOp } from './kernel-types.js';

/** int32 unary expressions in x and p (i32, wrapping arithmetic). */
export const UNARY_WGSL_I32: { [K in Int32UnaryOp]: string } = {
  neg: '-x',
  abs: 'abs(x)',
  square: 'x * x',
  sign: 'sign(x)',
  relu: 'max(x, 0)',
  addScalar: 'x + p',
  mulScalar: 'x * p',
  rsubScalar: 'p - x',
  maxScalar: 'max(x, p)',
  minScalar: 'min(x, p)',
};

/** dy · f'(x) for float32, in x, dy and p. */
export const ACTIVATION_GRAD_WGSL: { [K in ActivationGradOp]: string } = {
  sigmoid: 'dy * sigmoid_grad(x)',
  tanh: 'dy * tanh_grad(x)',
  // PyTorch's threshold_backward: 0 where x <= 0, so dy passes at NaN (and at subnormal x > 0).
  relu: 'pick(0.0, dy, is_pos(x) || is_nan(x))',
  // PyTorch's (vectorized) hardtanh_backward: dy only where 0 < x < 6, so 0 at NaN.
  relu6: 'pick(0.0, dy, is_pos(x) && order_key(x) < order_key(6.0))',
  // dy where x > 0, else slope·dy (also at NaN, as PyTorch).
  leakyRelu: 'pick(p * dy, dy, is_pos(x))',
  gelu: 'dy * gelu_grad(x)',
  geluTanh: 'dy * gelu_tanh_grad(x)',
  softplus: 'dy * sigmoid_f(x)',
};

/** The smooth activations, whose gradient at NaN is NaN (the relu family decides in its formula). */
const ACTIVATION_GRAD_NAN_IS_NAN: ReadonlySet<ActivationGradOp> = new Set<ActivationGradOp>(['sigmoid', 'tanh', 'gelu', 'geluTanh', 'softplus']);

/** float32 binary expressions in a and b; comparisons give 1 or 0. */
export const BINARY_WGSL: { [K in BinaryOp]: string } = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  maximum: 'max_f(a, b)',
  minimum: 'min_f(a, b)',
  pow: 'pow_f(a, b)',
  // Comparisons on order keys: false whenever NaN is involved, exact on subnormals, -0 == +0.
  eq: 'select(0.0, 1.0, !is_nan(a) && !is_nan(b) && order_key(a) == order_key(b))',
  gt: 'select(0.0, 1.0, !is_nan(a) && !is_nan(b) && order_key(a) > order_key(b))',
  ge: 'select(0.0, 1.0, !is_nan(a) && !is_nan(b) && order_key(a) >= order_key(b))',
};

/** int32 binary expressions: wrapping add/sub/mul, division truncating toward zero with x/0 = 0. */
export const BINARY_WGSL_I32: { [K in BinaryOp]: string } = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'select(a / b, 0, b == 0)',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  pow: 'pow_i(a, b)',
  eq: 'select(0, 1, a == b)',
  gt: 'select(0, 1, a > b)',
  ge: 'select(0, 1, a >= b)',
};

/**
 * Elementwise kernels come in two widths. The vec4 form (used when the length is a multiple of 4)
 * moves 16 bytes per load and store and runs a quarter of the invocations, which is what memory-
 * bound ops need on GPUs and on CPU drivers alike; the scalar form handles the rest. In both, `P.n`
 * counts the elements the kernel indexes (vectors for the vec4 form).
 */
function storageType(t: WgslScalar, vec4: boolean): WgslScalar | `vec4<${WgslScalar}>` {
  return vec4 ? `vec4<${t}>` : t;
}

/** Applies a scalar function `name(args...)` to each lane of vec4 arguments (or once for scalars). */
function lanes(vec4: boolean, t: WgslScalar, name: string, args: string[]): string {
  if (!vec4) return `${name}(${args.join(', ')})`;
  const lane = (l: string) => `${name}(${args.map((a) => (a === 'p' ? a : `${a}.${l}`)).join(', ')})`;
  return `vec4<${t}>(${['x', 'y', 'z', 'w'].map(lane).join(', ')})`;
}

/** fill/cast/unary/activationGrad take n, then a 32-bit parameter (bit pattern of p). */
const N_BITS = { n: 'u32', bits: 'u32' } as const;

export const fillKernel = kernelFamily((t: WgslScalar, vec4: boolean) => {
  const T = storageType(t, vec4);
  return defineKernel({
    name: `fill:${t}:${vec4 ? 'v4' : 's'}`,
    bindings: { out: { type: T, access: 'read_write' } },
    uniforms: N_BITS,
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }\n  out[i] = ${T}(bitcast<${t}>(P.bits));`,
  });
});

/**
 * Element type conversion. float32 -> int32 truncates toward zero like the CPU reference within
 * the i32 range; outside it WGSL saturates (the CPU's ToInt32 wraps) and NaN is unspecified.
 */
export const castKernel = kernelFamily((from: WgslScalar, to: WgslScalar) =>
  defineKernel({
    name: `cast:${from}:${to}`,
    bindings: { x: { type: from, access: 'read' }, out: { type: to, access: 'read_write' } },
    uniforms: N_BITS,
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }\n  out[i] = ${to}(x[i]);`,
  }),
);

export const unaryKernel = kernelFamily((op: UnaryOp, t: WgslScalar, vec4: boolean) => {
  let expr: string;
  if (t === 'f32') expr = UNARY_WGSL[op];
  else if (isInt32UnaryOp(op)) expr = UNARY_WGSL_I32[op];
  else throw new Error(`webgpu: unary op '${op}' is not defined for int32`);
  const T = storageType(t, vec4);
  // NaN in, NaN out (the input itself), decided on the bits before the op's formula runs.
  const nanGuard = t === 'f32' && !UNARY_NAN_OWN.has(op) ? 'if (is_nan(x)) { return x; } ' : '';
  return defineKernel({
    name: `unary:${op}:${t}:${vec4 ? 'v4' : 's'}`,
    bindings: { X: { type: T, access: 'read' }, out: { type: T, access: 'read_write' } },
    uniforms: N_BITS,
    workgroupSize: WG_1D,
    helpers: () => `${MATH_WGSL}
fn op_f(x: ${t}, p: ${t}) -> ${t} { ${nanGuard}return ${expr}; }`,
    body: () => `  if (i >= P.n) { return; }
  let x = X[i];
  let p = bitcast<${t}>(P.bits);
  out[i] = ${lanes(vec4, t, 'op_f', ['x', 'p'])};`,
  });
});

export const activationGradKernel = kernelFamily((op: ActivationGradOp, vec4: boolean) => {
  const T = storageType('f32', vec4);
  return defineKernel({
    name: `actgrad:${op}:${vec4 ? 'v4' : 's'}`,
    bindings: { X: { type: T, access: 'read' }, DY: { type: T, access: 'read' }, out: { type: T, access: 'read_write' } },
    uniforms: N_BITS,
    workgroupSize: WG_1D,
    helpers: () => `${MATH_WGSL}
fn grad_f(x: f32, dy: f32, p: f32) -> f32 { ${ACTIVATION_GRAD_NAN_IS_NAN.has(op) ? 'if (is_nan(x)) { return x; } ' : ''}return ${ACTIVATION_GRAD_WGSL[op]}; }`,
    body: () => `  if (i >= P.n) { return; }
  let x = X[i];
  let dy = DY[i];
  let p = bitcast<f32>(P.bits);
  out[i] = ${lanes(vec4, 'f32', 'grad_f', ['x', 'dy', 'p'])};`,
  });
});

/**
 * How a binary operand is indexed: 'same' (its index is the output's), 'scalar' (element 0),
 * or 'strided' (index math over the collapsed output shape, stride 0 on broadcast axes).
 */
export type OperandMode = 'same' | 'scalar' | 'strided';

function binaryParts(op: BinaryOp, t: WgslScalar, aMode: OperandMode, bMode: OperandMode, rank: number, vec4: boolean) {
  const expr = t === 'f32' ? BINARY_WGSL[op] : BINARY_WGSL_I32[op];
  // In the vec4 form a 'same' operand is read as vec4 and a 'scalar' one is splat from element 0.
  const T = storageType(t, vec4);
  const operandType = (mode: OperandMode): WgslScalar | `vec4<${WgslScalar}>` => (mode === 'same' ? T : t);
  const read = (mode: OperandMode, name: string) => (mode === 'same' ? `${name}[i]` : vec4 ? `${T}(${name}[0])` : `${name}[0]`);
  const at = (mode: OperandMode, name: string, idx: string) => (mode === 'strided' ? `${name}[${idx}]` : read(mode, name));
  const body = (index: string) => `  if (i >= P.n) { return; }
${index}  let a = ${at(aMode, 'A', 'ia')};
  let b = ${at(bMode, 'B', 'ib')};
  out[i] = ${lanes(vec4, t, 'op_f', ['a', 'b'])};`;
  return {
    name: `binary:${op}:${t}:${aMode}:${bMode}:${rank}:${vec4 ? 'v4' : 's'}`,
    bindings: {
      A: { type: operandType(aMode), access: 'read' },
      B: { type: operandType(bMode), access: 'read' },
      out: { type: T, access: 'read_write' },
    } as const,
    helpers: () => `${MATH_WGSL}
fn op_f(a: ${t}, b: ${t}) -> ${t} { return ${expr}; }`,
    body,
  };
}

/** Binary op with both operands 'same' or 'scalar' (scalar or vec4 form). */
export const binaryKernel = kernelFamily((op: BinaryOp, t: WgslScalar, aMode: OperandMode, bMode: OperandMode, vec4: boolean) => {
  if (aMode === 'strided' || bMode === 'strided') throw new Error('webgpu: binaryKernel takes same-shape and scalar operands; use binaryStridedKernel');
  const parts = binaryParts(op, t, aMode, bMode, 0, vec4);
  return defineKernel({ ...parts, uniforms: { n: 'u32', rank: 'u32' }, workgroupSize: WG_1D, body: () => parts.body('') });
});

/** Binary op with at least one strided operand: shape, strides of a (sa) and of b (sb) over `rank` axes. */
export const binaryStridedKernel = kernelFamily((op: BinaryOp, t: WgslScalar, aMode: OperandMode, bMode: OperandMode, rank: number) => {
  if (aMode !== 'strided' && bMode !== 'strided') throw new Error('webgpu: binaryStridedKernel needs a strided operand');
  const parts = binaryParts(op, t, aMode, bMode, rank, false);
  const arr = { array: 'u32', length: rank } as const;
  return defineKernel({
    ...parts,
    uniforms: { n: 'u32', rank: 'u32', shape: arr, sa: arr, sb: arr },
    workgroupSize: WG_1D,
    body: () => {
      let index = '  var r = i;\n  var ia = 0u;\n  var ib = 0u;\n';
      for (let d = rank - 1; d >= 0; d--) {
        const c = d === 0 ? 'r' : `(r % ${uniformAt('P.shape', d)})`;
        index += `  { let c = ${c};`;
        if (aMode === 'strided') index += ` ia += c * ${uniformAt('P.sa', d)};`;
        if (bMode === 'strided') index += ` ib += c * ${uniformAt('P.sb', d)};`;
        if (d > 0) index += ` r = r / ${uniformAt('P.shape', d)};`;
        index += ' }\n';
      }
      return parts.body(index);
    },
  });
});
