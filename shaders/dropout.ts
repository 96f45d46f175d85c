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
 * and no atomics or barriers are needed; X and out are read as vec4 whenever n mod 4 = 0. Fewer, longer invocations also suit the CPU drivers
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
 * main's body of the forward. Invocation t serves elements 32t .. 32t+31, whose stream words are
 * skip + 32t .. skip + 32t + 31 counted from block q0: first the keep bits of blocks 8t .. 8t+8
 * (the ninth only when skip > 0) into a 36-bit window, shifted by skip into the element's word;
 * then the elements, as vec4 (`vec4`: n mod 4 = 0, whatever the offset) or one by one. `mask`:
 * also store the word.
 */
function forwardBody(vec4: boolean, mask: boolean): string {
  const apply = vec4
    ? `
  for (var j = 0u; j < 8u; j++) {
    let v = 8u * t + j;
    if (4u * v >= P.n) { break; }
    let keep = (vec4<u32>(bits >> (4u * j)) & vec4<u32>(1u, 2u, 4u, 8u)) != vec4<u32>(0u);
    out[v] = select(vec4<f32>(0.0), X[v] * P.scale, keep);
  }`
    : `
  for (var j = 0u; j < count; j++) {
    let k = k0 + j;
    out[k] = select(0.0, X[k] * P.scale, ((bits >> j) & 1u) != 0u);
  }`;
  return `  let t = i;
  if (t >= P.threads) { return; }
  var winLo = 0u;
  var winHi = 0u;
  let blocks = select(8u, 9u, P.skip > 0u);
  for (var j = 0u; j < blocks; j++) {
    let blk = 8u * t + j;
    if (4u * blk >= P.skip + P.n) { break; }
    ${BLOCK}
    let keep = (w >> vec4<u32>(8u)) >= vec4<u32>(P.threshold);
    let nib = select(0u, 1u, keep.x) | select(0u, 2u, keep.y) | select(0u, 4u, keep.z) | select(0u, 8u, keep.w);
    if (j < 8u) { winLo |= nib << (4u * j); } else { winHi = nib; }
  }
  // (a shift by 32 is not defined in WGSL, hence the select)
  var bits = select((winLo >> P.skip) | (winHi << (32u - P.skip)), winLo, P.skip == 0u);
  let k0 = 32u * t;
  let count = min(32u, P.n - k0);
  if (count < 32u) { bits &= (1u << count) - 1u; }${mask ? '\n  MASK[t] = bits;' : ''}${apply}`;
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
