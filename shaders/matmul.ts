/**
 * Batched matmul, register-blocked: each invocation computes a 4x4 block of C held in four
 * vec4<f32> accumulators (software drivers run dynamically indexed private arrays 3-5x slower),
 * without workgroup memory. The k loop is unrolled by 4: per step it loads a 4x4 block of A and of
 * B and does 16 vec4 multiply-adds. transA/transB read the operands in place.
 *
 * Edges: rows/columns past m/n are read at a clamped (valid) index and their results discarded, so
 * the main loop has no branches; k % 4 leftovers run in a scalar tail loop.
 *
 * Vector loads: when the operand's contiguous axis and its batch stride are multiples of 4, the
 * operand is bound as array<vec4<f32>> and 4 consecutive elements come in one load.
 */

import type { EpilogueActivation } from './kernel-types.js';
import { MATH_WGSL, UNARY_WGSL } from './elementwise.js';
import { defineKernel, kernelFamily } from './program.js';

/**
 * Workgroup shape in invocations; each invocation covers a 4x4 block, so 8x8 covers 32x32 of C.
 * 64 invocations fill two 32-wide hardware waves. Software drivers (lavapipe, SwiftShader) run a
 * workgroup as a loop over SIMD-width batches on one CPU thread; there smaller workgroups (4x4)
 * balance better across threads and measured 10-25% faster at 1024^2 on lavapipe.
 */
export const MATMUL_WG_X = 8;
export const MATMUL_WG_Y = 8;
export const MATMUL_WG_SOFTWARE = 4;
/** Rows / columns of C per invocation. */
export const MATMUL_BLOCK = 4;

export interface MatmulVariant {
  transA: boolean;
  transB: boolean;
  /** A bound as vec4: along k when !transA (k % 4 == 0), along m when transA (m % 4 == 0). */
  vecA: boolean;
  /** B bound as vec4: along n when !transB (n % 4 == 0), along k when transB (k % 4 == 0). */
  vecB: boolean;
  /** C bound as vec4 (n % 4 == 0). */
  vecC: boolean;
  bias: boolean;
  activation: EpilogueActivation;
}

const Q = [0, 1, 2, 3] as const;
const LANE = ['x', 'y', 'z', 'w'] as const;

/**
 * yOff: row-block offset of this dispatch, zOff: batch offset of this dispatch (a product needing
 * more than the device's workgroups per dimension is split into several dispatches); alpha is
 * leakyRelu's slope.
 */
export const MATMUL_UNIFORMS = { m: 'u32', k: 'u32', n: 'u32', aBatchStride: 'u32', bBatchStride: 'u32', yOff: 'u32', zOff: 'u32', alpha: 'f32' } as const;

/** The activation of a scalar `x` with parameter `p`: the unary op's own expression (one table). */
function activationWgsl(a: EpilogueActivation): string {
  return a === 'none' ? 'x' : UNARY_WGSL[a];
}

/**
 * Setup and k-step load lines of `count` rows of an operand stored row-major along k (A untransposed,
 * or B transposed, whose columns of C are rows of storage): row r starts at `${rowVar}r` (clamped to
 * the last valid row, so the loads never branch) and one k step of 4 loads `${loadVar}r`, a vec4 over
 * k = l..l+3, in one vec4 load when the operand is bound as vec4. Shared by matmul.ts and
 * matmul-wide.ts (the same lines for any block height).
 */
export function rowMajorOperand(op: 'A' | 'B', vec: boolean, count: number, rowVar: string, loadVar: string): { setup: string; load: string } {
  const [base, first, bound] = op === 'A' ? ['aBase', 'row0', 'P.m'] : ['bBase', 'col0', 'P.n'];
  let setup = '';
  let load = '';
  for (let r = 0; r < count; r++) setup += `  let ${rowVar}${r} = ${base} + min(${first} + ${r}u, ${bound} - 1u) * P.k;\n`;
  for (let r = 0; r < count; r++) {
    const row = `${rowVar}${r}`;
    load += vec
      ? `    let ${loadVar}${r} = ${op}[(${row} + l) >> 2u];\n`
      : `    let ${loadVar}${r} = vec4<f32>(${op}[${row} + l], ${op}[${row} + l + 1u], ${op}[${row} + l + 2u], ${op}[${row} + l + 3u]);\n`;
  }
  return { setup, load };
}

/**
 * Bias, activation and stores of a 4x4 block of C held in acc0..acc3 at (row0, col0) of batch cBase
 * (row0 < m and col0 < n; rows and columns past m, n are not written).
 */
export function blockEpilogue(v: MatmulVariant): string {
  let epilogue = '';
  if (v.bias) {
    epilogue += `  let bias = vec4<f32>(${Q.map((j) => `BIAS[min(col0 + ${j}u, P.n - 1u)]`).join(', ')});\n`;
  }
  for (const i of Q) {
    epilogue += `  if (row0 + ${i}u < P.m) {\n`;
    epilogue += `    let v${i} = epi(acc${i}${v.bias ? ' + bias' : ''}, alpha);\n`;
    epilogue += `    let o${i} = cBase + (row0 + ${i}u) * P.n + col0;\n`;
    if (v.vecC) {
      epilogue += `    C[o${i} >> 2u] = v${i};\n`;
    } else {
      for (const j of Q) {
        epilogue += `    if (col0 + ${j}u < P.n) { C[o${i} + ${j}u] = v${i}.${LANE[j]}; }\n`;
      }
    }
    epilogue += '  }\n';
  }
  return epilogue;
}

/** Statements of `main` for a variant (the bindings are A, B, optional BIAS, C). */
function matmulBody(v: MatmulVariant, wgY: number): string {
  // Scalar element at flat index e of an operand bound as f32 or vec4<f32>.
  const elA = (e: string) => (v.vecA ? `A[(${e}) >> 2u][(${e}) & 3u]` : `A[${e}]`);
  const elB = (e: string) => (v.vecB ? `B[(${e}) >> 2u][(${e}) & 3u]` : `B[${e}]`);

  let setup = '';
  let loadA = '';
  let loadB = '';
  // aij(i, q): scalar expression of A[row i of the block, k = l + q]; bq(q): vec4 over the block's columns.
  let aij: (i: number, q: number) => string;
  let bq: (q: number) => string;
  let tailA: (i: number) => string;
  let tailB: string;

  if (!v.transA) {
    // A stored [m, k]: row i of the block starts at aRow_i.
    const rows = rowMajorOperand('A', v.vecA, 4, 'aRow', 'ar');
    setup += rows.setup;
    loadA += rows.load;
    aij = (i, q) => `ar${i}.${LANE[q]}`;
    tailA = (i) => elA(`aRow${i} + l`);
  } else {
    // A stored [k, m]: element (r, l) at aBase + l * m + r; the block's 4 rows are contiguous.
    if (!v.vecA) for (const i of Q) setup += `  let ar${i} = min(row0 + ${i}u, P.m - 1u);\n`;
    for (const q of Q) {
      const base = `aBase + (l + ${q}u) * P.m`;
      loadA += v.vecA
        ? `    let ac${q} = A[(${base} + row0) >> 2u];\n`
        : `    let ac${q} = vec4<f32>(A[${base} + ar0], A[${base} + ar1], A[${base} + ar2], A[${base} + ar3]);\n`;
    }
    aij = (i, q) => `ac${q}.${LANE[i]}`;
    tailA = (i) => (v.vecA ? elA(`aBase + l * P.m + row0 + ${i}u`) : elA(`aBase + l * P.m + ar${i}`));
  }

  if (!v.transB) {
    // B stored [k, n]: the block's 4 columns of row l are contiguous.
    if (!v.vecB) for (const j of Q) setup += `  let bc${j} = min(col0 + ${j}u, P.n - 1u);\n`;
    for (const q of Q) {
      const base = `bBase + (l + ${q}u) * P.n`;
      loadB += v.vecB
        ? `    let b${q} = B[(${base} + col0) >> 2u];\n`
        : `    let b${q} = vec4<f32>(B[${base} + bc0], B[${base} + bc1], B[${base} + bc2], B[${base} + bc3]);\n`;
    }
    bq = (q) => `b${q}`;
    tailB = v.vecB
      ? '    let bt = B[(bBase + l * P.n + col0) >> 2u];\n'
      : '    let bt = vec4<f32>(B[bBase + l * P.n + bc0], B[bBase + l * P.n + bc1], B[bBase + l * P.n + bc2], B[bBase + l * P.n + bc3]);\n';
  } else {
    // B stored [n, k]: column j of the block is row c_j of storage, contiguous along k.
    const cols = rowMajorOperand('B', v.vecB, 4, 'bRow', 'bt');
    setup += cols.setup;
    loadB += cols.load;
    bq = (q) => `vec4<f32>(bt0.${LANE[q]}, bt1.${LANE[q]}, bt2.${LANE[q]}, bt3.${LANE[q]})`;
    tailB = `    let bt = vec4<f32>(${Q.map((j) => elB(`bRow${j} + l`)).join(', ')});\n`;
  }

  let fmas = '';
  for (const i of Q) {
    fmas += `    acc${i} = acc${i} + ${Q.map((q) => `${aij(i, q)} * ${bq(q)}`).join(' + ')};\n`;
  }
  let tail = tailB;
  for (const i of Q) tail += `    acc${i} = acc${i} + ${tailA(i)} * bt;\n`;

  const epilogue = blockEpilogue(v);

  // gid.x = wid.x * wgX + local x, gid.y = wid.y * wgY + local y, gid.z = wid.z (workgroup depth 1).
  return `  let col0 = gid.x * 4u;
  let row0 = (gid.y + P.yOff * ${wgY}u) * 4u;
  if (row0 >= P.m || col0 >= P.n) { return; }
  let batch = gid.z + P.zOff;
  let aBase = batch * P.aBatchStride;
  let bBase = batch * P.bBatchStride;
  let cBase = batch * P.m * P.n;
  let alpha = P.alpha;
${setup}  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let k4 = P.k & ~3u;
  for (var l = 0u; l < k4; l = l + 4u) {
${loadA}${loadB}${fmas}  }
  for (var l = k4; l < P.k; l = l + 1u) {
${tail}  }
${epilogue}`;
}

/** act(x, p) on one element and epi on four; a NaN input passes unchanged, as the unary kernels. */
export function epilogueHelpers(a: EpilogueActivation): string {
  return `${a === 'none' ? '' : MATH_WGSL}
fn act(x: f32, p: f32) -> f32 { ${a === 'none' ? '' : 'if (is_nan(x)) { return x; } '}return ${activationWgsl(a)}; }
fn epi(v: vec4<f32>, p: f32) -> vec4<f32> {
  return vec4<f32>(act(v.x, p), act(v.y, p), act(v.z, p), act(v.w, p));
}`;
}

const F32 = 'f32';
const VEC4 = 'vec4<f32>';
const read = (vec: boolean) => ({ type: vec ? VEC4 : F32, access: 'read' }) as const;

function variantName(v: MatmulVariant): string {
  return `matmul:${+v.transA}${+v.transB}${+v.vecA}${+v.vecB}${+v.vecC}${+v.bias}:${v.activation}`;
}

const plainFamily = kernelFamily(
  (transA: boolean, transB: boolean, vecA: boolean, vecB: boolean, vecC: boolean, activation: EpilogueActivation, wgX: number, wgY: number) => {
    const v: MatmulVariant = { transA, transB, vecA, vecB, vecC, bias: false, activation };
    return defineKernel({
      name: variantName(v),
      bindings: { A: read(vecA), B: read(vecB), C: { type: vecC ? VEC4 : F32, access: 'read_write' } },
      uniforms: MATMUL_UNIFORMS,
      workgroupSize: [wgX, wgY, 1],
      helpers: () => epilogueHelpers(activation),
      body: () => matmulBody(v, wgY),
    });
  },
);

const biasFamily = kernelFamily(
  (transA: boolean, transB: boolean, vecA: boolean, vecB: boolean, vecC: boolean, activation: EpilogueActivation, wgX: number, wgY: number) => {
    const v: MatmulVariant = { transA, transB, vecA, vecB, vecC, bias: true, activation };
    return defineKernel({
      name: variantName(v),
      bindings: { A: read(vecA), B: read(vecB), BIAS: read(false), C: { type: vecC ? VEC4 : F32, access: 'read_write' } },
      uniforms: MATMUL_UNIFORMS,
      workgroupSize: [wgX, wgY, 1],
      helpers: () => epilogueHelpers(activation),
      body: () => matmulBody(v, wgY),
    });
  },
);

/** The kernel of a variant without bias (v.bias must be false); the key includes the workgroup shape. */
export function matmulKernel(v: MatmulVariant, wgX: number = MATMUL_WG_X, wgY: number = MATMUL_WG_Y) {
  if (v.bias) throw new Error('webgpu: matmulKernel: a variant with bias takes matmulBiasKernel');
  return plainFamily(v.transA, v.transB, v.vecA, v.vecB, v.vecC, v.activation, wgX, wgY);
}

/** The kernel of a variant with a bias binding (v.bias must be true). */
export function matmulBiasKernel(v: MatmulVariant, wgX: number = MATMUL_WG_X, wgY: number = MATMUL_WG_Y) {
  if (!v.bias) throw new Error('webgpu: matmulBiasKernel: a variant without bias takes matmulKernel');
  return biasFamily(v.transA, v.transB, v.vecA, v.vecB, v.vecC, v.activation, wgX, wgY);
}
