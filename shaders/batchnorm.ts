/**
 * Batch norm over x viewed as [n, c] (statistics per column j, over the n rows).
 *
 * Column reductions (statistics, and the two sums of the backward) are tiled: a workgroup of
 * BN_WG invocations covers `tc` adjacent columns and `BN_WG / tc` row lanes, and reduces one chunk
 * of rows. Neighbouring invocations read neighbouring addresses of a row (coalesced), each loops
 * over its chunk's rows with a stride of the row-lane count, and a tree reduction in workgroup
 * memory combines the row lanes. Each (column tile, row chunk) writes partial results; a second
 * kernel combines the chunks the same way (a workgroup per column tile, its row lanes striding over
 * the chunks, then a tree), so no invocation loops over more than a few chunks. No float atomics.
 *
 * Statistics are two-pass inside a chunk (the chunk's sum, then Σ(x − chunk mean)² over the same,
 * cache-hot rows), and the chunks are merged with Chan's formula:
 *   mean = Σ_k S_k / n,   M2 = Σ_k [ M2_k + n_k·(S_k/n_k − mean)² ],   variance = M2 / n,
 * which keeps float32 accurate when |mean| ≫ std (no E[x²] − mean² cancellation).
 *
 * Partial buffers hold 2·chunks·c floats: [0, chunks·c) the first quantity (chunk sums, or Σdy),
 * [chunks·c, 2·chunks·c) the second (M2_k, or Σdy·x̂), both indexed chunk·c + j.
 */

import { WG_1D } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

/** Invocations per workgroup of the column-reduction kernels. */
export const BN_WG = 256;

function columnReduceHead(tc: number): string {
  return `
const TC: u32 = ${tc}u;
const TR: u32 = ${BN_WG / tc}u;
var<workgroup> sh: array<f32, ${BN_WG}>;
var<workgroup> sh2: array<f32, ${BN_WG}>;`;
}

/** Tree reduction over the row lanes of `arrays` (sh, sh2); ends with a barrier. */
function treeOverRows(arrays: readonly string[]): string {
  const adds = arrays.map((a) => `${a}[lid] = ${a}[lid] + ${a}[lid + s * TC];`).join(' ');
  return `
  for (var s = TR / 2u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (r < s) { ${adds} }
  }
  workgroupBarrier();`;
}

const TILE_PRELUDE = `
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.colTiles * P.chunks) { return; }
  let tile = g % P.colTiles;
  let chunk = g / P.colTiles;
  let col = lid % TC;
  let r = lid / TC;
  let j = tile * TC + col;
  let ok = j < P.c;
  let r0 = chunk * P.chunkRows;
  let r1 = min(r0 + P.chunkRows, P.n);`;

/** The combine kernels: one workgroup per column tile; row lanes stride over the chunks. */
const COMBINE_PRELUDE = `
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.colTiles) { return; }
  let col = lid % TC;
  let r = lid / TC;
  let j = g * TC + col;
  let ok = j < P.c;`;

const F32_READ = { type: 'f32', access: 'read' } as const;
const F32_OUT = { type: 'f32', access: 'read_write' } as const;
/** Uniforms of the tiled partial and combine passes (colTiles: the tiles of this pass). */
const TILED = { n: 'u32', c: 'u32', chunkRows: 'u32', chunks: 'u32', colTiles: 'u32' } as const;
/** Workgroup size of the column-loop kernels (one invocation per column). */
export const BN_COLUMN_WG = 64;

/**
 * Per (column tile, row chunk): chunk sums S_k and M2_k = Σ(x − S_k/n_k)².
 * Uniforms: n, c, chunkRows, chunks, colTiles. Bindings: x, partial.
 */
export const bnStatsPartialKernel = kernelFamily((tc: number) =>
  defineKernel({
    name: `bn-stats-partial:${tc}`,
    bindings: { X: F32_READ, out: F32_OUT },
    uniforms: TILED,
    workgroupSize: BN_WG,
    helpers: () => columnReduceHead(tc),
    body: () => `${TILE_PRELUDE}
  var s = 0.0;
  if (ok) {
    for (var row = r0 + r; row < r1; row = row + TR) { s = s + X[row * P.c + j]; }
  }
  sh[lid] = s;${treeOverRows(['sh'])}
  let sum = sh[col];
  let m = sum / f32(r1 - r0);
  workgroupBarrier();
  var q = 0.0;
  if (ok) {
    for (var row = r0 + r; row < r1; row = row + TR) { let d = X[row * P.c + j] - m; q = q + d * d; }
  }
  sh[lid] = q;${treeOverRows(['sh'])}
  if (r == 0u && ok) {
    out[chunk * P.c + j] = sum;
    out[(P.chunks + chunk) * P.c + j] = sh[lid];
  }`,
  }),
);

/**
 * Merges the chunks (Chan): a workgroup per column tile, its row lanes striding over the chunks
 * of the partial buffer, tree-reduced. Uniforms: n, c, chunkRows, chunks, colTiles.
 * Bindings: partial, then the outputs mean and variance.
 */
export const bnStatsFinalizeKernel = kernelFamily((tc: number) =>
  defineKernel({
    name: `bn-stats-final:${tc}`,
    bindings: { S: F32_READ, mean: F32_OUT, variance: F32_OUT },
    uniforms: TILED,
    workgroupSize: BN_WG,
    helpers: () => columnReduceHead(tc),
    body: () => `${COMBINE_PRELUDE}
  var s = 0.0;
  if (ok) {
    for (var k = r; k < P.chunks; k = k + TR) { s = s + S[k * P.c + j]; }
  }
  sh[lid] = s;${treeOverRows(['sh'])}
  let m = sh[col] / f32(P.n);
  workgroupBarrier();
  var q = 0.0;
  if (ok) {
    for (var k = r; k < P.chunks; k = k + TR) {
      let cnt = f32(min(P.chunkRows, P.n - k * P.chunkRows));
      let d = S[k * P.c + j] / cnt - m;
      q = q + S[(P.chunks + k) * P.c + j] + cnt * d * d;
    }
  }
  sh[lid] = q;${treeOverRows(['sh'])}
  if (r == 0u && ok) {
    mean[j] = m;
    variance[j] = sh[lid] / f32(P.n);
  }`,
  }),
);

/**
 * y = (x − mean)·rsqrt(variance + eps)·gamma + beta. Uniforms: total (n·c), c, eps.
 * Bindings: x, mean, variance, [gamma], [beta], out.
 */
export const bnApplyKernel = kernelFamily((hasGamma: boolean, hasBeta: boolean) => {
  const g = hasGamma ? ' * G[j]' : '';
  const beta = hasBeta ? ' + B[j]' : '';
  return defineKernel({
    name: `bn-apply:${hasGamma ? 'g' : '-'}${hasBeta ? 'b' : '-'}`,
    // Absent operands are not bound at all (spreads keep the binding order X, M, V, G, B, out).
    bindings: { X: F32_READ, M: F32_READ, V: F32_READ, ...(hasGamma ? { G: F32_READ } : {}), ...(hasBeta ? { B: F32_READ } : {}), out: F32_OUT },
    uniforms: { total: 'u32', c: 'u32', eps: 'f32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.total) { return; }
  let j = i % P.c;
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  out[i] = (X[i] - M[j]) * rstd${g}${beta};`,
  });
});

const V4_READ = { type: 'vec4<f32>', access: 'read' } as const;
const V4_OUT = { type: 'vec4<f32>', access: 'read_write' } as const;

/**
 * bnApplyKernel over vec4 lanes, for c a multiple of 4: lane i covers columns 4·(i mod c/4) .. + 3
 * of one row, so mean, variance, gamma and beta are read as vec4 too. A quarter of the invocations
 * (per-invocation cost dominates on SwiftShader). Uniforms: total and c4 count vec4s (n·c/4, c/4).
 */
export const bnApplyVec4Kernel = kernelFamily((hasGamma: boolean, hasBeta: boolean) => {
  const g = hasGamma ? ' * G[j]' : '';
  const beta = hasBeta ? ' + B[j]' : '';
  return defineKernel({
    name: `bn-apply-v4:${hasGamma ? 'g' : '-'}${hasBeta ? 'b' : '-'}`,
    bindings: { X: V4_READ, M: V4_READ, V: V4_READ, ...(hasGamma ? { G: V4_READ } : {}), ...(hasBeta ? { B: V4_READ } : {}), out: V4_OUT },
    uniforms: { total: 'u32', c4: 'u32', eps: 'f32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.total) { return; }
  let j = i % P.c4;
  let rstd = 1.0 / sqrt(V[j] + vec4<f32>(P.eps));
  out[i] = (X[i] - M[j]) * rstd${g}${beta};`,
  });
});

/**
 * In place, the running statistics' momentum step for both vectors in one dispatch (it replaces six
 * elementwise dispatches and their temporaries, whose buffers changed from step to step):
 * RM = keep·RM + momentum·MEAN; RV = keep·RV + varScale·VAR. Uniforms: c, keep, momentum, varScale.
 */
export const bnRunningStatsKernel = defineKernel({
  name: 'bn-running',
  bindings: { MEAN: F32_READ, VAR: F32_READ, RM: F32_OUT, RV: F32_OUT },
  uniforms: { c: 'u32', keep: 'f32', momentum: 'f32', varScale: 'f32' },
  workgroupSize: WG_1D,
  body: `  if (i >= P.c) { return; }
  RM[i] = P.keep * RM[i] + P.momentum * MEAN[i];
  RV[i] = P.keep * RV[i] + P.varScale * VAR[i];`,
});

/**
 * Per (column tile, row chunk): Σdy and Σdy·x̂ with x̂ = (x − mean)·rstd.
 * Uniforms: n, c, chunkRows, chunks, colTiles, eps. Bindings: x, dy, mean, variance, partial.
 */
export const bnBackwardPartialKernel = kernelFamily((tc: number) =>
  defineKernel({
    name: `bn-backward-partial:${tc}`,
    bindings: { X: F32_READ, DY: F32_READ, M: F32_READ, V: F32_READ, out: F32_OUT },
    uniforms: { ...TILED, eps: 'f32' },
    workgroupSize: BN_WG,
    helpers: () => columnReduceHead(tc),
    body: () => `${TILE_PRELUDE}
  var a = 0.0;
  var b = 0.0;
  if (ok) {
    let m = M[j];
    let rstd = 1.0 / sqrt(V[j] + P.eps);
    for (var row = r0 + r; row < r1; row = row + TR) {
      let k = row * P.c + j;
      let dy = DY[k];
      a = a + dy;
      b = b + dy * ((X[k] - m) * rstd);
    }
  }
  sh[lid] = a;
  sh2[lid] = b;${treeOverRows(['sh', 'sh2'])}
  if (r == 0u && ok) {
    out[chunk * P.c + j] = sh[lid];
    out[(P.chunks + chunk) * P.c + j] = sh2[lid];
  }`,
  }),
);

/**
 * dgamma = Σ_k (Σdy·x̂)_k, dbeta = Σ_k (Σdy)_k: a workgroup per column tile, as the statistics'
 * combine. Uniforms: n, c, chunkRows, chunks, colTiles. Bindings: partial, then dgamma and dbeta.
 */
export const bnBackwardFinalizeKernel = kernelFamily((tc: number) =>
  defineKernel({
    name: `bn-backward-final:${tc}`,
    bindings: { S: F32_READ, dgamma: F32_OUT, dbeta: F32_OUT },
    uniforms: TILED,
    workgroupSize: BN_WG,
    helpers: () => columnReduceHead(tc),
    body: () => `${COMBINE_PRELUDE}
  var a = 0.0;
  var b = 0.0;
  if (ok) {
    for (var k = r; k < P.chunks; k = k + TR) {
      a = a + S[k * P.c + j];
      b = b + S[(P.chunks + k) * P.c + j];
    }
  }
  sh[lid] = a;
  sh2[lid] = b;${treeOverRows(['sh', 'sh2'])}
  if (r == 0u && ok) {
    dgamma[j] = sh2[lid];
    dbeta[j] = sh[lid];
  }`,
  }),
);

/**
 * dx = gamma·rstd/n · (n·dy − dbeta − x̂·dgamma). Uniforms: total (n·c), c, n (f32), eps.
 * Bindings: x, dy, mean, variance, [gamma], dgamma, dbeta, out.
 */
export const bnBackwardDxKernel = kernelFamily((hasGamma: boolean) => {
  const g = hasGamma ? 'G[j]' : '1.0';
  return defineKernel({
    name: `bn-backward-dx:${hasGamma ? 'g' : '-'}`,
    bindings: { X: F32_READ, DY: F32_READ, M: F32_READ, V: F32_READ, ...(hasGamma ? { G: F32_READ } : {}), DG: F32_READ, DB: F32_READ, out: F32_OUT },
    uniforms: { total: 'u32', c: 'u32', n: 'f32', eps: 'f32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.total) { return; }
  let j = i % P.c;
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  let xhat = (X[i] - M[j]) * rstd;
  let k = ${g} * rstd / P.n;
  out[i] = k * (P.n * DY[i] - DB[j] - xhat * DG[j]);`,
  });
});

/**
 * The column-loop forms: one invocation per column walks its n rows (adjacent invocations read
 * adjacent addresses of each row). No workgroup memory and no barriers, which is what CPU-based
 * drivers want: on SwiftShader the tree kernels above took 18-22 ms for [128, 512] and these well
 * under 1 ms. Used for moderate n on software adapters (the host chooses). Sums are two-level
 * (blocks of 64 rows, then the block sums), so rounding grows like (64 + n/64)·eps, not n·eps.
 */
function blockedColumnSum(accs: { name: string; term: string }[], prelude = ''): string {
  const decl = accs.map((a) => `  var ${a.name} = 0.0;`).join('\n');
  const inner = accs.map((a) => `b_${a.name} = b_${a.name} + ${a.term};`).join(' ');
  return `${decl}
  for (var r0 = 0u; r0 < P.n; r0 = r0 + 64u) {
    ${accs.map((a) => `var b_${a.name} = 0.0;`).join(' ')}
    for (var r = r0; r < min(r0 + 64u, P.n); r = r + 1u) {
      let e = r * P.c + i;${prelude}
      ${inner}
    }
    ${accs.map((a) => `${a.name} = ${a.name} + b_${a.name};`).join(' ')}
  }`;
}

export const bnStatsColumnKernel = defineKernel({
  name: 'bn-stats-column',
  bindings: { X: F32_READ, MEAN: F32_OUT, VAR: F32_OUT },
  uniforms: { n: 'u32', c: 'u32' },
  workgroupSize: BN_COLUMN_WG,
  body: () => `  if (i >= P.c) { return; }
${blockedColumnSum([{ name: 's', term: 'X[e]' }])}
  let mean = s / f32(P.n);
${blockedColumnSum([{ name: 'm2', term: '(X[e] - mean) * (X[e] - mean)' }])}
  MEAN[i] = mean;
  VAR[i] = m2 / f32(P.n);`,
});

/** dgamma, dbeta and dx for one column per invocation (see bnStatsColumnShader). */
export const bnBackwardColumnKernel = kernelFamily((gamma: boolean) =>
  defineKernel({
    name: `bn-backward-column:${gamma ? 'g' : '-'}`,
    bindings: {
      X: F32_READ, DY: F32_READ, MEAN: F32_READ, VAR: F32_READ, ...(gamma ? { GAMMA: F32_READ } : {}),
      DX: F32_OUT, DGAMMA: F32_OUT, DBETA: F32_OUT,
    },
    uniforms: { n: 'u32', c: 'u32', eps: 'f32' },
    workgroupSize: BN_COLUMN_WG,
    body: () => `  if (i >= P.c) { return; }
  let mean = MEAN[i];
  let rstd = inverseSqrt(VAR[i] + P.eps);
${blockedColumnSum([{ name: 'sdy', term: 'dy' }, { name: 'sdyx', term: 'dy * (X[e] - mean) * rstd' }], '\n      let dy = DY[e];')}
  DGAMMA[i] = sdyx;
  DBETA[i] = sdy;
  let nf = f32(P.n);
  let k = ${gamma ? 'GAMMA[i]' : '1.0'} * rstd / nf;
  for (var r = 0u; r < P.n; r = r + 1u) {
    let e = r * P.c + i;
    DX[e] = k * (nf * DY[e] - sdy - (X[e] - mean) * rstd * sdyx);
  }`,
  }),
);
