/**
 * Batched matmul, register-blocked with wider blocks than matmul.ts: each invocation computes an
 * R×C block of C (R rows, C = 4·CV columns) in R·CV vec4<f32> accumulators, without workgroup
 * memory. More outputs per invocation means more multiply-adds per load: a 4×4 block does 16 vec4
 * FMAs per 8 vec4 loads of a k-step of 4, an 8×8 block 64 per 16.
 *
 * The 16×4 block is the tile for A read transposed (dW = dYᵀ·X): A stored [k, m] is read along m, so
 * one k step of 16 rows is 4 consecutive vec4 loads, a whole 64-byte line, where the 4×4 block uses
 * 16 bytes of each line it touches.
 *
 * Loads: an operand whose contiguous axis (and batch stride) is a multiple of 4 is bound as
 * array<vec4<f32>> (the same rule as matmul.ts); otherwise 4 scalars are gathered into a vec4.
 * Edges: rows/columns past m/n are read at a clamped valid index (vec4 loads at the last whole
 * vec4) and their results are discarded; k % 4 leftovers run in a scalar tail loop.
 */

import type { EpilogueActivation } from './kernel-types.js';
import { epilogueHelpers, MATMUL_UNIFORMS, rowMajorOperand, type MatmulVariant } from './matmul.js';
import { defineKernel, kernelFamily } from './program.js';

const LANE = ['x', 'y', 'z', 'w'] as const;
const Q = [0, 1, 2, 3] as const;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Block geometry: rows and columns of C per invocation (rows a multiple of 4, columns of 4). */
export interface WideBlock {
  rows: number;
  cols: number;
}

/**
 * B's part of a wide block (C = 4·CV columns): setup lines, the loads of a k step of 4 from k = l
 * (b${q}_${j}: the vec4 over columns 4j..4j+3 at k = l + q), and the tail's loads at k = l
 * (bt${j}). Shared with matmul-sgrows.ts, which loads B the same way.
 */
export function wideOperandB(v: MatmulVariant, CV: number): { setup: string; load: string; bv: (q: number, j: number) => string; tailB: string } {
  const col = (c: number) => `(col0 + ${c}u)`;
  const elB = (e: string) => (v.vecB ? `B[(${e}) >> 2u][(${e}) & 3u]` : `B[${e}]`);
  let setup = '';
  let load = '';
  let bv: (q: number, j: number) => string;
  let tailB = '';
  if (!v.transB) {
    if (v.vecB) for (const j of range(CV)) setup += `  let bg${j} = min(col0 + ${4 * j}u, P.n - 4u);\n`;
    else for (const c of range(4 * CV)) setup += `  let bc${c} = min(${col(c)}, P.n - 1u);\n`;
    for (const q of Q) {
      const base = `bBase + (l + ${q}u) * P.n`;
      for (const j of range(CV)) {
        load += v.vecB
          ? `    let b${q}_${j} = B[(${base} + bg${j}) >> 2u];\n`
          : `    let b${q}_${j} = vec4<f32>(${Q.map((c) => `B[${base} + bc${4 * j + c}]`).join(', ')});\n`;
      }
    }
    bv = (q, j) => `b${q}_${j}`;
    for (const j of range(CV)) {
      tailB += v.vecB
        ? `    let bt${j} = B[(bBase + l * P.n + bg${j}) >> 2u];\n`
        : `    let bt${j} = vec4<f32>(${Q.map((c) => `B[bBase + l * P.n + bc${4 * j + c}]`).join(', ')});\n`;
    }
  } else {
    const cols = rowMajorOperand('B', v.vecB, 4 * CV, 'bRow', 'bt');
    setup += cols.setup;
    load += cols.load;
    for (const q of Q) {
      for (const j of range(CV)) load += `    let b${q}_${j} = vec4<f32>(${Q.map((c) => `bt${4 * j + c}.${LANE[q]}`).join(', ')});\n`;
    }
    bv = (q, j) => `b${q}_${j}`;
    for (const j of range(CV)) tailB += `    let bt${j} = vec4<f32>(${Q.map((c) => elB(`bRow${4 * j + c} + l`)).join(', ')});\n`;
  }

  return { setup, load, bv, tailB };
}

/**
 * Bias, activation and stores of an R×(4·CV) block in acc${i}_${j} at (row0, col0) of batch cBase;
 * rows and columns past m, n are not written (so it is safe for invocations past the edges too).
 */
export function wideEpilogue(v: MatmulVariant, R: number, CV: number): string {
  // Column c of this invocation's block.
  const col = (c: number) => `(col0 + ${c}u)`;
  let epilogue = '';
  for (const j of range(CV)) {
    if (v.bias) epilogue += `  let bias${j} = vec4<f32>(${Q.map((c) => `BIAS[min(${col(4 * j + c)}, P.n - 1u)]`).join(', ')});\n`;
  }
  for (const i of range(R)) {
    epilogue += `  if (row0 + ${i}u < P.m) {\n    let o${i} = cBase + (row0 + ${i}u) * P.n + col0;\n`;
    for (const j of range(CV)) {
      epilogue += `    let v${i}_${j} = epi(acc${i}_${j}${v.bias ? ` + bias${j}` : ''}, alpha);\n`;
      if (v.vecC) {
        epilogue += `    if (col0 + ${4 * j}u < P.n) { C[(o${i} + ${4 * j}u) >> 2u] = v${i}_${j}; }\n`;
      } else {
        for (const c of Q) epilogue += `    if (${col(4 * j + c)} < P.n) { C[o${i} + ${4 * j + c}u] = v${i}_${j}.${LANE[c]}; }\n`;
      }
    }
    epilogue += '  }\n';
  }

  return epilogue;
}

export function wideBody(v: MatmulVariant, b: WideBlock, wgY: number): string {
  const R = b.rows;
  const CV = b.cols / 4;
  const RG = R / 4;
  const elA = (e: string) => (v.vecA ? `A[(${e}) >> 2u][(${e}) & 3u]` : `A[${e}]`);
  let setup = '';
  let load = '';
  let a: (i: number, q: number) => string;
  let tailA: (i: number) => string;

  if (!v.transA) {
    const rows = rowMajorOperand('A', v.vecA, R, 'aRow', 'ar');
    setup += rows.setup;
    load += rows.load;
    a = (i, q) => `ar${i}.${LANE[q]}`;
    tailA = (i) => elA(`aRow${i} + l`);
  } else {
    // A stored [k, m]: row group g (4 rows) of k step q is one vec4 at (l + q)·m + row0 + 4g.
    if (v.vecA) for (const g of range(RG)) setup += `  let ag${g} = min(row0 + ${4 * g}u, P.m - 4u);\n`;
    else for (const i of range(R)) setup += `  let ai${i} = min(row0 + ${i}u, P.m - 1u);\n`;
    for (const q of Q) {
      const base = `aBase + (l + ${q}u) * P.m`;
      for (const g of range(RG)) {
        load += v.vecA
          ? `    let ac${q}_${g} = A[(${base} + ag${g}) >> 2u];\n`
          : `    let ac${q}_${g} = vec4<f32>(${Q.map((r) => `A[${base} + ai${4 * g + r}]`).join(', ')});\n`;
      }
    }
    a = (i, q) => `ac${q}_${Math.floor(i / 4)}.${LANE[i % 4]}`;
    tailA = (i) => (v.vecA ? elA(`aBase + l * P.m + ag${Math.floor(i / 4)} + ${i % 4}u`) : elA(`aBase + l * P.m + ai${i}`));
  }

  const { setup: setupB, load: loadB, bv, tailB } = wideOperandB(v, CV);
  setup += setupB;
  load += loadB;

  let decl = '';
  let fmas = '';
  let tail = tailB;
  for (const i of range(R)) {
    tail += `    let at${i} = ${tailA(i)};\n`;
    for (const j of range(CV)) {
      decl += `  var acc${i}_${j} = vec4<f32>(0.0);\n`;
      fmas += `    acc${i}_${j} = acc${i}_${j} + ${Q.map((q) => `${a(i, q)} * ${bv(q, j)}`).join(' + ')};\n`;
      tail += `    acc${i}_${j} = acc${i}_${j} + at${i} * bt${j};\n`;
    }
  }

  const epilogue = wideEpilogue(v, R, CV);

  return `  let col0 = gid.x * ${4 * CV}u;
  let row0 = (gid.y + P.yOff * ${wgY}u) * ${R}u;
  if (row0 >= P.m || col0 >= P.n) { return; }
  let batch = gid.z + P.zOff;
  let aBase = batch * P.aBatchStride;
  let bBase = batch * P.bBatchStride;
  let cBase = batch * P.m * P.n;
  let alpha = P.alpha;
${setup}${decl}  let k4 = P.k & ~3u;
  for (var l = 0u; l < k4; l = l + 4u) {
${load}${fmas}  }
  for (var l = k4; l < P.k; l = l + 1u) {
${tail}  }
${epilogue}`;
}

const F32 = 'f32';
const VEC4 = 'vec4<f32>';
const read = (vec: boolean) => ({ type: vec ? VEC4 : F32, access: 'read' }) as const;
const name = (v: MatmulVariant, b: WideBlock) =>
  `matmul-wide${b.rows}x${b.cols}:${+v.transA}${+v.transB}${+v.vecA}${+v.vecB}${+v.vecC}${+v.bias}:${v.activation}`;

type Args = [boolean, boolean, boolean, boolean, boolean, EpilogueActivation, number, number, number, number];
const variant = (bias: boolean, [transA, transB, vecA, vecB, vecC, activation]: Args): MatmulVariant => ({ transA, transB, vecA, vecB, vecC, bias, activation });

const plainFamily = kernelFamily((...args: Args) => {
  const v = variant(false, args);
  const [, , , , , , wgX, wgY, rows, cols] = args;
  const block: WideBlock = { rows, cols };
  return defineKernel({
    name: name(v, block),
    bindings: { A: read(v.vecA), B: read(v.vecB), C: { type: v.vecC ? VEC4 : F32, access: 'read_write' } },
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: [wgX, wgY, 1],
    helpers: () => epilogueHelpers(v.activation),
    body: () => wideBody(v, block, wgY),
  });
});

const biasFamily = kernelFamily((...args: Args) => {
  const v = variant(true, args);
  const [, , , , , , wgX, wgY, rows, cols] = args;
  const block: WideBlock = { rows, cols };
  return defineKernel({
    name: name(v, block),
    bindings: { A: read(v.vecA), B: read(v.vecB), BIAS: read(false), C: { type: v.vecC ? VEC4 : F32, access: 'read_write' } },
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: [wgX, wgY, 1],
    helpers: () => epilogueHelpers(v.activation),
    body: () => wideBody(v, block, wgY),
  });
});

const args = (v: MatmulVariant, b: WideBlock, wgX: number, wgY: number): Args => [v.transA, v.transB, v.vecA, v.vecB, v.vecC, v.activation, wgX, wgY, b.rows, b.cols];

/** The wide-block kernel of a variant without bias. */
export function matmulWideKernel(v: MatmulVariant, block: WideBlock, wgX: number, wgY: number) {
  return plainFamily(...args(v, block, wgX, wgY));
}

/** The wide-block kernel of a variant with a BIAS binding. */
export function matmulWideBiasKernel(v: MatmulVariant, block: WideBlock, wgX: number, wgY: number) {
  return biasFamily(...args(v, block, wgX, wgY));
}
