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

import { main1d } from './common.js';

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

const ENTRY = `@compute @workgroup_size(${BN_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {`;

/**
 * Per (column tile, row chunk): chunk sums S_k and M2_k = Σ(x − S_k/n_k)².
 * Uniforms: n, c, chunkRows, chunks, colTiles. Bindings: x, partial.
 */
export function bnStatsPartialShader(tc: number): string {
  return `
struct Params { n: u32, c: u32, chunkRows: u32, chunks: u32, colTiles: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${columnReduceHead(tc)}

${ENTRY}${TILE_PRELUDE}
  var s = 0.0;
  if (ok) {
    for (var i = r0 + r; i < r1; i = i + TR) { s = s + X[i * P.c + j]; }
  }
  sh[lid] = s;${treeOverRows(['sh'])}
  let sum = sh[col];
  let m = sum / f32(r1 - r0);
  workgroupBarrier();
  var q = 0.0;
  if (ok) {
    for (var i = r0 + r; i < r1; i = i + TR) { let d = X[i * P.c + j] - m; q = q + d * d; }
  }
  sh[lid] = q;${treeOverRows(['sh'])}
  if (r == 0u && ok) {
    out[chunk * P.c + j] = sum;
    out[(P.chunks + chunk) * P.c + j] = sh[lid];
  }
}
`;
}

/**
 * Merges the chunks (Chan): a workgroup per column tile, its row lanes striding over the chunks
 * of the partial buffer, tree-reduced. Uniforms: n, c, chunkRows, chunks, colTiles.
 * Bindings: partial, then the outputs mean and variance.
 */
export function bnStatsFinalizeShader(tc: number): string {
  return `
struct Params { n: u32, c: u32, chunkRows: u32, chunks: u32, colTiles: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> variance: array<f32>;
${columnReduceHead(tc)}

${ENTRY}${COMBINE_PRELUDE}
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
  }
}
`;
}

/**
 * y = (x − mean)·rsqrt(variance + eps)·gamma + beta. Uniforms: total (n·c), c, eps.
 * Bindings: x, mean, variance, [gamma], [beta], out.
 */
export function bnApplyShader(hasGamma: boolean, hasBeta: boolean): string {
  let b = 1;
  const decl = (name: string) => `@group(0) @binding(${b++}) var<storage, read> ${name}: array<f32>;\n`;
  let bindings = decl('X') + decl('M') + decl('V');
  if (hasGamma) bindings += decl('G');
  if (hasBeta) bindings += decl('B');
  bindings += `@group(0) @binding(${b}) var<storage, read_write> out: array<f32>;`;
  const g = hasGamma ? ' * G[j]' : '';
  const beta = hasBeta ? ' + B[j]' : '';
  return `
struct Params { total: u32, c: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
${bindings}
${main1d(`  if (i >= P.total) { return; }
  let j = i % P.c;
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  out[i] = (X[i] - M[j]) * rstd${g}${beta};`)}`;
}

/**
 * Per (column tile, row chunk): Σdy and Σdy·x̂ with x̂ = (x − mean)·rstd.
 * Uniforms: n, c, chunkRows, chunks, colTiles, eps. Bindings: x, dy, mean, variance, partial.
 */
export function bnBackwardPartialShader(tc: number): string {
  return `
struct Params { n: u32, c: u32, chunkRows: u32, chunks: u32, colTiles: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read> M: array<f32>;
@group(0) @binding(4) var<storage, read> V: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
${columnReduceHead(tc)}

${ENTRY}${TILE_PRELUDE}
  var a = 0.0;
  var b = 0.0;
  if (ok) {
    let m = M[j];
    let rstd = 1.0 / sqrt(V[j] + P.eps);
    for (var i = r0 + r; i < r1; i = i + TR) {
      let k = i * P.c + j;
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
  }
}
`;
}

/**
 * dgamma = Σ_k (Σdy·x̂)_k, dbeta = Σ_k (Σdy)_k: a workgroup per column tile, as the statistics'
 * combine. Uniforms: n, c, chunkRows, chunks, colTiles. Bindings: partial, then dgamma and dbeta.
 */
export function bnBackwardFinalizeShader(tc: number): string {
  return `
struct Params { n: u32, c: u32, chunkRows: u32, chunks: u32, colTiles: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> dbeta: array<f32>;
${columnReduceHead(tc)}

${ENTRY}${COMBINE_PRELUDE}
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
  }
}
`;
}

/**
 * dx = gamma·rstd/n · (n·dy − dbeta − x̂·dgamma). Uniforms: total (n·c), c, n (f32), eps.
 * Bindings: x, dy, mean, variance, [gamma], dgamma, dbeta, out.
 */
export function bnBackwardDxShader(hasGamma: boolean): string {
  let b = 1;
  const decl = (name: string) => `@group(0) @binding(${b++}) var<storage, read> ${name}: array<f32>;\n`;
  let bindings = decl('X') + decl('DY') + decl('M') + decl('V');
  if (hasGamma) bindings += decl('G');
  bindings += decl('DG') + decl('DB');
  bindings += `@group(0) @binding(${b}) var<storage, read_write> out: array<f32>;`;
  const g = hasGamma ? 'G[j]' : '1.0';
  return `
struct Params { total: u32, c: u32, n: f32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
${bindings}
${main1d(`  if (i >= P.total) { return; }
  let j = i % P.c;
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  let xhat = (X[i] - M[j]) * rstd;
  let k = ${g} * rstd / P.n;
  out[i] = k * (P.n * DY[i] - DB[j] - xhat * DG[j]);`)}`;
}

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

export function bnStatsColumnShader(): string {
  return `
struct Params { n: u32, c: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> MEAN: array<f32>;
@group(0) @binding(3) var<storage, read_write> VAR: array<f32>;
${main1d(`  if (i >= P.c) { return; }
${blockedColumnSum([{ name: 's', term: 'X[e]' }])}
  let mean = s / f32(P.n);
${blockedColumnSum([{ name: 'm2', term: '(X[e] - mean) * (X[e] - mean)' }])}
  MEAN[i] = mean;
  VAR[i] = m2 / f32(P.n);`, 64)}`;
}

/** dgamma, dbeta and dx for one column per invocation (see bnStatsColumnShader). */
export function bnBackwardColumnShader(gamma: boolean): string {
  const g = gamma ? '@group(0) @binding(5) var<storage, read> GAMMA: array<f32>;\n' : '';
  const o = gamma ? 6 : 5;
  return `
struct Params { n: u32, c: u32, eps: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read> MEAN: array<f32>;
@group(0) @binding(4) var<storage, read> VAR: array<f32>;
${g}@group(0) @binding(${o}) var<storage, read_write> DX: array<f32>;
@group(0) @binding(${o + 1}) var<storage, read_write> DGAMMA: array<f32>;
@group(0) @binding(${o + 2}) var<storage, read_write> DBETA: array<f32>;
${main1d(`  if (i >= P.c) { return; }
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
  }`, 64)}`;
}
