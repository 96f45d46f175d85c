/**
 * The convolution's three products as implicit GEMMs: register-blocked like shaders/matmul.ts (each
 * invocation holds a 4×4 block of the product in four vec4 accumulators), but reading the operands
 * through the convolution's index map, so no im2col matrix is ever materialised. Per step of the
 * reduction an invocation loads 4 + 4 values and does 16 multiply-adds (the direct kernels of
 * conv2d.ts do 4 per 5 loads).
 *
 * - forward:  rows = 4 adjacent outputs of one (n, oh) row, columns = 4 output channels of one
 *             group, reduction over cin/groups · kh · kw (the weight row co read in place).
 * - dx:       rows = 4 adjacent input columns of one (n, ih) row, columns = 4 input channels of one
 *             group, reduction over cout/groups · kh · kw restricted to the taps whose stride
 *             arithmetic lands on the input position (the transposed convolution).
 * - dw:       rows = 4 output channels, columns = 4 consecutive weight entries (c, a, b), reduction
 *             over a slice of N·Hout·Wout (split-K: the host sums the slices with the reduce kernel).
 *
 * Dispatch: workgroups of [wgX, wgY] invocations; x walks the row blocks (offset by P.xOff when a
 * dispatch is split at 65535 workgroups), y the column blocks, z the groups (and dw's slices).
 * Edges: rows/columns past the end are computed at a clamped valid index and never stored; a tap
 * outside the input contributes select(0, ...) of its product (never 0 · w, which would turn an
 * infinite weight into NaN where the CPU reference skips the tap).
 */
import { CONV_GEOMETRY, F32_OUT, F32_READ } from './conv2d.js';
import { defineKernel, kernelFamily, type BindingDecls } from './program.js';

/** Rows and columns of the product per invocation. */
export const CONV_GEMM_BLOCK = 4;

const Q = [0, 1, 2, 3] as const;
const LANE = ['x', 'y', 'z', 'w'] as const;
const each = (f: (q: number) => string, sep = '\n'): string => Q.map(f).join(sep);
const ZERO = 'vec4<f32>(0.0)';

/** The block coordinates of this invocation: `rb` (row block, x) and `cl` (first column, y). */
function blockIds(wgX: number, wgY: number): string {
  return `  let rb = (wid.x + P.xOff) * ${wgX}u + lid % ${wgX}u;
  let cl = (wid.y * ${wgY}u + lid / ${wgX}u) * 4u;`;
}

const fwdFamily = kernelFamily((hasBias: boolean, wgX: number, wgY: number) => {
  // With a bias, B sits before out (binding order = declaration order).
  const bindings: BindingDecls = hasBias ? { X: F32_READ, Wt: F32_READ, B: F32_READ, out: F32_OUT } : { X: F32_READ, Wt: F32_READ, out: F32_OUT };
  return defineKernel({
    name: `conv2d:gemm:fwd:${hasBias ? 'bias' : 'nobias'}:${wgX}x${wgY}`,
    bindings,
    uniforms: { xOff: 'u32', rowBlocks: 'u32', ...CONV_GEOMETRY },
    workgroupSize: [wgX, wgY, 1],
    body: () => `${blockIds(wgX, wgY)}
  if (rb >= P.rowBlocks || cl >= P.coutG) { return; }
  let grp = wid.z;
  let wq = (P.wout + 3u) / 4u;
  let ow0 = (rb % wq) * 4u;
  let r = rb / wq;
  let oh = r % P.hout;
  let nb = r / P.hout;
  let K = P.cinG * P.kh * P.kw;
  let cBase = grp * P.coutG;
${each((j) => `  let w${j} = (cBase + min(cl + ${j}u, P.coutG - 1u)) * K;`)}
  let hi = i32(P.h);
  let wi = i32(P.w);
  let sw = i32(P.sw);
  let iw0 = i32(ow0 * P.sw) - i32(P.pw);
${each((l) => `  var acc${l} = ${ZERO};`)}
  for (var c = 0u; c < P.cinG; c++) {
    let xplane = (nb * P.cin + grp * P.cinG + c) * P.h;
    for (var a = 0u; a < P.kh; a++) {
      let ih = i32(oh * P.sh + a * P.dh) - i32(P.ph);
      if (ih < 0 || ih >= hi) { continue; }
      let xrow = (xplane + u32(ih)) * P.w;
      let kab = (c * P.kh + a) * P.kw;
      for (var b = 0u; b < P.kw; b++) {
        let k = kab + b;
        let wv = vec4<f32>(Wt[w0 + k], Wt[w1 + k], Wt[w2 + k], Wt[w3 + k]);
        let iwb = iw0 + i32(b * P.dw);
${each((l) => `        let iw${l} = iwb + ${l} * sw;
        acc${l} = acc${l} + select(${ZERO}, X[xrow + u32(clamp(iw${l}, 0, wi - 1))] * wv, iw${l} >= 0 && iw${l} < wi);`)}
      }
    }
  }
  let plane = P.hout * P.wout;
  let ybase = (nb * P.cout + cBase + cl) * plane + oh * P.wout + ow0;
${each((j) => `  if (cl + ${j}u < P.coutG) {
    ${hasBias ? `let bv = B[cBase + cl + ${j}u];` : 'let bv = 0.0;'}
${each((l) => `    if (ow0 + ${l}u < P.wout) { out[ybase + ${j}u * plane + ${l}u] = acc${l}.${LANE[j]} + bv; }`)}
  }`)}`,
  });
});

/** Bindings X, Wt, (B), out. Dispatch [row blocks = n·hout·ceil(wout/4) / wgX, ceil(coutG/4) / wgY, groups]. */
export function conv2dGemmForwardKernel(hasBias: boolean, wgX: number, wgY: number) {
  return fwdFamily(hasBias, wgX, wgY);
}

const dxFamily = kernelFamily((wgX: number, wgY: number) => defineKernel({
  name: `conv2d:gemm:dx:${wgX}x${wgY}`,
  bindings: { DY: F32_READ, Wt: F32_READ, out: F32_OUT },
  uniforms: { xOff: 'u32', rowBlocks: 'u32', ...CONV_GEOMETRY },
  workgroupSize: [wgX, wgY, 1],
  body: () => `${blockIds(wgX, wgY)}
  if (rb >= P.rowBlocks || cl >= P.cinG) { return; }
  let grp = wid.z;
  let wq = (P.w + 3u) / 4u;
  let iw0 = (rb % wq) * 4u;
  let r = rb / wq;
  let ih = i32(r % P.h);
  let nb = r / P.h;
  let khw = P.kh * P.kw;
  let wstride = P.cinG * khw;
${each((j) => `  let wc${j} = min(cl + ${j}u, P.cinG - 1u) * khw;`)}
  let plane = P.hout * P.wout;
  let dyg = (nb * P.cout + grp * P.coutG) * plane;
  let wg0 = grp * P.coutG * wstride;
  let sh = i32(P.sh);
  let sw = i32(P.sw);
  let wo = i32(P.wout);
${each((l) => `  var acc${l} = ${ZERO};`)}
  for (var a = 0u; a < P.kh; a++) {
    // oh·sh = ih + ph − a·dh must be a non-negative multiple of sh below hout·sh.
    let th = ih + i32(P.ph) - i32(a * P.dh);
    if (th < 0) { continue; }
    // Stride 1 skips the divisions (scalarised on CPU drivers).
    var oh = u32(th);
    if (sh != 1) {
      if (th % sh != 0) { continue; }
      oh = oh / P.sh;
    }
    if (oh >= P.hout) { continue; }
    let rowb = dyg + oh * P.wout;
    for (var b = 0u; b < P.kw; b++) {
      let twb = i32(iw0) + i32(P.pw) - i32(b * P.dw);
${each((l) => `      var tw${l} = twb + ${l};
      var ok${l} = tw${l} >= 0;
      if (sw != 1) {
        ok${l} = ok${l} && tw${l} % sw == 0;
        tw${l} = tw${l} / sw;
      }
      ok${l} = ok${l} && tw${l} < wo;
      let ow${l} = rowb + select(0u, u32(tw${l}), ok${l});`)}
      let ab = wg0 + a * P.kw + b;
      for (var k = 0u; k < P.coutG; k++) {
        let d = k * plane;
        let wb = ab + k * wstride;
        let wv = vec4<f32>(Wt[wb + wc0], Wt[wb + wc1], Wt[wb + wc2], Wt[wb + wc3]);
${each((l) => `        acc${l} = acc${l} + select(${ZERO}, DY[ow${l} + d] * wv, ok${l});`)}
      }
    }
  }
  let xbase = ((nb * P.cin + grp * P.cinG + cl) * P.h + u32(ih)) * P.w + iw0;
  let xplane = P.h * P.w;
${each((j) => `  if (cl + ${j}u < P.cinG) {
${each((l) => `    if (iw0 + ${l}u < P.w) { out[xbase + ${j}u * xplane + ${l}u] = acc${l}.${LANE[j]}; }`)}
  }`)}`,
}));

/** Bindings DY, Wt, out (dx). Dispatch [n·h·ceil(w/4) / wgX, ceil(cinG/4) / wgY, groups]. */
export function conv2dGemmBackwardInputKernel(wgX: number, wgY: number) {
  return dxFamily(wgX, wgY);
}

const dwFamily = kernelFamily((wgX: number, wgY: number) => defineKernel({
  name: `conv2d:gemm:dw:${wgX}x${wgY}`,
  bindings: { X: F32_READ, DY: F32_READ, out: F32_OUT },
  uniforms: { xOff: 'u32', rowBlocks: 'u32', groups: 'u32', chunkLen: 'u32', ...CONV_GEOMETRY },
  workgroupSize: [wgX, wgY, 1],
  body: () => `${blockIds(wgX, wgY)}
  let khw = P.kh * P.kw;
  let K = P.cinG * khw;
  let kFirst = rb * 4u;
  if (rb >= P.rowBlocks || cl >= P.coutG) { return; }
  let grp = wid.z % P.groups;
  let chunk = wid.z / P.groups;
  let hi = i32(P.h);
  let wi = i32(P.w);
  let plane = P.hout * P.wout;
${each((j) => `  let k${j} = min(kFirst + ${j}u, K - 1u);
  let xo${j} = (grp * P.cinG + k${j} / khw) * P.h * P.w;
  let ah${j} = i32((k${j} % khw) / P.kw * P.dh) - i32(P.ph);
  let bw${j} = i32(k${j} % P.kw * P.dw) - i32(P.pw);`)}
${each((i) => `  let do${i} = (grp * P.coutG + min(cl + ${i}u, P.coutG - 1u)) * plane;`)}
${each((j) => `  var acc${j} = ${ZERO};`)}
  let start = chunk * P.chunkLen;
  let end = min(start + P.chunkLen, P.n * plane);
  var nb = start / plane;
  var q = start % plane;
  var oh = q / P.wout;
  var ow = q % P.wout;
  for (var t = start; t < end; t++) {
    let dyb = nb * P.cout * plane + q;
    let d = vec4<f32>(DY[dyb + do0], DY[dyb + do1], DY[dyb + do2], DY[dyb + do3]);
    let xb = nb * P.cin * P.h * P.w;
    let ihb = i32(oh * P.sh);
    let iwb = i32(ow * P.sw);
${each((j) => `    {
      let ih = ihb + ah${j};
      let iw = iwb + bw${j};
      let v = X[xb + xo${j} + u32(clamp(ih, 0, hi - 1)) * P.w + u32(clamp(iw, 0, wi - 1))];
      acc${j} = acc${j} + select(${ZERO}, v * d, ih >= 0 && ih < hi && iw >= 0 && iw < wi);
    }`)}
    q++;
    ow++;
    if (ow == P.wout) {
      ow = 0u;
      oh++;
      if (oh == P.hout) { oh = 0u; q = 0u; nb++; }
    }
  }
  let obase = chunk * P.cout * K + (grp * P.coutG + cl) * K + kFirst;
${each((i) => `  if (cl + ${i}u < P.coutG) {
${each((j) => `    if (kFirst + ${j}u < K) { out[obase + ${i}u * K + ${j}u] = acc${j}.${LANE[i]}; }`)}
  }`)}`,
}));

/**
 * Bindings X, DY, out (partial dweights [chunks, cout·cinG·kh·kw]).
 * Dispatch [ceil(K/4) / wgX, ceil(coutG/4) / wgY, chunks·groups].
 */
export function conv2dGemmBackwardWeightKernel(wgX: number, wgY: number) {
  return dwFamily(wgX, wgY);
}
