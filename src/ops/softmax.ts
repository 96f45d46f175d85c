/**
 * softmax and logSoftmax along an axis, each one fused kernel (max subtracted before exp), with a
 * fused gradient from the saved output. Another axis than the last is moved last and back.
 */
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { normalizeAxis } from '../shape.js';
import { fail } from '../errors.js';
import { checkFloat, checkTensor } from './checks.js';
import { permute } from './shape-ops.js';

function lastAxis(x: Tensor, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const cols = x.shape[x.rank - 1] ?? 1;
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = Tensor._fromStorage(x.backend, x.backend.routine('softmax', { x: x._storage(op) }, { rows, cols, log }), x.shape, op);
  return record('softmax', [x], out, (save) => ({ y: save(out), log }));
}

function alongAxis(x: Tensor, axis: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.rank === 0) fail(op, 'expected a tensor of rank >= 1, got a scalar');
  const a = normalizeAxis(op, axis, x.rank);
  if (a === x.rank - 1) return lastAxis(x, log);
  // Swap the axis to the end, apply, swap back (a swap is its own inverse).
  const perm = Array.from({ length: x.rank }, (_, i) => (i === a ? x.rank - 1 : i === x.rank - 1 ? a : i));
  const moved = permute(x, perm);
  const y = lastAxis(moved, log);
  const out = permute(y, perm);
  moved.dispose();
  y.dispose();
  return out;
}

export const softmax = (x: Tensor, axis = -1): Tensor => alongAxis(x, axis, false);
export const logSoftmax = (x: Tensor, axis = -1): Tensor => alongAxis(x, axis, true);

export const softmaxGrads: GradRules<'softmax'> = {
  softmax: (dy, { y, log }) => {
    const cols = y.shape[y.rank - 1]!;
    const rows = cols === 0 ? 0 : y.size / cols;
    return [Tensor._fromStorage(y.backend, y.backend.routine('softmaxGrad', { y: y._storage('softmax'), dy: dy._storage('softmax') }, { rows, cols, log }), y.shape, 'softmax (backward)')];
  },
};
