/** Host side of the in-place optimizer steps (SGD with momentum/nesterov, Adam and AdamW). */

import { WG_1D } from '../../../../shaders/common.js';
import { adamKernel, SGD_FIRST_STEP, SGD_NESTEROV, sgdKernel, sgdManyKernel, sgdMomentumKernel, sgdMomentumVec4Kernel, sgdVec4Kernel } from '../../../../shaders/optimizer.js';
import type { AdamStepOptions, SgdStepOptions } from '../../fused-types.js';
import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import type { GpuStorage } from '../storage.js';
import { dispatchKernel } from '../dispatch.js';
import { checkDistinct, f32Input } from './kernels.js';

export function sgdStep(ctx: KernelContext, params: Storage, grads: Storage, velocity: Storage | null, o: SgdStepOptions): void {
  const param = f32Input(ctx, params, 'sgdStep', 'param', params.length);
  const grad = f32Input(ctx, grads, 'sgdStep', 'grad', param.length);
  // As the CPU twin: the velocity is used only with a non-zero momentum.
  const vel = velocity && o.momentum !== 0 ? f32Input(ctx, velocity, 'sgdStep', 'velocity', param.length) : null;
  checkDistinct('sgdStep', [['param', param], ['grad', grad], ['velocity', vel]]);
  sgdOne(ctx, 'sgdStep', param, grad, vel, o);
}

/** One parameter's update by the dedicated (vec4 or scalar) kernels; operands already checked. */
function sgdOne(ctx: KernelContext, op: string, param: GpuStorage, grad: GpuStorage, vel: GpuStorage | null, o: SgdStepOptions): void {
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
  if (withVel && v4) dispatchKernel(ctx, op, sgdMomentumVec4Kernel, withVel, values, groups);
  else if (withVel) dispatchKernel(ctx, op, sgdMomentumKernel, withVel, values, groups);
  else if (v4) dispatchKernel(ctx, op, sgdVec4Kernel, plain, values, groups);
  else dispatchKernel(ctx, op, sgdKernel, plain, values, groups);
}

/**
 * Parameters longer than this take their own dispatch (the dedicated kernel). On the CPU drivers
 * a branch is executed under a lane mask whether or not a lane takes it, so every segment of a
 * pack costs every invocation: measured on SwiftShader (2026-12-04), a 784×512 weight packed with
 * three 512-element vectors took ~4× the time of the four dedicated dispatches. Packing pays for
 * the small tensors (biases, batch-norm affines), whose dispatches cost more than their work.
 */
export const SGD_MANY_MAX_ELEMENTS = 16384;

/** Segments one multi-tensor SGD dispatch may hold at most (pipelines are specialised per segment layout). */
export const SGD_MANY_MAX_SEGMENTS = 6;

interface SgdItem { param: GpuStorage; grad: GpuStorage; vel: GpuStorage | null }

/**
 * SGD on several parameters with the same hyperparameters: the large ones by their dedicated
 * kernel, the small ones packed into as few dispatches as the device's storage-binding limit
 * allows (each parameter binds 2 or 3 buffers). Parameters are
 * taken in order; a pack is closed early when the next one would bind a buffer already bound
 * (WebGPU refuses a buffer bound twice with one binding writable), so shared gradients are safe.
 */
export function sgdStepMany(ctx: KernelContext, params: readonly Storage[], grads: readonly Storage[], velocities: readonly (Storage | null)[], o: SgdStepOptions): void {
  const op = 'sgdStepMany';
  if (grads.length !== params.length || velocities.length !== params.length) {
    throw new Error(`webgpu: ${op}: params, grads and velocities must have the same length, got ${params.length}, ${grads.length} and ${velocities.length}`);
  }
  const items: SgdItem[] = params.map((ps, k) => {
    const param = f32Input(ctx, ps, op, `param ${k}`, ps.length);
    const grad = f32Input(ctx, grads[k]!, op, `grad ${k}`, param.length);
    const v = velocities[k]!;
    // As sgdStep: the velocity is used only with a non-zero momentum.
    const vel = v && o.momentum !== 0 ? f32Input(ctx, v, op, `velocity ${k}`, param.length) : null;
    checkDistinct(op, [[`param ${k}`, param], [`grad ${k}`, grad], [`velocity ${k}`, vel]]);
    return { param, grad, vel };
  }).filter((it) => it.param.length > 0);
  const small = items.filter((it) => it.param.length <= SGD_MANY_MAX_ELEMENTS);
  for (const it of items) if (it.param.length > SGD_MANY_MAX_ELEMENTS) sgdOne(ctx, op, it.param, it.grad, it.vel, o);
  // One parameter left to pack: its dedicated kernel.
  if (small.length === 1) {
    sgdOne(ctx, op, small[0]!.param, small[0]!.grad, small[0]!.vel, o);
    return;
  }
  const common = {
    flags: (o.nesterov ? SGD_NESTEROV : 0) | (o.firstStep ? SGD_FIRST_STEP : 0),
    lr: o.lr,
    momentum: o.momentum,
    oneMinusDampening: 1 - o.dampening,
    weightDecay: o.weightDecay,
  };
  for (const withVel of [true, false]) {
    const list = small.filter((it) => (it.vel !== null) === withVel);
    const perParam = withVel ? 3 : 2;
    const max = Math.max(1, Math.min(SGD_MANY_MAX_SEGMENTS, Math.floor(ctx.limits.maxStorageBuffersPerShaderStage / perParam)));
    let pack: SgdItem[] = [];
    let bound = new Set<GPUBuffer>();
    const flush = (): void => {
      if (pack.length > 0) dispatchMany(ctx, op, pack, withVel, common);
      pack = [];
      bound = new Set();
    };
    for (const it of list) {
      const bufs = [it.param.buffer, it.grad.buffer, ...(it.vel ? [it.vel.buffer] : [])];
      if (pack.length === max || bufs.some((b) => bound.has(b))) flush();
      pack.push(it);
      for (const b of bufs) bound.add(b);
    }
    flush();
  }
}

function dispatchMany(ctx: KernelContext, op: string, pack: readonly SgdItem[], withVel: boolean, common: { flags: number; lr: number; momentum: number; oneMinusDampening: number; weightDecay: number }): void {
  let lanes = '';
  const ends: number[] = [];
  const buffers: Record<string, GPUBuffer> = {};
  let total = 0;
  pack.forEach((it, s) => {
    const v4 = it.param.length % 4 === 0;
    lanes += v4 ? 'v' : 's';
    total += v4 ? it.param.length / 4 : it.param.length;
    ends.push(total);
    buffers[`G${s}`] = it.grad.buffer;
    buffers[`PARAM${s}`] = it.param.buffer;
    if (it.vel) buffers[`VEL${s}`] = it.vel.buffer;
  });
  dispatchKernel(ctx, op, sgdManyKernel(withVel, lanes), buffers, { ...common, ends }, Math.ceil(total / WG_1D));
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
