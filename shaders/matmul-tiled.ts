/**
 * Batched matmul, workgroup-memory tiles: a design for hardware GPUs, an autotune candidate beside
 * the register-blocked kernel (matmul.ts). A workgroup of wgX × wgY invocations computes a
 * (4·wgY) × (4·wgX) tile of C, each invocation a 4×4 block in four vec4<f32> accumulators (the same
 * output geometry as the register-blocked kernel, so the host dispatches both alike). The k axis is
 * walked in slabs of TK: the workgroup stages the slab of A (TK × rows) and of B (TK × columns) in
 * var<workgroup>, each global element read once per workgroup instead of once per invocation row,
 * then every invocation reads its 4 rows and 4 columns of each k step from workgroup memory.
 *
 * Staging is coalesced for every access pattern: consecutive invocations read consecutive global
 * addresses whichever axis is contiguous in storage (k for A untransposed, m for A transposed: the
 * dW = dYᵀ·X product; n for B untransposed, k for B transposed). The workgroup-memory layout is the
 * same in all four cases (k-major), so the inner loop does not depend on transA/transB.
 *
 * Edges: elements past m, n or k are staged as 0; their outputs (rows/columns past m/n) are never
 * written, and a 0 at k >= K multiplies another staged 0, so no NaN/Inf leaks into a kept output and
 * every kept output is the plain sum over k (NaN and Inf propagate as in the other kernels).
 *
 * Every invocation reaches every barrier: there is no early return (the loop bound P.k is uniform).
 */

import type { EpilogueActivation } from './kernel-types.js';
import { epilogueHelpers, MATMUL_UNIFORMS } from './matmul.js';
import { defineKernel, kernelFamily } from './program.js';

/** k values per staged slab. */
export const TILED_TK = 16;

const Q = [0, 1, 2, 3] as const;
const LANE = ['x', 'y', 'z', 'w'] as const;

/** Workgroup-memory bytes of a tiled kernel with this workgroup shape (A and B slabs, f32). */
export function tiledWorkgroupBytes(wgX: number, wgY: number): number {
  return 4 * TILED_TK * (4 * wgX + 4 * wgY);
}

/**
 * Where invocation (lx, ly) of a wgX × wgY workgroup starts in a tileRows × tileCols tile of C
 * (row0, col0: its first 4 rows and columns), the batch's operand offsets and the epilogue's alpha.
 */
export function tileOrigin(wgX: number, wgY: number, tileRows: number, tileCols: number): string {
  return `  let lx = lid % ${wgX}u;
  let ly = lid / ${wgX}u;
  let tileRow = (wid.y + P.yOff) * ${tileRows}u;
  let tileCol = wid.x * ${tileCols}u;
  let row0 = tileRow + ly * 4u;
  let col0 = tileCol + lx * 4u;
  let batch = wid.z + P.zOff;
  let aBase = batch * P.aBatchStride;
  let bBase = batch * P.bBatchStride;
  let cBase = batch * P.m * P.n;
  let alpha = P.alpha;`;
}

/**
 * The tiled kernels' first lines (single and double-buffered): this invocation's 4x4 block of the
 * workgroup's (4·wgY)x(4·wgX) tile of C, the batch's operand offsets, and zeroed accumulators.
 */
export function tileSetup(wgX: number, wgY: number): string {
  return `${tileOrigin(wgX, wgY, 4 * wgY, 4 * wgX)}
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);`;
}

function tiledBody(transA: boolean, transB: boolean, vecC: boolean, bias: boolean, wgX: number, wgY: number, el: string): string {
  const TM = 4 * wgY;
  const TN = 4 * wgX;
  const TK = TILED_TK;
  const NI = wgX * wgY;
  // Staging: element e of the slab; the fastest-varying index follows the contiguous storage axis.
  const stageA = transA
    ? `    let r = e % ${TM}u; let kk = e / ${TM}u;
    let gr = tileRow + r; let gk = k0 + kk;
    var v = 0.0;
    if (gr < P.m && gk < P.k) { v = f32(A[aBase + gk * P.m + gr]); }
    As[kk * ${TM}u + r] = v;`
    : `    let kk = e % ${TK}u; let r = e / ${TK}u;
    let gr = tileRow + r; let gk = k0 + kk;
    var v = 0.0;
    if (gr < P.m && gk < P.k) { v = f32(A[aBase + gr * P.k + gk]); }
    As[kk * ${TM}u + r] = v;`;
  const stageB = transB
    ? `    let kk = e % ${TK}u; let c = e / ${TK}u;
    let gc = tileCol + c; let gk = k0 + kk;
    var v = 0.0;
    if (gc < P.n && gk < P.k) { v = f32(B[bBase + gc * P.k + gk]); }
    Bs[kk * ${TN}u + c] = v;`
    : `    let c = e % ${TN}u; let kk = e / ${TN}u;
    let gc = tileCol + c; let gk = k0 + kk;
    var v = 0.0;
    if (gc < P.n && gk < P.k) { v = f32(B[bBase + gk * P.n + gc]); }
    Bs[kk * ${TN}u + c] = v;`;

  let epilogue = '';
  if (bias) epilogue += `  let bias = vec4<f32>(${Q.map((j) => `f32(BIAS[min(col0 + ${j}u, P.n - 1u)])`).join(', ')});\n`;
  epilogue += '  if (col0 < P.n) {\n';
  for (const i of Q) {
    epilogue += `  if (row0 + ${i}u < P.m) {\n`;
    epilogue += `    let v${i} = epi(acc${i}${bias ? ' + bias' : ''}, alpha);\n`;
    epilogue += `    let o${i} = cBase + (row0 + ${i}u) * P.n + col0;\n`;
    if (vecC) {
      epilogue += `    C[o${i} >> 2u] = vec4<${el}>(v${i});\n`;
    } else {
      for (const j of Q) epilogue += `    if (col0 + ${j}u < P.n) { C[o${i} + ${j}u] = ${el}(v${i}.${LANE[j]}); }\n`;
    }
    epilogue += '  }\n';
  }
  epilogue += '  }\n';

  return `${tileSetup(wgX, wgY)}
  for (var k0 = 0u; k0 < P.k; k0 = k0 + ${TK}u) {
    for (var e = lid; e < ${TK * TM}u; e = e + ${NI}u) {
${stageA}
    }
    for (var e = lid; e < ${TK * TN}u; e = e + ${NI}u) {
${stageB}
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
      let ab = kk * ${TM}u + ly * 4u;
      let bb = kk * ${TN}u + lx * 4u;
      let a = vec4<f32>(As[ab], As[ab + 1u], As[ab + 2u], As[ab + 3u]);
      let b = vec4<f32>(Bs[bb], Bs[bb + 1u], Bs[bb + 2u], Bs[bb + 3u]);
      acc0 = acc0 + a.x * b;
      acc1 = acc1 + a.y * b;
      acc2 = acc2 + a.z * b;
      acc3 = acc3 + a.w * b;
    }
    workgroupBarrier();
  }
${epilogue}`;
}

/** Shared parts of a tiled declaration (everything but the bindings). */
function tiledDecl(transA: boolean, transB: boolean, vecC: boolean, bias: boolean, activation: EpilogueActivation, wgX: number, wgY: number, el: string) {
  const arrays = `var<workgroup> As: array<f32, ${TILED_TK * 4 * wgY}>;\nvar<workgroup> Bs: array<f32, ${TILED_TK * 4 * wgX}>;\n`;
  return {
    name: `matmul-tiled:${el}:${+transA}${+transB}${+vecC}${+bias}:${activation}`,
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: [wgX, wgY, 1] as const,
    helpers: () => `${epilogueHelpers(activation)}\n${arrays}`,
    body: () => tiledBody(transA, transB, vecC, bias, wgX, wgY, el),
  };
}

/** Storage element types a tiled kernel reads and writes (accumulation is always f32). */
export type TiledElement = 'f32';
const R = (el: TiledElement) => ({ type: el, access: 'read' }) as const;
const W = (el: TiledElement, vec: boolean) => ({ type: vec ? (`vec4<${el}>` as const) : el, access: 'read_write' }) as const;

const plainFamily = kernelFamily(
  (transA: boolean, transB: boolean, vecC: boolean, activation: EpilogueActivation, wgX: number, wgY: number, el: TiledElement) =>
    defineKernel({ ...tiledDecl(transA, transB, vecC, false, activation, wgX, wgY, el), bindings: { A: R(el), B: R(el), C: W(el, vecC) } }),
);
const biasFamily = kernelFamily(
  (transA: boolean, transB: boolean, vecC: boolean, activation: EpilogueActivation, wgX: number, wgY: number, el: TiledElement) =>
    defineKernel({ ...tiledDecl(transA, transB, vecC, true, activation, wgX, wgY, el), bindings: { A: R(el), B: R(el), BIAS: R(el), C: W(el, vecC) } }),
);

export interface TiledVariant {
  transA: boolean;
  transB: boolean;
  vecC: boolean;
  activation: EpilogueActivation;
}

/** The tiled kernel of a product without bias. */
export function matmulTiledKernel(v: TiledVariant, wgX: number, wgY: number, el: TiledElement = 'f32') {
  return plainFamily(v.transA, v.transB, v.vecC, v.activation, wgX, wgY, el);
}

/** The tiled kernel of a product with a bias binding. */
export function matmulTiledBiasKernel(v: TiledVariant, wgX: number, wgY: number, el: TiledElement = 'f32') {
  return biasFamily(v.transA, v.transB, v.vecC, v.activation, wgX, wgY, el);
}
