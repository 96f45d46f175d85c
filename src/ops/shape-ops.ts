/** Shape ops: reshape (free: shares storage), permute/transpose and expand (one strided-gather kernel). */
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { normalizeAxis, sizeOf, stridesOf } from '../shape.js';
import { fail, shapeStr } from '../errors.js';
import { checkAxesArg, checkShapeArg, checkTensor } from './checks.js';
import { sumTo } from './reduce.js';

/** A new shape with the same elements; one dimension may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'input', x);
  if (!Array.isArray(shape)) checkShapeArg('reshape', 'shape', shape);
  const inferIdx = shape.indexOf(-1);
  if (shape.filter((d) => d === -1).length > 1) fail('reshape', `only one dimension can be -1, got ${shapeStr(shape)}`);
  let target = [...shape];
  if (inferIdx >= 0) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) fail('reshape', `cannot infer the -1 in ${shapeStr(shape)} for ${x.size} elements (input shape ${shapeStr(x.shape)})`);
    target[inferIdx] = x.size / known;
  }
  checkShapeArg('reshape', 'shape', target);
  if (sizeOf(target) !== x.size) fail('reshape', `cannot reshape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(target)} (${sizeOf(target)} elements)`);
  target = Object.freeze(target) as number[];
  const out = x._view(target);
  return record('reshape', [x], out, () => ({ inShape: x.shape }));
}

/** Reorders dimensions: out.shape[i] = x.shape[perm[i]]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  checkTensor('permute', 'input', x);
  checkAxesArg('permute', 'perm', perm);
  const dims = perm.map((p) => normalizeAxis('permute', p, x.rank));
  if (dims.length !== x.rank || new Set(dims).size !== dims.length) {
    fail('permute', `perm ${JSON.stringify(perm)} must list each of the ${x.rank} dimensions exactly once`);
  }
  const inStrides = stridesOf(x.shape);
  const outShape = dims.map((d) => x.shape[d]!);
  const storage = x.backend.strided(x._storage('permute'), outShape, dims.map((d) => inStrides[d]!), 0);
  const out = Tensor._fromStorage(x.backend, storage, outShape, 'permute');
  return record('permute', [x], out, () => ({ perm: dims }));
}

/** Swaps two dimensions (the last two by default: a matrix transpose). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  checkTensor('transpose', 'input', x);
  if (x.rank < 2) fail('transpose', `expected a tensor of rank >= 2, got shape ${shapeStr(x.shape)}`);
  const a = normalizeAxis('transpose', dim0, x.rank);
  const b = normalizeAxis('transpose', dim1, x.rank);
  const perm = Array.from({ length: x.rank }, (_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

/** Broadcasts to a larger shape (NumPy rules) and materialises the result. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', 'input', x);
  checkShapeArg('expand', 'shape', shape);
  const lead = shape.length - x.rank;
  if (lead < 0) fail('expand', `cannot expand shape ${shapeStr(x.shape)} to the smaller rank of ${shapeStr(shape)}`);
  const inStrides = stridesOf(x.shape);
  const strides = shape.map((d, i) => {
    if (i < lead) return 0;
    const src = x.shape[i - lead]!;
    if (src === d) return src === 1 ? 0 : inStrides[i - lead]!;
    if (src === 1) return 0;
    return fail('expand', `cannot expand shape ${shapeStr(x.shape)} to ${shapeStr(shape)} (dimension ${i}: ${src} vs ${d})`);
  });
  const out = Tensor._fromStorage(x.backend, x.backend.strided(x._storage('expand'), shape, strides, 0), shape, 'expand');
  return record('expand', [x], out, () => ({ inShape: x.shape }));
}

/** A copy with its own storage (as torch.clone); gradients pass through unchanged. */
export function clone(x: Tensor): Tensor {
  checkTensor('clone', 'input', x);
  const out = Tensor._fromStorage(x.backend, x.backend.strided(x._storage('clone'), x.shape, stridesOf(x.shape), 0), x.shape, 'clone');
  return record('reshape', [x], out, () => ({ inShape: x.shape }));
}

function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

export const shapeGrads: GradRules<'reshape' | 'permute' | 'expand'> = {
  reshape: (dy, { inShape }) => [reshape(dy, inShape)],
  permute: (dy, { perm }) => [permute(dy, inversePermutation(perm))],
  expand: (dy, { inShape }) => [sumTo(dy, inShape)],
};
