/** Argument checks shared by the op families; each names the op and the argument. */
import type { Tensor } from '../tensor.js';
import type { DType } from '../backend/types.js';
import { fail, shapeStr } from '../errors.js';
import { checkShape, sizeOf } from '../shape.js';
import { noteOpInput } from '../numerics.js';

export function checkTensor(op: string, arg: string, t: unknown): asserts t is Tensor {
  if (typeof t !== 'object' || t === null || !('shape' in t) || !('_storage' in t)) {
    fail(op, `${arg} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  }
  (t as Tensor)._storage(op); // throws if disposed
  noteOpInput(op, (t as Tensor).id, (t as Tensor).shape);
}

export function checkSameBackend(op: string, a: Tensor, b: Tensor): void {
  if (a.backend !== b.backend) {
    if (a.device === b.device) {
      fail(op, `one tensor belongs to an earlier '${a.device}' device that has since been replaced (by init() after a device loss); recreate it, or reload it from a checkpoint`);
    }
    fail(op, `tensors live on different backends ('${a.device}' and '${b.device}'); move one with \`await t.to('${a.device}')\``);
  }
}

export function checkSameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    fail(op, `dtype mismatch: ${a.dtype} and ${b.dtype}; convert one with .cast('${a.dtype}')`);
  }
}

export function checkFloat(op: string, arg: string, t: Tensor): void {
  if (!t.dtype.startsWith('float')) fail(op, `${arg} must be a floating-point tensor, got ${t.dtype}`);
}

export function checkFiniteNumber(op: string, arg: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(op, `${arg} must be a finite number, got ${String(v)}`);
}

const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'float16'];

/** A dtype option from untyped callers (JavaScript, JSON): one of the supported names. */
export function checkDType(op: string, dtype: unknown): asserts dtype is DType {
  if (!DTYPES.includes(dtype as DType)) {
    fail(op, `unknown dtype ${typeof dtype === 'string' ? `'${dtype}'` : String(dtype)}; expected one of ${DTYPES.map((d) => `'${d}'`).join(', ')}`);
  }
}

/**
 * A shape argument: an array of non-negative integers whose product is an exact (safe) integer.
 * Catches `zeros(3)` (a number where a list was meant) before it becomes a TypeError deep inside.
 */
export function checkShapeArg(op: string, arg: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) {
    fail(op, `${arg} must be an array of non-negative integers (e.g. [${typeof shape === 'number' ? shape : 3}]), got ${typeof shape === 'number' ? shape : shape === null ? 'null' : typeof shape}`);
  }
  checkShape(op, arg, shape as number[]);
  if (!Number.isSafeInteger(sizeOf(shape as number[]))) {
    fail(op, `${arg} ${shapeStr(shape as number[])} holds more than 2^53 elements`);
  }
}

/** int32 holds integers in [-2^31, 2^31): anything else would wrap or become 0 silently. */
export const INT32_MIN = -(2 ** 31);
export const INT32_MAX = 2 ** 31 - 1;

export function checkInt32Values(op: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // Fractions truncate toward zero, as torch.tensor(..., dtype=torch.int32) does; NaN, ±Inf and out-of-range values are refused.
    if (!(v >= INT32_MIN && v < INT32_MAX + 1)) {
      fail(op, `value ${String(v)} at index ${i} cannot be stored as int32 (integers in [${INT32_MIN}, ${INT32_MAX}]; NaN and Infinity have no int32 value)`);
    }
  }
}

/** An axis list (permute): an array of integers, not strings or other values. */
export function checkAxesArg(op: string, arg: string, axes: unknown): asserts axes is readonly number[] {
  if (!Array.isArray(axes) || !axes.every((a) => typeof a === 'number' && Number.isInteger(a))) {
    fail(op, `${arg} must be an array of integer dimension indices, got ${JSON.stringify(axes) ?? String(axes)}`);
  }
}
