/**
 * Helpers for the kernel-level tests (test/webgpu-backend, test/webgpu-training), which drive a
 * WebGPUBackend and a CpuBackend directly through the Backend interface: deterministic data
 * independent of Philox, element-wise and bitwise comparison, and pool poisoning.
 */
import { expect } from 'vitest';
import type { Backend, DType, Storage, TypedArray } from '../../src/backend/types.js';
import type { Tol } from './compare.js';
import { maxAbs, prng } from './random-data.js';

/** Fresh arrays per call (each draws from its own stream; `salt` separates test files). */
export function testData(salt: number) {
  let counter = 1;
  const next = () => prng(counter++ * 7919 + salt);
  return {
    rand(n: number, lo = -1, hi = 1, specials: readonly number[] = []): Float32Array {
      const r = next();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = i < specials.length ? specials[i]! : lo + (hi - lo) * r();
      return out;
    },
    randInt(n: number, lo: number, hi: number): Int32Array {
      const r = next();
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = lo + Math.floor(r() * (hi - lo + 1));
      return out;
    },
  };
}

export { maxAbs };

/** |got − expected| ≤ atol + rtol·|expected| everywhere (NaN and ±Inf must match exactly). */
export function assertClose(what: string, got: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol): void {
  expect(got.length, `${what}: length`).toBe(expected.length);
  let bad = 0;
  let first = '';
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const g = got[i]!;
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(g);
    else if (!Number.isFinite(e)) ok = g === e;
    else ok = Number.isFinite(g) && Math.abs(g - e) <= tol.atol + tol.rtol * Math.abs(e);
    if (!ok) {
      if (bad === 0) first = `first at ${i}: got ${g}, expected ${e}, |diff| ${Math.abs(g - e).toExponential(3)}`;
      bad++;
    }
  }
  if (bad) throw new Error(`${what}: ${bad} of ${expected.length} elements differ (${first}; atol ${tol.atol.toExponential(2)}, rtol ${tol.rtol.toExponential(2)})`);
}

/** Bit-for-bit equality of float32 arrays (NaN payloads included). */
export function assertBitsEqual(what: string, got: Float32Array, expected: Float32Array): void {
  expect(got.length, `${what}: length`).toBe(expected.length);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let bad = 0;
  let first = '';
  for (let i = 0; i < e.length; i++) {
    if (g[i] !== e[i]) {
      if (bad === 0) first = `first at ${i}: got ${got[i]} (0x${g[i]!.toString(16)}), expected ${expected[i]} (0x${e[i]!.toString(16)})`;
      bad++;
    }
  }
  if (bad) throw new Error(`${what}: ${bad} of ${e.length} elements differ bitwise (${first})`);
}

/** The int32 poison: a float NaN's bit pattern, unlikely as a real result. */
export const INT_POISON = 0x7fc00000;

/**
 * Fills pooled buffers of each size with poison (NaN, or INT_POISON for int32) and returns them to
 * the pool, so an output the kernel fails to write in full shows up.
 */
export function poisonPool(gpu: Backend, sizes: readonly number[], dtype: DType = 'float32'): void {
  const held: Storage[] = [];
  for (const n of new Set(sizes)) {
    if (n <= 0) continue;
    for (let c = 0; c < 4; c++) held.push(gpu.fill(n, dtype === 'int32' ? INT_POISON : Number.NaN, dtype));
  }
  for (const s of held) gpu.release(s);
  gpu.flush();
}

export interface Input {
  data: TypedArray;
  dtype: DType;
}
export const f32 = (data: Float32Array): Input => ({ data, dtype: 'float32' });
export const i32 = (data: Int32Array): Input => ({ data, dtype: 'int32' });

/**
 * How one output is compared: within a tolerance, within a tolerance computed from the CPU's
 * output (e.g. relative to its largest magnitude), or bit for bit ('bits', NaN payloads included).
 */
export type OutputCheck = Tol | 'bits' | ((expected: Float32Array) => Tol);

export interface CompareOptions {
  /** Every GPU output must have this dtype (and read back as its typed array). */
  dtype?: 'float32';
}

/**
 * Runs `run` on both backends (the GPU pool poisoned first, so an output a kernel fails to write in
 * full shows up) and compares every output with the CPU's by its check (the last one repeats for
 * further outputs). Both runs must give the same number of outputs. Releases the GPU storages.
 */
export async function compareOnBackends(
  cpu: Backend, gpu: Backend, what: string, inputs: readonly Input[],
  run: (be: Backend, xs: Storage[]) => Storage[], checks: readonly OutputCheck[], options: CompareOptions = {},
): Promise<void> {
  const cx = inputs.map((i) => cpu.upload(i.data, i.dtype));
  const expected = (await Promise.all(run(cpu, cx).map((s) => cpu.read(s)))).map((a) => Float32Array.from(a));
  const gx = inputs.map((i) => gpu.upload(i.data, i.dtype));
  poisonPool(gpu, expected.map((e) => e.length));
  const out = run(gpu, gx);
  expect(out.length, `${what}: number of outputs`).toBe(expected.length);
  for (let k = 0; k < out.length; k++) {
    const label = `${what} (output ${k})`;
    if (options.dtype !== undefined) expect(out[k]!.dtype, `${what}: output ${k} dtype`).toBe(options.dtype);
    const got = await gpu.read(out[k]!);
    if (options.dtype === 'float32') expect(got).toBeInstanceOf(Float32Array);
    const check = checks[Math.min(k, checks.length - 1)]!;
    if (check === 'bits') {
      // Compared as read: a copy through JS numbers could change NaN payloads.
      if (!(got instanceof Float32Array)) throw new Error(`${label}: a bitwise check needs a float32 output, got ${got.constructor.name}`);
      assertBitsEqual(label, got, expected[k]!);
    } else assertClose(label, got, expected[k]!, typeof check === 'function' ? check(expected[k]!) : check);
  }
  for (const s of [...gx, ...out]) gpu.release(s);
}
