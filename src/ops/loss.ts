/** Losses: softmax cross-entropy with integer labels (fused, stable) and mean squared error. */
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { fail, shapeStr } from '../errors.js';
import { checkFloat, checkSameBackend, checkTensor } from './checks.js';
import { mean, sum } from './reduce.js';
import { square } from './unary.js';
import { sub } from './binary.js';
import { tidy } from '../lifetime.js';
import { autocastToFloat32 } from '../amp/cast.js';

export type Reduction = 'mean' | 'sum' | 'none';

/** Checked before any tensor is made, so a bad reduction leaves nothing behind. */
function checkReduction(op: string, reduction: unknown): asserts reduction is Reduction {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') fail(op, `reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
}

function reduce(perRow: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return perRow;
  const r = reduction === 'mean' ? mean(perRow) : sum(perRow);
  perRow.dispose();
  return r;
}

/**
 * Cross-entropy of logits [N, C] against int32 class labels [N], averaged by default (as
 * torch.nn.functional.cross_entropy). A label outside [0, C) is an error naming the label and its
 * row: the CPU backend throws at this call; on WebGPU the labels are checked on the device (a
 * readback here would stall every step) and the next read of any tensor throws, while the row's
 * loss is NaN.
 */
export function crossEntropy(logits_: Tensor, labels: Tensor, reduction: Reduction = 'mean'): Tensor {
  const op = 'crossEntropy';
  const logits = autocastToFloat32(logits_); // float16 logits under autocast: the loss runs in float32
  checkTensor(op, 'logits', logits);
  checkTensor(op, 'labels', labels);
  checkFloat(op, 'logits', logits);
  checkSameBackend(op, logits, labels);
  checkReduction(op, reduction);
  if (logits.rank !== 2) fail(op, `logits must be 2-D [N, C], got ${shapeStr(logits.shape)}`);
  const [n, c] = logits.shape as [number, number];
  if (labels.dtype !== 'int32') fail(op, `labels must be int32 class indices, got ${labels.dtype}`);
  if (labels.rank !== 1 || labels.shape[0] !== n) fail(op, `labels must have shape [${n}] to match logits ${shapeStr(logits.shape)}, got ${shapeStr(labels.shape)}`);
  const b = logits.backend;
  const perRow = Tensor._fromStorage(b, b.routine('softmaxCrossEntropy', { logits: logits._storage(op), labels: labels._storage(op) }, { n, c }), [n], op);
  const recorded = record('crossEntropy', [logits], perRow, (save) => ({ logits: save(logits), labels: save(labels) }));
  return reduce(recorded, reduction);
}

/** Mean squared error between prediction and target of the same shape. */
export function mse(prediction_: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  const op = 'mse';
  const prediction = autocastToFloat32(prediction_);
  checkTensor(op, 'prediction', prediction);
  checkTensor(op, 'target', target);
  checkSameBackend(op, prediction, target);
  checkFloat(op, 'prediction', prediction);
  if (prediction.dtype !== target.dtype) fail(op, `prediction is ${prediction.dtype} but target is ${target.dtype}; convert one with .cast('${prediction.dtype}')`);
  checkReduction(op, reduction);
  if (prediction.shape.join() !== target.shape.join()) fail(op, `prediction ${shapeStr(prediction.shape)} and target ${shapeStr(target.shape)} must have the same shape`);
  const perElement = tidy(() => square(sub(prediction, target)));
  return reduce(perElement, reduction);
}

export const lossGrads: GradRules<'crossEntropy'> = {
  crossEntropy: (dy, { logits, labels }) => {
    const [n, c] = logits.shape as [number, number];
    const b = logits.backend;
    return [Tensor._fromStorage(b, b.routine('softmaxCrossEntropyGrad', { logits: logits._storage('crossEntropy'), labels: labels._storage('crossEntropy'), dLoss: dy._storage('crossEntropy') }, { n, c }), logits.shape, 'crossEntropy (backward)')];
  },
};
