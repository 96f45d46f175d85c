/**
 * `precompile(fn)`: compiles every WebGPU pipeline `fn` needs without running any of it, so that a
 * later real run finds them cached and does not stall on shader compilation (a first training step
 * can need dozens of new pipelines; a software adapter takes tens to hundreds of milliseconds each).
 * Like TF.js's compile-only mode, but a function call rather than a global flag.
 */
import type { BackendName } from './backend/types.js';
import { CompileSession } from './backend/webgpu/precompile.js';
import { engine, getBackend } from './engine.js';
import { WebgradError } from './errors.js';

export interface PrecompileOptions {
  /** The backend to compile for; default: the default backend. */
  device?: BackendName;
}

export interface PrecompileResult {
  backend: BackendName;
  /** Pipelines fn needed that were not cached: compiled, and in the cache when the promise resolves. */
  pipelines: number;
  /** Kernel dispatches fn asked for, none of which ran. */
  dispatchesSkipped: number;
}

/** What precompile needs of the WebGPU backend (typed structurally: index.ts must not import the backend). */
interface CompileOnlyBackend {
  readonly name: 'webgpu';
  readonly device: GPUDevice;
  compileOnly: CompileSession | null;
}

/**
 * Runs `fn` once, synchronously, in compile-only mode, and resolves when every pipeline it needed
 * is compiled and cached. On WebGPU, in that mode:
 * - a pipeline that is not cached is created with `createComputePipelineAsync` instead of the
 *   blocking `createComputePipeline`, and joins the cache when ready;
 * - no kernel runs and no data is uploaded: nothing is submitted to the device, and in-place
 *   updates (`_assign`) leave their tensor as it was, so existing tensors (parameters, optimizer
 *   moments, batch-norm running statistics and batch counters) keep their values and stay usable;
 * - tensors made inside fn are placeholders with no values: reading one inside fn, or using or
 *   reading it afterwards, throws a WebgradError (disposing it is fine);
 * - the global random stream is put back where it was, so precompiling does not change a later run.
 *
 * Host-side state is NOT rolled back: an optimizer's step counters move as if fn had run, a
 * parameter's `.grad` becomes a placeholder, and optimizer state first created inside fn (Adam's
 * moments, SGD's velocity on a first step) is placeholders, refused at the next real step. Run fn on throwaway
 * objects of the same configuration (same shapes, options and layers), e.g. one training step of a
 * freshly built copy of the model, then dispose them.
 *
 * fn must be synchronous (an async fn is refused: the mode cannot follow it across awaits, and it
 * would catch other code that ran meanwhile). On a backend without pipelines (cpu) there is nothing
 * to compile: fn is not called and the result reports 0.
 */
export async function precompile(fn: () => void, options: PrecompileOptions = {}): Promise<PrecompileResult> {
  if (typeof fn !== 'function') throw new WebgradError(`precompile: fn must be a function, got ${fn === null ? 'null' : typeof fn}`);
  const backend = getBackend(options.device);
  if (backend.name !== 'webgpu') return { backend: backend.name, pipelines: 0, dispatchesSkipped: 0 };
  const gpu = backend as unknown as CompileOnlyBackend;
  if (gpu.compileOnly) throw new WebgradError('precompile: already inside precompile(fn); it cannot be nested');
  const session = new CompileSession(gpu.device);
  const { seed, randomOffset } = engine;
  let returned: unknown;
  gpu.compileOnly = session;
  session.setActive(true);
  try {
    returned = fn();
  } finally {
    session.setActive(false);
    gpu.compileOnly = null;
    engine.seed = seed;
    engine.randomOffset = randomOffset;
  }
  if (returned instanceof Promise) {
    // Its rejection (most likely a refused read) is reported here instead, once.
    returned.catch(() => undefined);
    throw new WebgradError('precompile: fn returned a promise; fn must be synchronous (run the ops of one step, without awaiting reads)');
  }
  if (session.readsRefused > 0) {
    throw new WebgradError(`precompile: fn tried to read ${session.readsRefused} tensor(s); nothing can be read in compile-only mode`);
  }
  await session.done();
  return { backend: 'webgpu', pipelines: session.pipelines, dispatchesSkipped: session.dispatchesSkipped };
}
