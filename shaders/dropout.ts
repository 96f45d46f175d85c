/**
 * Inverted dropout with the mask regenerated from Philox4x32-10 (PHILOX_WGSL), never stored.
 *
 * Element i uses stream word g = offset + i: lane (g mod 4) of the block q = floor(g / 4). Each
 * invocation computes one block and serves its (up to) 4 elements, exactly as the random kernel
 * does; the result is the same as one word per element.
 *
 * keep_i  <=>  uniform(w) = (w >> 8)·2^-24 >= p  <=>  (w >> 8) >= ceil(p·2^24) = threshold,
 * an exact integer test (no rounding of p to f32). Survivors are x·scale with scale the f32 of
 * 1/(1-p), computed on the host as the CPU twin does.
 */

import { main1d } from './common.js';
import { PHILOX_WGSL } from './philox.js';

/** Invocations per workgroup (each handles one Philox block of 4 elements). */
export const DROPOUT_WG = 64;

/**
 * Uniforms: n, threads, q0 (lo, hi: the first block), skip (elements of the first block before
 * the offset), key (lo, hi), threshold, scale (f32). Bindings: x, out.
 */
export function dropoutShader(): string {
  let lanes = '';
  for (let lane = 0; lane < 4; lane++) {
    const w = ['w.x', 'w.y', 'w.z', 'w.w'][lane]!;
    lanes += `
  { let g = 4u * t + ${lane}u;
    if (g >= P.skip && g - P.skip < P.n) {
      let k = g - P.skip;
      out[k] = select(0.0, X[k] * P.scale, (${w} >> 8u) >= P.threshold);
    } }`;
  }
  return `
${PHILOX_WGSL}
struct Params { n: u32, threads: u32, q0lo: u32, q0hi: u32, skip: u32, keylo: u32, keyhi: u32, threshold: u32, scale: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

${main1d(`  let t = i;
  if (t >= P.threads) { return; }
  let lo = P.q0lo + t;
  let hi = P.q0hi + select(0u, 1u, lo < t);
  let w = philox4x32_10(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(P.keylo, P.keyhi));${lanes}`, DROPOUT_WG)}
`;
}
