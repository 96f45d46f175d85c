/**
 * Batch normalisation over the channels of NCHW input (PyTorch's BatchNorm2d): statistics over
 * N·H·W per channel. Training runs the NCHW routines (batchNorm2dStats / Apply / Backward: the
 * per-channel reductions read x in place, so no permute to [N·H·W, C] and back in either
 * direction); evaluation, a per-channel affine map with the running statistics, is also read on
 * NCHW in place: batchNorm2dApply given the running statistics (one pass) when no gradient is
 * needed, the same map written with broadcasting ops over [1, C, 1, 1] when one is.
 * Train/eval semantics, the running-statistics update (unbiased variance with n = N·H·W) and the
 * gradient are exactly batchNorm's.
 */
import { Tensor } from '../tensor.js';
import type { GradRules } from '../autograd/rules.js';
import { fail, shapeStr } from '../errors.js';
import { tidy } from '../lifetime.js';
import { needsGrad } from '../autograd/node.js';
import * as binary from './binary.js';
import { applyUnary } from './unary.js';
import { batchNormGradList, checkBatchNormArgs, finishBatchNormTraining, type BatchNormOptions } from './batchnorm.js';
import { checkFloat, checkTensor } from './checks.js';
import { reshape } from './shape-ops.js';
import { autocastWidens, inFloat32 } from '../amp/cast.js';

const OP = 'batchNorm2d';

export function batchNorm2d(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null, bias: Tensor | null, options: BatchNormOptions,
): Tensor {
  const op = OP;
  checkTensor(op, 'input', x);
  // A float16 activation under autocast: normalised in float32, the output float16 again.
  if (autocastWidens(x)) return inFloat32(x, (x32) => batchNorm2d(x32, runningMean, runningVar, weight, bias, options));
  checkFloat(op, 'input', x);
  if (x.rank !== 4) fail(op, `input must be 4-D [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const { eps, momentum } = checkBatchNormArgs(op, x, c, { runningMean, runningVar, weight, bias }, options);
  if (!options.training) return evalNchw(x, runningMean, runningVar, weight, bias, eps);
  const hw = h * w;
  const count = n * hw;
  if (count < 2) fail(op, `training needs more than one value per channel, got input ${shapeStr(x.shape)}`);
  const backend = x.backend;
  const { mean, variance } = backend.routine('batchNorm2dStats', { x: x._storage(op) }, { n, c, hw });
  const meanT = Tensor._fromStorage(backend, mean, [c], op);
  const varT = Tensor._fromStorage(backend, variance, [c], op);
  const out = Tensor._fromStorage(
    backend,
    backend.routine('batchNorm2dApply', { x: x._storage(op), mean, variance, gamma: weight?._storage(op) ?? null, beta: bias?._storage(op) ?? null }, { n, c, hw, eps }),
    [n, c, h, w],
    op,
  );
  return finishBatchNormTraining(op, x, weight, bias, out, { mean: meanT, variance: varT, count, eps, momentum }, runningMean, runningVar);
}

/** Evaluation mode: y = (x − running mean)/sqrt(running var + eps)·weight + bias per channel, on NCHW. */
function evalNchw(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  if (!runningMean || !runningVar) fail(OP, 'evaluation mode needs runningMean and runningVar');
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (!needsGrad([x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])])) {
    const b = x.backend;
    const storage = b.routine('batchNorm2dApply', {
      x: x._storage(OP), mean: runningMean._storage(OP), variance: runningVar._storage(OP), gamma: weight?._storage(OP) ?? null, beta: bias?._storage(OP) ?? null,
    }, { n, c, hw: h * w, eps });
    return Tensor._fromStorage(b, storage, [n, c, h, w], OP);
  }
  // With a gradient to carry: the same map from differentiable ops, the vectors broadcast as [1, C, 1, 1].
  return tidy(() => {
    const col = (t: Tensor): Tensor => reshape(t, [1, c, 1, 1]);
    const scale = applyUnary('powScalar', OP, binary.add(col(runningVar), eps), -0.5);
    let y = binary.mul(binary.sub(x, col(runningMean)), scale);
    if (weight) y = binary.mul(y, col(weight));
    if (bias) y = binary.add(y, col(bias));
    return y;
  });
}

export const batchNorm2dGrads: GradRules<'batchNorm2d'> = {
  batchNorm2d: (dy, { x, mean, variance, weight, hasBias, eps }, needs) => {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const b = x.backend;
    const name = 'batchNorm2d (backward)';
    const r = b.routine('batchNorm2dBackward', {
      x: x._storage(OP), dy: dy._storage(OP), mean: mean._storage(OP), variance: variance._storage(OP), gamma: weight?._storage(OP) ?? null,
    }, { n, c, hw: h * w, eps });
    const dx = Tensor._fromStorage(b, r.dx, [n, c, h, w], name);
    const dgamma = Tensor._fromStorage(b, r.dgamma, [c], name);
    const dbeta = Tensor._fromStorage(b, r.dbeta, [c], name);
    return batchNormGradList(needs, dx, dgamma, dbeta, weight !== null, hasBias);
  },
};
