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

import { PHILOX_BLOCK_WGSL, PHILOX_UNIFORMS_AND, PHILOX_WGSL } from './philox.js';
import { defineKernel } from './program.js';

/** Invocations per workgroup (each handles one Philox block of 4 elements). */
export const DROPOUT_WG = 64;

/**
 * Uniforms: n, threads, q0 (lo, hi: the first block), skip (elements of the first block before
 * the offset), key (lo, hi), threshold, scale (f32).
 */
export const dropoutKernel = defineKernel({
  name: 'dropout',
  bindings: { X: { type: 'f32', access: 'read' }, out: { type: 'f32', access: 'read_write' } },
  uniforms: PHILOX_UNIFORMS_AND({ threshold: 'u32', scale: 'f32' }),
  workgroupSize: DROPOUT_WG,
  helpers: PHILOX_WGSL,
  body: () => {
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
    return `${PHILOX_BLOCK_WGSL}${lanes}`;
  },
});
