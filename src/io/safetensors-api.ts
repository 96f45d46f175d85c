/**
 * `wg.safetensors`: saving and loading named tensors (or a module's state dict) as safetensors
 * bytes, named as in Python's `safetensors` package (`save`/`load`, `load_model`). The bytes are
 * what PyTorch's `safetensors.torch.load` reads, so a webgrad model moves to PyTorch unchanged.
 * Files (Node) are in `webgrad/node`; IndexedDB and downloads (browsers) in ./browser-storage.ts.
 */
import { Tensor } from '../tensor.js';
import type { BackendName } from '../backend/types.js';
import { Module } from '../nn/module.js';
import { fail } from '../errors.js';
import { tensor } from '../ops/creation.js';
import { encodeSafetensors, decodeSafetensors } from './safetensors.js';
import type { NamedArray } from './safetensors.js';

/** What `save` accepts: a Map or plain object of named tensors, or a module (its stateDict()). */
export type TensorsOrModule = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>> | Module;

export interface LoadOptions {
  /** Backend to create the tensors on (default: the default device). */
  device?: BackendName;
}

export interface Loaded {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Checks the argument at the call and returns the named tensors (not copies). */
export function namedTensors(op: string, what: TensorsOrModule): Map<string, Tensor> {
  if (what instanceof Module) return what.stateDict();
  if (what === null || typeof what !== 'object' || Array.isArray(what)) {
    fail(op, `expected a Map or object of named tensors, or a Module, got ${what === null ? 'null' : Array.isArray(what) ? 'an array' : typeof what}`);
  }
  const entries: [unknown, unknown][] = what instanceof Map ? [...(what as Map<unknown, unknown>)] : Object.entries(what);
  const out = new Map<string, Tensor>();
  for (const [name, t] of entries) {
    if (typeof name !== 'string' || name === '' || name === '__metadata__') fail(op, `invalid tensor name ${JSON.stringify(name)} (a non-empty string other than __metadata__)`);
    if (!(t instanceof Tensor)) fail(op, `'${name}' must be a Tensor, got ${Array.isArray(t) ? 'a plain array' : t === null ? 'null' : typeof t}`);
    if (t.isDisposed) fail(op, `'${name}' was disposed`);
    out.set(name, t);
  }
  return out;
}

function checkMetadata(op: string, metadata: unknown): Record<string, string> {
  if (metadata === undefined) return {};
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) fail(op, `metadata must be an object of strings, got ${metadata === null ? 'null' : typeof metadata}`);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') fail(op, `metadata '${k}' must be a string (as in the safetensors format), got ${typeof v}`);
  return { ...(metadata as Record<string, string>) };
}

/**
 * Encodes tensors (or a module's parameters and buffers) with optional string metadata. Async
 * because reading a WebGPU tensor is; the tensors are left as they were.
 */
export async function save(tensors: TensorsOrModule, metadata?: Record<string, string>): Promise<Uint8Array> {
  const named = namedTensors('safetensors.save', tensors);
  const meta = checkMetadata('safetensors.save', metadata);
  const arrays = new Map<string, NamedArray>();
  for (const [name, t] of named) arrays.set(name, { dtype: t.dtype, shape: [...t.shape], data: await t.data() });
  return encodeSafetensors(arrays, meta);
}

function asBytes(op: string, bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  return fail(op, `expected a Uint8Array or ArrayBuffer of safetensors bytes, got ${bytes === null ? 'null' : typeof bytes}`);
}

/**
 * Decodes safetensors bytes (validating the whole file first) into tensors on `device`. I64
 * tensors (PyTorch's integer buffers) become int32, refused if out of range. The caller owns the
 * tensors: dispose them, or use `loadModel` to copy them into a module.
 */
export function load(bytes: Uint8Array | ArrayBuffer, options: LoadOptions = {}, source = 'safetensors data'): Loaded {
  const { arrays, metadata } = decodeSafetensors(asBytes('safetensors.load', bytes), source);
  const tensors = new Map<string, Tensor>();
  try {
    for (const [name, a] of arrays) tensors.set(name, tensor(a.data, { shape: a.shape, dtype: a.dtype, ...(options.device ? { device: options.device } : {}) }));
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return { tensors, metadata };
}

/**
 * Loads safetensors bytes into a module (Python's `safetensors.torch.load_model`): names, shapes
 * and dtypes are checked before anything changes (`strict` as in loadStateDict), on the module's
 * own device. Returns the file's metadata.
 */
export function loadModel(module: Module, bytes: Uint8Array | ArrayBuffer, options: { strict?: boolean } = {}, source = 'safetensors data'): Record<string, string> {
  if (!(module instanceof Module)) fail('safetensors.loadModel', `expected a Module, got ${module === null ? 'null' : typeof module}`);
  const first = module.stateDict().values().next();
  const device = first.done ? undefined : first.value.device;
  const { tensors, metadata } = load(bytes, device ? { device } : {}, source);
  try {
    module.loadStateDict(tensors, options);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  return metadata;
}
