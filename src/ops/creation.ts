/** Creating tensors: from data, constants, ranges and the seeded Philox stream. */
import type { Backend, BackendName, DType, RandomKind, TypedArray } from '../backend/types.js';
import { typedArrayFor } from '../backend/types.js';
import { engine, getBackend } from '../engine.js';
import { fail, shapeStr } from '../errors.js';
import { sizeOf } from '../shape.js';
import { checkDType, checkInt32Values, checkShapeArg } from './checks.js';
import { Tensor } from '../tensor.js';
import type { NestedArray } from '../tensor.js';
import { needsGrad } from '../autograd/node.js';

export interface CreateOptions {
  dtype?: DType;
  /** Which backend holds the tensor; defaults to the one chosen by `init()` (cpu before that). */
  device?: BackendName;
  requiresGrad?: boolean;
}

export interface RandomOptions extends CreateOptions {
  /** A seed gives a reproducible draw independent of the global stream; without one the global stream (see `manualSeed`) advances. */
  seed?: number;
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) {
    try {
      t.requiresGrad_(true);
    } catch (e) {
      t.dispose(); // a refused call leaves nothing behind
      throw e;
    }
  }
  return t;
}

/** @internal Uploads host values to a backend as a new tensor. */
export function fromData(values: ArrayLike<number>, shape: readonly number[], dtype: DType, backend: Backend, op = 'tensor'): Tensor {
  checkDType(op, dtype);
  if (dtype === 'int32') checkInt32Values(op, values);
  const data = typedArrayFor(dtype, values.length);
  for (let i = 0; i < values.length; i++) data[i] = values[i]!;
  return Tensor._fromStorage(backend, backend.upload(data, dtype), shape, `${op} (uploaded data)`);
}

function inferShape(data: NestedArray, op: string): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as NestedArray;
  }
  const check = (node: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof node !== 'number') fail(op, `expected a number at data${path}, got ${Array.isArray(node) ? 'an array' : typeof node}`);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      fail(op, `ragged nested array: data${path} should be an array of length ${shape[dim]} (inferred shape ${shapeStr(shape)})`);
    }
    node.forEach((child, i) => check(child, dim + 1, `${path}[${i}]`));
  };
  check(data, 0, '');
  return shape;
}

/** A tensor from nested arrays (`tensor([[1, 2], [3, 4]])`) or a typed array with `shape`. */
export function tensor(data: NestedArray | TypedArray | number[], opts: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  const op = 'tensor';
  let flat: ArrayLike<number>;
  let shape: readonly number[];
  if (ArrayBuffer.isView(data)) {
    flat = data;
    shape = opts.shape ?? [data.length];
  } else {
    const inferred = inferShape(data as NestedArray, op);
    flat = Array.isArray(data) ? (data as unknown[]).flat(Infinity as 1) as number[] : [data as number];
    shape = opts.shape ?? inferred;
  }
  checkShapeArg(op, 'shape', shape);
  if (sizeOf(shape) !== flat.length) fail(op, `shape ${shapeStr(shape)} holds ${sizeOf(shape)} elements but the data has ${flat.length}`);
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : data instanceof Float64Array ? 'float64' : 'float32');
  return finish(fromData(flat, shape, dtype, getBackend(opts.device)), opts);
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  checkShapeArg('full', 'shape', shape);
  if (typeof value !== 'number') fail('full', `value must be a number, got ${value === null ? 'null' : typeof value}`);
  const dtype = opts.dtype ?? 'float32';
  checkDType('full', dtype);
  if (dtype === 'int32') checkInt32Values('full', [value]);
  const backend = getBackend(opts.device);
  return finish(Tensor._fromStorage(backend, backend.fill(sizeOf(shape), value, dtype), shape, 'full'), opts);
}

export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 1, opts);

function likeOpts(t: Tensor): CreateOptions {
  return { dtype: t.dtype, device: t.device };
}
export const zerosLike = (t: Tensor): Tensor => full(t.shape, 0, likeOpts(t));
export const onesLike = (t: Tensor): Tensor => full(t.shape, 1, likeOpts(t));

/** Values start, start+step, ... below stop (like torch.arange). */
export function arange(start: number, stop?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (typeof start !== 'number' || !Number.isFinite(start)) fail('arange', `start must be a finite number, got ${String(start)}`);
  if (typeof stop !== 'number' || !Number.isFinite(stop)) fail('arange', `stop must be a finite number, got ${String(stop)}`);
  if (typeof step !== 'number' || step === 0 || !Number.isFinite(step)) fail('arange', `step must be a finite non-zero number, got ${String(step)}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (!Number.isSafeInteger(n) || n >= 2 ** 32) fail('arange', `[${start}, ${stop}) in steps of ${step} would hold ${n} values, more than a tensor can`);
  const dtype = opts.dtype ?? ([start, stop, step].every(Number.isInteger) ? 'int32' : 'float32');
  checkDType('arange', dtype);
  const values = Array.from({ length: n }, (_, i) => start + i * step);
  return finish(fromData(values, [n], dtype, getBackend(opts.device), 'arange'), opts);
}

/** @internal Picks (seed, offset) for a draw: an explicit seed starts its own stream at 0; otherwise the global stream advances. */
export function drawPosition(kind: RandomKind, length: number, seed: number | undefined): { seed: number; offset: number } {
  if (seed !== undefined) {
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 53) fail('random', `seed must be an integer in [0, 2^53), got ${seed}`);
    return { seed, offset: 0 };
  }
  // A normal value j consumes words 2j and 2j+1, so its value offset is half the word offset.
  const wordsPerValue = kind === 'normal' ? 2 : 1;
  const offset = Math.ceil(engine.randomOffset / wordsPerValue);
  engine.randomOffset = (offset + length) * wordsPerValue;
  return { seed: engine.seed, offset };
}

function random(kind: RandomKind, shape: readonly number[], opts: RandomOptions): Tensor {
  const op = kind === 'normal' ? 'randn' : 'rand';
  checkShapeArg(op, 'shape', shape);
  const dtype = opts.dtype ?? 'float32';
  checkDType(op, dtype);
  if (dtype === 'int32') fail(op, 'dtype must be float32 or float64');
  const backend = getBackend(opts.device);
  const { seed, offset } = drawPosition(kind, sizeOf(shape), opts.seed);
  return finish(Tensor._fromStorage(backend, backend.random(kind, sizeOf(shape), seed, offset, dtype), shape, op), opts);
}

/** Uniform values in [0, 1) from the Philox stream. */
export const rand = (shape: readonly number[], opts: RandomOptions = {}): Tensor => random('uniform', shape, opts);
/** Standard normal values from the Philox stream (Box–Muller). */
export const randn = (shape: readonly number[], opts: RandomOptions = {}): Tensor => random('normal', shape, opts);

/** Seeds the global random stream (as torch.manual_seed). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 53) fail('manualSeed', `seed must be an integer in [0, 2^53), got ${seed}`);
  engine.seed = seed;
  engine.randomOffset = 0;
}

/** Converts to another dtype (float→int truncates toward zero). Not differentiable. */
export function castTo(x: Tensor, dtype: DType): Tensor {
  checkDType('cast', dtype);
  if (needsGrad([x]) && !dtype.startsWith('float')) fail('cast', 'casting a tensor that requires grad to an integer dtype would cut the graph; detach() it first');
  const out = Tensor._fromStorage(x.backend, x.backend.cast(x._storage('cast'), dtype), x.shape, 'cast');
  return out;
}
