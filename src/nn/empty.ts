import type { Tensor } from '../tensor.js';
import { zeros } from '../ops/creation.js';
import type { DType, BackendName } from '../backend/types.js';

/** A tensor to be filled by an initialiser (zeros: WebGPU buffers are zeroed anyway). */
export function empty(shape: readonly number[], options: { dtype?: DType; device?: BackendName } = {}): Tensor {
  return zeros(shape, { ...(options.dtype ? { dtype: options.dtype } : {}), ...(options.device ? { device: options.device } : {}) });
}
