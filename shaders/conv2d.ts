/**
 * 2-D convolution in PyTorch's layouts (x NCHW, weight OIHW), as implicit GEMMs: every kernel reads
 * its operands through the convolution's index map, so no im2col matrix is ever materialised.
 *
 * - forward: each invocation computes a register block of 4 horizontally adjacent outputs of one
 *   (n, cout, oh) row, looping over cin/groups · kh · kw; each weight is loaded once for the block.
 * - input gradient: the transposed convolution, one invocation per input element, visiting only
 *   the (kh, kw, oh, ow) taps whose stride arithmetic lands on it.
 * - weight gradient: an implicit GEMM over N·Hout·Wout split into `chunks` slices, each invocation
 *   summing one slice for one weight element; the host sums the slices (a deterministic reduce).
 *
 * Uniform words are named in CONV_FIELDS (the host packs them in this order).
 */
import { main1d } from './common.js';

export const CONV_FIELDS = [
  'total', 'n', 'cin', 'h', 'w', 'cout', 'kh', 'kw', 'hout', 'wout',
  'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'cinG', 'coutG', 'chunks', 'chunkLen',
] as const;

const PARAMS = `struct Params { ${CONV_FIELDS.map((f) => `${f}: u32`).join(', ')} }
@group(0) @binding(0) var<uniform> P: Params;`;

/** Output blocks per row in the forward kernel. */
export const CONV_BLOCK = 4;

/** Bindings: X, Wt, (B), out. total = n·cout·hout·ceil(wout / 4). */
export function conv2dForwardShader(hasBias: boolean): string {
  const lanes = [0, 1, 2, 3];
  const taps = lanes.map((l) => `        { let iw = iwb + ${l} * sw; if (ow0 + ${l}u < P.wout && iw >= 0 && iw < wi) { acc[${l}] += X[xrow + u32(iw)] * wv; } }`).join('\n');
  const stores = lanes.map((l) => `  if (ow0 + ${l}u < P.wout) { out[yrow + ow0 + ${l}u] = acc[${l}]${hasBias ? ' + bv' : ''}; }`).join('\n');
  return `
${PARAMS}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
${hasBias ? '@group(0) @binding(3) var<storage, read> B: array<f32>;\n@group(0) @binding(4) var<storage, read_write> out: array<f32>;' : '@group(0) @binding(3) var<storage, read_write> out: array<f32>;'}
${main1d(`  if (i >= P.total) { return; }
  let wq = (P.wout + 3u) / 4u;
  let ow0 = (i % wq) * 4u;
  var r = i / wq;
  let oh = r % P.hout; r = r / P.hout;
  let co = r % P.cout;
  let nb = r / P.cout;
  let grp = co / P.coutG;
  let hi = i32(P.h);
  let wi = i32(P.w);
  let sw = i32(P.sw);
  var acc = vec4<f32>(0.0);
  for (var c = 0u; c < P.cinG; c++) {
    let ci = grp * P.cinG + c;
    let xplane = (nb * P.cin + ci) * P.h;
    for (var a = 0u; a < P.kh; a++) {
      let ih = i32(oh * P.sh + a * P.dh) - i32(P.ph);
      if (ih < 0 || ih >= hi) { continue; }
      let xrow = (xplane + u32(ih)) * P.w;
      let iw0 = i32(ow0 * P.sw) - i32(P.pw);
      for (var b = 0u; b < P.kw; b++) {
        let wv = Wt[((co * P.cinG + c) * P.kh + a) * P.kw + b];
        let iwb = iw0 + i32(b * P.dw);
${taps}
      }
    }
  }
  ${hasBias ? 'let bv = B[co];' : ''}
  let yrow = ((nb * P.cout + co) * P.hout + oh) * P.wout;
${stores}`, 64)}`;
}

/** Bindings: DY, Wt, out (dx). total = n·cin·h·w. */
export function conv2dBackwardInputShader(): string {
  return `
${PARAMS}
@group(0) @binding(1) var<storage, read> DY: array<f32>;
@group(0) @binding(2) var<storage, read> Wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${main1d(`  if (i >= P.total) { return; }
  let iw = i32(i % P.w);
  var r = i / P.w;
  let ih = i32(r % P.h); r = r / P.h;
  let ci = r % P.cin;
  let nb = r / P.cin;
  let grp = ci / P.cinG;
  let c = ci % P.cinG;
  var acc = 0.0;
  for (var a = 0u; a < P.kh; a++) {
    // oh·sh = ih + ph − a·dh must be a non-negative multiple of sh below hout·sh.
    let th = ih + i32(P.ph) - i32(a * P.dh);
    if (th < 0 || th % i32(P.sh) != 0) { continue; }
    let oh = u32(th) / P.sh;
    if (oh >= P.hout) { continue; }
    for (var b = 0u; b < P.kw; b++) {
      let tw = iw + i32(P.pw) - i32(b * P.dw);
      if (tw < 0 || tw % i32(P.sw) != 0) { continue; }
      let ow = u32(tw) / P.sw;
      if (ow >= P.wout) { continue; }
      for (var k = 0u; k < P.coutG; k++) {
        let co = grp * P.coutG + k;
        acc += DY[((nb * P.cout + co) * P.hout + oh) * P.wout + ow] * Wt[((co * P.cinG + c) * P.kh + a) * P.kw + b];
      }
    }
  }
  out[i] = acc;`)}`;
}

/** Bindings: X, DY, out (partial dweights [chunks, cout·cinG·kh·kw]). total = chunks · weight size. */
export function conv2dBackwardWeightShader(): string {
  return `
${PARAMS}
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> DY: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
${main1d(`  if (i >= P.total) { return; }
  let wsize = P.cout * P.cinG * P.kh * P.kw;
  let chunk = i / wsize;
  let wi = i % wsize;
  let b = wi % P.kw;
  var r = wi / P.kw;
  let a = r % P.kh; r = r / P.kh;
  let c = r % P.cinG;
  let co = r / P.cinG;
  let ci = (co / P.coutG) * P.cinG + c;
  let plane = P.hout * P.wout;
  let pixels = P.n * plane;
  let start = chunk * P.chunkLen;
  let end = min(start + P.chunkLen, pixels);
  var acc = 0.0;
  for (var t = start; t < end; t++) {
    let nb = t / plane;
    let q = t % plane;
    let oh = q / P.wout;
    let ow = q % P.wout;
    let ih = i32(oh * P.sh + a * P.dh) - i32(P.ph);
    let iw = i32(ow * P.sw + b * P.dw) - i32(P.pw);
    if (ih < 0 || ih >= i32(P.h) || iw < 0 || iw >= i32(P.w)) { continue; }
    acc += DY[(nb * P.cout + co) * plane + q] * X[((nb * P.cin + ci) * P.h + u32(ih)) * P.w + u32(iw)];
  }
  out[i] = acc;`)}`;
}
