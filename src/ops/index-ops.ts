/**
 * Index ops: argmax/argmin, min, max/min along one axis with their indices (torch.max(x, dim)),
 * gather and indexSelect with int32 indices. One gather kernel serves the values of maxDim/minDim,
 * gather and indexSelect; its gradient is the deterministic scatter-add kernel.
 */
import type { ArgReduceOp, IndexLayout } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { normalizeAxis, sizeOf } from '../shape.js';
import { fail, shapeStr } from '../errors.js';
import { checkSameBackend, checkTensor } from './checks.js';
import { max } from './reduce.js';
import { neg } from './unary.js';
import { sub } from './binary.js';
import { tidy } from '../lifetime.js';

/** x viewed as [outer, length, inner] around `axis`. */
export function axisView(shape: readonly number[], axis: number): { outer: number; length: number; inner: number } {
  return { outer: sizeOf(shape.slice(0, axis)), length: shape[axis] ?? 1, inner: sizeOf(shape.slice(axis + 1)) };
}

function keptShape(shape: readonly number[], axis: number, keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

function argReduce(op: ArgReduceOp, x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  checkTensor(op, 'input', x);
  if (x.size === 0) fail(op, `cannot take the ${op} of an empty tensor (shape ${shapeStr(x.shape)})`);
  if (axis === undefined) {
    // Over the flattened tensor (as torch.argmax without dim).
    const s = x.backend.routine('argReduce', { x: x._storage(op) }, { op, outer: 1, length: x.size, inner: 1 });
    return Tensor._fromStorage(x.backend, s, keepdim ? x.shape.map(() => 1) : [], op);
  }
  const a = normalizeAxis(op, axis, x.rank);
  const { outer, length, inner } = axisView(x.shape, a);
  const s = x.backend.routine('argReduce', { x: x._storage(op) }, { op, outer, length, inner });
  return Tensor._fromStorage(x.backend, s, x.rank === 0 ? [] : keptShape(x.shape, a, keepdim), op);
}

/** Index (int32) of the largest element along `axis`, or of the flattened tensor; the first on ties, a NaN's if any (as torch.argmax). */
export const argmax = (x: Tensor, axis?: number, keepdim = false): Tensor => argReduce('argmax', x, axis, keepdim);
/** Index (int32) of the smallest element along `axis`, or of the flattened tensor; the first on ties, a NaN's if any (as torch.argmin). */
export const argmin = (x: Tensor, axis?: number, keepdim = false): Tensor => argReduce('argmin', x, axis, keepdim);

/**
 * Minimum over `axis` (all axes when omitted), the mirror of max: the gradient is shared evenly
 * among tied minima (as torch.amin and torch.min() without dim); NaN propagates. Computed as
 * −max(−x) for floats and ~max(~x) (= −1 − x, an order-reversing bijection without overflow) for int32.
 */
export function min(x: Tensor, axis?: number | readonly number[], keepdim = false): Tensor {
  checkTensor('min', 'input', x);
  const axes = axis === undefined ? x.shape.map((_, i) => i) : (typeof axis === 'number' ? [axis] : [...axis]).map((a) => normalizeAxis('min', a, x.rank));
  for (const a of axes) if (x.shape[a] === 0) fail('min', `cannot take the min over an empty dimension (shape ${shapeStr(x.shape)})`);
  return tidy(() => (x.dtype === 'int32' ? sub(-1, max(sub(-1, x), axis, keepdim)) : neg(max(neg(x), axis, keepdim))));
}

/** Values and int32 indices of a reduction along one axis. */
export interface ValuesAndIndices {
  values: Tensor;
  indices: Tensor;
}

function extremumDim(op: 'maxDim' | 'minDim', x: Tensor, axis: number, keepdim: boolean): ValuesAndIndices {
  checkTensor(op, 'input', x);
  if (typeof axis !== 'number') fail(op, `axis must be an integer, got ${String(axis)}`);
  const a = normalizeAxis(op, axis, x.rank);
  if (x.rank > 0 && x.shape[a] === 0) fail(op, `cannot reduce over the empty dimension ${a} of shape ${shapeStr(x.shape)}`);
  const { outer, length, inner } = axisView(x.shape, a);
  const idx = x.backend.routine('argReduce', { x: x._storage(op) }, { op: op === 'maxDim' ? 'argmax' : 'argmin', outer, length, inner });
  const outShape = x.rank === 0 ? [] : keptShape(x.shape, a, keepdim);
  const indices = Tensor._fromStorage(x.backend, idx, outShape, op);
  const values = gatherStorage(op, x, indices, 'perElement', outer, length, inner, 1, outShape);
  return { values, indices };
}

/**
 * Largest values along `axis` and their int32 indices (as torch.max(x, dim)): the first index on
 * ties, a NaN (and its index) if the line holds one. The gradient goes to the returned index only
 * (PyTorch's rule for max(dim); `max(x, axis)` shares it among ties like torch.amax).
 */
export const maxDim = (x: Tensor, axis: number, keepdim = false): ValuesAndIndices => extremumDim('maxDim', x, axis, keepdim);
/** Smallest values along `axis` and their int32 indices (as torch.min(x, dim)); see maxDim. */
export const minDim = (x: Tensor, axis: number, keepdim = false): ValuesAndIndices => extremumDim('minDim', x, axis, keepdim);

/** Runs the gather kernel and records it; the gradient scatter-adds back. */
function gatherStorage(
  op: string, x: Tensor, indices: Tensor, layout: IndexLayout, outer: number, length: number, inner: number, count: number,
  outShape: readonly number[],
): Tensor {
  const s = x.backend.routine('gather', { x: x._storage(op), indices: indices._storage(op) }, { layout, outer, length, inner, count });
  const out = Tensor._fromStorage(x.backend, s, outShape, op);
  return record('gather', [x], out, (save) => ({ indices: save(indices), layout, outer, length, inner, count, inShape: x.shape }));
}

function checkIndices(op: string, x: Tensor, index: Tensor): void {
  checkTensor(op, 'index', index);
  checkSameBackend(op, x, index);
  if (index.dtype !== 'int32') fail(op, `index must be an int32 tensor, got ${index.dtype}`);
}

/**
 * out[..., j, ...] = x[..., index[j], ...] along `axis`, with a 1-D int32 index (as
 * torch.index_select). Indices may repeat (their gradients add up, in a fixed order). The CPU and
 * GPU kernels give NaN (0 for int32) for an index outside [0, x.shape[axis]) instead of throwing,
 * since checking on the GPU would need a readback.
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const op = 'indexSelect';
  checkTensor(op, 'input', x);
  checkIndices(op, x, index);
  if (x.rank === 0) fail(op, 'input must have rank >= 1, got a scalar');
  if (index.rank !== 1) fail(op, `index must be 1-D, got shape ${shapeStr(index.shape)}`);
  const a = normalizeAxis(op, axis, x.rank);
  const { outer, length, inner } = axisView(x.shape, a);
  const count = index.shape[0]!;
  const outShape = x.shape.map((d, i) => (i === a ? count : d));
  return gatherStorage(op, x, index, 'shared', outer, length, inner, count, outShape);
}

/**
 * out[i][j][k] = x[index[i][j][k]][j][k] for axis 0, and so on (as torch.gather). `index` has x's
 * rank and x's sizes on every other axis (torch also accepts smaller ones; this does not). Out-of-
 * range indices give NaN (0 for int32), as indexSelect.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const op = 'gather';
  checkTensor(op, 'input', x);
  checkIndices(op, x, index);
  if (x.rank === 0) fail(op, 'input must have rank >= 1, got a scalar');
  const a = normalizeAxis(op, axis, x.rank);
  if (index.rank !== x.rank || index.shape.some((d, i) => i !== a && d !== x.shape[i])) {
    fail(op, `index must have the input's shape ${shapeStr(x.shape)} except on axis ${a}, got ${shapeStr(index.shape)}`);
  }
  const { outer, length, inner } = axisView(x.shape, a);
  return gatherStorage(op, x, index, 'perElement', outer, length, inner, index.shape[a]!, index.shape);
}

export const indexGrads: GradRules<'gather'> = {
  gather: (dy, { indices, layout, outer, length, inner, count, inShape }) => [
    Tensor._fromStorage(dy.backend, dy.backend.routine('scatterAdd', { src: dy._storage('gather'), indices: indices._storage('gather') }, { layout, outer, length, inner, count }), inShape, 'gather (backward)'),
  ],
};
