/**
 * gather and its adjoint scatterAdd along the middle axis of [outer, length, inner] with int32
 * indices, laid out per output element ('perElement', torch.gather) or one shared list
 * ('shared', torch.index_select); see IndexLayout in src/backend/types.ts.
 *
 * scatterAdd is deterministic: one invocation per OUTPUT element loops over the `count` sources in
 * ascending order and sums those whose index hits it, so repeated indices accumulate in the same
 * order on every run and every driver (no atomics, no float atomics needed). The cost is
 * outer·length·inner·count comparisons, fine for the sizes of embedding/gather gradients here.
 */
import type { IndexLayout } from '../src/backend/types.js';
import { main1d, type WgslScalar } from './common.js';

function indexExpr(layout: IndexLayout, c: string, o: string, j: string): string {
  return layout === 'shared' ? `I[${c}]` : `I[(${o} * P.count + ${c}) * P.inner + ${j}]`;
}

/** Uniforms: n (outputs), length, inner, count, bad (bits written for an out-of-range index). Moves u32 bits. */
export function gatherShader(layout: IndexLayout): string {
  return `
struct Params { n: u32, length: u32, inner: u32, count: u32, bad: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
${main1d(`  if (i >= P.n) { return; }
  let j = i % P.inner;
  let q = i / P.inner;
  let c = q % P.count;
  let o = q / P.count;
  let idx = ${indexExpr(layout, 'c', 'o', 'j')};
  if (idx < 0 || u32(idx) >= P.length) { out[i] = P.bad; return; }
  out[i] = X[(o * P.length + u32(idx)) * P.inner + j];`)}`;
}

/** Uniforms: n (outputs = outer·length·inner), length, inner, count. */
export function scatterAddShader(layout: IndexLayout, t: WgslScalar): string {
  return `
struct Params { n: u32, length: u32, inner: u32, count: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> S: array<${t}>;
@group(0) @binding(2) var<storage, read> I: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<${t}>;
${main1d(`  if (i >= P.n) { return; }
  let j = i % P.inner;
  let q = i / P.inner;
  let l = i32(q % P.length);
  let o = q / P.length;
  var acc: ${t} = ${t}(0);
  for (var c = 0u; c < P.count; c = c + 1u) {
    if (${indexExpr(layout, 'c', 'o', 'j')} == l) { acc = acc + S[(o * P.count + c) * P.inner + j]; }
  }
  out[i] = acc;`)}`;
}
