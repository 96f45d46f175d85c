/**
 * Shared pieces of the harness: bringing up Dawn with a `navigator.gpu` the peers can use, recording
 * which adapter each library was handed, seeded host data, timing statistics and timeouts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { philoxUniform } from '../src/random/philox.js';

// ---- WebGPU in Node ----

export interface AdapterRecord {
  /** Which library asked (set by `forLibrary` before its init). */
  library: string;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** One line, as the report prints it. */
  name: string;
}

let realGpu: GPU | null = null;
let currentLibrary = 'unknown';
export const adapterLog: AdapterRecord[] = [];

function describe(info: GPUAdapterInfo | undefined): Omit<AdapterRecord, 'library'> {
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const description = info?.description ?? '';
  const name = [description || device, vendor && `vendor ${vendor}`, architecture && `arch ${architecture}`].filter(Boolean).join(', ') || 'unknown adapter';
  return { vendor, architecture, device, description, name };
}

/**
 * Creates one Dawn instance (`create([])` of the `webgpu` package), copies its globals
 * (GPUBufferUsage, GPUMapMode, ...) onto globalThis and installs `globalThis.navigator` with a `gpu`
 * whose requestAdapter records which library got which adapter. Every library calls
 * requestAdapter itself and so gets its own adapter object (an adapter serves one requestDevice),
 * but all come from the same instance and the same power preference, hence the same physical
 * adapter; the log proves it. Must run before any peer library is imported (TF.js's WebGPU backend
 * registers itself only if navigator.gpu exists at import time).
 */
export async function setupWebGPU(dawnOptions: string[] = []): Promise<void> {
  const mod = (await import('webgpu')) as unknown as { create(o: string[]): GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  realGpu = mod.create(dawnOptions);
  const gpu = realGpu;
  const proxy = {
    async requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
      // One preference for everyone (TF.js and jax-js ask for high-performance; webgrad asks for
      // nothing), so that on a machine with two GPUs all libraries land on the same one.
      const adapter = await gpu.requestAdapter({ ...options, powerPreference: 'high-performance' });
      if (adapter) adapterLog.push({ library: currentLibrary, ...describe((adapter as { info?: GPUAdapterInfo }).info) });
      return adapter;
    },
    getPreferredCanvasFormat: (): GPUTextureFormat => gpu.getPreferredCanvasFormat(),
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
  };
  const navigator = {
    gpu: proxy,
    // jax-js reads userAgent (it tunes kernels for mobile and Firefox); TF.js reads nothing else.
    userAgent: `Node.js/${process.version.slice(1)} (${process.platform}; ${process.arch})`,
    hardwareConcurrency: os.cpus().length,
    language: 'en-US',
    platform: process.platform,
  };
  // Node 21+ defines a navigator getter; defineProperty replaces it, plain assignment would not.
  Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true, writable: true, enumerable: true });
}

/** Tags the adapters requested from now on with a library name. */
export function forLibrary(name: string): void {
  currentLibrary = name;
}

/** The underlying Dawn GPU object (for the raw WebGPU peer). */
export function dawnGpu(): GPU {
  const g = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!g || !realGpu) throw new Error('setupWebGPU() was not called');
  return g;
}

// ---- seeded host data ----

/**
 * Successive uniform [0, 1) values of the engine's own Philox stream under `seed` (src/random), so
 * benchmark inputs come from the same generator as everything else and need no second PRNG.
 */
export function rng(seed: number): () => number {
  const BLOCK = 4096;
  let offset = 0;
  let block = philoxUniform(seed, 0, BLOCK);
  let i = 0;
  return () => {
    if (i === BLOCK) {
      offset += BLOCK;
      block = philoxUniform(seed, offset, BLOCK);
      i = 0;
    }
    return block[i++]!;
  };
}

export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const u = philoxUniform(seed, 0, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * u[i]!;
  return out;
}

/** Row-major [rows, cols] → [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

// ---- statistics and timing ----

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

export class TimeoutError extends Error {}

/** Rejects after `ms` (the work itself cannot be cancelled; the harness moves on and says so). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${(ms / 1000).toFixed(0)} s`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

export function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, ' ').trim().slice(0, 600);
}

export function now(): number {
  return performance.now();
}

/** An installed package's version, from its package.json (found on the module search path). */
export function packageVersion(name: string): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths(name) ?? []) {
    const file = join(dir, name, 'package.json');
    if (!existsSync(file)) continue;
    try {
      return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '?';
    } catch {
      return '?';
    }
  }
  return '?';
}
