/**
 * Batch normalisation over the channels of NCHW input (PyTorch's BatchNorm2d): statistics over
 * N·H·W per channel. Training runs the NCHW routines (batchNorm2dStats / Apply / Backward: the
 * per-channel reductions read x in place, so no permute to [N·H·W, C] and back in either
 * direction); evaluation, a per-channel affine map, reuses batchNorm on the permuted view.
 * Train/eval semantics, the running-statistics update (unbiased variance with n = N·H·W) and the
 * gradient are exactly batchNorm's.
 */
import { Tensor } from '../tensor.js';
import type { GradRules } from '../autograd/rules.js';
import { fail, shapeStr } from '../errors.js';
import { tidy } from '../lifetime.js';
import { batchNorm, batchNormGradList, checkBatchNormArgs, finishBatchNormTraining, type BatchNormOptions } from './batchnorm.js';
import { checkFloat, checkTensor } from './checks.js';
import { permute, reshape } from './shape-ops.js';
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
  if (!options.training) {
    return tidy(() => {
      const rows = reshape(permute(x, [0, 2, 3, 1]), [n * h * w, c]);
      const y = batchNorm(rows, runningMean, runningVar, weight, bias, options);
      return permute(reshape(y, [n, h, w, c]), [0, 3, 1, 2]);
    });
  }
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
