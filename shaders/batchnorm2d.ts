/**
 * Batch norm directly on NCHW x (BatchNorm2d): statistics per channel j over the n·hw elements
 * x[b, j, s] (b < n, s < hw), with no permute to [n·hw, c] and back.
 *
 * Channel j's elements are n contiguous runs of hw floats. The reduction passes flatten them to
 * k = b·hw + s in [0, n·hw) and split that range into chunks of `chunkRows` elements: a workgroup
 * per (channel, chunk) whose BN2D_WG lanes read consecutive k (consecutive addresses inside a run),
 * then a tree in workgroup memory. Statistics are two-pass inside the chunk (its sum, then
 * Σ(x − chunk mean)² over the same cache-hot elements). The partial buffer uses the layout of
 * shaders/batchnorm.ts ([0, chunks·c): first sums, [chunks·c, 2·chunks·c): second, at chunk·c + j)
 * so its combine kernels (Chan's merge for the statistics, plain sums for the backward) finish
 * the job unchanged, with their `n` = n·hw and `chunkRows` = the chunk length.
 * Apply and dx are elementwise with j = (i / hw) % c.
 */

import { WG_1D } from './common.js';
import { defineKernel, kernelFamily } from './program.js';

/** Invocations per workgroup of the NCHW reduction kernels. */
export const BN2D_WG = 256;

const F32_READ = { type: 'f32', access: 'read' } as const;
const F32_OUT = { type: 'f32', access: 'read_write' } as const;
/** count = n·hw (elements per channel), chw = c·hw (the image stride). */
const PARTIAL = { count: 'u32', c: 'u32', hw: 'u32', chw: 'u32', chunkRows: 'u32', chunks: 'u32' } as const;

const HEAD = `
const WG: u32 = ${BN2D_WG}u;
var<workgroup> sh: array<f32, ${BN2D_WG}>;
var<workgroup> sh2: array<f32, ${BN2D_WG}>;
/** Address of element k = b·hw + s of channel j. */
fn at(k: u32, j: u32) -> u32 { return (k / P.hw) * P.chw + j * P.hw + k % P.hw; }`;

/** Tree over the workgroup's lanes of `arrays`; ends with a barrier, the total in [0]. */
function tree(arrays: readonly string[]): string {
  const adds = arrays.map((a) => `${a}[lid] = ${a}[lid] + ${a}[lid + s];`).join(' ');
  return `
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (lid < s) { ${adds} }
  }
  workgroupBarrier();`;
}

// The whole workgroup leaves together (g is uniform across it), so the barriers stay uniform.
const PRELUDE = `
  let g = wid.x + wid.y * nwg.x;
  if (g >= P.c * P.chunks) { return; }
  let j = g % P.c;
  let chunk = g / P.c;
  let k0 = chunk * P.chunkRows;
  let k1 = min(k0 + P.chunkRows, P.count);`;

/** Per (channel, chunk): the chunk's sum S_k and M2_k = Σ(x − S_k/n_k)². Bindings: x, partial. */
export const bn2dStatsPartialKernel = defineKernel({
  name: 'bn2d-stats-partial',
  bindings: { X: F32_READ, out: F32_OUT },
  uniforms: PARTIAL,
  workgroupSize: BN2D_WG,
  helpers: () => HEAD,
  body: () => `${PRELUDE}
  var s = 0.0;
  for (var k = k0 + lid; k < k1; k = k + WG) { s = s + X[at(k, j)]; }
  sh[lid] = s;${tree(['sh'])}
  let sum = sh[0];
  let m = sum / f32(k1 - k0);
  workgroupBarrier();
  var q = 0.0;
  for (var k = k0 + lid; k < k1; k = k + WG) { let d = X[at(k, j)] - m; q = q + d * d; }
  sh[lid] = q;${tree(['sh'])}
  if (lid == 0u) {
    out[chunk * P.c + j] = sum;
    out[(P.chunks + chunk) * P.c + j] = sh[0];
  }`,
});

/** Per (channel, chunk): Σdy and Σdy·x̂ with x̂ = (x − mean)·rstd. Bindings: x, dy, mean, variance, partial. */
export const bn2dBackwardPartialKernel = defineKernel({
  name: 'bn2d-backward-partial',
  bindings: { X: F32_READ, DY: F32_READ, M: F32_READ, V: F32_READ, out: F32_OUT },
  uniforms: { ...PARTIAL, eps: 'f32' },
  workgroupSize: BN2D_WG,
  helpers: () => HEAD,
  body: () => `${PRELUDE}
  let m = M[j];
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  var a = 0.0;
  var b = 0.0;
  for (var k = k0 + lid; k < k1; k = k + WG) {
    let e = at(k, j);
    let dy = DY[e];
    a = a + dy;
    b = b + dy * ((X[e] - m) * rstd);
  }
  sh[lid] = a;
  sh2[lid] = b;${tree(['sh', 'sh2'])}
  if (lid == 0u) {
    out[chunk * P.c + j] = sh[0];
    out[(P.chunks + chunk) * P.c + j] = sh2[0];
  }`,
});

/**
 * y = (x − mean)·rsqrt(variance + eps)·gamma + beta on NCHW. Uniforms: total, c, hw, eps.
 * Bindings: x, mean, variance, [gamma], [beta], out.
 */
export const bn2dApplyKernel = kernelFamily((hasGamma: boolean, hasBeta: boolean) => {
  const g = hasGamma ? ' * G[j]' : '';
  const beta = hasBeta ? ' + B[j]' : '';
  return defineKernel({
    name: `bn2d-apply:${hasGamma ? 'g' : '-'}${hasBeta ? 'b' : '-'}`,
    bindings: { X: F32_READ, M: F32_READ, V: F32_READ, ...(hasGamma ? { G: F32_READ } : {}), ...(hasBeta ? { B: F32_READ } : {}), out: F32_OUT },
    uniforms: { total: 'u32', c: 'u32', hw: 'u32', eps: 'f32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.total) { return; }
  let j = (i / P.hw) % P.c;
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  out[i] = (X[i] - M[j]) * rstd${g}${beta};`,
  });
});

/**
 * dx = gamma·rstd/count · (count·dy − dbeta − x̂·dgamma) on NCHW. Uniforms: total, c, hw,
 * count (f32, n·hw), eps. Bindings: x, dy, mean, variance, [gamma], dgamma, dbeta, out.
 */
export const bn2dBackwardDxKernel = kernelFamily((hasGamma: boolean) => {
  const g = hasGamma ? 'G[j]' : '1.0';
  return defineKernel({
    name: `bn2d-backward-dx:${hasGamma ? 'g' : '-'}`,
    bindings: { X: F32_READ, DY: F32_READ, M: F32_READ, V: F32_READ, ...(hasGamma ? { G: F32_READ } : {}), DG: F32_READ, DB: F32_READ, out: F32_OUT },
    uniforms: { total: 'u32', c: 'u32', hw: 'u32', count: 'f32', eps: 'f32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.total) { return; }
  let j = (i / P.hw) % P.c;
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  let xhat = (X[i] - M[j]) * rstd;
  let k = ${g} * rstd / P.count;
  out[i] = k * (P.count * DY[i] - DB[j] - xhat * DG[j]);`,
  });
});

/**
 * The lane forms of the two partial passes: one invocation per (channel, chunk) walks its chunk's
 * elements in order (contiguous runs of hw floats, the address stepped, no division per element),
 * with no workgroup memory and no barriers, which is what CPU-based drivers want (lavapipe runs a
 * barrier by switching every invocation of the workgroup; the tree forms above measured 2-3× a
 * plain elementwise pass there). Chunks are short (the host's LANE_CHUNK), so each float32 sum
 * stays short; the combine kernels merge the chunks as for the tree forms. Invocation i = chunk·c + j.
 */
const LANE_HEAD = `
  if (i >= P.c * P.chunks) { return; }
  let j = i % P.c;
  let chunk = i / P.c;
  let k0 = chunk * P.chunkRows;
  let k1 = min(k0 + P.chunkRows, P.count);`;

/** A loop over the chunk's elements with `e` their address (in its own block, so it can repeat). */
function laneLoop(inner: string): string {
  return `
  {
    var s = k0 % P.hw;
    var e = (k0 / P.hw) * P.chw + j * P.hw + s;
    for (var k = k0; k < k1; k = k + 1u) {
      ${inner}
      s = s + 1u;
      e = e + 1u;
      if (s == P.hw) { s = 0u; e = e + P.chw - P.hw; }
    }
  }`;
}

/** Invocations per workgroup of the lane forms. */
export const BN2D_LANE_WG = 64;

export const bn2dStatsLaneKernel = defineKernel({
  name: 'bn2d-stats-lane',
  bindings: { X: F32_READ, out: F32_OUT },
  uniforms: PARTIAL,
  workgroupSize: BN2D_LANE_WG,
  body: () => `${LANE_HEAD}
  var sum = 0.0;${laneLoop('sum = sum + X[e];')}
  let m = sum / f32(k1 - k0);
  var q = 0.0;${laneLoop('let d = X[e] - m; q = q + d * d;')}
  out[chunk * P.c + j] = sum;
  out[(P.chunks + chunk) * P.c + j] = q;`,
});

export const bn2dBackwardLaneKernel = defineKernel({
  name: 'bn2d-backward-lane',
  bindings: { X: F32_READ, DY: F32_READ, M: F32_READ, V: F32_READ, out: F32_OUT },
  uniforms: { ...PARTIAL, eps: 'f32' },
  workgroupSize: BN2D_LANE_WG,
  body: () => `${LANE_HEAD}
  let m = M[j];
  let rstd = 1.0 / sqrt(V[j] + P.eps);
  var a = 0.0;
  var b = 0.0;${laneLoop('let dy = DY[e]; a = a + dy; b = b + dy * ((X[e] - m) * rstd);')}
  out[chunk * P.c + j] = a;
  out[(P.chunks + chunk) * P.c + j] = b;`,
});
