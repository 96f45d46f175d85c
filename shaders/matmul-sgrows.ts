/**
 * Batched matmul, register-blocked like matmul-wide.ts (an R×C block of C per invocation in vec4
 * accumulators, no workgroup memory), where the lanes of a subgroup that compute the same rows share
 * their loads of A: over a chunk of S = the subgroup size k steps, lane s loads A at k = k0 + s for
 * each of its R rows (R loads, one per row), and every lane takes k step q's values from lane q by
 * subgroupBroadcast with a constant lane. Each lane loads B for its own columns as the wide kernel
 * does.
 *
 * Why: on SwiftShader a load whose address differs between the 4 lanes of a SIMD group is a gather,
 * emulated lane by lane (a branch, a scalar load and an insert each), while a broadcast from a
 * constant lane is a few register operations. With the workgroup's x a multiple of S, the lanes of
 * a subgroup lie on one row of the workgroup, hold the same rows of C, and each loaded the same A
 * values: sharing them cuts an 8×8 block's loads per 4 k steps from 64 lane-gathers to 40.
 *
 * Nothing is assumed about how invocations map to subgroups: the kernel checks, once, that the
 * subgroup is full, has size S and that every lane holds the same rows; a subgroup where
 * that fails (another layout, a partial subgroup) walks k with its own loads, the wide kernel's loop.
 * The result is the same sum either way. There is no early return (subgroup operations need every
 * lane): invocations past m or n compute at clamped indices and store nothing.
 *
 * A is bound as scalars (a lane loads one element per row); B as the variant says.
 */

import type { EpilogueActivation } from './kernel-types.js';
import { epilogueHelpers, MATMUL_UNIFORMS, type MatmulVariant } from './matmul.js';
import { wideEpilogue, wideOperandB, type WideBlock } from './matmul-wide.js';
import { defineKernel, kernelFamily } from './program.js';

const Q = [0, 1, 2, 3] as const;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Statements of `main` (bindings A (scalar), B, optional BIAS, C; `sg_size`, `sg_id` in scope). */
export function sgRowsBody(v: MatmulVariant, b: WideBlock, lanes: number, wgY: number): string {
  const R = b.rows;
  const CV = b.cols / 4;
  // Element of A at row i of the block and k step `k` (clamped rows: never out of bounds).
  const aAt = (i: number, k: string) => (v.transA ? `A[aRow${i} + (${k}) * P.m]` : `A[aRow${i} + ${k}]`);
  let setup = '';
  for (const i of range(R)) {
    setup += v.transA
      ? `  let aRow${i} = aBase + min(row0 + ${i}u, P.m - 1u);\n`
      : `  let aRow${i} = aBase + min(row0 + ${i}u, P.m - 1u) * P.k;\n`;
  }
  const B = wideOperandB(v, CV);
  setup += B.setup;

  let decl = '';
  for (const i of range(R)) for (const j of range(CV)) decl += `  var acc${i}_${j} = vec4<f32>(0.0);\n`;
  // acc += the k step of 4 from l, with A's value of row i at step q given by a(i, q).
  const fmas = (a: (i: number, q: number) => string, indent: string) => {
    let out = '';
    for (const i of range(R)) {
      for (const j of range(CV)) out += `${indent}acc${i}_${j} = acc${i}_${j} + ${Q.map((q) => `${a(i, q)} * ${B.bv(q, j)}`).join(' + ')};\n`;
    }
    return out;
  };
  const indent = (text: string, by: string) => text.replace(/^/gm, by).replace(new RegExp(`${by}$`), '');

  // The shared chunk: fragments at k0 + sg_id, then S/4 steps of 4 from their lanes.
  let chunk = '';
  for (const i of range(R)) chunk += `    let f${i} = ${aAt(i, 'k0 + sg_id')};\n`;
  for (let t = 0; t < lanes / 4; t++) {
    chunk += `    {\n      let l = k0 + ${4 * t}u;\n${indent(B.load, '  ')}`;
    // Each broadcast once: lane 4t + q's value of row i is s${i}'s component q.
    for (const i of range(R)) chunk += `      let s${i} = vec4<f32>(${Q.map((q) => `subgroupBroadcast(f${i}, ${4 * t + q}u)`).join(', ')});\n`;
    chunk += fmas((i, q) => `s${i}.${'xyzw'[q]}`, '      ');
    chunk += '    }\n';
  }

  // The rest of k (all of it where the subgroup does not share rows): own loads, 4 steps at a time.
  let own = '';
  for (const i of range(R)) own += `    let ar${i} = vec4<f32>(${Q.map((q) => aAt(i, `l + ${q}u`)).join(', ')});\n`;
  own += B.load + fmas((i, q) => `ar${i}.${'xyzw'[q]}`, '    ');
  let tail = B.tailB;
  for (const i of range(R)) {
    tail += `    let at${i} = ${aAt(i, 'l')};\n`;
    for (const j of range(CV)) tail += `    acc${i}_${j} = acc${i}_${j} + at${i} * bt${j};\n`;
  }

  return `  let col0 = gid.x * ${4 * CV}u;
  let row0 = (gid.y + P.yOff * ${wgY}u) * ${R}u;
  let batch = gid.z + P.zOff;
  let aBase = batch * P.aBatchStride;
  let bBase = batch * P.bBatchStride;
  let cBase = batch * P.m * P.n;
  let alpha = P.alpha;
${setup}${decl}  // Do all ${lanes} lanes of this subgroup run, and hold the same rows? (A subgroup lies within one
  // workgroup, so its lanes share the batch.)
  let live = subgroupBallot(true);
  let full = countOneBits(live.x) + countOneBits(live.y) + countOneBits(live.z) + countOneBits(live.w) == ${lanes}u;
  let sharing = subgroupAll(full && sg_size == ${lanes}u && subgroupBroadcast(row0, 0u) == row0);
  let kShared = select(0u, P.k - P.k % ${lanes}u, sharing);
  for (var k0 = 0u; k0 < kShared; k0 = k0 + ${lanes}u) {
${chunk}  }
  let k4 = kShared + ((P.k - kShared) & ~3u);
  for (var l = kShared; l < k4; l = l + 4u) {
${own}  }
  for (var l = k4; l < P.k; l = l + 1u) {
${tail}  }
${wideEpilogue(v, R, CV)}`;
}

const F32 = 'f32';
const VEC4 = 'vec4<f32>';
const read = (vec: boolean) => ({ type: vec ? VEC4 : F32, access: 'read' }) as const;
const name = (v: MatmulVariant, b: WideBlock, lanes: number) =>
  `matmul-sgrows${b.rows}x${b.cols}s${lanes}:${+v.transA}${+v.transB}${+v.vecB}${+v.vecC}${+v.bias}:${v.activation}`;

type Args = [boolean, boolean, boolean, boolean, EpilogueActivation, number, number, number, number, number];

function decl(bias: boolean, [transA, transB, vecB, vecC, activation, wgX, wgY, rows, cols, lanes]: Args) {
  const v: MatmulVariant = { transA, transB, vecA: false, vecB, vecC, bias, activation };
  const block: WideBlock = { rows, cols };
  return {
    name: name(v, block, lanes),
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: [wgX, wgY, 1] as const,
    helpers: () => epilogueHelpers(activation),
    body: () => sgRowsBody(v, block, lanes, wgY),
    subgroups: true,
  };
}
const out = (vecC: boolean) => ({ type: vecC ? VEC4 : F32, access: 'read_write' }) as const;
const plainFamily = kernelFamily((...args: Args) => defineKernel({ ...decl(false, args), bindings: { A: read(false), B: read(args[2]), C: out(args[3]) } }));
const biasFamily = kernelFamily((...args: Args) =>
  defineKernel({ ...decl(true, args), bindings: { A: read(false), B: read(args[2]), BIAS: read(false), C: out(args[3]) } }),
);
const args = (v: MatmulVariant, b: WideBlock, lanes: number, wgX: number, wgY: number): Args => [
  v.transA,
  v.transB,
  v.vecB,
  v.vecC,
  v.activation,
  wgX,
  wgY,
  b.rows,
  b.cols,
  lanes,
];

/** The row-sharing kernel of a variant without bias, for a subgroup size fixed at `lanes` (4, 8 or 16). */
export function matmulSgRowsKernel(v: MatmulVariant, block: WideBlock, lanes: number, wgX: number, wgY: number) {
  return plainFamily(...args(v, block, lanes, wgX, wgY));
}

/** The row-sharing kernel of a variant with a BIAS binding. */
export function matmulSgRowsBiasKernel(v: MatmulVariant, block: WideBlock, lanes: number, wgX: number, wgY: number) {
  return biasFamily(...args(v, block, lanes, wgX, wgY));
}
