/** Host side of the in-place optimizer steps (SGD with momentum/nesterov, Adam and AdamW). */

import { WG_1D } from '../../../../shaders/common.js';
import { adamKernel, SGD_FIRST_STEP, SGD_NESTEROV, sgdKernel, sgdMomentumKernel, sgdMomentumVec4Kernel, sgdVec4Kernel } from '../../../../shaders/optimizer.js';
import type { AdamStepOptions, SgdStepOptions } from '../../fused-types.js';
import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import { dispatchKernel } from '../dispatch.js';
import { checkDistinct, f32Input } from './kernels.js';

export function sgdStep(ctx: KernelContext, params: Storage, grads: Storage, velocity: Storage | null, o: SgdStepOptions): void {
  const param = f32Input(ctx, params, 'sgdStep', 'param', params.length);
  const grad = f32Input(ctx, grads, 'sgdStep', 'grad', param.length);
  // As the CPU twin: the velocity is used only with a non-zero momentum.
  const vel = velocity && o.momentum !== 0 ? f32Input(ctx, velocity, 'sgdStep', 'velocity', param.length) : null;
  checkDistinct('sgdStep', [['param', param], ['grad', grad], ['velocity', vel]]);
  const n = param.length;
  if (n === 0) return;
  // A length that is a multiple of 4 runs the vec4 kernels (n then counts vec4 lanes).
  const v4 = n % 4 === 0;
  const values = {
    n: v4 ? n / 4 : n,
    flags: (o.nesterov ? SGD_NESTEROV : 0) | (o.firstStep ? SGD_FIRST_STEP : 0),
    lr: o.lr,
    momentum: o.momentum,
    oneMinusDampening: 1 - o.dampening,
    weightDecay: o.weightDecay,
  };
  const groups = Math.ceil(values.n / WG_1D);
  const withVel = vel ? { G: grad.buffer, PARAM: param.buffer, VEL: vel.buffer } : null;
  const plain = { G: grad.buffer, PARAM: param.buffer };
  if (withVel && v4) dispatchKernel(ctx, 'sgdStep', sgdMomentumVec4Kernel, withVel, values, groups);
  else if (withVel) dispatchKernel(ctx, 'sgdStep', sgdMomentumKernel, withVel, values, groups);
  else if (v4) dispatchKernel(ctx, 'sgdStep', sgdVec4Kernel, plain, values, groups);
  else dispatchKernel(ctx, 'sgdStep', sgdKernel, plain, values, groups);
}

export function adamStep(ctx: KernelContext, params: Storage, grads: Storage, ms: Storage, vs: Storage, o: AdamStepOptions): void {
  const param = f32Input(ctx, params, 'adamStep', 'param', params.length);
  const grad = f32Input(ctx, grads, 'adamStep', 'grad', param.length);
  const m = f32Input(ctx, ms, 'adamStep', 'm', param.length);
  const v = f32Input(ctx, vs, 'adamStep', 'v', param.length);
  checkDistinct('adamStep', [['param', param], ['grad', grad], ['m', m], ['v', v]]);
  const n = param.length;
  if (n === 0) return;
  const values = {
    n,
    decoupled: o.decoupled ? 1 : 0,
    lr: o.lr,
    beta1: o.beta1,
    oneMinusBeta1: 1 - o.beta1,
    beta2: o.beta2,
    oneMinusBeta2: 1 - o.beta2,
    eps: o.eps,
    weightDecay: o.weightDecay,
    decay: 1 - o.lr * o.weightDecay,
    biasCorrection1: o.biasCorrection1,
    biasCorrection2: o.biasCorrection2,
  };
  const buffers = { G: grad.buffer, PARAM: param.buffer, M: m.buffer, V: v.buffer };
  dispatchKernel(ctx, 'adamStep', adamKernel, buffers, values, Math.ceil(n / WG_1D));
}
