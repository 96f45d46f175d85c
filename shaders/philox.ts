/**
 * Philox4x32-10 in WGSL, u32 arithmetic only, bit-identical to src/random/philox.ts.
 *
 * Stream: word g is lane (g mod 4) of philox(counter = (q mod 2^32, floor(q / 2^32), 0, 0), key)
 * with q = floor(g / 4); key = (seed mod 2^32, floor(seed / 2^32)).
 *
 * PHILOX_WGSL is self-contained (names prefixed `philox_`) so later kernels (dropout masks,
 * initialisers) can paste it in and call `philox4x32_10`, `philox_unit` and `philox_normal`.
 */

import { defineKernel, kernelFamily } from './program.js';
import type { RandomKind } from './kernel-types.js';

export const PHILOX_WGSL = /* wgsl */ `
const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// Full 64-bit product of two u32 as (hi, lo), through 16-bit halves (WGSL has no u64).
fn philox_mulhilo(a: u32, b: u32) -> vec2<u32> {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let ll = al * bl;
  let lh = al * bh;
  let hl = ah * bl;
  let hh = ah * bh;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  let p0 = philox_mulhilo(PHILOX_M0, c.x);
  let p1 = philox_mulhilo(PHILOX_M1, c.z);
  return vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  let w = vec2<u32>(PHILOX_W0, PHILOX_W1);
  var c = philox_round(counter, key);
  var k = key + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k); k = k + w;
  c = philox_round(c, k);
  return c;
}

// Uniform in [0, 1): (w >> 8) * 2^-24.
fn philox_unit(w: u32) -> f32 { return f32(w >> 8u) * 5.9604644775390625e-8; }

// -log(u1) for u1 = ((m + 1) * 2^-24) in (0, 1]; a series near u1 = 1 keeps relative accuracy
// where log(u1) itself would be mostly rounding error.
fn philox_neg_log_unit(m: u32) -> f32 {
  let d = f32(0xffffffu - m) * 5.9604644775390625e-8; // 1 - u1, exact
  if (d < 0.01) { return d * (1.0 + d * (0.5 + d * (0.33333334 + d * (0.25 + d * 0.2)))); }
  return -log(f32(m + 1u) * 5.9604644775390625e-8);
}

// cos(2 pi h) for h in [-1/2, 1/2], to about 1 ulp. WGSL allows the built-in cos an absolute error
// of 2^-11 (SwiftShader's was 6e-5 off the CPU's normals); the octant is found exactly instead (h is
// a multiple of 2^-24, so 1/2 - a and 1/4 - b are exact) and Taylor polynomials of degree 8 (cos)
// and 9 (sin) on [0, pi/4] leave under 3e-8 of truncation error.
fn philox_cos2pi(h: f32) -> f32 {
  let a = abs(h);
  let flip = a > 0.25;
  let b = select(a, 0.5 - a, flip); // cos(2 pi (1/2 - b)) = -cos(2 pi b); b in [0, 1/4]
  let useSin = b > 0.125;
  let t = 6.283185307179586 * select(b, 0.25 - b, useSin); // cos(2 pi b) = sin(2 pi (1/4 - b)); t in [0, pi/4]
  let t2 = t * t;
  let c = 1.0 + t2 * (-0.5 + t2 * (0.041666668 + t2 * (-0.0013888889 + t2 * 0.0000248015873)));
  let s = t * (1.0 + t2 * (-0.16666667 + t2 * (0.008333334 + t2 * (-0.00019841270 + t2 * 0.0000027557319))));
  let v = select(c, s, useSin);
  return select(v, -v, flip);
}

// Box-Muller from two words: u1 = ((w0 >> 8) + 1) 2^-24, u2 = (w1 >> 8) 2^-24,
// z = sqrt(-2 log u1) cos(2 pi u2) = -sqrt(-2 log u1) cos(2 pi (u2 - 1/2)).
fn philox_normal(w0: u32, w1: u32) -> f32 {
  let r = sqrt(2.0 * philox_neg_log_unit(w0 >> 8u));
  let h = philox_unit(w1) - 0.5;
  return -r * philox_cos2pi(h);
}
`;

/** Invocations per workgroup of the random kernel. */
export const RANDOM_WG = 64;

/** Values one invocation produces: 4 words per Philox block for uniform/bits, 2 normals. */
export function randomValuesPerBlock(kind: RandomKind): number {
  return kind === 'normal' ? 2 : 4;
}

/**
 * The uniforms every Philox kernel starts with: n (values), threads, q0 (lo, hi: the first block's
 * counter), skip (values of the first block before the draw's offset), key (lo, hi); then `more`.
 */
export function PHILOX_UNIFORMS_AND<const M extends Readonly<Record<string, 'u32' | 'f32' | 'i32'>>>(more: M) {
  return { n: 'u32', threads: 'u32', q0lo: 'u32', q0hi: 'u32', skip: 'u32', keylo: 'u32', keyhi: 'u32', ...more } as const;
}

/** Start of a Philox kernel's main: invocation t computes block q0 + t into `w`. */
export const PHILOX_BLOCK_WGSL = `  let t = i;
  if (t >= P.threads) { return; }
  let lo = P.q0lo + t;
  let hi = P.q0hi + select(0u, 1u, lo < t);
  let w = philox4x32_10(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(P.keylo, P.keyhi));`;

/** One invocation per Philox block. Value i = per * t + lane - skip for invocation t. */
export const randomKernel = kernelFamily((kind: RandomKind) => {
  const outType = kind === 'bits' ? 'u32' : 'f32';
  let body: string;
  if (kind === 'normal') {
    body = `
  let base = 2 * i32(t) - i32(P.skip);
  if (base >= 0 && u32(base) < P.n) { out[base] = philox_normal(w.x, w.y); }
  if (base + 1 >= 0 && u32(base + 1) < P.n) { out[base + 1] = philox_normal(w.z, w.w); }`;
  } else {
    const val = (lane: string) => (kind === 'bits' ? lane : `philox_unit(${lane})`);
    body = `
  let base = 4 * i32(t) - i32(P.skip);
  if (base >= 0 && u32(base) < P.n) { out[base] = ${val('w.x')}; }
  if (base + 1 >= 0 && u32(base + 1) < P.n) { out[base + 1] = ${val('w.y')}; }
  if (base + 2 >= 0 && u32(base + 2) < P.n) { out[base + 2] = ${val('w.z')}; }
  if (base + 3 >= 0 && u32(base + 3) < P.n) { out[base + 3] = ${val('w.w')}; }`;
  }
  return defineKernel({
    name: `random:${kind}`,
    bindings: { out: { type: outType, access: 'read_write' } },
    uniforms: PHILOX_UNIFORMS_AND({}),
    workgroupSize: RANDOM_WG,
    helpers: PHILOX_WGSL,
    body: `${PHILOX_BLOCK_WGSL}${body}`,
  });
});
