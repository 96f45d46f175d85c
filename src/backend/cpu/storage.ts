import type { DType, Storage, TypedArray } from '../types.js';

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
