/**
 * Host side of the convolution and pooling kernels (see ConvKernels in ../types.ts and the WGSL in
 * shaders/conv2d.ts, shaders/pool.ts): validates sizes, packs the uniforms, dispatches.
 */
import { WG_1D, wgslType } from '../../../shaders/common.js';
import {
  CONV_FIELDS, conv2dBackwardInputShader, conv2dBackwardWeightShader, conv2dForwardShader,
} from '../../../shaders/conv2d.js';
import {
  POOL_FIELDS, avgPoolBackwardShader, avgPoolShader, maxPoolBackwardShader, maxPoolIndexShader, maxPoolValueShader,
} from '../../../shaders/pool.js';
import type { Conv2dGeometry, Pool2dGeometry, Storage } from '../types.js';
import { Params, type KernelContext } from './context.js';
import { fill } from './elementwise.js';
import { reduce } from './reduce.js';
import type { GpuStorage } from './storage.js';

const groupsFor = (n: number, wg = WG_1D): number => Math.ceil(n / wg);

function operand(ctx: KernelContext, op: string, name: string, s: Storage, expected: number): GpuStorage {
  const g = ctx.input(s, op);
  if (g.length !== expected) throw new Error(`webgpu: ${op}: ${name} has ${g.length} elements, expected ${expected}`);
  const want = name === 'indices' ? 'int32' : 'float32';
  if (g.dtype !== want) {
    wgslType(g.dtype); // float64 gets the backend's usual message
    throw new Error(`webgpu: ${op}: ${name} must be ${want}, got ${g.dtype}`);
  }
  return g;
}

const xSize = (g: Conv2dGeometry): number => g.n * g.cin * g.h * g.w;
const wSize = (g: Conv2dGeometry): number => g.cout * (g.cin / g.groups) * g.kh * g.kw;
const ySize = (g: Conv2dGeometry): number => g.n * g.cout * g.hout * g.wout;

function convParams(g: Conv2dGeometry, total: number, chunks = 1, chunkLen = 0): Params {
  const p = new Params(CONV_FIELDS.length);
  const v: Record<(typeof CONV_FIELDS)[number], number> = {
    total, n: g.n, cin: g.cin, h: g.h, w: g.w, cout: g.cout, kh: g.kh, kw: g.kw, hout: g.hout, wout: g.wout,
    sh: g.strideH, sw: g.strideW, ph: g.padH, pw: g.padW, dh: g.dilationH, dw: g.dilationW,
    cinG: g.cin / g.groups, coutG: g.cout / g.groups, chunks, chunkLen,
  };
  CONV_FIELDS.forEach((f, i) => { p.u32[i] = v[f]; });
  return p;
}

export function conv2d(ctx: KernelContext, xs: Storage, ws: Storage, bs: Storage | null, g: Conv2dGeometry): GpuStorage {
  const op = 'conv2d';
  const x = operand(ctx, op, 'x', xs, xSize(g));
  const w = operand(ctx, op, 'weight', ws, wSize(g));
  const b = bs ? operand(ctx, op, 'bias', bs, g.cout) : null;
  const n = ySize(g);
  if (n === 0) return ctx.output(0, 'float32', op);
  // An empty reduction (cin/groups·kh·kw = 0 cannot happen: shapes are validated) or empty x: bias only.
  if (x.length === 0 || w.length === 0) return fill(ctx, n, 0, 'float32');
  const total = g.n * g.cout * g.hout * Math.ceil(g.wout / 4);
  const kernel = ctx.pipelines.get(`conv2d:fwd:${b ? 'bias' : 'nobias'}`, b ? 3 : 2, () => conv2dForwardShader(b !== null));
  const out = ctx.output(n, 'float32', op);
  const buffers = b ? [x.buffer, w.buffer, b.buffer, out.buffer] : [x.buffer, w.buffer, out.buffer];
  ctx.batcher.dispatch(op, kernel, buffers, convParams(g, total).u32, groupsFor(total, 64));
  return out;
}

export function conv2dBackwardInput(ctx: KernelContext, dys: Storage, ws: Storage, g: Conv2dGeometry): GpuStorage {
  const op = 'conv2dBackwardInput';
  const dy = operand(ctx, op, 'dy', dys, ySize(g));
  const w = operand(ctx, op, 'weight', ws, wSize(g));
  const n = xSize(g);
  if (n === 0) return ctx.output(0, 'float32', op);
  if (dy.length === 0 || w.length === 0) return fill(ctx, n, 0, 'float32');
  const kernel = ctx.pipelines.get('conv2d:dx', 2, conv2dBackwardInputShader);
  const out = ctx.output(n, 'float32', op);
  ctx.batcher.dispatch(op, kernel, [dy.buffer, w.buffer, out.buffer], convParams(g, n).u32, groupsFor(n));
  return out;
}

/** Aim for about this many invocations in the weight gradient's first pass (more slices of N·Hout·Wout when the weight is small). */
const DW_TARGET_INVOCATIONS = 16384;

export function conv2dBackwardWeight(ctx: KernelContext, xs: Storage, dys: Storage, g: Conv2dGeometry): GpuStorage {
  const op = 'conv2dBackwardWeight';
  const x = operand(ctx, op, 'x', xs, xSize(g));
  const dy = operand(ctx, op, 'dy', dys, ySize(g));
  const ws = wSize(g);
  if (ws === 0) return ctx.output(0, 'float32', op);
  const pixels = g.n * g.hout * g.wout;
  if (pixels === 0 || x.length === 0) return fill(ctx, ws, 0, 'float32');
  const chunks = Math.max(1, Math.min(Math.ceil(DW_TARGET_INVOCATIONS / ws), Math.ceil(pixels / 64), 1024));
  const chunkLen = Math.ceil(pixels / chunks);
  const total = chunks * ws;
  const kernel = ctx.pipelines.get('conv2d:dw', 2, conv2dBackwardWeightShader);
  const partial = ctx.output(total, 'float32', op);
  ctx.batcher.dispatch(op, kernel, [x.buffer, dy.buffer, partial.buffer], convParams(g, total, chunks, chunkLen).u32, groupsFor(total));
  if (chunks === 1) return partial;
  const out = reduce(ctx, 'sum', partial, 1, chunks, ws);
  ctx.releaseStorage(partial);
  return out;
}

function poolParams(g: Pool2dGeometry, total: number): Uint32Array {
  const p = new Params(POOL_FIELDS.length);
  const v: Record<(typeof POOL_FIELDS)[number], number> = {
    total, h: g.h, w: g.w, hout: g.hout, wout: g.wout, kh: g.kh, kw: g.kw, sh: g.strideH, sw: g.strideW,
    ph: g.padH, pw: g.padW, adaptive: g.adaptive ? 1 : 0, countIncludePad: g.countIncludePad ? 1 : 0,
  };
  POOL_FIELDS.forEach((f, i) => { p.u32[i] = v[f]; });
  return p.u32;
}

export function maxPool2d(ctx: KernelContext, xs: Storage, g: Pool2dGeometry): { values: GpuStorage; indices: GpuStorage } {
  const op = 'maxPool2d';
  const x = operand(ctx, op, 'x', xs, g.planes * g.h * g.w);
  const n = g.planes * g.hout * g.wout;
  const indices = ctx.output(n, 'int32', op);
  const values = ctx.output(n, 'float32', op);
  if (n === 0) return { values, indices };
  const params = poolParams(g, n);
  ctx.batcher.dispatch(op, ctx.pipelines.get('pool:max:index', 1, maxPoolIndexShader), [x.buffer, indices.buffer], params, groupsFor(n));
  ctx.batcher.dispatch(op, ctx.pipelines.get('pool:max:value', 2, maxPoolValueShader), [x.buffer, indices.buffer, values.buffer], params, groupsFor(n));
  return { values, indices };
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
  ctx.batcher.dispatch(op, ctx.pipelines.get('pool:max:backward', 2, maxPoolBackwardShader), [dy.buffer, ix.buffer, out.buffer], poolParams(g, n), groupsFor(n));
  return out;
}

export function avgPool2d(ctx: KernelContext, xs: Storage, g: Pool2dGeometry): GpuStorage {
  const op = 'avgPool2d';
  const x = operand(ctx, op, 'x', xs, g.planes * g.h * g.w);
  const n = g.planes * g.hout * g.wout;
  const out = ctx.output(n, 'float32', op);
  if (n === 0) return out;
  ctx.batcher.dispatch(op, ctx.pipelines.get('pool:avg', 1, avgPoolShader), [x.buffer, out.buffer], poolParams(g, n), groupsFor(n));
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
  ctx.batcher.dispatch(op, ctx.pipelines.get('pool:avg:backward', 1, avgPoolBackwardShader), [dy.buffer, out.buffer], poolParams(g, n), groupsFor(n));
  return out;
}
