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
import { EPILOGUE_WGSL, MATH_WGSL } from './elementwise.js';

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

export function matmulVariantKey(v: MatmulVariant, wgX: number, wgY: number): string {
  return `matmul:${+v.transA}${+v.transB}${+v.vecA}${+v.vecB}${+v.vecC}${+v.bias}:${v.activation}:${wgX}x${wgY}`;
}

const Q = [0, 1, 2, 3] as const;
const LANE = ['x', 'y', 'z', 'w'] as const;

/**
 * Uniforms: m, k, n, aBatchStride, bBatchStride, yOff (row-block offset of this dispatch),
 * zOff (batch offset of this dispatch), alpha (f32).
 */
export function matmulShader(v: MatmulVariant, wgX: number = MATMUL_WG_X, wgY: number = MATMUL_WG_Y): string {
  const aT = v.vecA ? 'vec4<f32>' : 'f32';
  const bT = v.vecB ? 'vec4<f32>' : 'f32';
  const cT = v.vecC ? 'vec4<f32>' : 'f32';
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
    for (const i of Q) setup += `  let aRow${i} = aBase + min(row0 + ${i}u, P.m - 1u) * P.k;\n`;
    for (const i of Q) {
      loadA += v.vecA
        ? `    let ar${i} = A[(aRow${i} + l) >> 2u];\n`
        : `    let ar${i} = vec4<f32>(A[aRow${i} + l], A[aRow${i} + l + 1u], A[aRow${i} + l + 2u], A[aRow${i} + l + 3u]);\n`;
    }
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
    for (const j of Q) setup += `  let bRow${j} = bBase + min(col0 + ${j}u, P.n - 1u) * P.k;\n`;
    for (const j of Q) {
      loadB += v.vecB
        ? `    let bt${j} = B[(bRow${j} + l) >> 2u];\n`
        : `    let bt${j} = vec4<f32>(B[bRow${j} + l], B[bRow${j} + l + 1u], B[bRow${j} + l + 2u], B[bRow${j} + l + 3u]);\n`;
    }
    bq = (q) => `vec4<f32>(bt0.${LANE[q]}, bt1.${LANE[q]}, bt2.${LANE[q]}, bt3.${LANE[q]})`;
    tailB = `    let bt = vec4<f32>(${Q.map((j) => elB(`bRow${j} + l`)).join(', ')});\n`;
  }

  let fmas = '';
  for (const i of Q) {
    fmas += `    acc${i} = acc${i} + ${Q.map((q) => `${aij(i, q)} * ${bq(q)}`).join(' + ')};\n`;
  }
  let tail = tailB;
  for (const i of Q) tail += `    acc${i} = acc${i} + ${tailA(i)} * bt;\n`;

  const act = EPILOGUE_WGSL[v.activation];
  const biasDecl = v.bias ? '@group(0) @binding(3) var<storage, read> BIAS: array<f32>;\n' : '';
  const outBinding = v.bias ? 4 : 3;
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

  return `
${v.activation === 'none' ? '' : MATH_WGSL}
struct Params { m: u32, k: u32, n: u32, aBatchStride: u32, bBatchStride: u32, yOff: u32, zOff: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> A: array<${aT}>;
@group(0) @binding(2) var<storage, read> B: array<${bT}>;
${biasDecl}@group(0) @binding(${outBinding}) var<storage, read_write> C: array<${cT}>;

fn act(v: f32, p: f32) -> f32 { ${v.activation === 'none' ? '' : 'if (is_nan(v)) { return v; } '}return ${act}; }
fn epi(v: vec4<f32>, p: f32) -> vec4<f32> {
  return vec4<f32>(act(v.x, p), act(v.y, p), act(v.z, p), act(v.w, p));
}

@compute @workgroup_size(${wgX}, ${wgY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col0 = (wid.x * ${wgX}u + lid.x) * 4u;
  let row0 = ((wid.y + P.yOff) * ${wgY}u + lid.y) * 4u;
  if (row0 >= P.m || col0 >= P.n) { return; }
  let batch = wid.z + P.zOff;
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
${epilogue}}
`;
}
