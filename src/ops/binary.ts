/** Elementwise two-input ops with NumPy broadcasting, scalar forms, and their gradients. */
import type { BinaryOp } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { TensorLike } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { broadcastShapes } from '../shape.js';
import { fail } from '../errors.js';
import { checkSameBackend, checkSameDtype, checkTensor, checkFiniteNumber } from './checks.js';
import { applyUnary } from './unary.js';
import { sumTo } from './reduce.js';

/** Checks a and b as the caller named them; `swap` runs the kernel as op(b, a) (lt, le). */
function kernel(op: BinaryOp, name: string, a: Tensor, b: Tensor, swap = false): Tensor {
  checkTensor(name, 'a', a);
  checkTensor(name, 'b', b);
  checkSameBackend(name, a, b);
  checkSameDtype(name, a, b);
  const outShape = broadcastShapes(name, a.shape, b.shape);
  const [l, r] = swap ? [b, a] : [a, b];
  const storage = a.backend.binary(op, l._storage(name), l.shape, r._storage(name), r.shape, outShape);
  return Tensor._fromStorage(a.backend, storage, outShape, name);
}

function scalarCheck(name: string, t: Tensor, v: number): void {
  checkTensor(name, 'input', t);
  checkFiniteNumber(name, 'scalar', v);
  if (t.dtype === 'int32' && !Number.isInteger(v)) fail(name, `an int32 tensor needs an integer scalar, got ${v}`);
}

function bothNumbers(name: string): never {
  return fail(name, 'at least one argument must be a Tensor');
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') {
    if (typeof a === 'number') bothNumbers('add');
    scalarCheck('add', a, b);
    return applyUnary('addScalar', 'add', a, b);
  }
  if (typeof a === 'number') return add(b, a);
  const out = kernel('add', 'add', a, b);
  return record('add', [a, b], out, () => ({ aShape: a.shape, bShape: b.shape }));
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') {
    if (typeof a === 'number') bothNumbers('sub');
    scalarCheck('sub', a, b);
    return applyUnary('addScalar', 'sub', a, -b);
  }
  if (typeof a === 'number') {
    scalarCheck('sub', b, a);
    return applyUnary('rsubScalar', 'sub', b, a);
  }
  const out = kernel('sub', 'sub', a, b);
  return record('sub', [a, b], out, () => ({ aShape: a.shape, bShape: b.shape }));
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') {
    if (typeof a === 'number') bothNumbers('mul');
    scalarCheck('mul', a, b);
    return applyUnary('mulScalar', 'mul', a, b);
  }
  if (typeof a === 'number') return mul(b, a);
  const out = kernel('mul', 'mul', a, b);
  return record('mul', [a, b], out, (save) => ({ a: save(a), b: save(b) }));
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  if (typeof b === 'number') {
    if (typeof a === 'number') bothNumbers('div');
    scalarCheck('div', a, b);
    if (a.dtype === 'int32' || b === 0) return withScalar(a, b, (s) => div(a, s));
    return applyUnary('mulScalar', 'div', a, 1 / b);
  }
  if (typeof a === 'number') {
    scalarCheck('div', b, a);
    return withScalar(b, a, (s) => div(s, b));
  }
  const out = kernel('div', 'div', a, b);
  return record('div', [a, b], out, (save) => ({ a: save(a), b: save(b) }));
}

function fullLike(t: Tensor, v: number): Tensor {
  // Stryker disable next-line StringLiteral: the name reaches only the numerics guard, and v is finite (checked by the caller)
  return Tensor._fromStorage(t.backend, t.backend.fill(1, v, t.dtype), [], 'full');
}

/** Runs fn with a one-element tensor holding v, then frees it (the tape keeps its own handle if needed). */
function withScalar(like: Tensor, v: number, fn: (s: Tensor) => Tensor): Tensor {
  const s = fullLike(like, v);
  try {
    return fn(s);
  } finally {
    s.dispose();
  }
}

function extremum(op: 'maximum' | 'minimum', a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') bothNumbers(op);
  if (typeof b === 'number') {
    scalarCheck(op, a as Tensor, b);
    return applyUnary(op === 'maximum' ? 'maxScalar' : 'minScalar', op, a as Tensor, b);
  }
  if (typeof a === 'number') return extremum(op, b, a);
  const out = kernel(op, op, a, b);
  return record(op, [a, b], out, (save) => ({ a: save(a), b: save(b) }));
}
export const maximum = (a: TensorLike, b: TensorLike): Tensor => extremum('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => extremum('minimum', a, b);

/**
 * Comparisons give 1 or 0 in the inputs' dtype and are not differentiable. lt and le run gt and ge
 * with the operands swapped, but their errors name lt/le and the arguments as the caller passed them.
 */
function compare(op: 'eq' | 'gt' | 'ge', name: string, a: TensorLike, b: TensorLike, swap = false): Tensor {
  if (typeof a === 'number') {
    if (typeof b === 'number') bothNumbers(name);
    scalarCheck(name, b, a);
    return withScalar(b, a, (s) => kernel(op, name, s, b, swap));
  }
  if (typeof b === 'number') {
    scalarCheck(name, a, b);
    return withScalar(a, b, (s) => kernel(op, name, a, s, swap));
  }
  return kernel(op, name, a, b, swap);
}
export const eq = (a: TensorLike, b: TensorLike): Tensor => compare('eq', 'eq', a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => compare('gt', 'gt', a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => compare('ge', 'ge', a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => compare('gt', 'lt', a, b, true);
export const le = (a: TensorLike, b: TensorLike): Tensor => compare('ge', 'le', a, b, true);

/** The share of the gradient an extremum's first input receives: 1 where it won, ½ on ties (as torch). */
function winnerMask(op: 'maximum' | 'minimum', a: Tensor, b: Tensor): Tensor {
  const wins = op === 'maximum' ? gt(a, b) : gt(b, a);
  return add(wins, mul(eq(a, b), 0.5));
}

export const binaryGrads: GradRules<'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum'> = {
  add: (dy, { aShape, bShape }, needs) => [needs[0] ? sumTo(dy, aShape) : null, needs[1] ? sumTo(dy, bShape) : null],
  sub: (dy, { aShape, bShape }, needs) => [needs[0] ? sumTo(dy, aShape) : null, needs[1] ? sumTo(applyUnary('neg', 'sub', dy), bShape) : null],
  mul: (dy, { a, b }, needs) => [needs[0] ? sumTo(mul(dy, b), a.shape) : null, needs[1] ? sumTo(mul(dy, a), b.shape) : null],
  div: (dy, { a, b }, needs) => [
    needs[0] ? sumTo(div(dy, b), a.shape) : null,
    // d(a/b)/db = -a / b²
    // Stryker disable next-line StringLiteral: neg's name is never shown (its input is a tensor; a non-finite value comes first from the mul/div before it)
    needs[1] ? sumTo(applyUnary('neg', 'div', div(mul(dy, a), mul(b, b))), b.shape) : null,
  ],
  maximum: (dy, { a, b }, needs) => [
    needs[0] ? sumTo(mul(dy, winnerMask('maximum', a, b)), a.shape) : null,
    needs[1] ? sumTo(mul(dy, winnerMask('maximum', b, a)), b.shape) : null,
  ],
  minimum: (dy, { a, b }, needs) => [
    // Stryker disable next-line StringLiteral: winnerMask only tests op === 'maximum', so any other string means minimum
    needs[0] ? sumTo(mul(dy, winnerMask('minimum', a, b)), a.shape) : null,
    // Stryker disable next-line StringLiteral: as above
    needs[1] ? sumTo(mul(dy, winnerMask('minimum', b, a)), b.shape) : null,
  ],
};
