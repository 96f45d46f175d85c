/**
 * gather and its adjoint scatterAdd along the middle axis of [outer, length, inner] with int32
 * indices, laid out per output element ('perElement', torch.gather) or one shared list
 * ('shared', torch.index_select); see IndexLayout in src/backend/types.ts.
 *
 * scatterAdd is deterministic: every output element sums the sources that hit it in ascending
 * source order, on every run and every driver (no float atomics).
 *  - 'perElement' (scatterAddKernel): one invocation per output element loops over all `count`
 *    sources of its line: outer·length·inner·count steps, fine for gather's usual small counts.
 *  - 'shared' (the embedding-gradient case, where count and length can both be large): the index
 *    list is bucketed first, like a counting sort. histogram (integer atomics: the counts are exact
 *    whatever the order) -> exclusive scan (host: stridedWrite + cumsum) -> place (source c goes to
 *    slot start[idx] + rank, rank = how many earlier sources share its index, so every bucket lists
 *    its sources in ascending order) -> segmentSum (each output element sums its own bucket).
 *    Cost count² (rank) + count + length + outer·inner·(length + count) instead of the product.
 */
import type { IndexLayout } from './kernel-types.js';
import { WG_1D, type WgslScalar } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

function indexExpr(layout: IndexLayout, c: string, o: string, j: string): string {
  return layout === 'shared' ? `I[${c}]` : `I[(${o} * P.count + ${c}) * P.inner + ${j}]`;
}

const I32_READ = { type: 'i32', access: 'read' } as const;
/** n: outputs; the lengths of the [outer, length, inner] view and the index count. */
const LINES = { n: 'u32', length: 'u32', inner: 'u32', count: 'u32' } as const;

/** Moves u32 bits; bad: the bits written for an out-of-range index. */
export const gatherKernel = kernelFamily((layout: IndexLayout) =>
  defineKernel({
    name: `gather:${layout}`,
    bindings: { X: { type: 'u32', access: 'read' }, I: I32_READ, out: { type: 'u32', access: 'read_write' } },
    uniforms: { ...LINES, bad: 'u32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }
  let j = i % P.inner;
  let q = i / P.inner;
  let c = q % P.count;
  let o = q / P.count;
  let idx = ${indexExpr(layout, 'c', 'o', 'j')};
  if (idx < 0 || u32(idx) >= P.length) { out[i] = P.bad; return; }
  out[i] = X[(o * P.length + u32(idx)) * P.inner + j];`,
  }),
);

/** n: outputs (outer·length·inner). */
export const scatterAddKernel = kernelFamily((layout: IndexLayout, t: WgslScalar) =>
  defineKernel({
    name: `scatteradd:${layout}:${t}`,
    bindings: { S: { type: t, access: 'read' }, I: I32_READ, out: { type: t, access: 'read_write' } },
    uniforms: LINES,
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }
  let j = i % P.inner;
  let q = i / P.inner;
  let l = i32(q % P.length);
  let o = q / P.length;
  var acc: ${t} = ${t}(0);
  for (var c = 0u; c < P.count; c = c + 1u) {
    if (${indexExpr(layout, 'c', 'o', 'j')} == l) { acc = acc + S[(o * P.count + c) * P.inner + j]; }
  }
  out[i] = acc;`,
  }),
);

/** n (= count). counts (int32, zeroed) += 1 at each in-range index. */
export const histogramKernel = defineKernel({
  name: 'scatteradd:histogram',
  bindings: { I: I32_READ, counts: { type: 'atomic<i32>', access: 'read_write' } },
  uniforms: { n: 'u32', length: 'u32' },
  workgroupSize: WG_1D,
  body: `  if (i >= P.n) { return; }
  let idx = I[i];
  if (idx < 0 || u32(idx) >= P.length) { return; }
  atomicAdd(&counts[u32(idx)], 1);`,
});

/** n (= count). list[start[idx[c]] + rank(c)] = c, rank(c) = #{c' < c : idx[c'] = idx[c]}. */
export const placeKernel = defineKernel({
  name: 'scatteradd:place',
  bindings: { I: I32_READ, start: I32_READ, list: { type: 'i32', access: 'read_write' } },
  uniforms: { n: 'u32', length: 'u32' },
  workgroupSize: WG_1D,
  body: `  if (i >= P.n) { return; }
  let idx = I[i];
  if (idx < 0 || u32(idx) >= P.length) { return; }
  var rank = 0;
  for (var c = 0u; c < i; c = c + 1u) {
    if (I[c] == idx) { rank = rank + 1; }
  }
  list[start[u32(idx)] + rank] = i32(i);`,
});

/** n: outputs (outer·length·inner). out[o, l, j] = Σ over bucket l of S[o, c, j]. */
export const segmentSumKernel = kernelFamily((t: WgslScalar) =>
  defineKernel({
    name: `scatteradd:segsum:${t}`,
    bindings: { S: { type: t, access: 'read' }, start: I32_READ, list: I32_READ, out: { type: t, access: 'read_write' } },
    uniforms: LINES,
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }
  let j = i % P.inner;
  let q = i / P.inner;
  let l = q % P.length;
  let o = q / P.length;
  var acc: ${t} = ${t}(0);
  for (var k = start[l]; k < start[l + 1u]; k = k + 1) {
    acc = acc + S[(o * P.count + u32(list[k])) * P.inner + j];
  }
  out[i] = acc;`,
  }),
);
