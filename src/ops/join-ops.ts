/**
 * Selecting, slicing and joining: where, slice/narrow, cat/stack, split/chunk, constant pad.
 *
 * Two kernels carry all of them: the strided gather (a slice is a view with an offset and scaled
 * strides) and its inverse, the strided write (pad and cat write each input into a filled output).
 * Their gradients are each other: a slice's gradient writes dy into zeros; the gradient of an
 * embedded input (pad, cat) reads its window back out of dy.
 */
import { Tensor } from '../tensor.js';
import type { TensorLike } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { broadcastShapes, normalizeAxis, sameShape, sizeOf, stridesOf } from '../shape.js';
import { fail, shapeStr } from '../errors.js';
import { checkFiniteNumber, checkSameBackend, checkSameDtype, checkTensor } from './checks.js';
import { expand, reshape } from './shape-ops.js';
import { tidy } from '../lifetime.js';

/** Where one input sits inside a larger tensor: shape, element strides and offset in the larger one. */
export interface Window {
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}

function readWindow(op: string, x: Tensor, w: Window): Tensor {
  return Tensor._fromStorage(x.backend, x.backend.strided(x._storage(op), w.shape, w.strides, w.offset), w.shape, op);
}

function writeWindows(op: string, like: Tensor, outShape: readonly number[], value: number, parts: readonly { x: Tensor; w: Window }[]): Tensor {
  const backend = like.backend;
  const storage = backend.fill(sizeOf(outShape), value, like.dtype);
  for (const { x, w } of parts) backend.routine('stridedWrite', { dst: storage, src: x._storage(op) }, { srcShape: w.shape, strides: w.strides, offset: w.offset });
  return Tensor._fromStorage(backend, storage, outShape, op);
}

// ---- where ----------------------------------------------------------------------------------

function scalarLike(op: string, arg: string, v: TensorLike, like: Tensor): Tensor {
  if (typeof v !== 'number') {
    checkTensor(op, arg, v);
    return v;
  }
  checkFiniteNumber(op, arg, v);
  if (like.dtype === 'int32' && !Number.isInteger(v)) fail(op, `${arg} must be an integer for int32 tensors, got ${v}`);
  return Tensor._fromStorage(like.backend, like.backend.fill(1, v, like.dtype), [], op);
}

/** x itself when it already has the shape (so the tape links to it), else a recorded expand. */
function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return sameShape(x.shape, shape) ? x : expand(x, shape);
}

/**
 * cond ? a : b elementwise, with NumPy broadcasting of all three (as torch.where). `cond` may have
 * any dtype (non-zero is true); a number stands for a scalar of the other operand's dtype.
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const op = 'where';
  checkTensor(op, 'cond', cond);
  if (typeof a === 'number' && typeof b === 'number') fail(op, 'at least one of a and b must be a Tensor');
  const like = typeof a === 'number' ? (b as Tensor) : a;
  checkTensor(op, typeof a === 'number' ? 'b' : 'a', like);
  checkSameBackend(op, cond, like);
  return tidy(() => {
    const ta = scalarLike(op, 'a', a, like);
    const tb = scalarLike(op, 'b', b, like);
    checkSameBackend(op, ta, tb);
    checkSameDtype(op, ta, tb);
    const outShape = broadcastShapes(op, broadcastShapes(op, cond.shape, ta.shape), tb.shape);
    const c = broadcastTo(cond, outShape);
    const ea = broadcastTo(ta, outShape);
    const eb = broadcastTo(tb, outShape);
    const out = Tensor._fromStorage(like.backend, like.backend.routine('select', { cond: c._storage(op), a: ea._storage(op), b: eb._storage(op) }, {}), outShape, op);
    return record('where', [ea, eb], out, (save) => ({ cond: save(c) }));
  });
}

// ---- slice / narrow -------------------------------------------------------------------------

/**
 * Elements start, start+step, ... before stop along `axis` (Python slicing: negative start/stop
 * count from the end and both are clamped; step must be positive, as in PyTorch). The result is a
 * copy; its gradient scatters back into the input's shape.
 */
export function slice(x: Tensor, axis: number, start = 0, stop?: number, step = 1): Tensor {
  const op = 'slice';
  checkTensor(op, 'input', x);
  if (x.rank === 0) fail(op, 'input must have rank >= 1, got a scalar');
  const a = normalizeAxis(op, axis, x.rank);
  const n = x.shape[a]!;
  if (!Number.isInteger(step) || step < 1) fail(op, `step must be a positive integer, got ${step}`);
  if (!Number.isInteger(start)) fail(op, `start must be an integer, got ${start}`);
  if (stop !== undefined && !Number.isInteger(stop)) fail(op, `stop must be an integer or undefined, got ${stop}`);
  const clampIdx = (i: number): number => Math.min(n, Math.max(0, i < 0 ? i + n : i));
  const lo = clampIdx(start);
  const hi = stop === undefined ? n : clampIdx(stop);
  const count = Math.max(0, Math.ceil((hi - lo) / step));
  return sliceWindow(op, x, a, lo, count, step);
}

/** `length` elements from `start` along `axis` (as torch.narrow; start may be negative). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const op = 'narrow';
  checkTensor(op, 'input', x);
  if (x.rank === 0) fail(op, 'input must have rank >= 1, got a scalar');
  const a = normalizeAxis(op, axis, x.rank);
  const n = x.shape[a]!;
  if (!Number.isInteger(start) || start < -n || start > n) fail(op, `start must be an integer in [${-n}, ${n}], got ${start}`);
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(length) || length < 0 || s + length > n) fail(op, `length must be an integer in [0, ${n - s}] (start ${s}, size ${n}), got ${length}`);
  return sliceWindow(op, x, a, s, length, 1);
}

function sliceWindow(op: string, x: Tensor, axis: number, start: number, count: number, step: number): Tensor {
  x._storage(op);
  const strides = stridesOf(x.shape);
  const w: Window = {
    shape: x.shape.map((d, i) => (i === axis ? count : d)),
    strides: strides.map((s, i) => (i === axis ? s * step : s)),
    offset: start * strides[axis]!,
  };
  const out = readWindow(op, x, w);
  return record('slice', [x], out, () => ({ inShape: x.shape, window: w }));
}

// ---- cat / stack ----------------------------------------------------------------------------

function checkList(op: string, tensors: readonly Tensor[]): void {
  if (!Array.isArray(tensors) || tensors.length === 0) fail(op, 'tensors must be a non-empty array of Tensors');
  tensors.forEach((t, i) => checkTensor(op, `tensors[${i}]`, t));
  for (const t of tensors) {
    checkSameBackend(op, tensors[0]!, t);
    checkSameDtype(op, tensors[0]!, t);
  }
}

/** Joins tensors along an existing axis (as torch.cat); all other sizes must match. */
export function cat(tensors: readonly Tensor[], axis = 0): Tensor {
  const op = 'cat';
  checkList(op, tensors);
  const first = tensors[0]!;
  if (first.rank === 0) fail(op, 'cannot concatenate scalars (rank 0); use stack');
  const a = normalizeAxis(op, axis, first.rank);
  tensors.forEach((t, i) => {
    if (t.rank !== first.rank || t.shape.some((d, j) => j !== a && d !== first.shape[j])) {
      fail(op, `tensors[${i}] has shape ${shapeStr(t.shape)}, which does not match ${shapeStr(first.shape)} outside axis ${a}`);
    }
  });
  const outShape = first.shape.map((d, j) => (j === a ? tensors.reduce((n, t) => n + t.shape[a]!, 0) : d));
  const outStrides = stridesOf(outShape);
  let at = 0;
  const parts = tensors.map((x) => {
    const w: Window = { shape: x.shape, strides: outStrides, offset: at * outStrides[a]! };
    at += x.shape[a]!;
    return { x, w };
  });
  const out = writeWindows(op, first, outShape, 0, parts);
  return record('embed', tensors, out, () => ({ windows: parts.map((p) => p.w) }));
}

/** Alias of cat (as torch.concat). */
export const concat = cat;

/** Joins tensors of one shape along a new axis (as torch.stack): reshape each, then cat. */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  const op = 'stack';
  checkList(op, tensors);
  const shape = tensors[0]!.shape;
  tensors.forEach((t, i) => {
    if (!sameShape(t.shape, shape)) fail(op, `tensors[${i}] has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)} like tensors[0]`);
  });
  const a = normalizeAxis(op, axis, shape.length + 1);
  const unsq = [...shape.slice(0, a), 1, ...shape.slice(a)];
  return tidy(() => cat(tensors.map((t) => reshape(t, unsq)), a));
}

// ---- split / chunk --------------------------------------------------------------------------

/**
 * Splits along `axis` into pieces of `size` (the last may be smaller), or of the listed sizes,
 * which must add up to the axis length (as torch.split). Each piece is a slice.
 */
export function split(x: Tensor, size: number | readonly number[], axis = 0): Tensor[] {
  const op = 'split';
  checkTensor(op, 'input', x);
  if (x.rank === 0) fail(op, 'input must have rank >= 1, got a scalar');
  const a = normalizeAxis(op, axis, x.rank);
  const n = x.shape[a]!;
  let sizes: number[];
  if (typeof size === 'number') {
    if (!Number.isInteger(size) || size < 1) fail(op, `size must be a positive integer, got ${size}`);
    sizes = [];
    for (let s = 0; s < n; s += size) sizes.push(Math.min(size, n - s));
    if (n === 0) sizes.push(0);
  } else {
    if (!Array.isArray(size) || !size.every((s) => Number.isInteger(s) && s >= 0)) fail(op, `sizes must be non-negative integers, got ${JSON.stringify(size)}`);
    if (size.reduce((p, s) => p + s, 0) !== n) fail(op, `sizes ${JSON.stringify(size)} add up to ${size.reduce((p, s) => p + s, 0)}, not the axis length ${n}`);
    sizes = [...size];
  }
  const out: Tensor[] = [];
  let at = 0;
  for (const s of sizes) {
    out.push(sliceWindow(op, x, a, at, s, 1));
    at += s;
  }
  return out;
}

/** Splits into `chunks` pieces of ceil(n / chunks) along `axis`; may return fewer (as torch.chunk). */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  const op = 'chunk';
  checkTensor(op, 'input', x);
  if (!Number.isInteger(chunks) || chunks < 1) fail(op, `chunks must be a positive integer, got ${chunks}`);
  if (x.rank === 0) fail(op, 'input must have rank >= 1, got a scalar');
  const a = normalizeAxis(op, axis, x.rank);
  const n = x.shape[a]!;
  return split(x, Math.max(1, Math.ceil(n / chunks)), a);
}

// ---- pad ------------------------------------------------------------------------------------

/**
 * Constant padding (as torch.nn.functional.pad with mode 'constant'): `pads` lists (before, after)
 * pairs starting from the LAST axis, e.g. [left, right, top, bottom]. Pads are non-negative.
 */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  const op = 'pad';
  checkTensor(op, 'input', x);
  checkFiniteNumber(op, 'value', value);
  if (!Array.isArray(pads) || pads.length % 2 !== 0 || pads.length / 2 > x.rank) {
    fail(op, `pads must be an even-length list of at most ${2 * x.rank} integers (two per axis, last axis first), got ${JSON.stringify(pads)}`);
  }
  if (!pads.every((p) => Number.isInteger(p) && p >= 0)) fail(op, `pads must be non-negative integers, got ${JSON.stringify(pads)}`);
  if (x.dtype === 'int32' && !Number.isInteger(value)) fail(op, `value must be an integer for an int32 tensor, got ${value}`);
  const before = x.shape.map(() => 0);
  const outShape = [...x.shape];
  for (let k = 0; k < pads.length / 2; k++) {
    const d = x.rank - 1 - k;
    before[d] = pads[2 * k]!;
    outShape[d] = x.shape[d]! + pads[2 * k]! + pads[2 * k + 1]!;
  }
  const strides = stridesOf(outShape);
  const w: Window = { shape: x.shape, strides, offset: before.reduce((o, b, d) => o + b * strides[d]!, 0) };
  const out = writeWindows(op, x, outShape, value, [{ x, w }]);
  return record('embed', [x], out, () => ({ windows: [w] }));
}

export const joinGrads: GradRules<'where' | 'slice' | 'embed'> = {
  where: (dy, { cond }, needs) => {
    const zeros = Tensor._fromStorage(dy.backend, dy.backend.fill(dy.size, 0, dy.dtype), dy.shape, 'where (backward)');
    const pick = (first: Tensor, second: Tensor): Tensor =>
      Tensor._fromStorage(dy.backend, dy.backend.routine('select', { cond: cond._storage('where'), a: first._storage('where'), b: second._storage('where') }, {}), dy.shape, 'where (backward)');
    const grads = [needs[0] ? pick(dy, zeros) : null, needs[1] ? pick(zeros, dy) : null];
    zeros.dispose();
    return grads;
  },
  slice: (dy, { inShape, window }) => {
    const storage = dy.backend.fill(sizeOf(inShape), 0, dy.dtype);
    dy.backend.routine('stridedWrite', { dst: storage, src: dy._storage('slice') }, { srcShape: window.shape, strides: window.strides, offset: window.offset });
    return [Tensor._fromStorage(dy.backend, storage, inShape, 'slice (backward)')];
  },
  embed: (dy, { windows }, needs) => windows.map((w, i) => (needs[i] ? readWindow('embed', dy, w) : null)),
};
