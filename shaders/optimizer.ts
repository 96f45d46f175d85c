/**
 * In-place optimizer updates, PyTorch semantics (see sgdStepKernel / adamStepKernel in
 * src/backend/cpu/optimizer.ts). The parameter and the state buffers are bound read_write, the
 * gradient read-only. Every scalar (lr, betas, weight decay, bias corrections, and the per-step
 * flags) is a uniform, so a changing learning rate or the first step never creates a pipeline;
 * only the presence of the velocity buffer selects a variant (it changes the bindings).
 *
 * Host-computed constants (rounded once to f32): 1 − dampening, 1 − beta1, 1 − beta2 and the
 * AdamW decay factor 1 − lr·wd, as the CPU twin computes them in float64 before multiplying.
 */

import { uniformAt, WG_1D } from './common.js';
import { type BindingDecl, defineKernel, kernelFamily } from './program.js';

/** SGD flags (the `flags` uniform). */
export const SGD_NESTEROV = 1;
export const SGD_FIRST_STEP = 2;

const F32_READ = { type: 'f32', access: 'read' } as const;
const F32_RW = { type: 'f32', access: 'read_write' } as const;
const SGD_UNIFORMS = { n: 'u32', flags: 'u32', lr: 'f32', momentum: 'f32', oneMinusDampening: 'f32', weightDecay: 'f32' } as const;

/** The update of element `i` of PARAM (names suffixed by `sfx`: the multi-tensor kernel's segments). */
function sgdUpdate(withVelocity: boolean, i = 'i', sfx = ''): string {
  const update = withVelocity
    ? `
  var buf = g;
  if ((P.flags & ${SGD_FIRST_STEP}u) == 0u) { buf = P.momentum * VEL${sfx}[${i}] + P.oneMinusDampening * g; }
  VEL${sfx}[${i}] = buf;
  if ((P.flags & ${SGD_NESTEROV}u) != 0u) { g = g + P.momentum * buf; } else { g = buf; }`
    : '';
  return `
  let p = PARAM${sfx}[${i}];
  var g = G${sfx}[${i}] + P.weightDecay * p;${update}
  PARAM${sfx}[${i}] = p - P.lr * g;`;
}

function sgdBody(withVelocity: boolean): string {
  return `  if (i >= P.n) { return; }${sgdUpdate(withVelocity)}`;
}

/** SGD without a velocity buffer: grad read-only, param read_write. */
export const sgdKernel = defineKernel({
  name: 'sgd:plain',
  bindings: { G: F32_READ, PARAM: F32_RW },
  uniforms: SGD_UNIFORMS,
  workgroupSize: WG_1D,
  body: () => sgdBody(false),
});

/** SGD with momentum: the velocity is bound read_write after the param. */
export const sgdMomentumKernel = defineKernel({
  name: 'sgd:momentum',
  bindings: { G: F32_READ, PARAM: F32_RW, VEL: F32_RW },
  uniforms: SGD_UNIFORMS,
  workgroupSize: WG_1D,
  body: () => sgdBody(true),
});

const V4_READ = { type: 'vec4<f32>', access: 'read' } as const;
const V4_RW = { type: 'vec4<f32>', access: 'read_write' } as const;

/**
 * SGD with momentum over vec4 lanes (n counts vec4s; used when the length is a multiple of 4): a
 * quarter of the invocations, each updating four elements with the same arithmetic per lane. On
 * SwiftShader the per-invocation cost dominates this memory-bound update.
 */
export const sgdMomentumVec4Kernel = defineKernel({
  name: 'sgd:momentum:v4',
  bindings: { G: V4_READ, PARAM: V4_RW, VEL: V4_RW },
  uniforms: SGD_UNIFORMS,
  workgroupSize: WG_1D,
  body: () => sgdBody(true),
});

/** SGD without a velocity over vec4 lanes (see sgdMomentumVec4Kernel). */
export const sgdVec4Kernel = defineKernel({
  name: 'sgd:plain:v4',
  bindings: { G: V4_READ, PARAM: V4_RW },
  uniforms: SGD_UNIFORMS,
  workgroupSize: WG_1D,
  body: () => sgdBody(false),
});

/**
 * Multi-tensor SGD: one dispatch updates several parameters, each bound as its own (G, PARAM, VEL)
 * triple (segment s: G<s>, PARAM<s>, VEL<s>), with the same hyperparameters. `lanes` has one letter
 * per segment: 'v' binds that segment as vec4 (its length a multiple of 4), 's' as f32.
 * Invocations [ends[s−1], ends[s]) update segment s (its element, or vec4, i − ends[s−1]). Why:
 * a training step updates many small tensors (biases, batch-norm affines); one dispatch per
 * tensor costs more host encoding and driver time than their few thousand elements.
 */
export const sgdManyKernel = kernelFamily((withVelocity: boolean, lanes: string) => {
  const count = lanes.length;
  if (count < 1 || !/^[vs]+$/.test(lanes)) throw new Error(`sgdManyKernel: lanes must be one 'v' or 's' per segment, got '${lanes}'`);
  const bindings: Record<string, BindingDecl> = {};
  const segments: string[] = [];
  for (let s = 0; s < count; s++) {
    const v4 = lanes[s] === 'v';
    bindings[`G${s}`] = v4 ? V4_READ : F32_READ;
    bindings[`PARAM${s}`] = v4 ? V4_RW : F32_RW;
    if (withVelocity) bindings[`VEL${s}`] = v4 ? V4_RW : F32_RW;
    const start = s === 0 ? '0u' : uniformAt('P.ends', s - 1);
    const test = s === count - 1 ? '' : `if (i < ${uniformAt('P.ends', s)}) `;
    segments.push(`${test}{
  let j = i - ${start};${sgdUpdate(withVelocity, 'j', String(s))}
  }`);
  }
  return defineKernel({
    name: `sgd:many:${withVelocity ? 'momentum' : 'plain'}:${lanes}`,
    bindings,
    uniforms: { flags: 'u32', lr: 'f32', momentum: 'f32', oneMinusDampening: 'f32', weightDecay: 'f32', ends: { array: 'u32', length: count } },
    workgroupSize: WG_1D,
    body: () => `  if (i >= ${uniformAt('P.ends', count - 1)}) { return; }
  ${segments.join(' else ')}`,
  });
});

/** Adam and AdamW (decoupled); decay = 1 − lr·wd. Param, m and v are read_write. */
export const adamKernel = defineKernel({
  name: 'adam',
  bindings: { G: F32_READ, PARAM: F32_RW, M: F32_RW, V: F32_RW },
  uniforms: {
    n: 'u32',
    decoupled: 'u32',
    lr: 'f32',
    beta1: 'f32',
    oneMinusBeta1: 'f32',
    beta2: 'f32',
    oneMinusBeta2: 'f32',
    eps: 'f32',
    weightDecay: 'f32',
    decay: 'f32',
    biasCorrection1: 'f32',
    biasCorrection2: 'f32',
  },
  workgroupSize: WG_1D,
  body: `  if (i >= P.n) { return; }
  var p = PARAM[i];
  var g = G[i];
  if (P.decoupled != 0u) { p = p * P.decay; } else { g = g + P.weightDecay * p; }
  let m = P.beta1 * M[i] + P.oneMinusBeta1 * g;
  let v = P.beta2 * V[i] + (P.oneMinusBeta2 * g) * g;
  M[i] = m;
  V[i] = v;
  let mHat = m / P.biasCorrection1;
  let vHat = v / P.biasCorrection2;
  PARAM[i] = p - (P.lr * mHat) / (sqrt(vHat) + P.eps);`,
});
