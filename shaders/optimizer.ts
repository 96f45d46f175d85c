/**
 * In-place optimizer updates, PyTorch semantics (see sgdStepKernel / adamStepKernel in
 * src/backend/cpu/training.ts). The parameter and the state buffers are bound read_write, the
 * gradient read-only. Every scalar (lr, betas, weight decay, bias corrections, and the per-step
 * flags) is a uniform, so a changing learning rate or the first step never creates a pipeline;
 * only the presence of the velocity buffer selects a variant (it changes the bindings).
 *
 * Host-computed constants (rounded once to f32): 1 − dampening, 1 − beta1, 1 − beta2 and the
 * AdamW decay factor 1 − lr·wd, as the CPU twin computes them in float64 before multiplying.
 */

import { main1d } from './common.js';

/** SGD flags (the `flags` uniform). */
export const SGD_NESTEROV = 1;
export const SGD_FIRST_STEP = 2;

/**
 * Uniforms: n, flags, lr, momentum, oneMinusDampening, weightDecay.
 * Bindings: grad, param (read_write), [velocity (read_write)].
 */
export function sgdShader(withVelocity: boolean): string {
  const update = withVelocity
    ? `
  var buf = g;
  if ((P.flags & ${SGD_FIRST_STEP}u) == 0u) { buf = P.momentum * VEL[i] + P.oneMinusDampening * g; }
  VEL[i] = buf;
  if ((P.flags & ${SGD_NESTEROV}u) != 0u) { g = g + P.momentum * buf; } else { g = buf; }`
    : '';
  return `
struct Params { n: u32, flags: u32, lr: f32, momentum: f32, oneMinusDampening: f32, weightDecay: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> PARAM: array<f32>;
${withVelocity ? '@group(0) @binding(3) var<storage, read_write> VEL: array<f32>;' : ''}
${main1d(`  if (i >= P.n) { return; }
  let p = PARAM[i];
  var g = G[i] + P.weightDecay * p;${update}
  PARAM[i] = p - P.lr * g;`)}`;
}

/**
 * Uniforms: n, decoupled (0/1), lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, eps, weightDecay,
 * decay (1 − lr·wd), biasCorrection1, biasCorrection2.
 * Bindings: grad, param, m, v (the last three read_write).
 */
export function adamShader(): string {
  return `
struct Params {
  n: u32, decoupled: u32, lr: f32, beta1: f32,
  oneMinusBeta1: f32, beta2: f32, oneMinusBeta2: f32, eps: f32,
  weightDecay: f32, decay: f32, biasCorrection1: f32, biasCorrection2: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<f32>;
@group(0) @binding(2) var<storage, read_write> PARAM: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;
${main1d(`  if (i >= P.n) { return; }
  var p = PARAM[i];
  var g = G[i];
  if (P.decoupled != 0u) { p = p * P.decay; } else { g = g + P.weightDecay * p; }
  let m = P.beta1 * M[i] + P.oneMinusBeta1 * g;
  let v = P.beta2 * V[i] + (P.oneMinusBeta2 * g) * g;
  M[i] = m;
  V[i] = v;
  let mHat = m / P.biasCorrection1;
  let vHat = v / P.biasCorrection2;
  PARAM[i] = p - (P.lr * mHat) / (sqrt(vHat) + P.eps);`)}`;
}
