/** Node files for `wg.safetensors` (Python's save_file / load_file); written atomically. */
import { save, load, loadModel } from './safetensors-api.js';
import type { TensorsOrModule, LoadOptions, Loaded } from './safetensors-api.js';
import type { Module } from '../nn/module.js';
import { writeFileAtomic, readFileBytes } from './files-node.js';
import { fail } from '../errors.js';

function checkPath(op: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') fail(op, `path must be a non-empty string, got ${JSON.stringify(path)}`);
  return path;
}

/** Writes tensors or a module's state to `path` (temporary file, fsync, rename: never half a file). */
export async function saveFile(tensors: TensorsOrModule, path: string, metadata?: Record<string, string>): Promise<void> {
  const p = checkPath('saveFile', path);
  writeFileAtomic(p, await save(tensors, metadata));
}

/** Reads a safetensors file (from webgrad, PyTorch, JAX...) into tensors the caller owns. */
export function loadFile(path: string, options: LoadOptions = {}): Loaded {
  const p = checkPath('loadFile', path);
  return load(readFileBytes(p, 'loadFile'), options, p);
}

/** Loads a safetensors file into a module (Python's load_model); returns the metadata. */
export function loadModelFile(module: Module, path: string, options: { strict?: boolean } = {}): Record<string, string> {
  const p = checkPath('loadModelFile', path);
  return loadModel(module, readFileBytes(p, 'loadModelFile'), options, p);
}
