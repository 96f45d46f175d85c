import type { DType, Storage, TypedArray } from '../types.js';
import { typedArrayFor, bytesPerElement } from '../types.js';
import { WebgradError } from '../../errors.js';

const EMPTY = new Float32Array(0);

/** A CPU storage: a typed array of the dtype (Float32Array, Float64Array or Int32Array). */
export class CpuStorage implements Storage {
  readonly backend = 'cpu' as const;
  readonly dtype: DType;
  readonly length: number;
  private _data: TypedArray;
  private _released = false;

  constructor(dtype: DType, data: TypedArray) {
    this.dtype = dtype;
    this.length = data.length;
    this._data = data;
  }

  get released(): boolean {
    return this._released;
  }

  /** The elements; throws once the storage has been released. */
  get data(): TypedArray {
    if (this._released) throw new Error('CpuStorage: the storage was released and cannot be used');
    return this._data;
  }

  /** Drops the data; every later use of this handle throws. */
  release(): void {
    this._released = true;
    this._data = EMPTY;
  }
}

/**
 * Returns `s` as a live CpuStorage, or throws an Error naming the kernel and the argument.
 * Every kernel passes each of its storages through this.
 */
export function cpuStorage(kernel: string, arg: string, s: Storage): CpuStorage {
  if (!(s instanceof CpuStorage)) {
    const from = s !== null && typeof s === 'object' && 'backend' in s ? ` (it belongs to backend '${String(s.backend)}')` : '';
    throw new Error(`cpu.${kernel}: ${arg} is not a CPU storage${from}`);
  }
  if (s.released) throw new Error(`cpu.${kernel}: ${arg} was released and cannot be used`);
  return s;
}

/**
 * The most elements one CPU tensor may hold: each lives in one JavaScript typed array, and V8
 * refuses lengths of 2^32 and more (smaller engines refuse sooner; that failure is caught below).
 */
export const CPU_MAX_ELEMENTS = 2 ** 32 - 1;

/**
 * Allocates a tensor's typed array, or throws a WebgradError naming the size and the limit instead
 * of the engine's bare RangeError ("Invalid typed array length").
 */
export function allocCpuArray(dtype: DType, length: number): TypedArray {
  const describe = (): string => `a ${dtype} tensor of ${length} elements (${length * bytesPerElement(dtype)} bytes)`;
  if (length > CPU_MAX_ELEMENTS) {
    throw new WebgradError(`cpu: ${describe()} is larger than the CPU backend allows (${CPU_MAX_ELEMENTS} elements per tensor, the JavaScript typed-array limit)`);
  }
  try {
    return typedArrayFor(dtype, length);
  } catch (e) {
    if (e instanceof RangeError) throw new WebgradError(`cpu: cannot allocate ${describe()}: ${e.message} (out of memory?)`);
    throw e;
  }
}
