/** Elementwise one-input ops, activations and scalar arithmetic, with their gradients. */
import { DEFAULT_LEAKY_RELU_SLOPE, isActivationGradOp, isInt32UnaryOp, type ActivationGradOp, type UnaryOp } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { checkFiniteNumber, checkFloat, checkTensor } from './checks.js';
import { fail } from '../errors.js';
import * as binary from './binary.js';


export type DifferentiableUnaryOp = Exclude<UnaryOp, 'sign' | 'isNonFinite'>;

/** @internal Applies a unary kernel and records it. */
export function applyUnary(op: UnaryOp, name: string, x: Tensor, param = 0): Tensor {
  checkTensor(name, 'input', x);
  if (!isInt32UnaryOp(op)) checkFloat(name, 'input', x);
  else if (x.dtype === 'int32' && !Number.isInteger(param)) fail(name, `an int32 tensor needs an integer scalar, got ${param}`);
  const out = Tensor._fromStorage(x.backend, x.backend.unary(op, x._storage(name), param), x.shape, name);
  if (op === 'sign' || op === 'isNonFinite') return out;
  return record('unary', [x], out, (save) => ({ op, x: save(x), y: save(out), param }));
}

export const neg = (x: Tensor): Tensor => applyUnary('neg', 'neg', x);
export const exp = (x: Tensor): Tensor => applyUnary('exp', 'exp', x);
export const log = (x: Tensor): Tensor => applyUnary('log', 'log', x);
export const sqrt = (x: Tensor): Tensor => applyUnary('sqrt', 'sqrt', x);
export const abs = (x: Tensor): Tensor => applyUnary('abs', 'abs', x);
export const square = (x: Tensor): Tensor => applyUnary('square', 'square', x);
export const sign = (x: Tensor): Tensor => applyUnary('sign', 'sign', x);
export const reciprocal = (x: Tensor): Tensor => applyUnary('reciprocal', 'reciprocal', x);
export const sigmoid = (x: Tensor): Tensor => applyUnary('sigmoid', 'sigmoid', x);
export const tanh = (x: Tensor): Tensor => applyUnary('tanh', 'tanh', x);
export const relu = (x: Tensor): Tensor => applyUnary('relu', 'relu', x);
export const relu6 = (x: Tensor): Tensor => applyUnary('relu6', 'relu6', x);
export const softplus = (x: Tensor): Tensor => applyUnary('softplus', 'softplus', x);
/** 1 where the value is NaN or ±Inf, else 0 (tested explicitly, never by NaN propagation). */
export const isNonFinite = (x: Tensor): Tensor => applyUnary('isNonFinite', 'isNonFinite', x);

export function leakyRelu(x: Tensor, negativeSlope = DEFAULT_LEAKY_RELU_SLOPE): Tensor {
  checkFiniteNumber('leakyRelu', 'negativeSlope', negativeSlope);
  return applyUnary('leakyRelu', 'leakyRelu', x, negativeSlope);
}

/** GELU: exact (erf) form by default, or the tanh approximation with approximate: 'tanh' (as PyTorch). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') fail('gelu', `approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  return applyUnary(approximate === 'tanh' ? 'geluTanh' : 'gelu', 'gelu', x);
}

/** x ** exponent for a scalar exponent. */
export function pow(x: Tensor, exponent: number): Tensor {
  checkFiniteNumber('pow', 'exponent', exponent);
  if (exponent === 2) return applyUnary('square', 'pow', x);
  return applyUnary('powScalar', 'pow', x, exponent);
}

/** Limits values to [min, max]; either bound may be null. */
export function clamp(x: Tensor, min: number | null, max: number | null): Tensor {
  if (min === null && max === null) fail('clamp', 'at least one of min and max must be given');
  if (min !== null) checkFiniteNumber('clamp', 'min', min);
  if (max !== null) checkFiniteNumber('clamp', 'max', max);
  if (min !== null && max !== null && min > max) fail('clamp', `min (${min}) must not exceed max (${max})`);
  let y = min !== null ? applyUnary('maxScalar', 'clamp', x, min) : x;
  if (max !== null) {
    const lower = y;
    y = applyUnary('minScalar', 'clamp', lower, max);
    if (lower !== x) lower.dispose();
  }
  return y;
}

/** d(op)/dx written with ops; activations use one fused kernel instead. */
const DERIVATIVES: { [K in Exclude<DifferentiableUnaryOp, ActivationGradOp>]: (x: Tensor, y: Tensor, dy: Tensor, p: number) => Tensor } = {
  neg: (_x, _y, dy) => neg(dy),
  exp: (_x, y, dy) => binary.mul(dy, y),
  log: (x, _y, dy) => binary.div(dy, x),
  sqrt: (_x, y, dy) => binary.div(dy, binary.mul(y, 2)),
  abs: (x, _y, dy) => binary.mul(dy, sign(x)),
  square: (x, _y, dy) => binary.mul(dy, binary.mul(x, 2)),
  reciprocal: (_x, y, dy) => neg(binary.mul(dy, square(y))),
  powScalar: (x, _y, dy, p) => binary.mul(dy, binary.mul(pow(x, p - 1), p)),
  addScalar: (_x, _y, dy) => dy._view(dy.shape),
  mulScalar: (_x, _y, dy, p) => binary.mul(dy, p),
  rsubScalar: (_x, _y, dy) => neg(dy),
  // Gradient flows where the bound did not bite (ties pass it, as torch.clamp does).
  maxScalar: (x, _y, dy, p) => binary.mul(dy, binary.ge(x, p)),
  minScalar: (x, _y, dy, p) => binary.mul(dy, binary.le(x, p)),
};

export const unaryGrads: GradRules<'unary'> = {
  unary: (dy, { op, x, y, param }) => {
    if (isActivationGradOp(op)) {
      return [Tensor._fromStorage(x.backend, x.backend.activationGrad(op, x._storage(op), dy._storage(op), param), x.shape, `${op} (backward)`)];
    }
    return [DERIVATIVES[op as Exclude<DifferentiableUnaryOp, ActivationGradOp>](x, y, dy, param)];
  },
};
