/** Pieces shared by the WGSL generators: element types, the folded linear id, uniform arrays. */

import type { DType } from './kernel-types.js';

export type WgslScalar = 'f32' | 'i32';

export function wgslType(dtype: DType): WgslScalar {
  if (dtype === 'float32') return 'f32';
  if (dtype === 'int32') return 'i32';
  throw new Error('webgpu backend does not support float64; use float32, or the cpu backend for float64');
}

/** Invocations per workgroup of the one-dimensional kernels. */
export const WG_1D = 256;

/**
 * Entry point of a one-dimensional kernel: `i` is the linear invocation id over a dispatch folded
 * into (x, y) workgroups when it needs more than 65535 on x. `body` may `return` early.
 */
export function main1d(body: string, wg: number = WG_1D): string {
  // global_invocation_id is what drivers compute anyway; deriving i from workgroup_id and
  // local_invocation_index measured ~2x slower on lavapipe for memory-bound kernels.
  return /* wgsl */ `
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * (nwg.x * ${wg}u);
${body}
}
`;
}

/** Number of vec4 slots holding `rank` scalars in a uniform array (uniform arrays have 16-byte stride). */
export function vec4Slots(rank: number): number {
  return Math.max(1, Math.ceil(rank / 4));
}

const LANES = ['x', 'y', 'z', 'w'] as const;

/** `name[d / 4].xyzw` — constant-indexed access to scalar d of a uniform array<vec4<...>>. */
export function uniformAt(name: string, d: number): string {
  return `${name}[${d >> 2}].${LANES[d & 3]}`;
}

/**
 * Float tests done on the bits. WGSL lets drivers assume floats are finite (spec §15.7.2): `max`,
 * `min`, `clamp`, comparisons and even `select` may drop or invent NaN, and SwiftShader flushes
 * subnormals to zero inside comparisons (so 1e-38 > 0.0 is false there). These helpers decide on
 * u32/i32 patterns instead, so every driver gives PyTorch's answer:
 *  - is_nan / is_pos / is_neg / is_zero: classification (is_pos includes subnormals and +Inf).
 *  - order_key: an i32 with the order of the floats (−0 and +0 equal); valid for non-NaN input.
 *  - pick(f, t, c): select that moves bits, so a NaN operand survives.
 *  - max_f / min_f: NaN-propagating extrema (as torch.maximum, torch.amax), exact on subnormals.
 */
export const FLOAT_BITS_WGSL = /* wgsl */ `
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_pos(x: f32) -> bool { let u = bitcast<u32>(x); return u != 0u && u <= 0x7f800000u; }
fn is_neg(x: f32) -> bool { let u = bitcast<u32>(x); return u > 0x80000000u && u <= 0xff800000u; }
fn is_zero(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0u; }
fn order_key(x: f32) -> i32 { let i = bitcast<i32>(x); return select(i, -(i & 0x7fffffff), i < 0); }
fn pick(f: f32, t: f32, c: bool) -> f32 { return bitcast<f32>(select(bitcast<u32>(f), bitcast<u32>(t), c)); }
fn max_f(a: f32, b: f32) -> f32 {
  if (is_nan(a)) { return a; }
  return pick(a, b, is_nan(b) || order_key(b) > order_key(a));
}
fn min_f(a: f32, b: f32) -> f32 {
  if (is_nan(a)) { return a; }
  return pick(a, b, is_nan(b) || order_key(b) < order_key(a));
}
`;
