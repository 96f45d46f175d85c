/**
 * Process-wide engine state: the backends in use, the default one, tidy scopes, the grad switch,
 * the global random stream and the live-memory counters behind `memory()`.
 */
import type { Backend, BackendName } from './backend/types.js';
import { CpuBackend } from './backend/cpu/backend.js';
import { WebgradError } from './errors.js';
import type { Tensor } from './tensor.js';

interface ScopeFrame {
  tensors: Set<Tensor>;
}

class EngineState {
  readonly backends = new Map<BackendName, Backend>();
  defaultBackend: BackendName = 'cpu';
  readonly scopes: ScopeFrame[] = [];
  gradEnabled = true;
  /** User-visible tensors that are alive (not disposed). */
  liveTensors = 0;
  /** Bytes held by live storages (each storage counted once, however many tensors share it). */
  liveBytes = 0;
  liveStorages = 0;
  /** The global random stream: each draw without an explicit seed takes the next `offset` range. */
  seed = 0;
  randomOffset = 0;
  /** Why the last `init()` fell back to the CPU, if it did. */
  fallbackReason: string | null = null;
  /** Debug mode: warn about tensors garbage-collected without dispose(). WEBGRAD_DEBUG=1 turns it on in Node. */
  debug = typeof process !== 'undefined' && process.env?.WEBGRAD_DEBUG === '1';

  constructor() {
    this.backends.set('cpu', new CpuBackend());
  }
}

export const engine = new EngineState();

const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'webgpu'];

/** The backend for a `device` option (or the default one); an unknown name is refused here, at the call. */
export function getBackend(name?: BackendName): Backend {
  if (name !== undefined && !BACKEND_NAMES.includes(name)) {
    const got = typeof name === 'string' ? `'${name}'` : String(name);
    throw new WebgradError(`device must be one of ${BACKEND_NAMES.map((b) => `'${b}'`).join(', ')}, got ${got}`);
  }
  const key = name ?? engine.defaultBackend;
  const backend = engine.backends.get(key);
  if (!backend) {
    throw new WebgradError(
      `backend '${key}' is not initialised: call \`await init({ backend: '${key}' })\` first`,
    );
  }
  return backend;
}

/** Registers a tensor with the innermost tidy scope, so the scope can dispose it. */
export function trackInScope(t: Tensor): void {
  const frame = engine.scopes[engine.scopes.length - 1];
  if (frame) frame.tensors.add(t);
}

/** Removes a tensor from every scope: it then lives until disposed explicitly. */
export function untrack(t: Tensor): void {
  for (const frame of engine.scopes) frame.tensors.delete(t);
}

export function pushScope(): ScopeFrame {
  const frame: ScopeFrame = { tensors: new Set() };
  engine.scopes.push(frame);
  return frame;
}

/** Ends a scope: disposes what it created except `kept`, which moves to the parent scope. */
export function popScope(frame: ScopeFrame, kept: Set<Tensor>): void {
  const idx = engine.scopes.lastIndexOf(frame);
  if (idx >= 0) engine.scopes.splice(idx, 1);
  const parent = engine.scopes[engine.scopes.length - 1];
  for (const t of frame.tensors) {
    if (kept.has(t)) {
      if (parent) parent.tensors.add(t);
    } else {
      t.dispose();
    }
  }
}

/** Turns debug mode on or off (leak warnings for tensors collected without dispose()). */
export function setDebug(on: boolean): void {
  engine.debug = on;
  for (const b of engine.backends.values()) b.setDebug?.(on);
}

/**
 * Submits the GPU work queued so far and waits only while more than a few submits are unfinished
 * on the device (4 by default). Ops are synchronous and encode lazily, so they cannot wait for the
 * GPU themselves: a loop that never reads back should await this once per step, which keeps its
 * work in flight (and the host memory behind it) bounded. It returns without waiting when the GPU
 * keeps up, and does nothing on the CPU backend.
 */
export async function settle(): Promise<void> {
  for (const b of [...engine.backends.values()]) await b.settle?.();
}
