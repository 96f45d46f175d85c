/**
 * CPU reference of the convolution and pooling kernels (see ConvKernels in ../types.ts): plain
 * loops over PyTorch's definitions, float64 accumulation. The WGSL kernels are checked against these.
 */
import { typedArrayFor, type Conv2dGeometry, type Pool2dGeometry, type Storage } from '../types.js';
import { CpuStorage, cpuStorage } from './storage.js';

function operand(kernel: string, name: string, s: Storage, expected: number): CpuStorage {
  const c = cpuStorage(kernel, name, s);
  if (c.length !== expected) throw new Error(`cpu.${kernel}: ${name} has ${c.length} elements, expected ${expected}`);
  if (c.dtype === 'int32' && name !== 'indices') throw new Error(`cpu.${kernel}: ${name} must be floating point, got int32`);
  return c;
}

const xSize = (g: Conv2dGeometry): number => g.n * g.cin * g.h * g.w;
const wSize = (g: Conv2dGeometry): number => g.cout * (g.cin / g.groups) * g.kh * g.kw;
const ySize = (g: Conv2dGeometry): number => g.n * g.cout * g.hout * g.wout;

/**
 * Calls visit(xIndex, wIndex, yIndex) for every (input, weight, output) triple the convolution
 * multiplies together; the three kernels are this one loop with different accumulations.
 */
function forEachTap(g: Conv2dGeometry, visit: (xi: number, wi: number, yi: number) => void): void {
  const cinG = g.cin / g.groups;
  const coutG = g.cout / g.groups;
  for (let n = 0; n < g.n; n++) {
    for (let co = 0; co < g.cout; co++) {
      const grp = Math.floor(co / coutG);
      for (let oh = 0; oh < g.hout; oh++) {
        for (let ow = 0; ow < g.wout; ow++) {
          const yi = ((n * g.cout + co) * g.hout + oh) * g.wout + ow;
          for (let c = 0; c < cinG; c++) {
            const ci = grp * cinG + c;
            for (let i = 0; i < g.kh; i++) {
              const ih = oh * g.strideH - g.padH + i * g.dilationH;
              if (ih < 0 || ih >= g.h) continue;
              for (let j = 0; j < g.kw; j++) {
                const iw = ow * g.strideW - g.padW + j * g.dilationW;
                if (iw < 0 || iw >= g.w) continue;
                visit(((n * g.cin + ci) * g.h + ih) * g.w + iw, ((co * cinG + c) * g.kh + i) * g.kw + j, yi);
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dCpu(x: Storage, weight: Storage, bias: Storage | null, g: Conv2dGeometry): CpuStorage {
  const xs = operand('conv2d', 'x', x, xSize(g));
  const ws = operand('conv2d', 'weight', weight, wSize(g));
  const bs = bias ? operand('conv2d', 'bias', bias, g.cout) : null;
  const acc = new Float64Array(ySize(g));
  const xd = xs.data;
  const wd = ws.data;
  forEachTap(g, (xi, wi, yi) => { acc[yi] += xd[xi]! * wd[wi]!; });
  if (bs) {
    const plane = g.hout * g.wout;
    for (let i = 0; i < acc.length; i++) acc[i] += bs.data[Math.floor(i / plane) % g.cout]!;
  }
  const out = typedArrayFor(xs.dtype, acc.length);
  out.set(acc);
  return new CpuStorage(xs.dtype, out);
}

export function conv2dBackwardInputCpu(dy: Storage, weight: Storage, g: Conv2dGeometry): CpuStorage {
  const ds = operand('conv2dBackwardInput', 'dy', dy, ySize(g));
  const ws = operand('conv2dBackwardInput', 'weight', weight, wSize(g));
  const acc = new Float64Array(xSize(g));
  const dd = ds.data;
  const wd = ws.data;
  forEachTap(g, (xi, wi, yi) => { acc[xi] += dd[yi]! * wd[wi]!; });
  const out = typedArrayFor(ds.dtype, acc.length);
  out.set(acc);
  return new CpuStorage(ds.dtype, out);
}

export function conv2dBackwardWeightCpu(x: Storage, dy: Storage, g: Conv2dGeometry): CpuStorage {
  const xs = operand('conv2dBackwardWeight', 'x', x, xSize(g));
  const ds = operand('conv2dBackwardWeight', 'dy', dy, ySize(g));
  const acc = new Float64Array(wSize(g));
  const xd = xs.data;
  const dd = ds.data;
  forEachTap(g, (xi, wi, yi) => { acc[wi] += dd[yi]! * xd[xi]!; });
  const out = typedArrayFor(xs.dtype, acc.length);
  out.set(acc);
  return new CpuStorage(xs.dtype, out);
}

/** The rows (or columns) [start, end) of output position o's window along one axis, clipped to the input. */
export function poolWindow(o: number, size: number, outSize: number, k: number, stride: number, pad: number, adaptive: boolean): [number, number] {
  if (adaptive) return [Math.floor((o * size) / outSize), Math.ceil(((o + 1) * size) / outSize)];
  const s = o * stride - pad;
  return [Math.max(s, 0), Math.min(s + k, size)];
}

function forEachWindow(g: Pool2dGeometry, visit: (plane: number, oi: number, h0: number, h1: number, w0: number, w1: number) => void): void {
  for (let p = 0; p < g.planes; p++) {
    for (let oh = 0; oh < g.hout; oh++) {
      const [h0, h1] = poolWindow(oh, g.h, g.hout, g.kh, g.strideH, g.padH, g.adaptive);
      for (let ow = 0; ow < g.wout; ow++) {
        const [w0, w1] = poolWindow(ow, g.w, g.wout, g.kw, g.strideW, g.padW, g.adaptive);
        visit(p, (p * g.hout + oh) * g.wout + ow, h0, h1, w0, w1);
      }
    }
  }
}

export function maxPool2dCpu(x: Storage, g: Pool2dGeometry): { values: CpuStorage; indices: CpuStorage } {
  const xs = operand('maxPool2d', 'x', x, g.planes * g.h * g.w);
  const xd = xs.data;
  const nOut = g.planes * g.hout * g.wout;
  const values = typedArrayFor(xs.dtype, nOut);
  const indices = new Int32Array(nOut);
  forEachWindow(g, (p, oi, h0, h1, w0, w1) => {
    let best = Number.NEGATIVE_INFINITY;
    let bi = -1;
    for (let ih = h0; ih < h1; ih++) {
      for (let iw = w0; iw < w1; iw++) {
        const v = xd[(p * g.h + ih) * g.w + iw]!;
        // PyTorch 1.13's rule: strictly greater keeps the first maximum in row-major order, and
        // every NaN takes over (so the last NaN of the window wins); all -inf gives the first index.
        if (v > best || Number.isNaN(v) || bi < 0) { best = v; bi = ih * g.w + iw; }
      }
    }
    values[oi] = best;
    indices[oi] = bi;
  });
  return { values: new CpuStorage(xs.dtype, values), indices: new CpuStorage('int32', indices) };
}

export function maxPool2dBackwardCpu(dy: Storage, indices: Storage, g: Pool2dGeometry): CpuStorage {
  const nOut = g.planes * g.hout * g.wout;
  const ds = operand('maxPool2dBackward', 'dy', dy, nOut);
  const is = operand('maxPool2dBackward', 'indices', indices, nOut);
  const plane = g.h * g.w;
  const acc = new Float64Array(g.planes * plane);
  for (let oi = 0; oi < nOut; oi++) {
    const idx = is.data[oi]!;
    if (idx >= 0 && idx < plane) acc[Math.floor(oi / (g.hout * g.wout)) * plane + idx] += ds.data[oi]!;
  }
  const out = typedArrayFor(ds.dtype, acc.length);
  out.set(acc);
  return new CpuStorage(ds.dtype, out);
}

function avgDivisor(g: Pool2dGeometry, h0: number, h1: number, w0: number, w1: number): number {
  return g.countIncludePad && !g.adaptive ? g.kh * g.kw : (h1 - h0) * (w1 - w0);
}

export function avgPool2dCpu(x: Storage, g: Pool2dGeometry): CpuStorage {
  const xs = operand('avgPool2d', 'x', x, g.planes * g.h * g.w);
  const xd = xs.data;
  const out = typedArrayFor(xs.dtype, g.planes * g.hout * g.wout);
  forEachWindow(g, (p, oi, h0, h1, w0, w1) => {
    let s = 0;
    for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) s += xd[(p * g.h + ih) * g.w + iw]!;
    out[oi] = s / avgDivisor(g, h0, h1, w0, w1);
  });
  return new CpuStorage(xs.dtype, out);
}

export function avgPool2dBackwardCpu(dy: Storage, g: Pool2dGeometry): CpuStorage {
  const ds = operand('avgPool2dBackward', 'dy', dy, g.planes * g.hout * g.wout);
  const acc = new Float64Array(g.planes * g.h * g.w);
  forEachWindow(g, (p, oi, h0, h1, w0, w1) => {
    const v = ds.data[oi]! / avgDivisor(g, h0, h1, w0, w1);
    for (let ih = h0; ih < h1; ih++) for (let iw = w0; iw < w1; iw++) acc[(p * g.h + ih) * g.w + iw] += v;
  });
  const out = typedArrayFor(ds.dtype, acc.length);
  out.set(acc);
  return new CpuStorage(ds.dtype, out);
}
