/**
 * 2-D pooling over planes (N·C) of h × w: max (values and indices from one pass), average (also
 * adaptive), and their gradients as gathers: each input element visits only the output windows
 * that can hold it, so no atomics are needed and sums run in a fixed order.
 *
 * Windows follow PyTorch: rows oh·sh − ph ... + kh − 1 clipped to the input, or the adaptive
 * rows floor(oh·h / hout) ... ceil((oh + 1)·h / hout) − 1.
 */
import { defineKernel } from './program.js';

export const POOL_UNIFORMS = {
  total: 'u32', h: 'u32', w: 'u32', hout: 'u32', wout: 'u32', kh: 'u32', kw: 'u32', sh: 'u32', sw: 'u32',
  ph: 'u32', pw: 'u32', adaptive: 'u32', countIncludePad: 'u32',
} as const;

const F32_READ = { type: 'f32', access: 'read' } as const;
const F32_OUT = { type: 'f32', access: 'read_write' } as const;
const I32_READ = { type: 'i32', access: 'read' } as const;
const I32_OUT = { type: 'i32', access: 'read_write' } as const;
const WG = 256;

const HELPERS = `
// [start, end) of window o along an axis of length size (output length outSize).
fn win(o: i32, size: i32, outSize: i32, k: i32, s: i32, p: i32) -> vec2<i32> {
  if (P.adaptive != 0u) { return vec2<i32>((o * size) / outSize, ((o + 1) * size + outSize - 1) / outSize); }
  let st = o * s - p;
  return vec2<i32>(max(st, 0), min(st + k, size));
}

// The outputs [lo, hi] along an axis whose windows may hold input position x (checked again by the caller).
fn holders(x: i32, size: i32, outSize: i32, k: i32, s: i32, p: i32) -> vec2<i32> {
  if (P.adaptive != 0u) { return vec2<i32>((x * outSize) / size, min(outSize - 1, ((x + 1) * outSize + size - 1) / size - 1)); }
  let lo = x + p - k + 1;
  var first = 0;
  if (lo > 0) { first = (lo + s - 1) / s; }
  return vec2<i32>(first, min(outSize - 1, (x + p) / s));
}

fn winRows(oh: i32) -> vec2<i32> { return win(oh, i32(P.h), i32(P.hout), i32(P.kh), i32(P.sh), i32(P.ph)); }
fn winCols(ow: i32) -> vec2<i32> { return win(ow, i32(P.w), i32(P.wout), i32(P.kw), i32(P.sw), i32(P.pw)); }

fn divisor(rows: vec2<i32>, cols: vec2<i32>) -> f32 {
  if (P.countIncludePad != 0u && P.adaptive == 0u) { return f32(P.kh * P.kw); }
  return f32((rows.y - rows.x) * (cols.y - cols.x));
}`;

/** One output per invocation: decode (plane, oh, ow) from i. */
const OUT_POS = `  let ow = i32(i % P.wout);
  let oh = i32((i / P.wout) % P.hout);
  let plane = i / (P.wout * P.hout);
  let rows = winRows(oh);
  let cols = winCols(ow);
  let base = plane * P.h * P.w;`;

/** One input element per invocation: decode (plane, ih, iw) and the outputs that may hold it. */
const IN_POS = `  let iw = i32(i % P.w);
  let ih = i32((i / P.w) % P.h);
  let plane = i / (P.w * P.h);
  let hr = holders(ih, i32(P.h), i32(P.hout), i32(P.kh), i32(P.sh), i32(P.ph));
  let hc = holders(iw, i32(P.w), i32(P.wout), i32(P.kw), i32(P.sw), i32(P.pw));
  let obase = plane * P.hout * P.wout;`;

/**
 * Values and int32 indices in one pass. The first maximum in row-major order; every NaN takes over
 * (PyTorch 1.13).
 */
export const maxPoolKernel = defineKernel({
  name: 'pool:max',
  bindings: { X: F32_READ, values: F32_OUT, indices: I32_OUT },
  uniforms: POOL_UNIFORMS,
  workgroupSize: WG,
  helpers: HELPERS,
  body: `  if (i >= P.total) { return; }
${OUT_POS}
  var best = 0.0;
  var bi = -1;
  for (var y = rows.x; y < rows.y; y++) {
    for (var x = cols.x; x < cols.y; x++) {
      let v = X[base + u32(y) * P.w + u32(x)];
      // NaN by its bits: drivers may fold float NaN tests away.
      let isNan = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
      if (bi < 0 || isNan || v > best) { best = v; bi = y * i32(P.w) + x; }
    }
  }
  values[i] = best;
  indices[i] = bi;`,
});

/** dx: each input element sums the dy of the windows whose index names it. */
export const maxPoolBackwardKernel = defineKernel({
  name: 'pool:max:backward',
  bindings: { DY: F32_READ, IX: I32_READ, out: F32_OUT },
  uniforms: POOL_UNIFORMS,
  workgroupSize: WG,
  helpers: HELPERS,
  body: `  if (i >= P.total) { return; }
${IN_POS}
  let me = ih * i32(P.w) + iw;
  var acc = 0.0;
  for (var oh = hr.x; oh <= hr.y; oh++) {
    for (var ow = hc.x; ow <= hc.y; ow++) {
      let o = obase + u32(oh) * P.wout + u32(ow);
      if (IX[o] == me) { acc += DY[o]; }
    }
  }
  out[i] = acc;`,
});

/**
 * dx where the windows tile the input exactly (not adaptive, stride = kernel, no padding, h = hout·kh,
 * w = wout·kw): every input element lies in exactly one window, so one invocation per output writes
 * its whole window (dy at the index, zero elsewhere). A quarter of the invocations of the gather
 * above for 2×2, each decoding one position instead of searching for its holders.
 */
export const maxPoolBackwardTiledKernel = defineKernel({
  name: 'pool:max:backward:tiled',
  bindings: { DY: F32_READ, IX: I32_READ, out: F32_OUT },
  uniforms: POOL_UNIFORMS,
  workgroupSize: WG,
  body: `  if (i >= P.total) { return; }
  let ow = i % P.wout;
  let r = i / P.wout;
  let oh = r % P.hout;
  let plane = r / P.hout;
  let d = DY[i];
  let at = IX[i];
  let y0 = oh * P.kh;
  let x0 = ow * P.kw;
  let base = plane * P.h * P.w;
  for (var y = y0; y < y0 + P.kh; y++) {
    for (var x = x0; x < x0 + P.kw; x++) {
      let me = i32(y * P.w + x);
      out[base + u32(me)] = select(0.0, d, me == at);
    }
  }`,
});

export const avgPoolKernel = defineKernel({
  name: 'pool:avg',
  bindings: { X: F32_READ, out: F32_OUT },
  uniforms: POOL_UNIFORMS,
  workgroupSize: WG,
  helpers: HELPERS,
  body: `  if (i >= P.total) { return; }
${OUT_POS}
  var s = 0.0;
  for (var y = rows.x; y < rows.y; y++) {
    for (var x = cols.x; x < cols.y; x++) { s += X[base + u32(y) * P.w + u32(x)]; }
  }
  out[i] = s / divisor(rows, cols);`,
});

export const avgPoolBackwardKernel = defineKernel({
  name: 'pool:avg:backward',
  bindings: { DY: F32_READ, out: F32_OUT },
  uniforms: POOL_UNIFORMS,
  workgroupSize: WG,
  helpers: HELPERS,
  body: `  if (i >= P.total) { return; }
${IN_POS}
  var acc = 0.0;
  for (var oh = hr.x; oh <= hr.y; oh++) {
    let rows = winRows(oh);
    if (ih < rows.x || ih >= rows.y) { continue; }
    for (var ow = hc.x; ow <= hc.y; ow++) {
      let cols = winCols(ow);
      if (iw < cols.x || iw >= cols.y) { continue; }
      acc += DY[obase + u32(oh) * P.wout + u32(ow)] / divisor(rows, cols);
    }
  }
  out[i] = acc;`,
});
