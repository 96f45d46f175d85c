/**
 * More losses, each a composition of existing ops (so their gradients come from the tape):
 * binary cross-entropy with logits, negative log-likelihood, smooth L1 / Huber, and cross-entropy
 * with label smoothing. Semantics and names follow torch.nn.functional.
 */
import type { Tensor } from '../tensor.js';
import { fail, shapeStr } from '../errors.js';
import { checkFloat, checkSameBackend, checkTensor } from './checks.js';
import { mean, sum } from './reduce.js';
import { abs, neg, softplus, square } from './unary.js';
import { add, lt, mul, sub } from './binary.js';
import { reshape } from './shape-ops.js';
import { logSoftmax } from './softmax.js';
import { gather } from './index-ops.js';
import { where } from './join-ops.js';
import { tidy } from '../lifetime.js';

export type LossReduction = 'mean' | 'sum' | 'none';

function checkReduction(op: string, reduction: LossReduction): void {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    fail(op, `reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
}

function reduceLoss(perElement: Tensor, reduction: LossReduction): Tensor {
  if (reduction === 'none') return perElement;
  return reduction === 'mean' ? mean(perElement) : sum(perElement);
}

function checkPair(op: string, aName: string, a: Tensor, bName: string, b: Tensor): void {
  checkTensor(op, aName, a);
  checkTensor(op, bName, b);
  checkFloat(op, aName, a);
  checkFloat(op, bName, b);
  checkSameBackend(op, a, b);
  if (a.shape.join() !== b.shape.join()) fail(op, `${aName} ${shapeStr(a.shape)} and ${bName} ${shapeStr(b.shape)} must have the same shape`);
}

function checkLabels(op: string, input: Tensor, labels: Tensor): [number, number] {
  checkTensor(op, 'labels', labels);
  checkSameBackend(op, input, labels);
  if (input.rank !== 2) fail(op, `input must be 2-D [N, C], got ${shapeStr(input.shape)}`);
  const [n, c] = input.shape as [number, number];
  if (labels.dtype !== 'int32') fail(op, `labels must be int32 class indices, got ${labels.dtype}`);
  if (labels.rank !== 1 || labels.shape[0] !== n) fail(op, `labels must have shape [${n}] to match input ${shapeStr(input.shape)}, got ${shapeStr(labels.shape)}`);
  return [n, c];
}

/**
 * Binary cross-entropy on logits against targets in [0, 1] (as F.binary_cross_entropy_with_logits),
 * in the stable form softplus(x) − x·y (no overflow at |x| = 100).
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, reduction: LossReduction = 'mean'): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  checkPair(op, 'logits', logits, 'target', target);
  checkReduction(op, reduction);
  return tidy(() => reduceLoss(sub(softplus(logits), mul(logits, target)), reduction));
}

/** −input[i, label_i], averaged by default (as F.nll_loss on log-probabilities [N, C]). */
export function nllLoss(logProbs: Tensor, labels: Tensor, reduction: LossReduction = 'mean'): Tensor {
  const op = 'nllLoss';
  checkTensor(op, 'input', logProbs);
  checkFloat(op, 'input', logProbs);
  const [n] = checkLabels(op, logProbs, labels);
  checkReduction(op, reduction);
  return tidy(() => reduceLoss(neg(reshape(gather(logProbs, 1, reshape(labels, [n, 1])), [n])), reduction));
}

/**
 * Smooth L1 (as F.smooth_l1_loss): 0.5·d²/beta where |d| < beta, else |d| − 0.5·beta, with
 * d = input − target. beta = 0 is plain L1.
 */
export function smoothL1Loss(input: Tensor, target: Tensor, beta = 1, reduction: LossReduction = 'mean'): Tensor {
  const op = 'smoothL1Loss';
  checkPair(op, 'input', input, 'target', target);
  if (typeof beta !== 'number' || !(beta >= 0) || !Number.isFinite(beta)) fail(op, `beta must be a finite number >= 0, got ${String(beta)}`);
  checkReduction(op, reduction);
  return tidy(() => {
    const ad = abs(sub(input, target));
    if (beta === 0) return reduceLoss(ad, reduction);
    return reduceLoss(where(lt(ad, beta), mul(square(ad), 0.5 / beta), sub(ad, 0.5 * beta)), reduction);
  });
}

/** Huber (as F.huber_loss): 0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta). */
export function huberLoss(input: Tensor, target: Tensor, delta = 1, reduction: LossReduction = 'mean'): Tensor {
  const op = 'huberLoss';
  checkPair(op, 'input', input, 'target', target);
  if (typeof delta !== 'number' || !(delta > 0) || !Number.isFinite(delta)) fail(op, `delta must be a finite number > 0, got ${String(delta)}`);
  checkReduction(op, reduction);
  return tidy(() => {
    const ad = abs(sub(input, target));
    return reduceLoss(where(lt(ad, delta), mul(square(ad), 0.5), mul(sub(ad, 0.5 * delta), delta)), reduction);
  });
}

/**
 * Cross-entropy of logits [N, C] against int32 labels [N] with label smoothing ε (as
 * F.cross_entropy(..., label_smoothing=ε)): (1 − ε)·(−log p_label) + ε·mean_c(−log p_c) per row.
 */
export function crossEntropyWithSmoothing(logits: Tensor, labels: Tensor, labelSmoothing: number, reduction: LossReduction = 'mean'): Tensor {
  const op = 'crossEntropyWithSmoothing';
  checkTensor(op, 'logits', logits);
  checkFloat(op, 'logits', logits);
  const [n] = checkLabels(op, logits, labels);
  if (typeof labelSmoothing !== 'number' || !(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    fail(op, `labelSmoothing must be a number in [0, 1], got ${String(labelSmoothing)}`);
  }
  checkReduction(op, reduction);
  return tidy(() => {
    const logp = logSoftmax(logits, 1);
    const picked = reshape(gather(logp, 1, reshape(labels, [n, 1])), [n]);
    const perRow = neg(add(mul(picked, 1 - labelSmoothing), mul(mean(logp, 1), labelSmoothing)));
    return reduceLoss(perRow, reduction);
  });
}
