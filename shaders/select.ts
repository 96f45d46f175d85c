/**
 * select (cond ? a : b, elementwise over equal lengths) and the strided write (the inverse of the
 * strided gather in strided.ts). Both move u32 bit patterns, so one pipeline serves float32 and
 * int32 values; select's condition is tested on its bits (NaN true, ±0 false) so no driver's
 * float comparison semantics matter.
 */
import { main1d, uniformAt, vec4Slots, type WgslScalar } from './common.js';

/** Uniforms: n. */
export function selectShader(condType: WgslScalar): string {
  const test = condType === 'f32' ? '(C[i] & 0x7fffffffu) != 0u' : 'C[i] != 0u';
  return `
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> C: array<u32>;
@group(0) @binding(2) var<storage, read> A: array<u32>;
@group(0) @binding(3) var<storage, read> B: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;
${main1d(`  if (i >= P.n) { return; }
  out[i] = select(B[i], A[i], ${test});`)}`;
}

/** Uniforms: n, rank, offset (i32), pad, shape: array<vec4<u32>>, strides: array<vec4<i32>>. Writes into `out` in place. */
export function stridedWriteShader(rank: number): string {
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
@group(0) @binding(1) var<storage, read> S: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
${main1d(`  if (i >= P.n) { return; }
${index}  out[u32(idx)] = S[i];`)}`;
}
