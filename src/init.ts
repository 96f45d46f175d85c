/** Choosing a backend: `await init({ backend: 'webgpu' })`, with a clear fallback story. */
import { engine } from './engine.js';
import type { BackendName } from './backend/types.js';
import { WebgradError } from './errors.js';

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

const BACKEND_CHOICES = ['auto', 'webgpu', 'cpu'] as const;
const OPTION_NAMES = ['backend', 'autotune'] as const;

/** Checks the options at the call, before anything starts: a typo must not silently pick a backend. */
function checkOptions(options: unknown): asserts options is InitOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new WebgradError(`init: options must be an object like { backend: 'webgpu' }, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!(OPTION_NAMES as readonly string[]).includes(key)) {
      throw new WebgradError(`init: unknown option '${key}'; the options are ${OPTION_NAMES.join(', ')}`);
    }
  }
  const { backend, autotune } = options as Record<string, unknown>;
  if (backend !== undefined && !(BACKEND_CHOICES as readonly unknown[]).includes(backend)) {
    throw new WebgradError(
      `init: backend must be one of ${BACKEND_CHOICES.map((b) => `'${b}'`).join(', ')}, got ${typeof backend === 'string' ? `'${backend}'` : String(backend)}`,
    );
  }
  if (autotune !== undefined && typeof autotune !== 'boolean') {
    throw new WebgradError(`init: autotune must be true or false, got ${String(autotune)}`);
  }
}

/**
 * The WebGPU device being brought up, shared by every init() that arrives meanwhile: two concurrent
 * calls must end with one device (two would strand the first one's tensors, and Dawn crashed now
 * and then when two adapters were requested at once).
 */
let starting: Promise<import('./backend/webgpu/backend.js').WebGPUBackend> | null = null;

async function startWebGPU(autotune: boolean): Promise<import('./backend/webgpu/backend.js').WebGPUBackend> {
  const { WebGPUBackend } = await import('./backend/webgpu/backend.js');
  // A working device is kept: a second init() must not strand the tensors already on it.
  const current = engine.backends.get('webgpu');
  if (current instanceof WebGPUBackend && !current.unusable) return current;
  if (!starting) {
    starting = WebGPUBackend.create({ errorScopes: engine.debug, autotune }).then(
      (gpu) => {
        engine.backends.set('webgpu', gpu);
        starting = null;
        return gpu;
      },
      (e: unknown) => {
        starting = null;
        throw e;
      },
    );
  }
  return starting;
}

/**
 * Brings up a backend and makes it the default for new tensors. Can be called again (e.g. after a
 * lost device); concurrent calls share one device.
 */
export async function init(options: InitOptions = {}): Promise<InitResult> {
  checkOptions(options);
  const wanted = options.backend ?? 'auto';
  if (wanted === 'cpu') {
    engine.fallbackReason = null;
    engine.defaultBackend = 'cpu';
    return { backend: 'cpu', adapter: null, fallbackReason: null };
  }
  try {
    const gpu = await startWebGPU(options.autotune ?? true);
    engine.fallbackReason = null;
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
