/** Host side of the in-place optimizer steps (SGD with momentum/nesterov, Adam and AdamW). */

import { WG_1D } from '../../../../shaders/common.js';
import { adamShader, SGD_FIRST_STEP, SGD_NESTEROV, sgdShader } from '../../../../shaders/optimizer.js';
import type { AdamStepOptions, SgdStepOptions } from '../../training-types.js';
import type { Storage } from '../../types.js';
import { Params, type KernelContext } from '../context.js';
import { checkDistinct, f32Input, multiOutputKernel } from './kernels.js';

export function sgdStep(ctx: KernelContext, params: Storage, grads: Storage, velocity: Storage | null, o: SgdStepOptions): void {
  const param = f32Input(ctx, params, 'sgdStep', 'param', params.length);
  const grad = f32Input(ctx, grads, 'sgdStep', 'grad', param.length);
  // As the CPU twin: the velocity is used only with a non-zero momentum.
  const vel = velocity && o.momentum !== 0 ? f32Input(ctx, velocity, 'sgdStep', 'velocity', param.length) : null;
  checkDistinct('sgdStep', [['param', param], ['grad', grad], ['velocity', vel]]);
  const n = param.length;
  if (n === 0) return;
  const p = new Params(6);
  p.u32[0] = n;
  p.u32[1] = (o.nesterov ? SGD_NESTEROV : 0) | (o.firstStep ? SGD_FIRST_STEP : 0);
  p.f32[2] = o.lr;
  p.f32[3] = o.momentum;
  p.f32[4] = 1 - o.dampening;
  p.f32[5] = o.weightDecay;
  const withVelocity = vel !== null;
  const kernel = multiOutputKernel(ctx, `sgd:${withVelocity ? 'momentum' : 'plain'}`, 1, withVelocity ? 2 : 1, () => sgdShader(withVelocity));
  const buffers = withVelocity ? [grad.buffer, param.buffer, vel.buffer] : [grad.buffer, param.buffer];
  ctx.batcher.dispatch('sgdStep', kernel, buffers, p.u32, Math.ceil(n / WG_1D));
}

export function adamStep(ctx: KernelContext, params: Storage, grads: Storage, ms: Storage, vs: Storage, o: AdamStepOptions): void {
  const param = f32Input(ctx, params, 'adamStep', 'param', params.length);
  const grad = f32Input(ctx, grads, 'adamStep', 'grad', param.length);
  const m = f32Input(ctx, ms, 'adamStep', 'm', param.length);
  const v = f32Input(ctx, vs, 'adamStep', 'v', param.length);
  checkDistinct('adamStep', [['param', param], ['grad', grad], ['m', m], ['v', v]]);
  const n = param.length;
  if (n === 0) return;
  const p = new Params(12);
  p.u32[0] = n;
  p.u32[1] = o.decoupled ? 1 : 0;
  p.f32.set([o.lr, o.beta1, 1 - o.beta1, o.beta2, 1 - o.beta2, o.eps, o.weightDecay, 1 - o.lr * o.weightDecay, o.biasCorrection1, o.biasCorrection2], 2);
  const kernel = multiOutputKernel(ctx, 'adam', 1, 3, () => adamShader());
  ctx.batcher.dispatch('adamStep', kernel, [grad.buffer, param.buffer, m.buffer, v.buffer], p.u32, Math.ceil(n / WG_1D));
}
