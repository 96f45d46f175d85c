/**
 * Strided gather: out[i0..ik] = x[offset + Σ ij·strides[j]], out contiguous. Elements are moved as
 * u32 bit patterns, so one pipeline per rank serves float32 and int32.
 */

import { main1d, uniformAt, vec4Slots } from './common.js';

/** Uniforms: n, rank, offset (i32), pad, shape: array<vec4<u32>>, strides: array<vec4<i32>>. */
export function stridedShader(rank: number): string {
  const slots = vec4Slots(rank);
  let index = '  var r = i;\n  var idx = P.offset;\n';
  for (let d = rank - 1; d >= 0; d--) {
    const c = d === 0 ? 'r' : `(r % ${uniformAt('P.shape', d)})`;
    index += `  { let c = ${c}; idx += i32(c) * ${uniformAt('P.strides', d)};`;
    if (d > 0) index += ` r = r / ${uniformAt('P.shape', d)};`;
    index += ' }\n';
  }
  return `
struct Params { n: u32, rank: u32, offset: i32, pad: u32, shape: array<vec4<u32>, ${slots}>, strides: array<vec4<i32>, ${slots}> }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${main1d(`  if (i >= P.n) { return; }
${index}  out[i] = X[u32(idx)];`)}`;
}
