/** Reductions over one or more axes (sum, mean, max) with keepdim, and their gradients. */
import type { ReduceOp, Storage } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { normalizeAxis, sizeOf, sameShape } from '../shape.js';
import { fail, shapeStr } from '../errors.js';
import { checkFloat, checkTensor } from './checks.js';
import { expand, reshape } from './shape-ops.js';
import * as binary from './binary.js';

function normalizeAxes(op: string, axis: number | readonly number[] | undefined, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const axes = list.map((a) => normalizeAxis(op, a, rank));
  if (rank === 0) return []; // reducing a scalar over its (implicit) axis returns it
  if (new Set(axes).size !== axes.length) fail(op, `axis ${JSON.stringify(list)} names a dimension twice`);
  // Stryker disable next-line MethodExpression,ArrowFunction,ArithmeticOperator: the order of the axes changes only the intermediates' sizes, never the result
  return axes.sort((a, b) => b - a);
}

/** Runs the [outer, length, inner] kernel once per axis; returns the storage in keepdim shape. */
function reduceStorage(op: ReduceOp, x: Tensor, axes: readonly number[]): { storage: Storage; keptShape: number[] } {
  const backend = x.backend;
  const shape = [...x.shape];
  let storage = x._storage(op);
  let owned = false;
  for (const axis of axes) {
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    const next = backend.reduce(op, storage, outer, shape[axis]!, inner);
    if (owned) backend.release(storage);
    storage = next;
    owned = true;
    shape[axis] = 1;
  }
  if (!owned) storage = backend.strided(storage, shape, [...shapeStridesOf(shape)], 0); // no axes: a copy
  return { storage, keptShape: shape };
}

function shapeStridesOf(shape: readonly number[]): number[] {
  const strides: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

function squeezed(keptShape: readonly number[], axes: readonly number[]): number[] {
  return keptShape.filter((_, i) => !axes.includes(i));
}

/** Sum over `axis` (all axes when omitted). */
export function sum(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  checkTensor('sum', 'input', x);
  const axes = normalizeAxes('sum', axis, x.rank);
  const { storage, keptShape } = reduceStorage('sum', x, axes);
  const out = Tensor._fromStorage(x.backend, storage, keepdim ? keptShape : squeezed(keptShape, axes), 'sum');
  return record('sum', [x], out, () => ({ inShape: x.shape, keptShape }));
}

/** Mean over `axis` (all axes when omitted). */
export function mean(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  checkTensor('mean', 'input', x);
  checkFloat('mean', 'input', x);
  const axes = normalizeAxes('mean', axis, x.rank);
  const count = axes.reduce((n, a) => n * x.shape[a]!, 1);
  if (count === 0) fail('mean', `cannot average over an empty dimension (shape ${shapeStr(x.shape)})`);
  const s = sum(x, axes, keepdim);
  const m = binary.mul(s, 1 / count);
  s.dispose();
  return m;
}

/**
 * Maximum over `axis` (all axes when omitted). The gradient is shared evenly among tied maxima
 * (as torch.amax).
 */
export function max(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  checkTensor('max', 'input', x);
  const axes = normalizeAxes('max', axis, x.rank);
  for (const a of axes) if (x.shape[a] === 0) fail('max', `cannot take the max over an empty dimension (shape ${shapeStr(x.shape)})`);
  const { storage, keptShape } = reduceStorage('max', x, axes);
  const yKept = Tensor._fromStorage(x.backend, storage, keptShape, 'max');
  const out = keepdim ? yKept : yKept._view(squeezed(keptShape, axes));
  const result = record('max', [x], out, (save) => ({ x: save(x), yKept: save(yKept), keptShape }));
  if (!keepdim) yKept.dispose();
  return result;
}

/** Sums a broadcast gradient back down to `shape` (the inverse of broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  // Stryker disable next-line ConditionalExpression: a shortcut; summing over no axes gives the same values
  if (sameShape(g.shape, shape)) return g._view(shape);
  const lead = g.rank - shape.length;
  if (lead < 0) fail('sumTo', `cannot reduce shape ${shapeStr(g.shape)} to the larger rank of ${shapeStr(shape)}`);
  const axes: number[] = [];
  // Stryker disable next-line EqualityOperator: at i = g.rank neither condition holds (shape[rank - lead] is undefined)
  for (let i = 0; i < g.rank; i++) {
    // Stryker disable next-line ConditionalExpression: g.shape[i] !== 1 only skips summing a size-1 axis, which changes nothing
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  // Stryker disable next-line BooleanLiteral: without keepdim the reshape below gives the same result
  const s = sum(g, axes, true);
  const out = reshape(s, shape);
  s.dispose();
  return out;
}

export const reduceGrads: GradRules<'sum' | 'max'> = {
  sum: (dy, { inShape, keptShape }) => [expand(reshape(dy, keptShape), inShape)],
  max: (dy, { x, yKept, keptShape }) => {
    const mask = binary.eq(x, yKept);
    // Stryker disable next-line ConditionalExpression: x.shape[i] !== 1 only skips summing a size-1 axis, which changes nothing
    const ties = sum(mask, keptShape.map((d, i) => (d === 1 && x.shape[i] !== 1 ? i : -1)).filter((i) => i >= 0), true);
    return [binary.mul(mask, binary.div(reshape(dy, keptShape), ties))];
  },
};
