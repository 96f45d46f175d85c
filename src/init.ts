/** Choosing a backend: `await init({ backend: 'webgpu' })`, with a clear fallback story. */
import { engine } from './engine.js';
import type { BackendName } from './backend/types.js';

export interface InitOptions {
  /**
   * 'webgpu' requires a WebGPU adapter and throws a clear error without one; 'auto' (the default)
   * tries WebGPU and falls back to the CPU reference, recording why in `fallbackReason`;
   * 'cpu' uses the CPU reference only.
   */
  backend?: BackendName | 'auto';
  /**
   * Time a few matmul workgroup shapes on this adapter at start and keep the fastest (default true;
   * cached per adapter, so it costs about a second once per machine on a software driver).
   */
  autotune?: boolean;
}

export interface InitResult {
  backend: BackendName;
  /** The adapter's description when WebGPU is in use. */
  adapter: string | null;
  /** Why WebGPU was not used under 'auto' (one paragraph), or null. */
  fallbackReason: string | null;
}

/** Brings up a backend and makes it the default for new tensors. Can be called again (e.g. after a lost device). */
export async function init(options: InitOptions = {}): Promise<InitResult> {
  const wanted = options.backend ?? 'auto';
  engine.fallbackReason = null;
  if (wanted === 'cpu') {
    engine.defaultBackend = 'cpu';
    return { backend: 'cpu', adapter: null, fallbackReason: null };
  }
  try {
    const { WebGPUBackend } = await import('./backend/webgpu/backend.js');
    // A working device is kept: a second init() must not strand the tensors already on it.
    const current = engine.backends.get('webgpu');
    if (current instanceof WebGPUBackend && !current.unusable) {
      engine.defaultBackend = 'webgpu';
      return { backend: 'webgpu', adapter: current.adapterInfo, fallbackReason: null };
    }
    const gpu = await WebGPUBackend.create({ errorScopes: engine.debug, autotune: options.autotune ?? true });
    engine.backends.set('webgpu', gpu);
    engine.defaultBackend = 'webgpu';
    return { backend: 'webgpu', adapter: gpu.adapterInfo, fallbackReason: null };
  } catch (e) {
    if (wanted === 'webgpu') throw e;
    engine.fallbackReason = e instanceof Error ? e.message : String(e);
    engine.defaultBackend = 'cpu';
    return { backend: 'cpu', adapter: null, fallbackReason: engine.fallbackReason };
  }
}

/** The backend new tensors go to by default. */
export function defaultDevice(): BackendName {
  return engine.defaultBackend;
}
