/**
 * Reductions over the middle axis of x viewed as [outer, length, inner].
 *
 * Two kernels, each reducing chunks of the axis: [outer, length, inner] -> [outer, nChunks, inner].
 * The host repeats passes until one chunk is left, so long rows never run one invocation for 10^5
 * steps and float32 sums stay accurate (a sum of chunk sums).
 *  - loopReduceShader: one invocation per (outer, chunk, inner) output, looping over its chunk.
 *    Serves inner > 1 (neighbouring invocations read neighbouring addresses) and short rows.
 *  - treeReduceShader: inner = 1 with long rows: one workgroup per (row, chunk); invocations stride
 *    through the chunk, then a tree reduction in workgroup memory.
 */

import type { ReduceOp } from '../src/backend/types.js';
import { FLOAT_BITS_WGSL, main1d, type WgslScalar } from './common.js';

/** How two partial results combine; float max propagates NaN on every driver (max_f, bit tests). */
export function reduceCombine(op: ReduceOp, t: WgslScalar): (acc: string, v: string) => string {
  if (op === 'sum') return (acc, v) => `${acc} + ${v}`;
  return t === 'f32' ? (acc, v) => `max_f(${acc}, ${v})` : (acc, v) => `max(${acc}, ${v})`;
}

function helpers(op: ReduceOp, t: WgslScalar): string {
  return op === 'max' && t === 'f32' ? FLOAT_BITS_WGSL : '';
}

/** Invocations per workgroup of the tree kernel. */
export const TREE_WG = 256;

/** Uniforms: n (outputs of this pass), length, inner, chunk, nChunks. */
export function loopReduceShader(op: ReduceOp, t: WgslScalar): string {
  const init = op === 'sum' ? `${t}(0)` : 'X[base + start * P.inner]';
  const first = op === 'sum' ? 'start' : 'start + 1u';
  return `${helpers(op, t)}
struct Params { n: u32, length: u32, inner: u32, chunk: u32, nChunks: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${main1d(`  if (i >= P.n) { return; }
  let j = i % P.inner;
  let q = i / P.inner;
  let c = q % P.nChunks;
  let o = q / P.nChunks;
  let start = c * P.chunk;
  let end = min(start + P.chunk, P.length);
  let base = o * P.length * P.inner + j;
  var acc: ${t} = ${init};
  for (var l = ${first}; l < end; l = l + 1u) {
    acc = ${reduceCombine(op, t)('acc', 'X[base + l * P.inner]')};
  }
  out[i] = acc;`)}`;
}

/** Uniforms: groups (outer * nChunks), length, chunk, nChunks. Output g = row * nChunks + chunk. */
export function treeReduceShader(op: ReduceOp, t: WgslScalar): string {
  const init = op === 'sum' ? `${t}(0)` : 'X[row + start]';
  const combine = reduceCombine(op, t);
  return `${helpers(op, t)}
struct Params { groups: u32, length: u32, chunk: u32, nChunks: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
var<workgroup> sh: array<${t}, ${TREE_WG}>;

@compute @workgroup_size(${TREE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) { return; }
  let c = g % P.nChunks;
  let row = (g / P.nChunks) * P.length;
  let start = c * P.chunk;
  let end = min(start + P.chunk, P.length);
  var acc: ${t} = ${init};
  for (var l = start + lid; l < end; l = l + ${TREE_WG}u) {
    acc = ${combine('acc', 'X[row + l]')};
  }
  sh[lid] = acc;
  for (var s = ${TREE_WG / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (lid < s) { sh[lid] = ${combine('sh[lid]', 'sh[lid + s]')}; }
  }
  if (lid == 0u) { out[g] = sh[0]; }
}
`;
}
