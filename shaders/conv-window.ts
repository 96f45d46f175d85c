/**
 * The "window" convolution kernels: stride 1, dilation 1, the kernel size (KH × KW) compiled in and
 * every tap unrolled. Each invocation computes a block of 4 adjacent outputs of one row × CB output
 * channels (CB = 4 or 8, vec4 accumulators over channels), or a span of such blocks along the row
 * one after another (the position decode paid once for the span). Per input channel it loads each input
 * row of its window once (4 + KW − 1 values for KH rows: 18 loads for 3×3, where the implicit GEMM
 * of conv-gemm.ts loads 36) and each weight once for the 4 outputs; the index map (row offsets,
 * clamped columns, masks) is computed once per invocation, outside the channel loop.
 *
 * The same kernel runs the forward pass and the input gradient: with stride 1 and dilation 1 the
 * input gradient is a convolution of dy with the weights transposed (in ↔ out channels) and
 * flipped, padded by K − 1 − pad. The mode only changes the weight index: forward reads
 * W[co, c, a, b], 'dx' reads W[c, ci, KH−1−a, KW−1−b]; strides between channels come as uniforms.
 *
 * Invocation order: the fastest index is the channel block, so neighbouring invocations (one SIMD
 * batch on a CPU driver) share the same input window (loads hit the cache, row masks agree).
 * Taps outside the input: a row outside is skipped (a branch on a per-invocation mask), a column
 * outside contributes select(0, x·w, ...) of its product, never 0·w (an infinite weight would make
 * NaN where the CPU reference skips the tap).
 */
import { F32_OUT, F32_READ } from './conv2d.js';
import { defineKernel, kernelFamily, type BindingDecls } from './program.js';

/** Adjacent outputs of one row per invocation. */
export const CONV_WINDOW_PIXELS = 4;
/** Largest kernel side compiled unrolled (the code grows with KH · KW · CB). */
export const CONV_WINDOW_MAX_K = 5;
export const CONV_WINDOW_WG = 64;

export type ConvWindowMode = 'fwd' | 'dx';

const LANE = ['x', 'y', 'z', 'w'] as const;
const range = (n: number): number[] => Array.from({ length: n }, (_, k) => k);

export const CONV_WINDOW_UNIFORMS = {
  total: 'u32', cBlocks: 'u32', groups: 'u32', wq: 'u32', span: 'u32', chunks: 'u32',
  inC: 'u32', inCG: 'u32', inH: 'u32', inW: 'u32', outC: 'u32', outCG: 'u32', outH: 'u32', outW: 'u32',
  padH: 'i32', padW: 'i32', wsJ: 'u32', wsC: 'u32', wGroup: 'u32',
} as const;

const family = kernelFamily((mode: ConvWindowMode, hasBias: boolean, kh: number, kw: number, cb: number) => {
  const PX = CONV_WINDOW_PIXELS;
  const cols = PX + kw - 1;
  const halves = cb / 4;
  const tap = (a: number, b: number): number => (mode === 'fwd' ? a * kw + b : (kh - 1 - a) * kw + (kw - 1 - b));
  const bindings: BindingDecls = hasBias ? { X: F32_READ, Wt: F32_READ, B: F32_READ, out: F32_OUT } : { X: F32_READ, Wt: F32_READ, out: F32_OUT };
  const rowBody = (a: number): string => {
    const loads = range(cols).map((t) => `        let x${t} = X[xr + c${t}];`).join('\n');
    const taps = range(kw).map((b) => {
      const ws = range(halves).map((h) => `        let w${b}_${h} = vec4<f32>(${range(4).map((q) => `Wt[wb${h * 4 + q} + ${tap(a, b)}u]`).join(', ')});`).join('\n');
      const fmas = range(PX).map((l) => range(halves).map((h) =>
        `        acc${l}_${h} = acc${l}_${h} + select(vec4<f32>(0.0), x${l + b} * w${b}_${h}, ck${l + b});`).join('\n')).join('\n');
      return `${ws}\n${fmas}`;
    }).join('\n');
    return `      if (rk${a}) {
        let xr = xb + r${a};
${loads}
${taps}
      }`;
  };
  return defineKernel({
    name: `conv2d:window:${mode}:${hasBias ? 'bias' : 'nobias'}:${kh}x${kw}:cb${cb}`,
    bindings,
    uniforms: CONV_WINDOW_UNIFORMS,
    workgroupSize: CONV_WINDOW_WG,
    body: () => `  if (i >= P.total) { return; }
  let cblk = i % P.cBlocks;
  var r = i / P.cBlocks;
  let grp = r % P.groups; r = r / P.groups;
  let chunk = r % P.chunks; r = r / P.chunks;
  let oh = r % P.outH;
  let nb = r / P.outH;
  let j0 = cblk * ${cb}u;
  let hi = i32(P.inH);
  let wi = i32(P.inW);
  let ih0 = i32(oh) - P.padH;
${range(kh).map((a) => `  let rk${a} = ih0 + ${a} >= 0 && ih0 + ${a} < hi;
  let r${a} = u32(clamp(ih0 + ${a}, 0, hi - 1)) * P.inW;`).join('\n')}
${range(cb).map((j) => `  let wj${j} = grp * P.wGroup + min(j0 + ${j}u, P.outCG - 1u) * P.wsJ;`).join('\n')}
  let plane = P.inH * P.inW;
  let xg = (nb * P.inC + grp * P.inCG) * plane;
  let oplane = P.outH * P.outW;
  let yrow = (nb * P.outC + grp * P.outCG + j0) * oplane + oh * P.outW;
  let firstBlock = chunk * P.span;
  let endBlock = min(firstBlock + P.span, P.wq);
  // A span of blocks along the row: the position decode above (divisions by uniforms, one per
  // lane on CPU drivers) is paid once for all of them.
  for (var blk = firstBlock; blk < endBlock; blk++) {
    let ow0 = blk * ${PX}u;
    let iw0 = i32(ow0) - P.padW;
${range(cols).map((t) => `    let ck${t} = iw0 + ${t} >= 0 && iw0 + ${t} < wi;
    let c${t} = u32(clamp(iw0 + ${t}, 0, wi - 1));`).join('\n')}
${range(PX).map((l) => range(halves).map((h) => `    var acc${l}_${h} = vec4<f32>(0.0);`).join('\n')).join('\n')}
    var xb = xg;
    var wc = 0u;
    for (var c = 0u; c < P.inCG; c++) {
${range(cb).map((j) => `      let wb${j} = wj${j} + wc;`).join('\n')}
${range(kh).map(rowBody).join('\n')}
      xb += plane;
      wc += P.wsC;
    }
    let ybase = yrow + ow0;
${range(cb).map((j) => {
    const h = Math.floor(j / 4);
    const lane = LANE[j % 4];
    return `    if (j0 + ${j}u < P.outCG) {
      ${hasBias ? `let bv = B[grp * P.outCG + j0 + ${j}u];` : 'let bv = 0.0;'}
${range(PX).map((l) => `      if (ow0 + ${l}u < P.outW) { out[ybase + ${j}u * oplane + ${l}u] = acc${l}_${h}.${lane} + bv; }`).join('\n')}
    }`;
  }).join('\n')}
  }`,
  });
});

/**
 * Bindings X, Wt, (B), out. wq = ceil(outW / 4) blocks per output row, span of them per invocation,
 * chunks = ceil(wq / span); total = n · outH · chunks · groups · cBlocks, cBlocks = ceil(outCG / cb).
 * Forward: in = x, out = y; 'dx': in = dy, out = dx (no bias).
 */
export function conv2dWindowKernel(mode: ConvWindowMode, hasBias: boolean, kh: number, kw: number, cb: 4 | 8) {
  return family(mode, hasBias, kh, kw, cb);
}
