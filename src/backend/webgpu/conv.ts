/**
 * Host side of the convolution and pooling kernels (see ConvKernels in ../types.ts and the WGSL in
 * shaders/conv2d.ts, shaders/conv-gemm.ts, shaders/pool.ts): validates sizes, chooses a design by
 * shape, dispatches.
 *
 * Designs (chosen by shape, never by timing at run time; kernel-choice.ts can force one for the tests):
 *  - 'matmul': a 1×1 convolution with stride 1, no padding and one group is a batched matmul
 *    ([cout, cin] · x[n] as [cin, h·w]); the existing register-blocked matmul runs it.
 *  - 'gemm': the implicit GEMMs of conv-gemm.ts (4×4 register blocks over output pixels ×
 *    channels); the general path.
 *  - 'window': the unrolled window kernels of conv-window.ts for the forward pass and dx at stride 1,
 *    dilation 1 and kernels up to 5×5 with 4+ channels per group (the GEMM's place there): each
 *    input row of a window loaded once per channel, not once per tap. Measured on lavapipe
 *    (2026-12-03, load ~25, bench/conv-designs.ts, median of 9 alternating rounds, gemm / window):
 *    [128,32,14,14]→64 forward 1949 / 1229 ms, dx 1413 / 1195 ms; [128,1,28,28]→32 forward
 *    206 / 192 ms; [128,16,14,14]→32 forward 489 / 424 ms, dx 381 / 270 ms (median of 5).
 *  - 'direct': one output row segment (or element) per invocation; taken where the GEMM's channel
 *    tile of 4 would mostly idle: fewer than 4 output channels per group for the forward and the
 *    weight gradient, fewer than 4 input channels per group for the input gradient (depthwise).
 *    Measured on lavapipe (2026-12-03, batch 128, 3×3, pad 1; fastest of 4, forward / dx / dw):
 *    1 → 16 channels at 28²: direct 56-70 / 44-45 / 71-100 ms, GEMM 27-33 / 87-109 / 17-24;
 *    depthwise 32 channels at 14²: direct 57-76 / 50-66 / 38-60, GEMM 128-131 / 119-171 / 95-104;
 *    16 → 32 at 14²: direct 478-643 / 480-484 / 876-904, GEMM 193-211 / 149-175 / 113-177.
 */
import { CONV_DIRECT_BLOCK, CONV_DIRECT_WG, channelBiasKernel, conv2dDirectBackwardInputKernel, conv2dDirectBackwardWeightKernel, conv2dDirectForwardKernel } from '../../../shaders/conv2d.js';
import { CONV_WINDOW_MAX_K, CONV_WINDOW_PIXELS, CONV_WINDOW_WG, conv2dWindowKernel, type ConvWindowMode } from '../../../shaders/conv-window.js';
import { CONV_GEMM_BLOCK, conv2dGemmBackwardInputKernel, conv2dGemmBackwardWeightKernel, conv2dGemmForwardKernel } from '../../../shaders/conv-gemm.js';
import { WG_1D, wgslType } from '../../../shaders/common.js';
import { avgPoolBackwardKernel, avgPoolKernel, maxPoolBackwardKernel, maxPoolBackwardTiledKernel, maxPoolKernel } from '../../../shaders/pool.js';
import type { Conv2dGeometry, Pool2dGeometry, Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import { fill } from './elementwise.js';
import { kernelChoice } from './kernel-choice.js';
import { matmul, type WorkgroupShape } from './matmul.js';
import { reduce } from './reduce.js';
import type { GpuStorage } from './storage.js';

const groupsFor = (n: number, wg = WG_1D): number => Math.ceil(n / wg);

function operand(ctx: KernelContext, op: string, name: string, s: Storage, expected: number): GpuStorage {
  const g = ctx.input(s, op);
  if (g.length !== expected) throw new Error(`webgpu: ${op}: ${name} has ${g.length} elements, expected ${expected}`);
  const want = name === 'indices' ? 'int32' : 'float32';
  if (g.dtype !== want) {
    // float64 gets the backend's usual message; float16 (which wgslType does not name) the one below.
    if (g.dtype === 'float64') wgslType(g.dtype);
    throw new Error(`webgpu: ${op}: ${name} must be ${want}, got ${g.dtype}`);
  }
  return g;
}

const xSize = (g: Conv2dGeometry): number => g.n * g.cin * g.h * g.w;
const wSize = (g: Conv2dGeometry): number => g.cout * (g.cin / g.groups) * g.kh * g.kw;
const ySize = (g: Conv2dGeometry): number => g.n * g.cout * g.hout * g.wout;

function geometry(g: Conv2dGeometry) {
  return {
    n: g.n, cin: g.cin, h: g.h, w: g.w, cout: g.cout, kh: g.kh, kw: g.kw, hout: g.hout, wout: g.wout,
    sh: g.strideH, sw: g.strideW, ph: g.padH, pw: g.padW, dh: g.dilationH, dw: g.dilationW,
    cinG: g.cin / g.groups, coutG: g.cout / g.groups,
  };
}

export type ConvPath = 'direct' | 'gemm' | 'matmul' | 'window';
type ConvPass = 'fwd' | 'dx' | 'dw';

/** Whether the convolution is a plain matmul per image. */
export function isPointwise(g: Conv2dGeometry): boolean {
  return g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0 && g.groups === 1;
}

/** Whether the window kernels (conv-window.ts) can run the pass: forward and dx at stride 1, dilation 1, small kernels. */
export function windowApplies(g: Conv2dGeometry, pass: ConvPass): boolean {
  return pass !== 'dw' && g.strideH === 1 && g.strideW === 1 && g.dilationH === 1 && g.dilationW === 1 &&
    g.kh <= CONV_WINDOW_MAX_K && g.kw <= CONV_WINDOW_MAX_K;
}

/** The design a pass takes: the forced one (kernel-choice.ts) where it applies, else by shape. */
export function convPath(g: Conv2dGeometry, pass: ConvPass): ConvPath {
  const forced = kernelChoice().convPath;
  if (forced === 'direct' || forced === 'gemm') return forced;
  if (forced === 'window' && windowApplies(g, pass)) return 'window';
  if (isPointwise(g)) return 'matmul';
  if (forced === 'matmul') return 'gemm';
  // The GEMM's and the window kernels' columns are channels of one group, 4 or more per invocation.
  const columns = pass === 'dx' ? g.cin / g.groups : g.cout / g.groups;
  if (columns < CONV_GEMM_BLOCK) return 'direct';
  return windowApplies(g, pass) ? 'window' : 'gemm';
}

/**
 * Output channels per window invocation: 4 forward, 8 for dx where there are at least 8 per group.
 * Measured with bench/conv-designs.ts on lavapipe (2026-12-03 22:11-22:15 UTC, load ~25, median
 * of 5 and 9 alternating rounds, ms cb4 / cb8): [128,32,14,14]→64 forward 1135 / 1249 and
 * 1229 / 1358, dx 1393 / 1289 and 1279 / 1195; [128,16,14,14]→32 dx 357 / 270.
 */
export function convWindowBlock(g: Conv2dGeometry, pass: ConvPass): 4 | 8 {
  const forced = kernelChoice().convWindowBlock;
  if (forced) return forced;
  return pass === 'dx' && g.cin / g.groups >= 8 ? 8 : 4;
}

/**
 * Blocks along a row per window invocation. On a software adapter, where the position decode
 * (integer divisions by uniforms, one per SIMD lane) costs as much as a short reduction, a whole
 * row when the reduction (channels · taps) is short; one block elsewhere (GPUs want invocations).
 */
export function convWindowSpan(ctx: KernelContext, reduction: number): number {
  const forced = kernelChoice().convWindowSpan;
  if (forced !== undefined) return forced;
  return ctx.softwareAdapter && reduction <= WINDOW_ROW_SPAN_MAX_REDUCTION ? Infinity : 1;
}
/** Longest reduction (input channels per group · kh · kw) that gets whole-row spans on software adapters. */
const WINDOW_ROW_SPAN_MAX_REDUCTION = 36;

/**
 * Runs a window kernel: the forward pass (in = x, out = y) or the input gradient (in = dy,
 * out = dx: the convolution of dy with the transposed, flipped weights, padded by K − 1 − pad).
 */
function convWindow(ctx: KernelContext, op: string, mode: ConvWindowMode, input: GpuStorage, w: GpuStorage, b: GpuStorage | null, out: GpuStorage, g: Conv2dGeometry): void {
  const cinG = g.cin / g.groups;
  const coutG = g.cout / g.groups;
  const khw = g.kh * g.kw;
  const fwd = mode === 'fwd';
  const cb = convWindowBlock(g, fwd ? 'fwd' : 'dx');
  const [inC, inCG, inH, inW] = fwd ? [g.cin, cinG, g.h, g.w] : [g.cout, coutG, g.hout, g.wout];
  const [outC, outCG, outH, outW] = fwd ? [g.cout, coutG, g.hout, g.wout] : [g.cin, cinG, g.h, g.w];
  const cBlocks = Math.ceil(outCG / cb);
  const wq = Math.ceil(outW / CONV_WINDOW_PIXELS);
  const span = Math.max(1, Math.min(wq, convWindowSpan(ctx, inCG * khw)));
  const chunks = Math.ceil(wq / span);
  const total = g.n * outH * chunks * g.groups * cBlocks;
  const kernel = conv2dWindowKernel(mode, b !== null, g.kh, g.kw, cb);
  const uniforms = {
    total, cBlocks, groups: g.groups, wq, span, chunks, inC, inCG, inH, inW, outC, outCG, outH, outW,
    padH: fwd ? g.padH : g.kh - 1 - g.padH, padW: fwd ? g.padW : g.kw - 1 - g.padW,
    wsJ: fwd ? cinG * khw : khw, wsC: fwd ? khw : cinG * khw, wGroup: coutG * cinG * khw,
  };
  dispatchKernel(ctx, op, kernel, biasBuffers(input, w, b, out), uniforms, groupsFor(total, CONV_WINDOW_WG));
}

/**
 * Workgroup shape of the implicit GEMMs. On lavapipe (a workgroup runs as a loop over SIMD batches
 * on one CPU thread) small workgroups balance best across threads, as for matmul; GPUs get 8×8.
 */
export function convShape(ctx: KernelContext): WorkgroupShape {
  return kernelChoice().convShape ?? (ctx.softwareAdapter ? [4, 4] : [8, 8]);
}

/** Dispatches a 2-D-tiled kernel over [xBlocks, yBlocks, z] invocation blocks, split on x at the device limit. */
function dispatchTiled(ctx: KernelContext, run: (xOff: number, workgroups: [number, number, number]) => void, shape: WorkgroupShape, xBlocks: number, yBlocks: number, z: number, op: string): void {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  const gx = Math.ceil(xBlocks / shape[0]);
  const gy = Math.ceil(yBlocks / shape[1]);
  if (gy > max || z > max) throw new Error(`webgpu: ${op}: needs ${gy} × ${z} workgroups on y × z, more than the device's ${max}`);
  for (let x0 = 0; x0 < gx; x0 += max) run(x0, [Math.min(max, gx - x0), gy, z]);
}

/** The forward kernels' buffers by binding name (B only with a bias). */
function biasBuffers(x: GpuStorage, w: GpuStorage, b: GpuStorage | null, out: GpuStorage): Record<string, GPUBuffer> {
  return b ? { X: x.buffer, Wt: w.buffer, B: b.buffer, out: out.buffer } : { X: x.buffer, Wt: w.buffer, out: out.buffer };
}

export function conv2d(ctx: KernelContext, xs: Storage, ws: Storage, bs: Storage | null, g: Conv2dGeometry): GpuStorage {
  const op = 'conv2d';
  const x = operand(ctx, op, 'x', xs, xSize(g));
  const w = operand(ctx, op, 'weight', ws, wSize(g));
  const b = bs ? operand(ctx, op, 'bias', bs, g.cout) : null;
  const n = ySize(g);
  if (n === 0) return ctx.output(0, 'float32', op);
  // Empty x (or weight): every output is the bias alone, or zero (as in PyTorch and the CPU backend).
  if (x.length === 0 || w.length === 0) {
    const y = fill(ctx, n, 0, 'float32');
    if (b) dispatchKernel(ctx, op, channelBiasKernel, { B: b.buffer, Y: y.buffer }, { total: n, plane: g.hout * g.wout, channels: g.cout }, groupsFor(n));
    return y;
  }
  // Stryker disable next-line StringLiteral: convPath only tests pass === 'dx' and pass !== 'dw', so 'fwd' and '' take the same branches
  const path = convPath(g, 'fwd');
  if (path === 'matmul') {
    const plane = g.h * g.w;
    const y = matmul(ctx, w, x, { batch: g.n, m: g.cout, k: g.cin, n: plane, transA: false, transB: false, aBatchStride: 0, bBatchStride: g.cin * plane });
    if (b) dispatchKernel(ctx, op, channelBiasKernel, { B: b.buffer, Y: y.buffer }, { total: n, plane, channels: g.cout }, groupsFor(n));
    return y;
  }
  const out = ctx.output(n, 'float32', op);
  if (path === 'window') {
    convWindow(ctx, op, 'fwd', x, w, b, out, g);
    return out;
  }
  const geo = geometry(g);
  if (path === 'direct') {
    const total = g.n * g.cout * g.hout * Math.ceil(g.wout / CONV_DIRECT_BLOCK);
    const kernel = conv2dDirectForwardKernel(b !== null);
    dispatchKernel(ctx, op, kernel, biasBuffers(x, w, b, out), { total, ...geo }, groupsFor(total, CONV_DIRECT_WG));
    return out;
  }
  const shape = convShape(ctx);
  const kernel = conv2dGemmForwardKernel(b !== null, shape[0], shape[1]);
  const rowBlocks = g.n * g.hout * Math.ceil(g.wout / CONV_GEMM_BLOCK);
  const buffers = biasBuffers(x, w, b, out);
  dispatchTiled(ctx, (xOff, wgs) => dispatchKernel(ctx, op, kernel, buffers, { xOff, rowBlocks, ...geo }, wgs),
    shape, rowBlocks, Math.ceil(geo.coutG / CONV_GEMM_BLOCK), g.groups, op);
  return out;
}

export function conv2dBackwardInput(ctx: KernelContext, dys: Storage, ws: Storage, g: Conv2dGeometry): GpuStorage {
  const op = 'conv2dBackwardInput';
  const dy = operand(ctx, op, 'dy', dys, ySize(g));
  const w = operand(ctx, op, 'weight', ws, wSize(g));
  const n = xSize(g);
  if (n === 0) return ctx.output(0, 'float32', op);
  if (dy.length === 0 || w.length === 0) return fill(ctx, n, 0, 'float32');
  const path = convPath(g, 'dx');
  if (path === 'matmul') {
    // dx[n] = Wᵀ · dy[n]: W [cout, cin] read transposed.
    const plane = g.h * g.w;
    return matmul(ctx, w, dy, { batch: g.n, m: g.cin, k: g.cout, n: plane, transA: true, transB: false, aBatchStride: 0, bBatchStride: g.cout * plane });
  }
  const out = ctx.output(n, 'float32', op);
  if (path === 'window') {
    convWindow(ctx, op, 'dx', dy, w, null, out, g);
    return out;
  }
  const geo = geometry(g);
  if (path === 'direct') {
    const total = g.n * g.cin * g.h * Math.ceil(g.w / CONV_DIRECT_BLOCK);
    dispatchKernel(ctx, op, conv2dDirectBackwardInputKernel, { DY: dy.buffer, Wt: w.buffer, out: out.buffer }, { total, ...geo }, groupsFor(total, CONV_DIRECT_WG));
    return out;
  }
  const shape = convShape(ctx);
  const kernel = conv2dGemmBackwardInputKernel(shape[0], shape[1]);
  const rowBlocks = g.n * g.h * Math.ceil(g.w / CONV_GEMM_BLOCK);
  dispatchTiled(ctx, (xOff, wgs) => dispatchKernel(ctx, op, kernel, { DY: dy.buffer, Wt: w.buffer, out: out.buffer }, { xOff, rowBlocks, ...geo }, wgs),
    shape, rowBlocks, Math.ceil(geo.cinG / CONV_GEMM_BLOCK), g.groups, op);
  return out;
}

/** Aim for about this many invocations in the weight gradient's first pass (more slices of N·Hout·Wout when the weight is small). */
const DW_TARGET_INVOCATIONS = 16384;
/** Fewest output pixels per slice: shorter slices make the partial sums cost more than they save. */
const DW_MIN_SLICE = 64;

/** Slices of the N·Hout·Wout reduction so that about DW_TARGET_INVOCATIONS run at once. */
function slices(pixels: number, invocations: number, maxSlices: number): { chunks: number; chunkLen: number } {
  const want = Math.max(1, Math.min(Math.ceil(DW_TARGET_INVOCATIONS / invocations), Math.ceil(pixels / DW_MIN_SLICE), maxSlices));
  const chunkLen = Math.ceil(pixels / want);
  return { chunks: Math.ceil(pixels / chunkLen), chunkLen };
}

/** Sums the [chunks, size] partial results over chunks (releasing them). */
function sumSlices(ctx: KernelContext, partial: GpuStorage, chunks: number, size: number): GpuStorage {
  if (chunks === 1) return partial;
  const out = reduce(ctx, 'sum', partial, 1, chunks, size);
  ctx.releaseStorage(partial);
  return out;
}

export function conv2dBackwardWeight(ctx: KernelContext, xs: Storage, dys: Storage, g: Conv2dGeometry): GpuStorage {
  const op = 'conv2dBackwardWeight';
  const x = operand(ctx, op, 'x', xs, xSize(g));
  const dy = operand(ctx, op, 'dy', dys, ySize(g));
  const ws = wSize(g);
  if (ws === 0) return ctx.output(0, 'float32', op);
  const pixels = g.n * g.hout * g.wout;
  if (pixels === 0 || x.length === 0) return fill(ctx, ws, 0, 'float32');
  const path = convPath(g, 'dw');
  if (path === 'matmul') {
    // dW = Σₙ dy[n] · x[n]ᵀ: per image [cout, h·w] · [h·w, cin] (x read transposed), then summed over n.
    const plane = g.h * g.w;
    const partial = matmul(ctx, dy, x, { batch: g.n, m: g.cout, k: plane, n: g.cin, transA: false, transB: true, aBatchStride: g.cout * plane, bBatchStride: g.cin * plane });
    return sumSlices(ctx, partial, g.n, ws);
  }
  const geo = geometry(g);
  if (path === 'direct') {
    const { chunks, chunkLen } = slices(pixels, ws, 1024);
    const total = chunks * ws;
    const partial = ctx.output(total, 'float32', op);
    dispatchKernel(ctx, op, conv2dDirectBackwardWeightKernel, { X: x.buffer, DY: dy.buffer, out: partial.buffer }, { total, chunkLen, ...geo }, groupsFor(total));
    return sumSlices(ctx, partial, chunks, ws);
  }
  const shape = convShape(ctx);
  const kernel = conv2dGemmBackwardWeightKernel(shape[0], shape[1]);
  const k = geo.cinG * g.kh * g.kw;
  const rowBlocks = Math.ceil(k / CONV_GEMM_BLOCK);
  const colBlocks = Math.ceil(geo.coutG / CONV_GEMM_BLOCK);
  const maxZ = ctx.limits.maxComputeWorkgroupsPerDimension;
  const { chunks, chunkLen } = slices(pixels, rowBlocks * colBlocks * g.groups, Math.min(1024, Math.floor(maxZ / g.groups)));
  const partial = ctx.output(chunks * ws, 'float32', op);
  dispatchTiled(ctx, (xOff, wgs) => dispatchKernel(ctx, op, kernel, { X: x.buffer, DY: dy.buffer, out: partial.buffer }, { xOff, rowBlocks, groups: g.groups, chunkLen, ...geo }, wgs),
    shape, rowBlocks, colBlocks, chunks * g.groups, op);
  return sumSlices(ctx, partial, chunks, ws);
}

function poolUniforms(g: Pool2dGeometry, total: number) {
  return {
    total, h: g.h, w: g.w, hout: g.hout, wout: g.wout, kh: g.kh, kw: g.kw, sh: g.strideH, sw: g.strideW,
    ph: g.padH, pw: g.padW, adaptive: g.adaptive ? 1 : 0, countIncludePad: g.countIncludePad ? 1 : 0,
  };
}

export function maxPool2d(ctx: KernelContext, xs: Storage, g: Pool2dGeometry): { values: GpuStorage; indices: GpuStorage } {
  const op = 'maxPool2d';
  const x = operand(ctx, op, 'x', xs, g.planes * g.h * g.w);
  const n = g.planes * g.hout * g.wout;
  const indices = ctx.output(n, 'int32', op);
  const values = ctx.output(n, 'float32', op);
  if (n === 0) return { values, indices };
  dispatchKernel(ctx, op, maxPoolKernel, { X: x.buffer, values: values.buffer, indices: indices.buffer }, poolUniforms(g, n), groupsFor(n));
  return { values, indices };
}

/** Whether the pooling windows tile the input exactly (each input element in exactly one window). */
export function poolTiles(g: Pool2dGeometry): boolean {
  return !g.adaptive && g.strideH === g.kh && g.strideW === g.kw && g.padH === 0 && g.padW === 0 &&
    g.hout * g.kh === g.h && g.wout * g.kw === g.w;
}

/** max-pool dx design: 'tiled' (one invocation per window, where the windows tile the input) or the per-input 'gather'. */
export function maxPoolBackwardPath(g: Pool2dGeometry): 'tiled' | 'gather' {
  const forced = kernelChoice().maxPoolBackwardPath;
  if (forced === 'gather') return 'gather';
  return poolTiles(g) ? 'tiled' : 'gather';
}

export function maxPool2dBackward(ctx: KernelContext, dys: Storage, ixs: Storage, g: Pool2dGeometry): GpuStorage {
  const op = 'maxPool2dBackward';
  const nOut = g.planes * g.hout * g.wout;
  const dy = operand(ctx, op, 'dy', dys, nOut);
  const ix = operand(ctx, op, 'indices', ixs, nOut);
  const n = g.planes * g.h * g.w;
  if (n === 0) return ctx.output(0, 'float32', op);
  if (nOut === 0) return fill(ctx, n, 0, 'float32');
  const out = ctx.output(n, 'float32', op);
  const buffers = { DY: dy.buffer, IX: ix.buffer, out: out.buffer };
  if (maxPoolBackwardPath(g) === 'tiled') dispatchKernel(ctx, op, maxPoolBackwardTiledKernel, buffers, poolUniforms(g, nOut), groupsFor(nOut));
  else dispatchKernel(ctx, op, maxPoolBackwardKernel, buffers, poolUniforms(g, n), groupsFor(n));
  return out;
}

export function avgPool2d(ctx: KernelContext, xs: Storage, g: Pool2dGeometry): GpuStorage {
  const op = 'avgPool2d';
  const x = operand(ctx, op, 'x', xs, g.planes * g.h * g.w);
  const n = g.planes * g.hout * g.wout;
  const out = ctx.output(n, 'float32', op);
  if (n === 0) return out;
  dispatchKernel(ctx, op, avgPoolKernel, { X: x.buffer, out: out.buffer }, poolUniforms(g, n), groupsFor(n));
  return out;
}

export function avgPool2dBackward(ctx: KernelContext, dys: Storage, g: Pool2dGeometry): GpuStorage {
  const op = 'avgPool2dBackward';
  const nOut = g.planes * g.hout * g.wout;
  const dy = operand(ctx, op, 'dy', dys, nOut);
  const n = g.planes * g.h * g.w;
  if (n === 0) return ctx.output(0, 'float32', op);
  if (nOut === 0) return fill(ctx, n, 0, 'float32');
  const out = ctx.output(n, 'float32', op);
  dispatchKernel(ctx, op, avgPoolBackwardKernel, { DY: dy.buffer, out: out.buffer }, poolUniforms(g, n), groupsFor(n));
  return out;
}
