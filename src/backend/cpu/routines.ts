/**
 * The CPU backend's routine table: each routine of ../routines.ts checked (live CPU storages, same
 * dtype, expected lengths) and handed to its loop in the file named like its WebGPU twin (batchnorm.ts, softmax.ts,
 * optimizer.ts, dropout.ts, activation-output.ts, core-ops.ts, conv.ts). The table
 * is a mapped type over RoutineName, so a routine missing here is a compile error.
 */
import type { DType, Storage, TypedArray } from '../types.js';
import type { RoutineTable } from '../routines.js';
import { type CpuStorage, cpuStorage } from './storage.js';
import { activationGradFromOutputKernel } from './activation-output.js';
import { batchNormApplyKernel, batchNormBackwardKernel, batchNormRunningStatsKernel, batchNormStatsKernel } from './batchnorm.js';
import { batchNorm2dApplyKernel, batchNorm2dBackwardKernel, batchNorm2dStatsKernel } from './batchnorm2d.js';
import { dropoutApplyMaskKernel, dropoutKernel, dropoutMaskWords } from './dropout.js';
import { adamStepKernel, sgdStepKernel } from './optimizer.js';
import { softmaxCrossEntropyGradKernel, softmaxCrossEntropyKernel, softmaxGradKernel, softmaxKernel } from './softmax.js';
import { argReduceCpu, cumsumCpu, gatherCpu, scatterAddCpu, selectCpu, stridedWriteCpu } from './core-ops.js';
import {
  avgPool2dBackwardCpu, avgPool2dCpu, conv2dBackwardInputCpu, conv2dBackwardWeightCpu, conv2dCpu, maxPool2dBackwardCpu, maxPool2dCpu,
} from './conv.js';

/** What the routines need from the CPU backend: allocation counted in its memoryStats. */
export interface CpuContext {
  /** A new array for a result (a clear error for one too large for a typed array). */
  alloc(dtype: DType, length: number): TypedArray;
  /** Wraps a freshly allocated array as a storage, counting it in memoryStats. */
  wrap(dtype: DType, data: TypedArray): Storage;
}

/** Checks each storage is a live CPU storage of the same dtype with the expected element count. */
function operands(kernel: string, specs: readonly (readonly [string, Storage, number])[]): TypedArray[] {
  const list = specs.map(([name, s, len]) => {
    const cs = cpuStorage(kernel, name, s);
    if (cs.length !== len) throw new Error(`cpu.${kernel}: ${name} has ${cs.length} elements, expected ${len}`);
    return cs;
  });
  for (const cs of list) {
    if (cs.dtype !== list[0]!.dtype) throw new Error(`cpu.${kernel}: dtypes differ (${list[0]!.dtype} and ${cs.dtype})`);
  }
  return list.map((cs) => cs.data);
}

/**
 * An optional operand: its data when present, else null. It must have the dtype of the operand
 * named `likeName` (the kernels would otherwise mix float32 and float64 arrays silently).
 */
function optional(kernel: string, name: string, s: Storage | null, length: number, likeName: string, like: Storage): TypedArray | null {
  if (!s) return null;
  const data = operands(kernel, [[name, s, length]])[0]!;
  if (s.dtype !== like.dtype) throw new Error(`cpu.${kernel}: ${name} must have ${likeName}'s dtype ${like.dtype}, got ${s.dtype}`);
  return data;
}

function int32Labels(kernel: string, labels: Storage, n: number): TypedArray {
  const lab = cpuStorage(kernel, 'labels', labels);
  if (lab.dtype !== 'int32' || lab.length !== n) throw new Error(`cpu.${kernel}: labels must be ${n} int32 values`);
  return lab.data;
}

/** A storage made by a loop in core-ops.ts or conv.ts, counted as this backend's allocation. */
const counted = (ctx: CpuContext, s: CpuStorage): Storage => ctx.wrap(s.dtype, s.data);

export const CPU_ROUTINES: RoutineTable<CpuContext> = {
  activationGradFromOutput(ctx, { y, dy }, { op, param }) {
    const [ys, dys] = operands('activationGradFromOutput', [['y', y, y.length], ['dy', dy, y.length]]);
    const out = ctx.alloc(y.dtype, y.length);
    activationGradFromOutputKernel(op, ys!, dys!, out, param);
    return ctx.wrap(y.dtype, out);
  },

  dropout(ctx, { x }, { p, seed, offset }) {
    const [xs] = operands('dropout', [['x', x, x.length]]);
    if (!(p >= 0 && p < 1)) throw new Error(`cpu.dropout: p must be in [0, 1), got ${p}`);
    const out = ctx.alloc(x.dtype, x.length);
    dropoutKernel(xs!, out, p, seed, offset);
    return ctx.wrap(x.dtype, out);
  },

  dropoutWithMask(ctx, { x }, { p, seed, offset }) {
    const [xs] = operands('dropoutWithMask', [['x', x, x.length]]);
    if (!(p >= 0 && p < 1)) throw new Error(`cpu.dropoutWithMask: p must be in [0, 1), got ${p}`);
    const out = ctx.alloc(x.dtype, x.length);
    const mask = ctx.alloc('int32', dropoutMaskWords(x.length)) as Int32Array;
    dropoutKernel(xs!, out, p, seed, offset, mask);
    return { out: ctx.wrap(x.dtype, out), mask: ctx.wrap('int32', mask) };
  },

  dropoutApplyMask(ctx, { dy, mask }, { p }) {
    const [dys] = operands('dropoutApplyMask', [['dy', dy, dy.length]]);
    const ms = cpuStorage('dropoutApplyMask', 'mask', mask);
    if (ms.dtype !== 'int32' || ms.length !== dropoutMaskWords(dy.length)) {
      throw new Error(`cpu.dropoutApplyMask: mask must be ${dropoutMaskWords(dy.length)} int32 words for ${dy.length} elements, got ${ms.length} ${ms.dtype}`);
    }
    if (!(p >= 0 && p < 1)) throw new Error(`cpu.dropoutApplyMask: p must be in [0, 1), got ${p}`);
    const out = ctx.alloc(dy.dtype, dy.length);
    dropoutApplyMaskKernel(dys!, ms.data, out, p);
    return ctx.wrap(dy.dtype, out);
  },

  batchNormStats(ctx, { x }, { n, c }) {
    const [xs] = operands('batchNormStats', [['x', x, n * c]]);
    const mean = ctx.alloc(x.dtype, c);
    const variance = ctx.alloc(x.dtype, c);
    batchNormStatsKernel(xs!, n, c, mean, variance);
    return { mean: ctx.wrap(x.dtype, mean), variance: ctx.wrap(x.dtype, variance) };
  },

  batchNormRunningStats(_ctx, { runningMean, runningVar, mean, variance }, o) {
    const k = 'batchNormRunningStats';
    const [rm, rv, ms, vs] = operands(k, [['runningMean', runningMean, o.c], ['runningVar', runningVar, o.c], ['mean', mean, o.c], ['variance', variance, o.c]]);
    batchNormRunningStatsKernel(rm!, rv!, ms!, vs!, o);
  },

  batchNormApply(ctx, { x, mean, variance, gamma, beta }, { n, c, eps }) {
    const k = 'batchNormApply';
    const [xs, ms, vs] = operands(k, [['x', x, n * c], ['mean', mean, c], ['variance', variance, c]]);
    const gs = optional(k, 'gamma', gamma, c, 'x', x);
    const bs = optional(k, 'beta', beta, c, 'x', x);
    const out = ctx.alloc(x.dtype, n * c);
    batchNormApplyKernel(xs!, ms!, vs!, gs, bs, n, c, eps, out);
    return ctx.wrap(x.dtype, out);
  },

  batchNormBackward(ctx, { x, dy, mean, variance, gamma }, { n, c, eps }) {
    const k = 'batchNormBackward';
    const [xs, dys, ms, vs] = operands(k, [['x', x, n * c], ['dy', dy, n * c], ['mean', mean, c], ['variance', variance, c]]);
    const gs = optional(k, 'gamma', gamma, c, 'x', x);
    const dx = ctx.alloc(x.dtype, n * c);
    const dgamma = ctx.alloc(x.dtype, c);
    const dbeta = ctx.alloc(x.dtype, c);
    batchNormBackwardKernel(xs!, dys!, ms!, vs!, gs, n, c, eps, dx, dgamma, dbeta);
    return { dx: ctx.wrap(x.dtype, dx), dgamma: ctx.wrap(x.dtype, dgamma), dbeta: ctx.wrap(x.dtype, dbeta) };
  },

  batchNorm2dStats(ctx, { x }, { n, c, hw }) {
    const [xs] = operands('batchNorm2dStats', [['x', x, n * c * hw]]);
    const mean = ctx.alloc(x.dtype, c);
    const variance = ctx.alloc(x.dtype, c);
    batchNorm2dStatsKernel(xs!, n, c, hw, mean, variance);
    return { mean: ctx.wrap(x.dtype, mean), variance: ctx.wrap(x.dtype, variance) };
  },

  batchNorm2dApply(ctx, { x, mean, variance, gamma, beta }, { n, c, hw, eps }) {
    const k = 'batchNorm2dApply';
    const [xs, ms, vs] = operands(k, [['x', x, n * c * hw], ['mean', mean, c], ['variance', variance, c]]);
    const gs = optional(k, 'gamma', gamma, c, 'x', x);
    const bs = optional(k, 'beta', beta, c, 'x', x);
    const out = ctx.alloc(x.dtype, n * c * hw);
    batchNorm2dApplyKernel(xs!, ms!, vs!, gs, bs, n, c, hw, eps, out);
    return ctx.wrap(x.dtype, out);
  },

  batchNorm2dBackward(ctx, { x, dy, mean, variance, gamma }, { n, c, hw, eps }) {
    const k = 'batchNorm2dBackward';
    const total = n * c * hw;
    const [xs, dys, ms, vs] = operands(k, [['x', x, total], ['dy', dy, total], ['mean', mean, c], ['variance', variance, c]]);
    const gs = optional(k, 'gamma', gamma, c, 'x', x);
    const dx = ctx.alloc(x.dtype, total);
    const dgamma = ctx.alloc(x.dtype, c);
    const dbeta = ctx.alloc(x.dtype, c);
    batchNorm2dBackwardKernel(xs!, dys!, ms!, vs!, gs, n, c, hw, eps, dx, dgamma, dbeta);
    return { dx: ctx.wrap(x.dtype, dx), dgamma: ctx.wrap(x.dtype, dgamma), dbeta: ctx.wrap(x.dtype, dbeta) };
  },

  softmax(ctx, { x }, { rows, cols, log }) {
    const [xs] = operands('softmax', [['x', x, rows * cols]]);
    const out = ctx.alloc(x.dtype, rows * cols);
    softmaxKernel(xs!, rows, cols, log, out);
    return ctx.wrap(x.dtype, out);
  },

  softmaxGrad(ctx, { y, dy }, { rows, cols, log }) {
    const [ys, dys] = operands('softmaxGrad', [['y', y, rows * cols], ['dy', dy, rows * cols]]);
    const out = ctx.alloc(y.dtype, rows * cols);
    softmaxGradKernel(ys!, dys!, rows, cols, log, out);
    return ctx.wrap(y.dtype, out);
  },

  softmaxCrossEntropy(ctx, { logits, labels }, { n, c }) {
    const [ls] = operands('softmaxCrossEntropy', [['logits', logits, n * c]]);
    const lab = int32Labels('softmaxCrossEntropy', labels, n);
    const out = ctx.alloc(logits.dtype, n);
    softmaxCrossEntropyKernel(ls!, lab, n, c, out);
    return ctx.wrap(logits.dtype, out);
  },

  softmaxCrossEntropyGrad(ctx, { logits, labels, dLoss }, { n, c }) {
    const [ls, ds] = operands('softmaxCrossEntropyGrad', [['logits', logits, n * c], ['dLoss', dLoss, n]]);
    const lab = int32Labels('softmaxCrossEntropyGrad', labels, n);
    const out = ctx.alloc(logits.dtype, n * c);
    softmaxCrossEntropyGradKernel(ls!, lab, ds!, n, c, out);
    return ctx.wrap(logits.dtype, out);
  },

  sgdStep(_ctx, { param, grad, velocity }, options) {
    const [ps, gs] = operands('sgdStep', [['param', param, param.length], ['grad', grad, param.length]]);
    sgdStepKernel(ps!, gs!, optional('sgdStep', 'velocity', velocity, param.length, 'param', param), options);
  },

  sgdStepMany(_ctx, { params, grads, velocities }, options) {
    if (grads.length !== params.length || velocities.length !== params.length) {
      throw new Error(`cpu.sgdStepMany: params, grads and velocities must have the same length, got ${params.length}, ${grads.length} and ${velocities.length}`);
    }
    params.forEach((param, k) => {
      const [ps, gs] = operands('sgdStepMany', [[`param ${k}`, param, param.length], [`grad ${k}`, grads[k]!, param.length]]);
      sgdStepKernel(ps!, gs!, optional('sgdStepMany', `velocity ${k}`, velocities[k]!, param.length, `param ${k}`, param), options);
    });
  },

  adamStep(_ctx, { param, grad, m, v }, options) {
    const len = param.length;
    const [ps, gs, ms, vs] = operands('adamStep', [['param', param, len], ['grad', grad, len], ['m', m, len], ['v', v, len]]);
    adamStepKernel(ps!, gs!, ms!, vs!, options);
  },

  argReduce: (ctx, { x }, { op, outer, length, inner }) => counted(ctx, argReduceCpu(op, x, outer, length, inner)),
  gather: (ctx, { x, indices }, { layout, outer, length, inner, count }) =>
    counted(ctx, gatherCpu(x, indices, layout, outer, length, inner, count)),
  scatterAdd: (ctx, { src, indices }, { layout, outer, length, inner, count }) =>
    counted(ctx, scatterAddCpu(src, indices, layout, outer, length, inner, count)),
  select: (ctx, { cond, a, b }) => counted(ctx, selectCpu(cond, a, b)),
  stridedWrite: (_ctx, { dst, src }, { srcShape, strides, offset }) => stridedWriteCpu(dst, src, srcShape, strides, offset),
  cumsum: (ctx, { x }, { outer, length, inner, reverse }) => counted(ctx, cumsumCpu(x, outer, length, inner, reverse)),

  conv2d: (ctx, { x, weight, bias }, g) => counted(ctx, conv2dCpu(x, weight, bias, g)),
  conv2dBackwardInput: (ctx, { dy, weight }, g) => counted(ctx, conv2dBackwardInputCpu(dy, weight, g)),
  conv2dBackwardWeight: (ctx, { x, dy }, g) => counted(ctx, conv2dBackwardWeightCpu(x, dy, g)),
  maxPool2d(ctx, { x }, g) {
    const r = maxPool2dCpu(x, g);
    return { values: counted(ctx, r.values), indices: counted(ctx, r.indices) };
  },
  maxPool2dBackward: (ctx, { dy, indices }, g) => counted(ctx, maxPool2dBackwardCpu(dy, indices, g)),
  avgPool2d: (ctx, { x }, g) => counted(ctx, avgPool2dCpu(x, g)),
  avgPool2dBackward: (ctx, { dy }, g) => counted(ctx, avgPool2dBackwardCpu(dy, g)),
};
