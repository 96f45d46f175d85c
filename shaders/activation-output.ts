/**
 * dy·f'(x) computed from the activation's output y = f(x) (fused layers keep only y).
 *
 * The table is a mapped type over OutputGradActivation, so an activation without its WGSL is a
 * compile error. Expressions are in `y`, `dy` and `p` (leakyRelu's positive slope); they mirror
 * OUTPUT_DERIVATIVE in src/backend/cpu/activation-output.ts.
 */

import type { OutputGradActivation } from './kernel-types.js';
import { FLOAT_BITS_WGSL, WG_1D } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

export const OUTPUT_GRAD_WGSL: { [K in OutputGradActivation]: string } = {
  // As PyTorch's threshold_backward(dy, y, 0): dy passes unless y <= 0, so also at y = NaN.
  relu: 'pick(0.0, dy, is_pos(y) || is_nan(y))',
  relu6: 'pick(0.0, dy, is_pos(y) && order_key(y) < order_key(6.0))',
  sigmoid: 'dy * (y * (1.0 - y))',
  tanh: 'dy * (1.0 - y * y)',
  leakyRelu: 'pick(p * dy, dy, is_pos(y))',
};

/** Activations whose gradient at a NaN output is NaN (the relu family decides in its formula). */
const NAN_IS_NAN: ReadonlySet<OutputGradActivation> = new Set<OutputGradActivation>(['sigmoid', 'tanh']);

/** dy·f'(y); uniforms n and the f32 bits of p. */
export const activationGradFromOutputKernel = kernelFamily((op: OutputGradActivation) =>
  defineKernel({
    name: `actgrad-out:${op}`,
    bindings: { Y: { type: 'f32', access: 'read' }, DY: { type: 'f32', access: 'read' }, out: { type: 'f32', access: 'read_write' } },
    uniforms: { n: 'u32', bits: 'u32' },
    workgroupSize: WG_1D,
    helpers: FLOAT_BITS_WGSL,
    body: `  if (i >= P.n) { return; }
  let y = Y[i];
  let dy = DY[i];
  let p = bitcast<f32>(P.bits);
  out[i] = ${NAN_IS_NAN.has(op) ? `pick(${OUTPUT_GRAD_WGSL[op]}, y, is_nan(y))` : OUTPUT_GRAD_WGSL[op]};`,
  }),
);
