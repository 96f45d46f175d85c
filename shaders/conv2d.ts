/**
 * 2-D convolution in PyTorch's layouts (x NCHW, weight OIHW): the shared uniform geometry and the
 * direct kernels. The implicit GEMMs (shaders/conv-gemm.ts) are the general path, the window
 * kernels (shaders/conv-window.ts) its stride-1 special case for the forward pass and dx; the host
 * (src/backend/webgpu/conv.ts) takes these direct kernels where a GEMM tile would mostly idle:
 * channels per group below the tile's 4 (depthwise convolutions above all).
 *
 * - forward: each invocation computes 4 horizontally adjacent outputs of one (n, cout, oh) row,
 *   looping over cin/groups · kh · kw; each weight is loaded once for the 4.
 * - input gradient: the transposed convolution, 4 adjacent input elements per invocation, visiting only
 *   the (kh, kw, oh, ow) taps whose stride arithmetic lands on it.
 * - weight gradient: one invocation per (slice of N·Hout·Wout, weight element); the host sums the
 *   slices (a deterministic reduce).
 * - channel bias: y[n, c, ...] += bias[c] (after the 1×1 convolution run as a matmul).
 *
 * Every tap outside the input is skipped (never multiplied by a zero), as in the CPU reference, so
 * an infinite weight meets padding without making a NaN.
 */
import { defineKernel, kernelFamily, type BindingDecls } from './program.js';

/** The convolution's geometry as uniforms (cinG = cin / groups, coutG = cout / groups). */
export const CONV_GEOMETRY = {
  n: 'u32', cin: 'u32', h: 'u32', w: 'u32', cout: 'u32', kh: 'u32', kw: 'u32', hout: 'u32', wout: 'u32',
  sh: 'u32', sw: 'u32', ph: 'u32', pw: 'u32', dh: 'u32', dw: 'u32', cinG: 'u32', coutG: 'u32',
} as const;

export const F32_READ = { type: 'f32', access: 'read' } as const;
export const F32_OUT = { type: 'f32', access: 'read_write' } as const;

/** Outputs per invocation along a row in the direct forward kernel. */
export const CONV_DIRECT_BLOCK = 4;
export const CONV_DIRECT_WG = 64;

const forwardFamily = kernelFamily((hasBias: boolean) => {
  const lanes = [0, 1, 2, 3];
  const taps = lanes.map((l) => `        { let iw = iwb + ${l} * sw; if (ow0 + ${l}u < P.wout && iw >= 0 && iw < wi) { acc[${l}] += X[xrow + u32(iw)] * wv; } }`).join('\n');
  const stores = lanes.map((l) => `  if (ow0 + ${l}u < P.wout) { out[yrow + ow0 + ${l}u] = acc[${l}]${hasBias ? ' + bv' : ''}; }`).join('\n');
  // With a bias, B sits before out (binding order = declaration order).
  const bindings: BindingDecls = hasBias ? { X: F32_READ, Wt: F32_READ, B: F32_READ, out: F32_OUT } : { X: F32_READ, Wt: F32_READ, out: F32_OUT };
  return defineKernel({
    name: `conv2d:direct:fwd:${hasBias ? 'bias' : 'nobias'}`,
    bindings,
    uniforms: { total: 'u32', ...CONV_GEOMETRY },
    workgroupSize: CONV_DIRECT_WG,
    body: () => `  if (i >= P.total) { return; }
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
${stores}`,
  });
});

/** Bindings X, Wt, (B), out; total = n·cout·hout·ceil(wout / 4). */
export function conv2dDirectForwardKernel(hasBias: boolean) {
  return forwardFamily(hasBias);
}

/**
 * Bindings DY, Wt, out (dx); total = n·cin·h·ceil(w / 4): 4 horizontally adjacent input elements
 * per invocation, so the position decode (integer divisions, scalarised on CPU drivers) and each
 * weight load serve 4 outputs.
 */
export const conv2dDirectBackwardInputKernel = defineKernel({
  name: 'conv2d:direct:dx',
  bindings: { DY: F32_READ, Wt: F32_READ, out: F32_OUT },
  uniforms: { total: 'u32', ...CONV_GEOMETRY },
  workgroupSize: CONV_DIRECT_WG,
  body: () => `  if (i >= P.total) { return; }
  let wq = (P.w + 3u) / 4u;
  let iw0 = (i % wq) * 4u;
  var r = i / wq;
  let ih = i32(r % P.h); r = r / P.h;
  let ci = r % P.cin;
  let nb = r / P.cin;
  let grp = ci / P.cinG;
  let c = ci % P.cinG;
  let sw = i32(P.sw);
  let wo = i32(P.wout);
  let plane = P.hout * P.wout;
  var acc = vec4<f32>(0.0);
  for (var a = 0u; a < P.kh; a++) {
    // oh·sh = ih + ph − a·dh must be a non-negative multiple of sh below hout·sh.
    let th = ih + i32(P.ph) - i32(a * P.dh);
    if (th < 0) { continue; }
    // Stride 1 skips the division (scalarised on CPU drivers).
    var oh = u32(th);
    if (P.sh != 1u) {
      if (th % i32(P.sh) != 0) { continue; }
      oh = oh / P.sh;
    }
    if (oh >= P.hout) { continue; }
    let rowb = (nb * P.cout + grp * P.coutG) * plane + oh * P.wout;
    for (var b = 0u; b < P.kw; b++) {
      let twb = i32(iw0) + i32(P.pw) - i32(b * P.dw);
${[0, 1, 2, 3].map((l) => `      var tw${l} = twb + ${l};
      var ok${l} = tw${l} >= 0 && iw0 + ${l}u < P.w;
      if (sw != 1) {
        ok${l} = ok${l} && tw${l} % sw == 0;
        tw${l} = tw${l} / sw;
      }
      ok${l} = ok${l} && tw${l} < wo;
      let ow${l} = rowb + select(0u, u32(tw${l}), ok${l});`).join('\n')}
      for (var k = 0u; k < P.coutG; k++) {
        let co = grp * P.coutG + k;
        let wv = Wt[((co * P.cinG + c) * P.kh + a) * P.kw + b];
        let d = k * plane;
${[0, 1, 2, 3].map((l) => `        if (ok${l}) { acc[${l}] += DY[ow${l} + d] * wv; }`).join('\n')}
      }
    }
  }
  let xrow = ((nb * P.cin + ci) * P.h + u32(ih)) * P.w + iw0;
${[0, 1, 2, 3].map((l) => `  if (iw0 + ${l}u < P.w) { out[xrow + ${l}u] = acc[${l}]; }`).join('\n')}`,
});

/** Bindings X, DY, out (partial dweights [chunks, cout·cinG·kh·kw]); total = chunks · weight size. */
export const conv2dDirectBackwardWeightKernel = defineKernel({
  name: 'conv2d:direct:dw',
  bindings: { X: F32_READ, DY: F32_READ, out: F32_OUT },
  uniforms: { total: 'u32', chunkLen: 'u32', ...CONV_GEOMETRY },
  workgroupSize: 256,
  body: `  if (i >= P.total) { return; }
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
  // (nb, oh, ow) advance with t: integer division by a uniform is scalarised on CPU drivers.
  var nb = start / plane;
  var q = start % plane;
  var oh = q / P.wout;
  var ow = q % P.wout;
  let ah = i32(a * P.dh) - i32(P.ph);
  let bw = i32(b * P.dw) - i32(P.pw);
  for (var t = start; t < end; t++) {
    let ih = i32(oh * P.sh) + ah;
    let iw = i32(ow * P.sw) + bw;
    if (ih >= 0 && ih < i32(P.h) && iw >= 0 && iw < i32(P.w)) {
      acc += DY[(nb * P.cout + co) * plane + q] * X[((nb * P.cin + ci) * P.h + u32(ih)) * P.w + u32(iw)];
    }
    q++;
    ow++;
    if (ow == P.wout) {
      ow = 0u;
      oh++;
      if (oh == P.hout) { oh = 0u; q = 0u; nb++; }
    }
  }
  out[i] = acc;`,
});

/** Bindings B, Y (in place): Y[i] += B[(i / plane) % channels]; total = Y's length. */
export const channelBiasKernel = defineKernel({
  name: 'conv2d:channel-bias',
  bindings: { B: F32_READ, Y: F32_OUT },
  uniforms: { total: 'u32', plane: 'u32', channels: 'u32' },
  workgroupSize: 256,
  body: `  if (i >= P.total) { return; }
  Y[i] = Y[i] + B[(i / P.plane) % P.channels];`,
});
