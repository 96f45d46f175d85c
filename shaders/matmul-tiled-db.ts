/**
 * Batched matmul, workgroup-memory tiles with vec4 global loads and double buffering: the design of
 * matmul-tiled.ts (a wgX × wgY workgroup computes a (4·wgY) × (4·wgX) tile of C, each invocation a
 * 4×4 block; the k axis is walked in slabs of TK staged in var<workgroup>), with two changes:
 *  - an operand bound as array<vec4<f32>> (its contiguous axis and batch stride multiples of 4, as
 *    in matmul.ts) is staged with one vec4 load per 4 elements; the staged slabs are vec4 arrays
 *    (k-major, 4 rows or columns per vec4), so the inner loop reads one vec4 of A and one of B per
 *    k step instead of 8 scalars;
 *  - two slabs per operand: while the workgroup computes from slab s it stages slab s + 1 into the
 *    other buffer, one barrier per slab instead of two (the barrier that ends step s both publishes
 *    slab s + 1 and frees slab s, which step s + 1 overwrites with slab s + 2).
 *
 * The 8x8-block form (design 'tiledDb8x8', tiledDb8Body below) is the same staging with 8-deep slabs
 * and an (8·wgY) × (8·wgX) tile, up to 128x128: each invocation keeps 64 sums in 16 vec4s and reads
 * four vec4s of workgroup memory per k step. On an H200 it ran 31-46 TFLOP/s at 4096³ against
 * 22-36 for the 4x4 block (2026-12-04, bench/RESULTS.md).
 *
 * Edges as in matmul-tiled.ts: elements past m, n or k are staged as 0 (a vec4 load is whole or
 * absent: with k % 4 == 0, m % 4 == 0 or n % 4 == 0, a vec4 starting inside the range ends inside
 * it); kept outputs are the plain sum over k. Every invocation reaches every barrier: no early
 * return, uniform loop bounds.
 */

import type { EpilogueActivation } from './kernel-types.js';
import { blockEpilogue, epilogueHelpers, MATMUL_UNIFORMS, type MatmulVariant } from './matmul.js';
import { tileOrigin, tileSetup } from './matmul-tiled.js';
import { defineKernel, kernelFamily } from './program.js';

/** k values per staged slab. */
export const TILED_DB_TK = 16;
/**
 * k values per slab of the 8x8-block form: two slabs of a 128x128 tile then fill 16 KiB, the
 * workgroup memory every WebGPU device has.
 */
export const TILED_DB8_TK = 8;

/** Rows (and columns) of C per invocation: 4 (the 'tiledDb' design) or 8 ('tiledDb8x8'). */
export type TiledDbBlock = 4 | 8;

const slabDepth = (block: TiledDbBlock) => (block === 8 ? TILED_DB8_TK : TILED_DB_TK);

/** Workgroup-memory bytes of a double-buffered tile with this workgroup shape (2 × (A + B) slabs, f32). */
export function tiledDbWorkgroupBytes(wgX: number, wgY: number, block: TiledDbBlock = 4): number {
  return 2 * 4 * slabDepth(block) * (block * wgX + block * wgY);
}

/** A slab's geometry: vec4s per k row of A's slab (rows / 4) and of B's, invocations, depth. */
interface Slab {
  TM4: number;
  TN4: number;
  NI: number;
  TK: number;
}

const slabOf = (wgX: number, wgY: number, block: TiledDbBlock): Slab => ({ TM4: (block * wgY) / 4, TN4: (block * wgX) / 4, NI: wgX * wgY, TK: slabDepth(block) });

/**
 * WGSL for the number of TK-deep slabs covering k: ceil(k / TK). (Any count past it adds only zeros:
 * every element at or past k is staged as 0.)
 */
function slabCount(TK: number): string {
  // Stryker disable next-line ArithmeticOperator: equivalent; TK + 1 (an extra slab when k % TK is 0 or TK - 1) stages only elements past k, staged as 0, so it adds 0 · 0 to every sum
  return `(P.k + ${TK - 1}u) / ${TK}u`;
}

/** Statements staging the slab at k0 = `k0` into buffer `buf` (0 or 1) of As and Bs. */
function stage(v: MatmulVariant, { TM4, TN4, NI, TK }: Slab, k0: string, buf: string): string {
  const aOff = `${buf} * ${TK * TM4}u`;
  const bOff = `${buf} * ${TK * TN4}u`;
  let a: string;
  if (!v.transA && v.vecA) {
    // A [m, k], k % 4 == 0: a vec4 along k spreads over 4 k rows of the slab, component r % 4.
    a = `    for (var e = lid; e < ${(TK / 4) * 4 * TM4}u; e = e + ${NI}u) {
      let kq = e % ${TK / 4}u; let r = e / ${TK / 4}u;
      let gr = tileRow + r; let gk = ${k0} + 4u * kq;
      var x = vec4<f32>(0.0);
      if (gr < P.m && gk < P.k) { x = A[(aBase + gr * P.k + gk) >> 2u]; }
      let o = ${aOff} + 4u * kq * ${TM4}u + (r >> 2u);
      As[o][r & 3u] = x.x; As[o + ${TM4}u][r & 3u] = x.y; As[o + ${2 * TM4}u][r & 3u] = x.z; As[o + ${3 * TM4}u][r & 3u] = x.w;
    }\n`;
  } else if (!v.transA) {
    a = `    for (var e = lid; e < ${TK * 4 * TM4}u; e = e + ${NI}u) {
      let kk = e % ${TK}u; let r = e / ${TK}u;
      let gr = tileRow + r; let gk = ${k0} + kk;
      var x = 0.0;
      if (gr < P.m && gk < P.k) { x = A[aBase + gr * P.k + gk]; }
      As[${aOff} + kk * ${TM4}u + (r >> 2u)][r & 3u] = x;
    }\n`;
  } else if (v.vecA) {
    // A [k, m], m % 4 == 0: a vec4 along m is 4 rows of one k row of the slab.
    a = `    for (var e = lid; e < ${TK * TM4}u; e = e + ${NI}u) {
      let r4 = e % ${TM4}u; let kk = e / ${TM4}u;
      let gr = tileRow + 4u * r4; let gk = ${k0} + kk;
      var x = vec4<f32>(0.0);
      if (gr < P.m && gk < P.k) { x = A[(aBase + gk * P.m + gr) >> 2u]; }
      As[${aOff} + kk * ${TM4}u + r4] = x;
    }\n`;
  } else {
    a = `    for (var e = lid; e < ${TK * 4 * TM4}u; e = e + ${NI}u) {
      let r = e % ${4 * TM4}u; let kk = e / ${4 * TM4}u;
      let gr = tileRow + r; let gk = ${k0} + kk;
      var x = 0.0;
      if (gr < P.m && gk < P.k) { x = A[aBase + gk * P.m + gr]; }
      As[${aOff} + kk * ${TM4}u + (r >> 2u)][r & 3u] = x;
    }\n`;
  }
  let b: string;
  if (!v.transB && v.vecB) {
    b = `    for (var e = lid; e < ${TK * TN4}u; e = e + ${NI}u) {
      let c4 = e % ${TN4}u; let kk = e / ${TN4}u;
      let gc = tileCol + 4u * c4; let gk = ${k0} + kk;
      var x = vec4<f32>(0.0);
      if (gc < P.n && gk < P.k) { x = B[(bBase + gk * P.n + gc) >> 2u]; }
      Bs[${bOff} + kk * ${TN4}u + c4] = x;
    }\n`;
  } else if (!v.transB) {
    b = `    for (var e = lid; e < ${TK * 4 * TN4}u; e = e + ${NI}u) {
      let c = e % ${4 * TN4}u; let kk = e / ${4 * TN4}u;
      let gc = tileCol + c; let gk = ${k0} + kk;
      var x = 0.0;
      if (gc < P.n && gk < P.k) { x = B[bBase + gk * P.n + gc]; }
      Bs[${bOff} + kk * ${TN4}u + (c >> 2u)][c & 3u] = x;
    }\n`;
  } else if (v.vecB) {
    b = `    for (var e = lid; e < ${(TK / 4) * 4 * TN4}u; e = e + ${NI}u) {
      let kq = e % ${TK / 4}u; let c = e / ${TK / 4}u;
      let gc = tileCol + c; let gk = ${k0} + 4u * kq;
      var x = vec4<f32>(0.0);
      if (gc < P.n && gk < P.k) { x = B[(bBase + gc * P.k + gk) >> 2u]; }
      let o = ${bOff} + 4u * kq * ${TN4}u + (c >> 2u);
      Bs[o][c & 3u] = x.x; Bs[o + ${TN4}u][c & 3u] = x.y; Bs[o + ${2 * TN4}u][c & 3u] = x.z; Bs[o + ${3 * TN4}u][c & 3u] = x.w;
    }\n`;
  } else {
    b = `    for (var e = lid; e < ${TK * 4 * TN4}u; e = e + ${NI}u) {
      let kk = e % ${TK}u; let c = e / ${TK}u;
      let gc = tileCol + c; let gk = ${k0} + kk;
      var x = 0.0;
      if (gc < P.n && gk < P.k) { x = B[bBase + gc * P.k + gk]; }
      Bs[${bOff} + kk * ${TN4}u + (c >> 2u)][c & 3u] = x;
    }\n`;
  }
  return a + b;
}

/**
 * The double-buffered walk over k: slab 0 staged, then per slab the next staged into the other
 * buffer while `step` (one k step: As[ab + kk·TM4], Bs[bb + kk·TN4] onwards) runs TK times on the
 * current one; one barrier per slab.
 */
function slabLoop(v: MatmulVariant, slab: Slab, step: string): string {
  const { TM4, TN4, TK } = slab;
  return `  let slabs = ${slabCount(TK)};
  {
${stage(v, slab, '0u', '0u')}  }
  workgroupBarrier();
  for (var s = 0u; s < slabs; s = s + 1u) {
    let cur = s & 1u;
    if (s + 1u < slabs) {
${stage(v, slab, `(s + 1u) * ${TK}u`, '(1u - cur)')}    }
    let ab = cur * ${TK * TM4}u + ly;
    let bb = cur * ${TK * TN4}u + lx;
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
${step}    }
    workgroupBarrier();
  }
`;
}

export function tiledDbBody(v: MatmulVariant, wgX: number, wgY: number): string {
  const slab = slabOf(wgX, wgY, 4);
  const step = `      let a = As[ab + kk * ${wgY}u];
      let b = Bs[bb + kk * ${wgX}u];
      acc0 = acc0 + a.x * b;
      acc1 = acc1 + a.y * b;
      acc2 = acc2 + a.z * b;
      acc3 = acc3 + a.w * b;
`;
  return `${tileSetup(wgX, wgY)}
${slabLoop(v, slab, step)}  if (row0 < P.m && col0 < P.n) {
${blockEpilogue(v)}  }
`;
}

const G = [0, 1] as const;
const Q4 = [0, 1, 2, 3] as const;
const LANES = ['x', 'y', 'z', 'w'] as const;

/**
 * The 8x8-block form: invocation (lx, ly) computes rows ly·4 + {0..3} and TM/2 + ly·4 + {0..3} of
 * the workgroup's TM x TN tile, and columns lx·4 + {0..3} and TN/2 + lx·4 + {0..3}: two vec4s of
 * A's slab and two of B's per k step feed 64 multiply-adds (the 4x4 block: 16 per two). The split
 * halves keep each vec4 read of the slab at consecutive addresses across the invocations of a row.
 */
export function tiledDb8Body(v: MatmulVariant, wgX: number, wgY: number): string {
  const slab = slabOf(wgX, wgY, 8);
  const { TM4, TN4, TK } = slab;
  const TM = 4 * TM4;
  const TN = 4 * TN4;
  const acc = (g: number, i: number, h: number) => `acc${g}${i}${h}`;
  let decls = '';
  for (const g of G) for (const i of Q4) for (const h of G) decls += `  var ${acc(g, i, h)} = vec4<f32>(0.0);\n`;
  let fma = '';
  for (const g of G) for (const i of Q4) for (const h of G) fma += `      ${acc(g, i, h)} = ${acc(g, i, h)} + a${g}.${LANES[i]} * b${h};\n`;
  let epilogue = '';
  if (v.bias) {
    for (const h of G) epilogue += `  let bias${h} = vec4<f32>(${Q4.map((j) => `BIAS[min(col0 + ${h * (TN / 2) + j}u, P.n - 1u)]`).join(', ')});\n`;
  }
  for (const g of G) {
    for (const i of Q4) {
      epilogue += `  if (row0 + ${g * (TM / 2) + i}u < P.m) {\n    let o = cBase + (row0 + ${g * (TM / 2) + i}u) * P.n + col0;\n`;
      for (const h of G) {
        const col = `col0 + ${h * (TN / 2)}u`;
        epilogue += `    if (${col} < P.n) {\n      let r = epi(${acc(g, i, h)}${v.bias ? ` + bias${h}` : ''}, alpha);\n`;
        if (v.vecC) epilogue += `      C[(o + ${h * (TN / 2)}u) >> 2u] = r;\n`;
        else for (const j of Q4) epilogue += `      if (${col} + ${j}u < P.n) { C[o + ${h * (TN / 2) + j}u] = r.${LANES[j]}; }\n`;
        epilogue += '    }\n';
      }
      epilogue += '  }\n';
    }
  }
  const step = `      let a0 = As[ab + kk * ${TM4}u];
      let a1 = As[ab + kk * ${TM4}u + ${TM4 / 2}u];
      let b0 = Bs[bb + kk * ${TN4}u];
      let b1 = Bs[bb + kk * ${TN4}u + ${TN4 / 2}u];
${fma}`;
  return `${tileOrigin(wgX, wgY, TM, TN)}
${decls}${slabLoop(v, slab, step)}${epilogue}`;
}

const F32 = 'f32';
const VEC4 = 'vec4<f32>';
const read = (vec: boolean) => ({ type: vec ? VEC4 : F32, access: 'read' }) as const;
const out = (vecC: boolean) => ({ type: vecC ? VEC4 : F32, access: 'read_write' }) as const;

type Args = [boolean, boolean, boolean, boolean, boolean, EpilogueActivation, number, number, TiledDbBlock];

function decl(bias: boolean, [transA, transB, vecA, vecB, vecC, activation, wgX, wgY, block]: Args) {
  const v: MatmulVariant = { transA, transB, vecA, vecB, vecC, bias, activation };
  const { TM4, TN4, TK } = slabOf(wgX, wgY, block);
  const arrays = `var<workgroup> As: array<vec4<f32>, ${2 * TK * TM4}>;\nvar<workgroup> Bs: array<vec4<f32>, ${2 * TK * TN4}>;\n`;
  return {
    name: `matmul-tiled-db${block === 8 ? '8' : ''}:${+transA}${+transB}${+vecA}${+vecB}${+vecC}${+bias}:${activation}`,
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: [wgX, wgY, 1] as const,
    helpers: () => `${epilogueHelpers(activation)}\n${arrays}`,
    body: () => (block === 8 ? tiledDb8Body(v, wgX, wgY) : tiledDbBody(v, wgX, wgY)),
  };
}
const plainFamily = kernelFamily((...args: Args) => defineKernel({ ...decl(false, args), bindings: { A: read(args[2]), B: read(args[3]), C: out(args[4]) } }));
const biasFamily = kernelFamily((...args: Args) =>
  defineKernel({ ...decl(true, args), bindings: { A: read(args[2]), B: read(args[3]), BIAS: read(false), C: out(args[4]) } }),
);
const args = (v: MatmulVariant, wgX: number, wgY: number, block: TiledDbBlock): Args => [v.transA, v.transB, v.vecA, v.vecB, v.vecC, v.activation, wgX, wgY, block];

/** The double-buffered tile kernel of a variant without bias (a 4x4 or 8x8 block per invocation). */
export function matmulTiledDbKernel(v: MatmulVariant, wgX: number, wgY: number, block: TiledDbBlock = 4) {
  return plainFamily(...args(v, wgX, wgY, block));
}

/** The double-buffered tile kernel of a variant with a BIAS binding. */
export function matmulTiledDbBiasKernel(v: MatmulVariant, wgX: number, wgY: number, block: TiledDbBlock = 4) {
  return biasFamily(...args(v, wgX, wgY, block));
}
