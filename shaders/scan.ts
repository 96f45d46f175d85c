/**
 * Inclusive prefix sum along the middle axis of [outer, length, inner]: one invocation per
 * (outer, inner) line, accumulating sequentially (the CPU reference's order), forwards or from the end.
 */
import { WG_1D, type WgslScalar } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

/** n: lines (outer·inner). */
export const cumsumKernel = kernelFamily((t: WgslScalar, reverse: boolean) => {
  const l = reverse ? 'P.length - 1u - k' : 'k';
  return defineKernel({
    name: `cumsum:${t}:${reverse ? 'rev' : 'fwd'}`,
    bindings: { X: { type: t, access: 'read' }, out: { type: t, access: 'read_write' } },
    uniforms: { n: 'u32', length: 'u32', inner: 'u32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }
  let j = i % P.inner;
  let o = i / P.inner;
  var acc: ${t} = ${t}(0);
  for (var k = 0u; k < P.length; k = k + 1u) {
    let at = (o * P.length + ${l}) * P.inner + j;
    acc = acc + X[at];
    out[at] = acc;
  }`,
  });
});
