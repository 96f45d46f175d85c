/**
 * Compile-only mode of the WebGPU backend, behind the public `precompile(fn)` (src/precompile.ts).
 *
 * While a session is active: a pipeline-cache miss is compiled with createComputePipelineAsync
 * (nothing waits for the compiler: in Node the blocking createComputePipeline runs on the JS thread,
 * in a browser it stalls the GPU process's command stream) and joins the cache only when ready; dispatches are skipped (the batcher counts them), uploads copy nothing, so
 * nothing reaches the GPU queue. Every storage made in the mode is a placeholder: it holds no values,
 * so reading it, or using it after the session, is refused with a WebgradError instead of
 * returning whatever the pooled buffer held.
 */

import { WebgradError } from '../../errors.js';
import type { GpuStorage } from './storage.js';

/** Sessions active (any backend): Tensor._assign leaves tensors alone while one is. */
let activeSessions = 0;

/** True while precompile's fn runs: an assignment then must not swap a real tensor's storage for a placeholder. */
export function compileOnlyActive(): boolean {
  return activeSessions > 0;
}

/**
 * Compilations not finished yet, per device and key: a later session that needs the same pipeline
 * waits for that one instead of compiling it again (precompile calls may overlap).
 */
const inFlight = new WeakMap<GPUDevice, Map<string, Promise<string | null>>>();

/** Storages made in compile-only mode (never valid data). A WeakSet: they are collected as usual. */
const placeholders = new WeakSet<GpuStorage>();

export function markPlaceholder(s: GpuStorage): GpuStorage {
  placeholders.add(s);
  return s;
}

export function isPlaceholder(s: GpuStorage): boolean {
  return placeholders.has(s);
}

export function placeholderError(op: string): WebgradError {
  return new WebgradError(
    `${op}: this tensor was made inside precompile(fn), which compiles kernels without running them, ` +
      'so it holds no values; make it again outside precompile',
  );
}

/**
 * The stand-in pipeline a kernel receives for a miss while compiling: never bound, because every
 * dispatch of the session is skipped (Batcher.dispatch checks the mode first).
 */
function stubPipeline(key: string): GPUComputePipeline {
  return Object.freeze({ label: `precompile stand-in for '${key}'` }) as unknown as GPUComputePipeline;
}

export class CompileSession {
  /** Pipelines this session waits for, by key (a key missed twice is compiled once): each settles to its failure or null. */
  private readonly pending = new Map<string, Promise<string | null>>();
  /** Of those, the ones this session started compiling. */
  private started = 0;
  private readonly stubs = new Map<string, GPUComputePipeline>();
  dispatchesSkipped = 0;
  uploadsSkipped = 0;
  readsRefused = 0;

  constructor(private readonly device: GPUDevice) {}

  /** Marks the session active or not (src/precompile.ts, around fn). */
  setActive(on: boolean): void {
    activeSessions += on ? 1 : -1;
  }

  /** Pipelines this session asked the device to create (not those another session was already compiling). */
  get pipelines(): number {
    return this.started;
  }

  /**
   * Starts compiling `key` asynchronously; `adopt` puts the ready pipeline into the cache. Returns a
   * stand-in for the kernel to carry through the skipped dispatch.
   */
  compile(key: string, descriptor: GPUComputePipelineDescriptor, adopt: (p: GPUComputePipeline) => void): GPUComputePipeline {
    let stub = this.stubs.get(key);
    if (stub) return stub;
    stub = stubPipeline(key);
    this.stubs.set(key, stub);
    let compiling = inFlight.get(this.device);
    if (!compiling) inFlight.set(this.device, (compiling = new Map()));
    const earlier = compiling.get(key);
    if (earlier) {
      this.pending.set(key, earlier);
      return stub;
    }
    const done = this.device.createComputePipelineAsync(descriptor).then(
      (p) => {
        adopt(p);
        return null;
      },
      (e: unknown) => `'${key}': ${e instanceof Error ? e.message : String(e)}`,
    ).finally(() => compiling.delete(key));
    compiling.set(key, done);
    this.pending.set(key, done);
    this.started++;
    return stub;
  }

  /** Resolves once every pipeline requested is in the cache; rejects naming those that failed. */
  async done(): Promise<void> {
    const failures = (await Promise.all(this.pending.values())).filter((f): f is string => f !== null);
    if (failures.length) {
      throw new WebgradError(`precompile: ${failures.length} pipeline(s) failed to compile: ${failures.join('; ')}`);
    }
  }
}
