/**
 * Batched matmul sharing loads across a subgroup (WGSL `enable subgroups;`), without workgroup
 * memory. Each invocation computes a 4x4 block of C at (row0, col0), as the register-blocked kernel
 * (matmul.ts), so the host dispatches both alike. The k axis is walked in chunks of S = the subgroup
 * size: lane s loads the fragment of its block at k = l0 + s (a vec4 over its 4 rows of A, a vec4 over
 * its 4 columns of B); then for each k step j of the chunk every lane takes lane j's fragments by
 * subgroupShuffle (or subgroupBroadcast with a constant lane), so lanes with the same rows load A
 * once per subgroup instead of once per lane (and likewise B for lanes with the same columns).
 *
 * Nothing assumes how invocations map to subgroups or which size the adapter picks: at the start each
 * lane asks every lane j of its subgroup for its row0 and col0 (and whether j is active, by ballot:
 * a partial subgroup's missing lanes hold no fragment); a lane whose rows (columns) differ from lane
 * j's loads that k step itself. So the result is the same sum for any size and layout; only the
 * share of loads saved depends on them.
 *
 * Two forms: `lanes` 0 loops over the subgroup_size builtin with subgroupShuffle (any adapter with
 * subgroups); `lanes` S > 0 unrolls the chunk with subgroupBroadcast from constant lanes, cheaper on
 * drivers that lower a dynamic shuffle lane by lane, and is only valid where the adapter's subgroup
 * size is fixed at S (min = max = S), which the host checks before offering it.
 *
 * Subgroup operations need subgroup-uniform control flow: there is no early return (out-of-range
 * invocations compute at clamped indices and store nothing), loop bounds are uniform (P.k, the chunk
 * size), and the per-lane branches only load.
 */

import type { EpilogueActivation } from './kernel-types.js';
import { blockEpilogue, epilogueHelpers, MATMUL_UNIFORMS, type MatmulVariant } from './matmul.js';
import { defineKernel, kernelFamily } from './program.js';

const Q = [0, 1, 2, 3] as const;

/** The vec4 of A over the block's 4 rows, and of B over its 4 columns, at k = `k` (clamped indices). */
function operandLoads(v: MatmulVariant): { setup: string; a: (k: string) => string; b: (k: string) => string } {
  const elA = (e: string) => (v.vecA ? `A[(${e}) >> 2u][(${e}) & 3u]` : `A[${e}]`);
  const elB = (e: string) => (v.vecB ? `B[(${e}) >> 2u][(${e}) & 3u]` : `B[${e}]`);
  let setup = '';
  let a: (k: string) => string;
  let b: (k: string) => string;
  if (!v.transA) {
    // A stored [m, k]: one element of each of the 4 rows.
    for (const i of Q) setup += `  let aRow${i} = aBase + min(row0 + ${i}u, P.m - 1u) * P.k;\n`;
    a = (k) => `vec4<f32>(${Q.map((i) => elA(`aRow${i} + ${k}`)).join(', ')})`;
  } else if (v.vecA) {
    // A stored [k, m] with m % 4 == 0: the 4 rows are one vec4 (clamped to the last whole one).
    setup += '  let aCol = aBase + min(row0, P.m - 4u);\n';
    a = (k) => `A[(aCol + (${k}) * P.m) >> 2u]`;
  } else {
    for (const i of Q) setup += `  let aCol${i} = aBase + min(row0 + ${i}u, P.m - 1u);\n`;
    a = (k) => `vec4<f32>(${Q.map((i) => `A[aCol${i} + (${k}) * P.m]`).join(', ')})`;
  }
  if (v.transB) {
    // B stored [n, k]: one element of each of the 4 columns' storage rows.
    for (const j of Q) setup += `  let bRow${j} = bBase + min(col0 + ${j}u, P.n - 1u) * P.k;\n`;
    b = (k) => `vec4<f32>(${Q.map((j) => elB(`bRow${j} + ${k}`)).join(', ')})`;
  } else if (v.vecB) {
    setup += '  let bCol = bBase + min(col0, P.n - 4u);\n';
    b = (k) => `B[(bCol + (${k}) * P.n) >> 2u]`;
  } else {
    for (const j of Q) setup += `  let bCol${j} = bBase + min(col0 + ${j}u, P.n - 1u);\n`;
    b = (k) => `vec4<f32>(${Q.map((j) => `B[bCol${j} + (${k}) * P.n]`).join(', ')})`;
  }
  return { setup, a, b };
}

/** Statements of `main` (the bindings are A, B, optional BIAS, C; `sg_id`, `sg_size` in scope). */
export function subgroupBody(v: MatmulVariant, lanes: number, wgY: number): string {
  const { setup, a, b } = operandLoads(v);
  // One k step: lane `lane`'s fragments, or this lane's own loads where its rows/columns differ.
  const step = (lane: string, take: (x: string) => string, indent: string) => `${indent}let k = l0 + ${lane};
${indent}let bit = 1u << (${lane} & 31u);
${indent}var a = ${take('af')};
${indent}var b = ${take('bf')};
${indent}if ((sameRow[${lane} >> 5u] & bit) == 0u) { a = ${a('k')}; }
${indent}if ((sameCol[${lane} >> 5u] & bit) == 0u) { b = ${b('k')}; }
${indent}acc0 = acc0 + a.x * b;
${indent}acc1 = acc1 + a.y * b;
${indent}acc2 = acc2 + a.z * b;
${indent}acc3 = acc3 + a.w * b;
`;
  let chunk = '';
  if (lanes === 0) {
    chunk = `    for (var j = 0u; j < sg_size; j = j + 1u) {
      if (l0 + j >= P.k) { break; }
${step('j', (x) => `subgroupShuffle(${x}, j)`, '      ')}    }
`;
  } else {
    for (let j = 0; j < lanes; j++) {
      chunk += `    if (l0 + ${j}u < P.k) {\n${step(`${j}u`, (x) => `subgroupBroadcast(${x}, ${j}u)`, '      ')}    }\n`;
    }
  }
  const size = lanes === 0 ? 'sg_size' : `${lanes}u`;
  return `  let col0 = gid.x * 4u;
  let row0 = (gid.y + P.yOff * ${wgY}u) * 4u;
  let batch = gid.z + P.zOff;
  let aBase = batch * P.aBatchStride;
  let bBase = batch * P.bBatchStride;
  let cBase = batch * P.m * P.n;
  let alpha = P.alpha;
${setup}  // Which lanes of this subgroup hold the same rows / columns (bit j of word j / 32).
  let live = subgroupBallot(true);
  var sameRow = vec4<u32>(0u);
  var sameCol = vec4<u32>(0u);
  for (var j = 0u; j < sg_size; j = j + 1u) {
    let r = subgroupShuffle(row0, j);
    let c = subgroupShuffle(col0, j);
    let bit = 1u << (j & 31u);
    let on = (live[j >> 5u] & bit) != 0u;
    if (on && r == row0) { sameRow[j >> 5u] = sameRow[j >> 5u] | bit; }
    if (on && c == col0) { sameCol[j >> 5u] = sameCol[j >> 5u] | bit; }
  }
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var l0 = 0u; l0 < P.k; l0 = l0 + ${size}) {
    let kf = min(l0 + sg_id, P.k - 1u);
    let af = ${a('kf')};
    let bf = ${b('kf')};
${chunk}  }
  if (row0 < P.m && col0 < P.n) {
${blockEpilogue(v)}  }
`;
}

const F32 = 'f32';
const VEC4 = 'vec4<f32>';
const read = (vec: boolean) => ({ type: vec ? VEC4 : F32, access: 'read' }) as const;
const name = (v: MatmulVariant, lanes: number) =>
  `matmul-sg${lanes || 'n'}:${+v.transA}${+v.transB}${+v.vecA}${+v.vecB}${+v.vecC}${+v.bias}:${v.activation}`;

type Args = [boolean, boolean, boolean, boolean, boolean, EpilogueActivation, number, number, number];

function decl(bias: boolean, [transA, transB, vecA, vecB, vecC, activation, wgX, wgY, lanes]: Args) {
  const v: MatmulVariant = { transA, transB, vecA, vecB, vecC, bias, activation };
  return {
    name: name(v, lanes),
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: [wgX, wgY, 1] as const,
    helpers: () => epilogueHelpers(activation),
    body: () => subgroupBody(v, lanes, wgY),
    subgroups: true,
  };
}
const out = (vecC: boolean) => ({ type: vecC ? VEC4 : F32, access: 'read_write' }) as const;
const plainFamily = kernelFamily((...args: Args) => defineKernel({ ...decl(false, args), bindings: { A: read(args[2]), B: read(args[3]), C: out(args[4]) } }));
const biasFamily = kernelFamily((...args: Args) =>
  defineKernel({ ...decl(true, args), bindings: { A: read(args[2]), B: read(args[3]), BIAS: read(false), C: out(args[4]) } }),
);
const args = (v: MatmulVariant, lanes: number, wgX: number, wgY: number): Args => [v.transA, v.transB, v.vecA, v.vecB, v.vecC, v.activation, wgX, wgY, lanes];

/**
 * The subgroup kernel of a variant without bias: `lanes` 0 for the dynamic shuffle over any subgroup
 * size, S for the form unrolled over a subgroup size fixed at S.
 */
export function matmulSubgroupKernel(v: MatmulVariant, lanes: number, wgX: number, wgY: number) {
  return plainFamily(...args(v, lanes, wgX, wgY));
}

/** The subgroup kernel of a variant with a BIAS binding. */
export function matmulSubgroupBiasKernel(v: MatmulVariant, lanes: number, wgX: number, wgY: number) {
  return biasFamily(...args(v, lanes, wgX, wgY));
}
