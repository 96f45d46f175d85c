/**
 * argmax / argmin along the middle axis of x viewed as [outer, length, inner]: one invocation per
 * (outer, inner) output, looping over the axis. The first index wins ties; the first NaN wins
 * outright (as PyTorch). NaN is found by a bit test, never by a comparison, because WGSL lets
 * drivers assume there is no NaN (spec 15.7.2).
 */
import type { ArgReduceOp } from './kernel-types.js';
import { WG_1D, type WgslScalar } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

/** n: outputs (outer·inner). Output: int32 indices. */
export const argReduceKernel = kernelFamily((op: ArgReduceOp, t: WgslScalar) => {
  const better = op === 'argmax' ? 'v > best' : 'v < best';
  const isNan = t === 'f32' ? '(bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u' : 'false';
  return defineKernel({
    name: `argreduce:${op}:${t}`,
    bindings: { X: { type: t, access: 'read' }, out: { type: 'i32', access: 'read_write' } },
    uniforms: { n: 'u32', length: 'u32', inner: 'u32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }
  let j = i % P.inner;
  let o = i / P.inner;
  let base = o * P.length * P.inner + j;
  var best: ${t} = X[base];
  var bi = 0u;
  for (var l = 0u; l < P.length; l = l + 1u) {
    let v = X[base + l * P.inner];
    if (${isNan}) { bi = l; break; }
    if (${better}) { best = v; bi = l; }
  }
  out[i] = i32(bi);`,
  });
});
