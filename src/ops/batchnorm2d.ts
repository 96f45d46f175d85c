/**
 * Batch normalisation over the channels of NCHW input (PyTorch's BatchNorm2d): statistics over
 * N·H·W per channel. Implemented by viewing x as [N·H·W, C] (a permute, then the fused
 * BatchNorm1d kernels, then the permute back), so train/eval semantics, the running-statistics
 * update (unbiased variance with n = N·H·W) and the gradient are exactly batchNorm's.
 */
import type { Tensor } from '../tensor.js';
import { fail, shapeStr } from '../errors.js';
import { tidy } from '../lifetime.js';
import { batchNorm, type BatchNormOptions } from './batchnorm.js';
import { checkFloat, checkTensor } from './checks.js';
import { permute, reshape } from './shape-ops.js';

export function batchNorm2d(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null, bias: Tensor | null, options: BatchNormOptions,
): Tensor {
  const op = 'batchNorm2d';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.rank !== 4) fail(op, `input must be 4-D [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (options.training && n * h * w < 2) fail(op, `training needs more than one value per channel, got input ${shapeStr(x.shape)}`);
  return tidy(() => {
    const rows = reshape(permute(x, [0, 2, 3, 1]), [n * h * w, c]);
    const y = batchNorm(rows, runningMean, runningVar, weight, bias, options);
    return permute(reshape(y, [n, h, w, c]), [0, 3, 1, 2]);
  });
}
