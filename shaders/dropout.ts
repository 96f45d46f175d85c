/**
 * Inverted dropout with the keep/drop decision drawn from Philox4x32-10 (PHILOX_WGSL), and the
 * application of a stored keep mask (dropout's backward).
 *
 * Element k uses stream word g = offset + k: lane (g mod 4) of the block q = floor(g / 4).
 *
 * keep_k  <=>  uniform(w) = (w >> 8)·2^-24 >= p  <=>  (w >> 8) >= ceil(p·2^24) = threshold,
 * an exact integer test (no rounding of p to f32). Survivors are x·scale with scale the f32 of
 * 1/(1-p), computed on the host as the CPU twin does; dropped elements are 0.
 *
 * The keep mask (what the backward needs) is bit-packed: bit (k mod 32) of word floor(k / 32) is
 * element k's keep flag; bits past the last element are 0. The forward writes it at the cost of
 * one u32 store per 32 elements, so the backward reads 1 bit per element instead of running
 * Philox again (on SwiftShader the Philox rounds, 40 emulated 32×32→64 multiplies per 4
 * elements, cost several times the memory traffic).
 *
 * Geometry: one invocation per 32 elements (one mask word), so no two invocations share a word
 * and no atomics or barriers are needed. Fewer, longer invocations also suit the CPU drivers
 * (SwiftShader, lavapipe), where the per-invocation overhead of a memory-bound kernel is large.
 */

import { PHILOX_UNIFORMS_AND, PHILOX_WGSL } from './philox.js';
import { defineKernel, kernelFamily } from './program.js';

/** Invocations per workgroup of the dropout kernels. */
export const DROPOUT_WG = 64;
/** Elements per invocation of the dropout forward (one mask word). */
export const DROPOUT_PER_INVOCATION = 32;

/** Mask words for n elements. */
export function dropoutMaskWords(n: number): number {
  return Math.ceil(n / 32);
}

/** Philox block `blk` (relative to q0; blk < 2^32) into `w`, carrying into the counter's high word. */
const BLOCK = `let lo = P.q0lo + blk;
    let hi = P.q0hi + select(0u, 1u, lo < blk);
    let w = philox4x32_10(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(P.keylo, P.keyhi));`;

/**
 * main's body of the forward. `vec4`: X and out bound as vec4 (only when offset mod 4 = 0 and
 * n mod 4 = 0, so block j of the draw is exactly vec4 j). `mask`: also write the keep mask.
 */
function forwardBody(vec4: boolean, mask: boolean): string {
  const store = mask ? '\n  MASK[t] = bits;' : '';
  let loop: string;
  if (vec4) {
    // Invocation t: vec4s (= blocks) 8t .. 8t+7; bits 4j..4j+3 of its word.
    loop = `
  let nv = P.n / 4u;
  for (var j = 0u; j < 8u; j++) {
    let blk = 8u * t + j;
    if (blk >= nv) { break; }
    ${BLOCK}
    let keep = (w >> vec4<u32>(8u)) >= vec4<u32>(P.threshold);
    out[blk] = select(vec4<f32>(0.0), X[blk] * P.scale, keep);
    bits |= (select(0u, 1u, keep.x) | select(0u, 2u, keep.y) | select(0u, 4u, keep.z) | select(0u, 8u, keep.w)) << (4u * j);
  }`;
  } else {
    // Invocation t: elements k0 .. kEnd-1, i.e. stream words skip+k0 .. skip+kEnd-1 relative to
    // block q0: blocks first..last (9 of them when skip > 0).
    const words = ['w.x', 'w.y', 'w.z', 'w.w'];
    const lanes = words.map((w, lane) => `
    { let g = 4u * blk + ${lane}u;
      if (g >= gBegin && g < gEnd) {
        let k = g - P.skip;
        let keep = (${w} >> 8u) >= P.threshold;
        out[k] = select(0.0, X[k] * P.scale, keep);
        bits |= select(0u, 1u << (k - k0), keep);
      } }`).join('');
    loop = `
  let k0 = 32u * t;
  let kEnd = min(k0 + 32u, P.n);
  let gBegin = P.skip + k0;
  let gEnd = P.skip + kEnd;
  for (var blk = gBegin / 4u; blk <= (gEnd - 1u) / 4u; blk++) {
    ${BLOCK}${lanes}
  }`;
  }
  return `  let t = i;
  if (t >= P.threads) { return; }
  var bits = 0u;${loop}${store}`;
}

/**
 * Uniforms of the forward: n, threads (= mask words, ceil(n / 32)), q0 (lo, hi: the first block),
 * skip (offset mod 4: words of the first block before the offset), key (lo, hi), threshold, scale.
 */
const FORWARD_UNIFORMS = PHILOX_UNIFORMS_AND({ threshold: 'u32', scale: 'f32' });
const elem = (vec4: boolean) => (vec4 ? 'vec4<f32>' : 'f32');

/** The forward without a mask (a draw that is not recorded for backward). */
export const dropoutKernel = kernelFamily((vec4: boolean) => defineKernel({
  name: `dropout${vec4 ? ':v4' : ''}`,
  bindings: { X: { type: elem(vec4), access: 'read' }, out: { type: elem(vec4), access: 'read_write' } },
  uniforms: FORWARD_UNIFORMS,
  workgroupSize: DROPOUT_WG,
  helpers: PHILOX_WGSL,
  body: () => forwardBody(vec4, false),
}));

/** The forward that also writes the bit-packed keep mask. */
export const dropoutMaskKernel = kernelFamily((vec4: boolean) => defineKernel({
  name: `dropout:mask${vec4 ? ':v4' : ''}`,
  bindings: { X: { type: elem(vec4), access: 'read' }, out: { type: elem(vec4), access: 'read_write' }, MASK: { type: 'u32', access: 'read_write' } },
  uniforms: FORWARD_UNIFORMS,
  workgroupSize: DROPOUT_WG,
  helpers: PHILOX_WGSL,
  body: () => forwardBody(vec4, true),
}));

/** Invocations per workgroup of the mask application. */
export const DROPOUT_APPLY_WG = 256;

/**
 * out_k = keep_k ? dy_k·scale : 0 from the bit-packed mask (the dropout backward). `vec4` (n mod
 * 4 = 0): invocation v serves elements 4v..4v+3, a nibble of one word; else one element each.
 * Uniforms: n (vec4s when vec4), scale.
 */
export const dropoutApplyKernel = kernelFamily((vec4: boolean) => defineKernel({
  name: `dropout-apply${vec4 ? ':v4' : ''}`,
  bindings: {
    DY: { type: vec4 ? 'vec4<f32>' : 'f32', access: 'read' },
    MASK: { type: 'u32', access: 'read' },
    out: { type: vec4 ? 'vec4<f32>' : 'f32', access: 'read_write' },
  },
  uniforms: { n: 'u32', scale: 'f32' },
  workgroupSize: DROPOUT_APPLY_WG,
  body: vec4
    ? `  if (i >= P.n) { return; }
  let nib = MASK[i >> 3u] >> (4u * (i & 7u));
  let keep = (vec4<u32>(nib) & vec4<u32>(1u, 2u, 4u, 8u)) != vec4<u32>(0u);
  out[i] = select(vec4<f32>(0.0), DY[i] * P.scale, keep);`
    : `  if (i >= P.n) { return; }
  let keep = ((MASK[i >> 5u] >> (i & 31u)) & 1u) != 0u;
  out[i] = select(0.0, DY[i] * P.scale, keep);`,
}));
