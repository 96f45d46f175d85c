/**
 * Convolution and pooling in PyTorch's layouts (x [N, C, H, W], weight [Cout, Cin / groups, kh, kw]):
 * conv2d (stride, padding, dilation, groups, bias), maxPool2d (with PyTorch's indices), avgPool2d
 * (countIncludePad), adaptiveAvgPool2d, flatten. Argument checks and output sizes live here; the
 * kernels are the backend's ConvKernels; gradients are the dedicated backward kernels.
 */
import type { Conv2dGeometry, Pool2dGeometry } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { fail, shapeStr } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import { checkFloat, checkSameBackend, checkSameDtype, checkTensor } from './checks.js';
import { sum } from './reduce.js';
import { reshape } from './shape-ops.js';

/** A size given once for both spatial axes, or as [height, width] (as PyTorch's int or tuple). */
export type Size2 = number | readonly [number, number];

function pair(op: string, arg: string, v: Size2, min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isSafeInteger(d) && d >= min)) {
    fail(op, `${arg} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0]!, p[1]!];
}

function check4d(op: string, x: Tensor): void {
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.rank !== 4) fail(op, `input must be 4-D [N, C, H, W], got shape ${shapeStr(x.shape)}`);
}

export interface Conv2dOptions {
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
  groups?: number;
}

/**
 * 2-D convolution (cross-correlation, as torch.nn.functional.conv2d): x [N, Cin, H, W], weight
 * [Cout, Cin / groups, kh, kw], optional bias [Cout] -> [N, Cout, Hout, Wout] with
 * Hout = floor((H + 2·padding − dilation·(kh − 1) − 1) / stride) + 1.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  check4d(op, x);
  checkTensor(op, 'weight', weight);
  checkSameBackend(op, x, weight);
  checkSameDtype(op, x, weight);
  if (weight.rank !== 4) fail(op, `weight must be 4-D [Cout, Cin / groups, kh, kw], got shape ${shapeStr(weight.shape)}`);
  const [sh, sw] = pair(op, 'stride', options.stride ?? 1, 1);
  const [ph, pw] = pair(op, 'padding', options.padding ?? 0, 0);
  const [dh, dw] = pair(op, 'dilation', options.dilation ?? 1, 1);
  const groups = options.groups ?? 1;
  if (!Number.isSafeInteger(groups) || groups < 1) fail(op, `groups must be a positive integer, got ${String(groups)}`);
  const [n, cin, h, w] = x.shape as [number, number, number, number];
  const [cout, cinG, kh, kw] = weight.shape as [number, number, number, number];
  if (cin % groups !== 0) fail(op, `input channels (${cin}) must be divisible by groups (${groups})`);
  if (cout % groups !== 0) fail(op, `weight's output channels (${cout}) must be divisible by groups (${groups})`);
  if (cinG * groups !== cin) {
    fail(op, `weight ${shapeStr(weight.shape)} expects ${cinG * groups} input channels with groups ${groups}, but input ${shapeStr(x.shape)} has ${cin}`);
  }
  if (kh < 1 || kw < 1) fail(op, `weight's kernel size must be at least 1×1, got ${kh}×${kw}`);
  if (bias !== null && bias !== undefined) {
    checkTensor(op, 'bias', bias);
    checkSameBackend(op, x, bias);
    checkSameDtype(op, x, bias);
    if (bias.rank !== 1 || bias.shape[0] !== cout) fail(op, `bias must have shape [${cout}], got ${shapeStr(bias.shape)}`);
  }
  const hout = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const wout = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  if (hout < 1 || wout < 1) {
    fail(op, `the output would be ${hout}×${wout}: input ${h}×${w} with padding ${ph},${pw} is smaller than the dilated kernel ${dh * (kh - 1) + 1}×${dw * (kw - 1) + 1}`);
  }
  const g: Conv2dGeometry = {
    n, cin, h, w, cout, kh, kw, hout, wout, strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw, groups,
  };
  const b = bias ?? null;
  const s = x.backend.routine('conv2d', { x: x._storage(op), weight: weight._storage(op), bias: b ? b._storage(op) : null }, g);
  const out = Tensor._fromStorage(x.backend, s, [n, cout, hout, wout], op);
  return record('conv2d', b ? [x, weight, b] : [x, weight], out, (save) => ({ x: save(x), weight: save(weight), geometry: g }));
}

export interface Pool2dOptions {
  /** Default: the kernel size (as PyTorch). */
  stride?: Size2;
  padding?: Size2;
}

function poolGeometry(op: string, x: Tensor, kernelSize: Size2, options: Pool2dOptions): Pool2dGeometry {
  check4d(op, x);
  const [kh, kw] = pair(op, 'kernelSize', kernelSize, 1);
  const [sh, sw] = pair(op, 'stride', options.stride ?? [kh, kw], 1);
  const [ph, pw] = pair(op, 'padding', options.padding ?? 0, 0);
  if (2 * ph > kh || 2 * pw > kw) fail(op, `padding (${ph}, ${pw}) must be at most half the kernel size (${kh}, ${kw})`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const hout = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const wout = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (hout < 1 || wout < 1) fail(op, `the output would be ${hout}×${wout}: input ${h}×${w} with padding ${ph},${pw} is smaller than the kernel ${kh}×${kw}`);
  return {
    planes: n * c, h, w, hout, wout, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, adaptive: false,
    // Stryker disable next-line BooleanLiteral: a placeholder; maxPool2d never reads it and avgPool2d replaces it with its option
    countIncludePad: true,
  };
}

function outShape(x: Tensor, g: Pool2dGeometry): number[] {
  return [x.shape[0]!, x.shape[1]!, g.hout, g.wout];
}

/**
 * Max pooling with the int32 indices PyTorch returns (return_indices=True): the flat position
 * ih·W + iw within each plane of the first maximum in the window (row-major); a NaN in the window
 * wins (the last one, as PyTorch 1.13). The gradient goes to the indexed element only.
 */
export function maxPool2dWithIndices(x: Tensor, kernelSize: Size2, options: Pool2dOptions = {}): { values: Tensor; indices: Tensor } {
  const op = 'maxPool2d';
  const g = poolGeometry(op, x, kernelSize, options);
  const r = x.backend.routine('maxPool2d', { x: x._storage(op) }, g);
  const shape = outShape(x, g);
  const indices = Tensor._fromStorage(x.backend, r.indices, shape, op);
  const values = record('maxPool2d', [x], Tensor._fromStorage(x.backend, r.values, shape, op), (save) => ({ indices: save(indices), geometry: g, inShape: x.shape }));
  return { values, indices };
}

/** Max pooling (as torch.nn.functional.max_pool2d): the indices stay alive only as long as the gradient needs them. */
export function maxPool2d(x: Tensor, kernelSize: Size2, options: Pool2dOptions = {}): Tensor {
  const { values, indices } = maxPool2dWithIndices(x, kernelSize, options);
  indices.dispose(); // the tape holds its own handle when a gradient is needed
  return values;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  /** Divide by kh·kw even where the window hangs over the padding (PyTorch's default, true). */
  countIncludePad?: boolean;
}

/** Average pooling (as torch.nn.functional.avg_pool2d, without ceil mode). */
export function avgPool2d(x: Tensor, kernelSize: Size2, options: AvgPool2dOptions = {}): Tensor {
  const op = 'avgPool2d';
  const g = poolGeometry(op, x, kernelSize, options);
  const cip = options.countIncludePad ?? true;
  if (typeof cip !== 'boolean') fail(op, `countIncludePad must be a boolean, got ${String(cip)}`);
  return avgPoolRun(op, x, { ...g, countIncludePad: cip });
}

/**
 * Adaptive average pooling (as torch.nn.functional.adaptive_avg_pool2d): output row oh averages
 * input rows floor(oh·H / Hout) ... ceil((oh + 1)·H / Hout) − 1, likewise for columns; any output size.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  const op = 'adaptiveAvgPool2d';
  check4d(op, x);
  const [hout, wout] = pair(op, 'outputSize', outputSize, 1);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (h < 1 || w < 1) fail(op, `input must have non-empty spatial dimensions, got shape ${shapeStr(x.shape)}`);
  return avgPoolRun(op, x, {
    planes: n * c, h, w, hout, wout, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, adaptive: true,
    // Stryker disable next-line BooleanLiteral: both backends' divisors ignore countIncludePad when adaptive is set (no padding)
    countIncludePad: false,
  });
}

function avgPoolRun(op: string, x: Tensor, g: Pool2dGeometry): Tensor {
  const out = Tensor._fromStorage(x.backend, x.backend.routine('avgPool2d', { x: x._storage(op) }, g), outShape(x, g), op);
  return record('avgPool2d', [x], out, () => ({ geometry: g, inShape: x.shape }));
}

/** Flattens axes startDim..endDim into one (as torch.flatten; nn.Flatten uses startDim 1). */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  const op = 'flatten';
  checkTensor(op, 'input', x);
  if (x.rank === 0) return reshape(x, [1]);
  const a = normalizeAxis(op, startDim, x.rank);
  const b = normalizeAxis(op, endDim, x.rank);
  if (a > b) fail(op, `startDim (${startDim}) must not come after endDim (${endDim}) for rank ${x.rank}`);
  const merged = x.shape.slice(a, b + 1).reduce((p, d) => p * d, 1);
  return reshape(x, [...x.shape.slice(0, a), merged, ...x.shape.slice(b + 1)]);
}

export const convGrads: GradRules<'conv2d' | 'maxPool2d' | 'avgPool2d'> = {
  conv2d: (dy, { x, weight, geometry: g }, needs) => {
    const op = 'conv2d';
    const be = dy.backend;
    const dx = needs[0] ? Tensor._fromStorage(be, be.routine('conv2dBackwardInput', { dy: dy._storage(op), weight: weight._storage(op) }, g), x.shape, `${op} (backward)`) : null;
    const dw = needs[1] ? Tensor._fromStorage(be, be.routine('conv2dBackwardWeight', { x: x._storage(op), dy: dy._storage(op) }, g), weight.shape, `${op} (backward)`) : null;
    const db = needs[2] ? sum(dy, [0, 2, 3]) : null;
    return [dx, dw, db];
  },
  maxPool2d: (dy, { indices, geometry, inShape }) => [
    Tensor._fromStorage(dy.backend, dy.backend.routine('maxPool2dBackward', { dy: dy._storage('maxPool2d'), indices: indices._storage('maxPool2d') }, geometry), inShape, 'maxPool2d (backward)'),
  ],
  avgPool2d: (dy, { geometry, inShape }) => [
    Tensor._fromStorage(dy.backend, dy.backend.routine('avgPool2dBackward', { dy: dy._storage('avgPool2d') }, geometry), inShape, 'avgPool2d (backward)'),
  ],
};
