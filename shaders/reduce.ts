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
 *  - columnTreeKernel: inner > 1, long axis, few columns: one workgroup per (outer, chunk, block of
 *    COL_TREE_X columns); COL_TREE_Y invocations per column stride through the chunk's rows
 *    (neighbouring invocations still read neighbouring addresses), then a tree over those
 *    COL_TREE_Y partials in workgroup memory. Where the column loop would run only outer·inner
 *    invocations each looping over the whole axis, this runs COL_TREE_Y times as many.
 *  - subgroupRowKernel / subgroupColumnKernel: the tree kernels' workgroups and strided loops,
 *    but one barrier instead of log2(partials): the partials go to workgroup memory once, then the
 *    subgroup holding invocation 0 combines them (each lane a strided part, then subgroupAdd /
 *    subgroupMax) — see subgroupFinal. Needs the device feature 'subgroups'.
 */

import type { ReduceOp } from './kernel-types.js';
import { FLOAT_BITS_WGSL, WG_1D, type WgslScalar } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

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

function declareLoop(op: ReduceOp, t: WgslScalar) {
  const init = op === 'sum' ? `${t}(0)` : 'X[base + start * P.inner]';
  const first = op === 'sum' ? 'start' : 'start + 1u';
  return defineKernel({
    name: `reduce-loop:${op}:${t}`,
    bindings: { X: { type: t, access: 'read' }, out: { type: t, access: 'read_write' } },
    /** n: outputs of this pass. */
    uniforms: { n: 'u32', length: 'u32', inner: 'u32', chunk: 'u32', nChunks: 'u32' },
    workgroupSize: WG_1D,
    helpers: helpers(op, t),
    body: () => `  if (i >= P.n) { return; }
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
  out[i] = acc;`,
  });
}

/** The subgroup kernels' flag for the subgroup that combines the partials (holds invocation 0). */
const SG_FIRST = '\n  let sg_first = subgroupMin(lid) == 0u;';

/**
 * The row kernels' first half (tree and subgroup forms): workgroup g reduces its chunk of a row,
 * each invocation a strided slice, into sh[lid]. `extra` goes right after the uniform early return.
 */
function rowPartials(op: ReduceOp, t: WgslScalar, extra: string): string {
  const init = op === 'sum' ? `${t}(0)` : 'X[row + start]';
  const combine = reduceCombine(op, t);
  return `  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) { return; }${extra}
  let c = g % P.nChunks;
  let row = (g / P.nChunks) * P.length;
  let start = c * P.chunk;
  let end = min(start + P.chunk, P.length);
  var acc: ${t} = ${init};
  for (var l = start + lid; l < end; l = l + ${TREE_WG}u) {
    acc = ${combine('acc', 'X[row + l]')};
  }
  sh[lid] = acc;`;
}

/** groups = outer * nChunks; output g = row * nChunks + chunk. */
function declareTree(op: ReduceOp, t: WgslScalar) {
  const combine = reduceCombine(op, t);
  return defineKernel({
    name: `reduce-tree:${op}:${t}`,
    bindings: { X: { type: t, access: 'read' }, out: { type: t, access: 'read_write' } },
    uniforms: { groups: 'u32', length: 'u32', chunk: 'u32', nChunks: 'u32' },
    workgroupSize: TREE_WG,
    helpers: () => `${helpers(op, t)}
var<workgroup> sh: array<${t}, ${TREE_WG}>;`,
    body: () => `${rowPartials(op, t, '')}
  for (var s = ${TREE_WG / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (lid < s) { sh[lid] = ${combine('sh[lid]', 'sh[lid + s]')}; }
  }
  if (lid == 0u) { out[g] = sh[0]; }`,
  });
}

/** Columns and row-slices of a column-tree workgroup (x · y = 256 invocations). */
export const COL_TREE_X = 16;
export const COL_TREE_Y = 16;

/**
 * The column kernels' first half (tree and subgroup forms): workgroup g covers COL_TREE_X columns of
 * one chunk, each invocation a strided slice of rows of its column, into sh[lid].
 */
function columnPartials(op: ReduceOp, t: WgslScalar, extra: string): string {
  // max starts from the chunk's first row (every invocation may: max is idempotent); sum from 0.
  const init = op === 'sum' ? `${t}(0)` : 'X[base + start * P.inner]';
  const combine = reduceCombine(op, t);
  return `  let g = wid.x + wid.y * nwg.x;
  if (g >= P.groups) { return; }${extra}
  let cx = lid % ${COL_TREE_X}u;
  let ry = lid / ${COL_TREE_X}u;
  let cb = g % P.colBlocks;
  let q = g / P.colBlocks;
  let c = q % P.nChunks;
  let o = q / P.nChunks;
  let j = cb * ${COL_TREE_X}u + cx;
  let jj = min(j, P.inner - 1u);
  let start = c * P.chunk;
  let end = min(start + P.chunk, P.length);
  let base = o * P.length * P.inner + jj;
  var acc: ${t} = ${init};
  for (var l = start + ry; l < end; l = l + ${COL_TREE_Y}u) {
    acc = ${combine('acc', 'X[base + l * P.inner]')};
  }
  sh[lid] = acc;`;
}

/** groups = outer * nChunks * colBlocks; output [outer, nChunks, inner] as the loop kernel's. */
function declareColumnTree(op: ReduceOp, t: WgslScalar) {
  const combine = reduceCombine(op, t);
  return defineKernel({
    name: `reduce-coltree:${op}:${t}`,
    bindings: { X: { type: t, access: 'read' }, out: { type: t, access: 'read_write' } },
    uniforms: { groups: 'u32', length: 'u32', inner: 'u32', chunk: 'u32', nChunks: 'u32', colBlocks: 'u32' },
    workgroupSize: [COL_TREE_X, COL_TREE_Y, 1],
    helpers: () => `${helpers(op, t)}
var<workgroup> sh: array<${t}, ${COL_TREE_X * COL_TREE_Y}>;`,
    // g depends on the workgroup only, so the early return is uniform and every barrier is reached.
    body: () => `${columnPartials(op, t, '')}
  for (var s = ${COL_TREE_Y / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (ry < s) { sh[lid] = ${combine('sh[lid]', `sh[lid + s * ${COL_TREE_X}u]`)}; }
  }
  if (ry == 0u && j < P.inner) { out[(o * P.nChunks + c) * P.inner + j] = sh[cx]; }`,
  });
}

export type ColumnTreeKernel = ReturnType<typeof declareColumnTree>;

/** One workgroup per (outer, chunk, column block): strided rows, then a tree in workgroup memory. */
export const columnTreeKernel = kernelFamily(declareColumnTree);

export type LoopReduceKernel = ReturnType<typeof declareLoop>;
export type TreeReduceKernel = ReturnType<typeof declareTree>;

/** One invocation per (outer, chunk, inner) output, looping over its chunk. */
export const loopReduceKernel = kernelFamily(declareLoop);

/** One workgroup per (row, chunk), tree reduction in workgroup memory. */
export const treeReduceKernel = kernelFamily(declareTree);

/**
 * WGSL for the subgroup combine of max: f32 values go through order keys (order_key of common.ts,
 * NaN mapped above +Inf), so subgroupMax's own NaN handling (unspecified) never matters and a NaN
 * anywhere in the subgroup makes the result NaN, as max_f does.
 */
export const SUBGROUP_MAX_WGSL = /* wgsl */ `
fn nan_key(x: f32) -> i32 { return select(order_key(x), 0x7fffffff, is_nan(x)); }
fn key_f(k: i32) -> f32 { return bitcast<f32>(select(u32(k), u32(-k) | 0x80000000u, k < 0)); }
fn subgroup_max_f(x: f32) -> f32 { return key_f(subgroupMax(nan_key(x))); }`;

/** Helper WGSL a subgroup kernel of `op` over `t` needs (FLOAT_BITS_WGSL's functions and the above). */
export function subgroupHelpers(op: ReduceOp, t: WgslScalar): string {
  return op === 'max' && t === 'f32' ? `${FLOAT_BITS_WGSL}${SUBGROUP_MAX_WGSL}` : '';
}

/** The subgroup reduction of a value v (every active lane of the subgroup gets the result). */
export function subgroupReduce(op: ReduceOp, t: WgslScalar, v: string): string {
  if (op === 'sum') return `subgroupAdd(${v})`;
  return t === 'f32' ? `subgroup_max_f(${v})` : `subgroupMax(${v})`;
}

/**
 * Statements (after a workgroupBarrier): the subgroup holding invocation 0 combines `count`
 * partials at(k), k < count, lane sg_id taking k = sg_id, sg_id + sg_size, ..., then one subgroup
 * reduction; its lane 0 runs write(r). No assumption on how invocations map to subgroups or on the
 * subgroup size (4..128, larger than count included: a max starts from at(0), idempotent). Needs
 * `sg_first` (subgroupMin(lid) == 0, computed in uniform control flow) in scope.
 */
export function subgroupFinal(op: ReduceOp, t: WgslScalar, count: number, at: (k: string) => string, write: (r: string) => string): string {
  const combine = reduceCombine(op, t);
  const init = op === 'sum' ? `${t}(0)` : at('0u');
  return `
  if (sg_first) {
    var v: ${t} = ${init};
    for (var k = sg_id; k < ${count}u; k = k + sg_size) { v = ${combine('v', at('k'))}; }
    let r = ${subgroupReduce(op, t, 'v')};
    if (sg_id == 0u) { ${write('r')} }
  }`;
}

/** The subgroup form of the row tree kernel (same uniforms, dispatch and output). */
function declareSubgroupRow(op: ReduceOp, t: WgslScalar) {
  return defineKernel({
    name: `reduce-sgrow:${op}:${t}`,
    bindings: { X: { type: t, access: 'read' }, out: { type: t, access: 'read_write' } },
    uniforms: { groups: 'u32', length: 'u32', chunk: 'u32', nChunks: 'u32' },
    workgroupSize: TREE_WG,
    subgroups: true,
    helpers: () => `${subgroupHelpers(op, t)}
var<workgroup> sh: array<${t}, ${TREE_WG}>;`,
    body: () => `${rowPartials(op, t, SG_FIRST)}
  workgroupBarrier();${subgroupFinal(op, t, TREE_WG, (k) => `sh[${k}]`, (r) => `out[g] = ${r};`)}`,
  });
}

/** The subgroup form of the column tree kernel (same uniforms, dispatch and output). */
function declareSubgroupColumn(op: ReduceOp, t: WgslScalar) {
  return defineKernel({
    name: `reduce-sgcol:${op}:${t}`,
    bindings: { X: { type: t, access: 'read' }, out: { type: t, access: 'read_write' } },
    uniforms: { groups: 'u32', length: 'u32', inner: 'u32', chunk: 'u32', nChunks: 'u32', colBlocks: 'u32' },
    workgroupSize: [COL_TREE_X, COL_TREE_Y, 1],
    subgroups: true,
    helpers: () => `${subgroupHelpers(op, t)}
var<workgroup> sh: array<${t}, ${COL_TREE_X * COL_TREE_Y}>;`,
    body: () => `${columnPartials(op, t, SG_FIRST)}
  workgroupBarrier();
  // The first subgroup combines each column's row slices in turn (columns past inner are skipped).
  let cols = min(${COL_TREE_X}u, P.inner - cb * ${COL_TREE_X}u);
  for (var col = 0u; col < cols; col = col + 1u) {${subgroupFinal(op, t, COL_TREE_Y, (k) => `sh[${k} * ${COL_TREE_X}u + col]`, (r) => `out[(o * P.nChunks + c) * P.inner + cb * ${COL_TREE_X}u + col] = ${r};`).replace(/\n/g, '\n  ')}
  }`,
  });
}

export type SubgroupRowKernel = ReturnType<typeof declareSubgroupRow>;
export type SubgroupColumnKernel = ReturnType<typeof declareSubgroupColumn>;

/** inner = 1: a workgroup per (row, chunk), one barrier, then a subgroup combine. */
export const subgroupRowKernel = kernelFamily(declareSubgroupRow);

/** inner > 1: a workgroup per (outer, chunk, column block), one barrier, then subgroup combines. */
export const subgroupColumnKernel = kernelFamily(declareSubgroupColumn);
