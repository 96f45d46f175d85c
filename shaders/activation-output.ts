/**
 * dy·f'(x) computed from the activation's output y = f(x) (fused layers keep only y).
 *
 * The table is a mapped type over OutputGradActivation, so an activation without its WGSL is a
 * compile error. Expressions are in `y`, `dy` and `p` (leakyRelu's positive slope); they mirror
 * OUTPUT_DERIVATIVE in src/backend/cpu/training.ts.
 */

import type { OutputGradActivation } from '../src/backend/training-types.js';
import { main1d } from './common.js';

export const OUTPUT_GRAD_WGSL: { [K in OutputGradActivation]: string } = {
  relu: 'select(0.0, dy, y > 0.0)',
  relu6: 'select(0.0, dy, y > 0.0 && y < 6.0)',
  sigmoid: 'dy * (y * (1.0 - y))',
  tanh: 'dy * (1.0 - y * y)',
  leakyRelu: 'select(p * dy, dy, y > 0.0)',
};

/** Uniforms: n, then the f32 bits of p. Bindings: y, dy, out. */
export function activationGradFromOutputShader(op: OutputGradActivation): string {
  return `
struct Params { n: u32, bits: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Y: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${main1d(`  if (i >= P.n) { return; }
  let y = Y[i];
  let dy = DY[i];
  let p = bitcast<f32>(P.bits);
  out[i] = ${OUTPUT_GRAD_WGSL[op]};`)}`;
}
