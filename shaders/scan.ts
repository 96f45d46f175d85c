/**
 * Inclusive prefix sum along the middle axis of [outer, length, inner]: one invocation per
 * (outer, inner) line, accumulating sequentially (the CPU reference's order), forwards or from the end.
 */
import { main1d, type WgslScalar } from './common.js';

/** Uniforms: n (lines = outer·inner), length, inner. */
export function cumsumShader(t: WgslScalar, reverse: boolean): string {
  const l = reverse ? 'P.length - 1u - k' : 'k';
  return `
struct Params { n: u32, length: u32, inner: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${t}>;
@group(0) @binding(2) var<storage, read_write> out: array<${t}>;
${main1d(`  if (i >= P.n) { return; }
  let j = i % P.inner;
  let o = i / P.inner;
  var acc: ${t} = ${t}(0);
  for (var k = 0u; k < P.length; k = k + 1u) {
    let at = (o * P.length + ${l}) * P.inner + j;
    acc = acc + X[at];
    out[at] = acc;
  }`)}`;
}
