/** Pieces shared by the WGSL generators: element types, the folded linear id, uniform arrays. */

import type { DType } from '../src/backend/types.js';

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
