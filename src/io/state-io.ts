/** Turning named tensors into safetensors bytes and back onto a backend. */
import type { Tensor } from '../tensor.js';
import type { BackendName } from '../backend/types.js';
import { tensor } from '../ops/creation.js';
import { encodeSafetensors, decodeSafetensors } from './safetensors.js';
import type { NamedArray } from './safetensors.js';

/** Reads every tensor back (async) and encodes them with metadata. */
export async function tensorsToSafetensors(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const arrays = new Map<string, NamedArray>();
  for (const [name, t] of tensors) arrays.set(name, { dtype: t.dtype, shape: [...t.shape], data: await t.data() });
  return encodeSafetensors(arrays, metadata);
}

/** Decodes (validating everything) and uploads each array as a tensor on `device`. */
export function safetensorsToTensors(bytes: Uint8Array, source: string, device?: BackendName): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const { arrays, metadata } = decodeSafetensors(bytes, source);
  const tensors = new Map<string, Tensor>();
  for (const [name, a] of arrays) tensors.set(name, tensor(a.data, { shape: a.shape, dtype: a.dtype, ...(device ? { device } : {}) }));
  return { tensors, metadata };
}
