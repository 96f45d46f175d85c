/** Matrix products: 2-D and batched (batch dims broadcast), transposes read in place, and the gradient. */
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { broadcastShapes, sameShape, sizeOf } from '../shape.js';
import { fail, shapeStr } from '../errors.js';
import { checkFloat, checkSameBackend, checkSameDtype, checkTensor } from './checks.js';
import { expand } from './shape-ops.js';
import { sumTo } from './reduce.js';

/** The (rows, cols) an operand contributes, given whether it is stored transposed. */
function dimsOf(t: Tensor, trans: boolean): [number, number] {
  const r = t.shape[t.rank - 2]!;
  const c = t.shape[t.rank - 1]!;
  return trans ? [c, r] : [r, c];
}

/**
 * @internal The product op(a)·op(b), where op transposes the last two dims when its flag is set.
 * The kernel reads transposed operands in place; nothing is materialised.
 */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean, op = 'matmul'): Tensor {
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  checkSameBackend(op, a, b);
  checkSameDtype(op, a, b);
  checkFloat(op, 'a', a);
  if (a.rank < 2 || b.rank < 2) fail(op, `expected tensors of rank >= 2, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const [m, k] = dimsOf(a, transA);
  const [k2, n] = dimsOf(b, transB);
  if (k !== k2) {
    fail(op, `inner dimensions differ: ${shapeStr(a.shape)}${transA ? 'ᵀ' : ''} @ ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''} (${k} vs ${k2})`);
  }
  // Broadcasting the batch dimensions: an error names both operands' full shapes, not only their batch parts.
  let batchShape: number[];
  try {
    batchShape = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return fail(op, `the batch dimensions of ${shapeStr(a.shape)} and ${shapeStr(b.shape)} cannot be broadcast together (${shapeStr(a.shape.slice(0, -2))} vs ${shapeStr(b.shape.slice(0, -2))})`);
  }
  const batch = sizeOf(batchShape);
  // An operand whose batch dims differ from the result's but are not all 1 is materialised.
  const operand = (t: Tensor): { t: Tensor; stride: number; temp: boolean } => {
    const own = t.shape.slice(0, -2);
    const mat = t.shape[t.rank - 2]! * t.shape[t.rank - 1]!;
    if (sizeOf(own) === 1) return { t, stride: 0, temp: false };
    if (sameShape(own, batchShape)) return { t, stride: mat, temp: false };
    return { t: expand(t, [...batchShape, ...t.shape.slice(-2)]), stride: mat, temp: true };
  };
  const A = operand(a);
  const B = operand(b);
  const storage = a.backend.matmul(A.t._storage(op), B.t._storage(op), {
    batch, m, k, n, transA, transB, aBatchStride: batch === 1 ? 0 : A.stride, bBatchStride: batch === 1 ? 0 : B.stride,
  });
  if (A.temp) A.t.dispose();
  if (B.temp) B.t.dispose();
  const out = Tensor._fromStorage(a.backend, storage, [...batchShape, m, n], op);
  return record('matmul', [a, b], out, (save) => ({ a: save(a), b: save(b), transA, transB }));
}

/** a @ b for tensors of rank >= 2; leading (batch) dimensions broadcast. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return matmulT(a, b, false, false, 'matmul');
}

export const matmulGrads: GradRules<'matmul'> = {
  matmul: (dy, { a, b, transA, transB }, needs) => {
    // With X = op(a), Y = op(b): dX = dY·Yᵀ and dY_ = Xᵀ·dY; stored-transposed operands get the transpose of those.
    const da = needs[0] ? (transA ? matmulT(b, dy, transB, true) : matmulT(dy, b, false, !transB)) : null;
    const db = needs[1] ? (transB ? matmulT(dy, a, true, transA) : matmulT(a, dy, !transA, false)) : null;
    return [da && sumTo(da, a.shape), db && sumTo(db, b.shape)];
  },
};
