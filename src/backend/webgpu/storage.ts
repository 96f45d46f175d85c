import type { DType, Storage } from '../types.js';

/** A tensor's elements in one pooled GPU buffer (which may be larger than `byteSize`). */
export class GpuStorage implements Storage {
  readonly backend = 'webgpu' as const;
  #buffer: GPUBuffer | null;

  constructor(
    readonly dtype: DType,
    readonly length: number,
    buffer: GPUBuffer,
    /** Bytes holding the elements: length · 4. */
    readonly byteSize: number,
  ) {
    this.#buffer = buffer;
  }

  get released(): boolean {
    return this.#buffer === null;
  }

  get buffer(): GPUBuffer {
    if (!this.#buffer) throw new Error('webgpu: this storage was released; a released tensor cannot be used again');
    return this.#buffer;
  }

  /** Hands the buffer back (once); the storage is unusable afterwards. */
  detach(): GPUBuffer {
    const b = this.buffer;
    this.#buffer = null;
    return b;
  }
}
