/**
 * gather and its adjoint scatterAdd along the middle axis of [outer, length, inner] with int32
 * indices, laid out per output element ('perElement', torch.gather) or one shared list
 * ('shared', torch.index_select); see IndexLayout in src/backend/types.ts.
 *
 * scatterAdd is deterministic: every output element sums the sources that hit it in ascending
 * source order, on every run and every driver (no float atomics).
 *  - 'perElement' (scatterAddShader): one invocation per output element loops over all `count`
 *    sources of its line: outer·length·inner·count steps, fine for gather's usual small counts.
 *  - 'shared' (the embedding-gradient case, where count and length can both be large): the index
 *    list is bucketed first, like a counting sort. histogram (integer atomics: the counts are exact
 *    whatever the order) -> exclusive scan (host: stridedWrite + cumsum) -> place (source c goes to
 *    slot start[idx] + rank, rank = how many earlier sources share its index, so every bucket lists
 *    its sources in ascending order) -> segmentSum (each output element sums its own bucket).
 *    Cost count² (rank) + count + length + outer·inner·(length + count) instead of the product.
 */
import type { IndexLayout } from './kernel-types.js';
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

/** Uniforms: n (= count), length. counts (int32, zeroed) += 1 at each in-range index. */
export function histogramShader(): string {
  return `
struct Params { n: u32, length: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> I: array<i32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<i32>>;
${main1d(`  if (i >= P.n) { return; }
  let idx = I[i];
  if (idx < 0 || u32(idx) >= P.length) { return; }
  atomicAdd(&counts[u32(idx)], 1);`)}`;
}

/** Uniforms: n (= count), length. list[start[idx[c]] + rank(c)] = c, rank(c) = #{c' < c : idx[c'] = idx[c]}. */
export function placeShader(): string {
  return `
struct Params { n: u32, length: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> I: array<i32>;
@group(0) @binding(2) var<storage, read> start: array<i32>;
@group(0) @binding(3) var<storage, read_write> list: array<i32>;
${main1d(`  if (i >= P.n) { return; }
  let idx = I[i];
  if (idx < 0 || u32(idx) >= P.length) { return; }
  var rank = 0;
  for (var c = 0u; c < i; c = c + 1u) {
    if (I[c] == idx) { rank = rank + 1; }
  }
  list[start[u32(idx)] + rank] = i32(i);`)}`;
}

/** Uniforms: n (outputs = outer·length·inner), length, inner, count. out[o, l, j] = Σ over bucket l of S[o, c, j]. */
export function segmentSumShader(t: WgslScalar): string {
  return `
struct Params { n: u32, length: u32, inner: u32, count: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> S: array<${t}>;
@group(0) @binding(2) var<storage, read> start: array<i32>;
@group(0) @binding(3) var<storage, read> list: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<${t}>;
${main1d(`  if (i >= P.n) { return; }
  let j = i % P.inner;
  let q = i / P.inner;
  let l = q % P.length;
  let o = q / P.length;
  var acc: ${t} = ${t}(0);
  for (var k = start[l]; k < start[l + 1u]; k = k + 1) {
    acc = acc + S[(o * P.count + u32(list[k])) * P.inner + j];
  }
  out[i] = acc;`)}`;
}
