/** Argument checks shared by the op families; each names the op and the argument. */
import type { Tensor } from '../tensor.js';
import { fail } from '../errors.js';
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
