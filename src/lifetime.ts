/** Tensor lifetime: tidy scopes (sync and async), keep, noGrad, and the memory report. */
import { engine, popScope, pushScope, untrack } from './engine.js';
import { Tensor } from './tensor.js';
import type { BackendName } from './backend/types.js';
import { reclaimStats } from './reclaim.js';

/** Collects the tensors inside a value returned from a scope (a tensor, arrays and plain objects of them). */
function tensorsIn(value: unknown, into = new Set<Tensor>()): Set<Tensor> {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) for (const v of value) tensorsIn(v, into);
  else if (value instanceof Map) for (const v of value.values()) tensorsIn(v, into);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) tensorsIn(v, into);
  }
  return into;
}

/**
 * Runs fn and disposes every tensor it created except those it returns (which move to the
 * enclosing scope). Works with async functions too; do not interleave two async tidies.
 */
export function tidy<T>(fn: () => T): T {
  const frame = pushScope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    popScope(frame, new Set());
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v: unknown) => {
        popScope(frame, tensorsIn(v));
        return v;
      },
      (e: unknown) => {
        popScope(frame, new Set());
        throw e;
      },
    ) as T;
  }
  popScope(frame, tensorsIn(result));
  return result;
}

/** Exempts a tensor from every enclosing tidy scope; it then lives until disposed. */
export function keep<T extends Tensor>(t: T): T {
  untrack(t);
  return t;
}

/** Disposes tensors found in a value (a tensor, or arrays/objects of tensors). */
export function dispose(value: unknown): void {
  for (const t of tensorsIn(value)) t.dispose();
}

/** Runs fn without recording operations for autograd (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const was = engine.gradEnabled;
  engine.gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    engine.gradEnabled = was;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      engine.gradEnabled = was;
    }) as T;
  }
  engine.gradEnabled = was;
  return result;
}

export interface MemoryInfo {
  /** Tensors created and not yet disposed. */
  liveTensors: number;
  /** Distinct storages held by live tensors and by the tape. */
  liveStorages: number;
  /** Bytes in those storages. */
  liveBytes: number;
  /** Tensors garbage-collected without dispose() whose storage the engine released (see src/reclaim.ts). */
  reclaimedTensors: number;
  /** Per backend: bytes pooled for reuse, bytes ever allocated, device buffers ever created. */
  backends: Partial<Record<BackendName, { pooledBytes: number; allocatedBytes: number; buffersCreated: number }>>;
}

export function memory(): MemoryInfo {
  const backends: MemoryInfo['backends'] = {};
  for (const [name, b] of engine.backends) backends[name] = b.memoryStats();
  return {
    liveTensors: engine.liveTensors, liveStorages: engine.liveStorages, liveBytes: engine.liveBytes,
    reclaimedTensors: reclaimStats().reclaimedTensors, backends,
  };
}
