/**
 * Strided gather: out[i0..ik] = x[offset + Σ ij·strides[j]], out contiguous. Elements are moved as
 * u32 bit patterns, so one pipeline per rank serves float32 and int32.
 */

import { uniformAt, WG_1D } from './common.js';
import { defineKernel } from './program.js';

/** The uniforms of a strided walk over `rank` axes: element count, offset, shape and strides. */
export const stridedUniforms = (rank: number) =>
  ({ n: 'u32', rank: 'u32', offset: 'i32', shape: { array: 'u32', length: rank }, strides: { array: 'i32', length: rank } }) as const;

/** WGSL declaring `idx` = P.offset + Σ_d c_d·P.strides[d], where (c_0 … c_{rank−1}) is linear index i in P.shape. */
export function stridedIndexWgsl(rank: number): string {
  let index = '  var r = i;\n  var idx = P.offset;\n';
  for (let d = rank - 1; d >= 0; d--) {
    const c = d === 0 ? 'r' : `(r % ${uniformAt('P.shape', d)})`;
    index += `  { let c = ${c}; idx += i32(c) * ${uniformAt('P.strides', d)};`;
    if (d > 0) index += ` r = r / ${uniformAt('P.shape', d)};`;
    index += ' }\n';
  }
  return index;
}

function declare(rank: number) {
  return defineKernel({
    name: `strided:${rank}`,
    bindings: { X: { type: 'u32', access: 'read' }, out: { type: 'u32', access: 'read_write' } },
    uniforms: stridedUniforms(rank),
    workgroupSize: WG_1D,
    body: () => `  if (i >= P.n) { return; }
${stridedIndexWgsl(rank)}  out[i] = X[u32(idx)];`,
  });
}

export type StridedKernel = ReturnType<typeof declare>;
const byRank = new Map<number, StridedKernel>();

/** The strided gather for outputs of `rank` (collapsed) dimensions. */
export function stridedKernel(rank: number): StridedKernel {
  let k = byRank.get(rank);
  if (!k) {
    k = declare(rank);
    byRank.set(rank, k);
  }
  return k;
}
