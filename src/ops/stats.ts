/**
 * Statistics and scans: var/std (compositions of mean, subtraction and sum), cumsum (one scan
 * kernel, its gradient the reverse scan), oneHot (a comparison against arange).
 */
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { normalizeAxis } from '../shape.js';
import { fail, shapeStr } from '../errors.js';
import { checkFloat, checkTensor } from './checks.js';
import { mean, sum } from './reduce.js';
import { square, sqrt } from './unary.js';
import { div, eq, sub } from './binary.js';
import { reshape } from './shape-ops.js';
import { fromData } from './creation.js';
import { axisView } from './index-ops.js';
import { tidy } from '../lifetime.js';

export interface VarOptions {
  /** Divide by n − 1 (Bessel's correction, PyTorch's default) instead of n. */
  unbiased?: boolean;
  keepdim?: boolean;
}

function reducedAxes(op: string, x: Tensor, axis: number | readonly number[] | undefined): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const axes = list.map((a) => normalizeAxis(op, a, x.rank));
  if (new Set(axes).size !== axes.length) fail(op, `axis ${JSON.stringify(list)} names a dimension twice`);
  return x.rank === 0 ? [] : axes;
}

/**
 * Variance over `axis` (all axes when omitted), unbiased by default (as torch.var). With one
 * element and `unbiased` the result is NaN (0/0), as in PyTorch.
 */
export function variance(x: Tensor, axis?: number | readonly number[], options: VarOptions = {}): Tensor {
  const op = 'var';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  const axes = reducedAxes(op, x, axis);
  const { unbiased = true, keepdim = false } = options;
  if (typeof unbiased !== 'boolean') fail(op, `unbiased must be a boolean, got ${String(unbiased)}`);
  const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
  if (n === 0) fail(op, `cannot take the variance over an empty dimension (shape ${shapeStr(x.shape)})`);
  return tidy(() => {
    const centered = sub(x, mean(x, axes, true));
    return div(sum(square(centered), axes, keepdim), unbiased ? n - 1 : n);
  });
}

/** Standard deviation: sqrt(var) (as torch.std). */
export function std(x: Tensor, axis?: number | readonly number[], options: VarOptions = {}): Tensor {
  checkTensor('std', 'input', x);
  return tidy(() => sqrt(variance(x, axis, options)));
}

/** Inclusive running sum along `axis` (as torch.cumsum). */
export function cumsum(x: Tensor, axis: number): Tensor {
  const op = 'cumsum';
  checkTensor(op, 'input', x);
  const a = normalizeAxis(op, axis, x.rank);
  const { outer, length, inner } = axisView(x.shape, a);
  const out = Tensor._fromStorage(x.backend, x.backend.routine('cumsum', { x: x._storage(op) }, { outer, length, inner, reverse: false }), x.shape, op);
  return record('cumsum', [x], out, () => ({ outer, length, inner }));
}

/**
 * One-hot encoding of int32 class indices: shape [...indices.shape, numClasses], int32 (as
 * torch.nn.functional.one_hot, which returns int64). numClasses is required (inferring it would
 * need a readback); an index outside [0, numClasses) gives a row of zeros (not checked).
 */
export function oneHot(indices: Tensor, numClasses: number): Tensor {
  const op = 'oneHot';
  checkTensor(op, 'indices', indices);
  if (indices.dtype !== 'int32') fail(op, `indices must be an int32 tensor, got ${indices.dtype}`);
  if (!Number.isInteger(numClasses) || numClasses < 1) fail(op, `numClasses must be a positive integer, got ${numClasses}`);
  return tidy(() => {
    const classes = fromData(Array.from({ length: numClasses }, (_, i) => i), [numClasses], 'int32', indices.backend);
    return eq(reshape(indices, [...indices.shape, 1]), classes);
  });
}

export const statsGrads: GradRules<'cumsum'> = {
  cumsum: (dy, { outer, length, inner }) => [
    Tensor._fromStorage(dy.backend, dy.backend.routine('cumsum', { x: dy._storage('cumsum') }, { outer, length, inner, reverse: true }), dy.shape, 'cumsum (backward)'),
  ],
};

