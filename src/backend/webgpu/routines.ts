/**
 * The WebGPU backend's routine table: each routine of ../routines.ts routed to its kernel function
 * in fused/*.ts, core-ops.ts or conv.ts (which check their storages and encode the dispatches).
 * The table is a mapped type over RoutineName, so a routine missing here is a compile error.
 */
import type { RoutineTable } from '../routines.js';
import type { KernelContext } from './context.js';
import * as core from './core-ops.js';
import * as conv from './conv.js';
import { activationGradFromOutput } from './fused/activation-output.js';
import { batchNormApply, batchNormBackward, batchNormRunningStats, batchNormStats } from './fused/batchnorm.js';
import { batchNorm2dApply, batchNorm2dBackward, batchNorm2dStats } from './batchnorm2d.js';
import { dropout, dropoutApplyMask, dropoutWithMask } from './fused/dropout.js';
import { adamStep, sgdStep, sgdStepMany } from './fused/optimizer.js';
import { softmax, softmaxCrossEntropy, softmaxCrossEntropyGrad, softmaxGrad } from './fused/softmax.js';

export const WEBGPU_ROUTINES: RoutineTable<KernelContext> = {
  activationGradFromOutput: (ctx, { y, dy }, { op, param }) => activationGradFromOutput(ctx, op, y, dy, param),
  dropout: (ctx, { x }, { p, seed, offset }) => dropout(ctx, x, p, seed, offset),
  dropoutWithMask: (ctx, { x }, { p, seed, offset }) => dropoutWithMask(ctx, x, p, seed, offset),
  dropoutApplyMask: (ctx, { dy, mask }, { p }) => dropoutApplyMask(ctx, dy, mask, p),
  batchNormStats: (ctx, { x }, { n, c }) => batchNormStats(ctx, x, n, c),
  batchNormApply: (ctx, { x, mean, variance, gamma, beta }, { n, c, eps }) => batchNormApply(ctx, x, mean, variance, gamma, beta, n, c, eps),
  batchNormBackward: (ctx, { x, dy, mean, variance, gamma }, { n, c, eps }) => batchNormBackward(ctx, x, dy, mean, variance, gamma, n, c, eps),
  batchNormRunningStats: (ctx, { runningMean, runningVar, mean, variance }, o) => batchNormRunningStats(ctx, runningMean, runningVar, mean, variance, o),
  batchNorm2dStats: (ctx, { x }, { n, c, hw }) => batchNorm2dStats(ctx, x, n, c, hw),
  batchNorm2dApply: (ctx, { x, mean, variance, gamma, beta }, { n, c, hw, eps }) => batchNorm2dApply(ctx, x, mean, variance, gamma, beta, n, c, hw, eps),
  batchNorm2dBackward: (ctx, { x, dy, mean, variance, gamma }, { n, c, hw, eps }) => batchNorm2dBackward(ctx, x, dy, mean, variance, gamma, n, c, hw, eps),
  softmax: (ctx, { x }, { rows, cols, log }) => softmax(ctx, x, rows, cols, log),
  softmaxGrad: (ctx, { y, dy }, { rows, cols, log }) => softmaxGrad(ctx, y, dy, rows, cols, log),
  softmaxCrossEntropy: (ctx, { logits, labels }, { n, c }) => softmaxCrossEntropy(ctx, logits, labels, n, c),
  softmaxCrossEntropyGrad: (ctx, { logits, labels, dLoss }, { n, c }) => softmaxCrossEntropyGrad(ctx, logits, labels, dLoss, n, c),
  sgdStep: (ctx, { param, grad, velocity }, options) => sgdStep(ctx, param, grad, velocity, options),
  sgdStepMany: (ctx, { params, grads, velocities }, options) => sgdStepMany(ctx, params, grads, velocities, options),
  adamStep: (ctx, { param, grad, m, v }, options) => adamStep(ctx, param, grad, m, v, options),

  argReduce: (ctx, { x }, { op, outer, length, inner }) => core.argReduce(ctx, op, x, outer, length, inner),
  gather: (ctx, { x, indices }, { layout, outer, length, inner, count }) => core.gather(ctx, x, indices, layout, outer, length, inner, count),
  scatterAdd: (ctx, { src, indices }, { layout, outer, length, inner, count }) => core.scatterAdd(ctx, src, indices, layout, outer, length, inner, count),
  select: (ctx, { cond, a, b }) => core.select(ctx, cond, a, b),
  stridedWrite: (ctx, { dst, src }, { srcShape, strides, offset }) => core.stridedWrite(ctx, dst, src, srcShape, strides, offset),
  cumsum: (ctx, { x }, { outer, length, inner, reverse }) => core.cumsum(ctx, x, outer, length, inner, reverse),

  conv2d: (ctx, { x, weight, bias }, g) => conv.conv2d(ctx, x, weight, bias, g),
  conv2dBackwardInput: (ctx, { dy, weight }, g) => conv.conv2dBackwardInput(ctx, dy, weight, g),
  conv2dBackwardWeight: (ctx, { x, dy }, g) => conv.conv2dBackwardWeight(ctx, x, dy, g),
  maxPool2d: (ctx, { x }, g) => conv.maxPool2d(ctx, x, g),
  maxPool2dBackward: (ctx, { dy, indices }, g) => conv.maxPool2dBackward(ctx, dy, indices, g),
  avgPool2d: (ctx, { x }, g) => conv.avgPool2d(ctx, x, g),
  avgPool2dBackward: (ctx, { dy }, g) => conv.avgPool2dBackward(ctx, dy, g),
};
