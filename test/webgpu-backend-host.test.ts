/**
 * The WebGPU backend's own host logic (src/backend/webgpu/backend.ts), beside what every suite does
 * through it: which adapters count as software drivers, the storage size limit at its exact boundary,
 * an empty read, flush, trimPool, and the memory counters summed over its pools. Written against the
 * mutants StrykerJS left alive in backend.ts (WEBGRAD_MUTATE_SCOPE=webgpu-backend). No adapter is a
 * failure (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSoftwareAdapter, WebGPUBackend } from '../src/backend/webgpu/backend.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

describe('webgpu backend: host logic', () => {
  it('software drivers by their adapter description: lavapipe/llvmpipe and SwiftShader, not a GPU', () => {
    expect(isSoftwareAdapter('mesa / software / llvmpipe-llvm-15-0-6-256-bits- / llvmpipe: Mesa 25.0.7')).toBe(true);
    expect(isSoftwareAdapter('google / swiftshader / SwiftShader Device (Subzero)')).toBe(true);
    expect(isSoftwareAdapter('Lavapipe')).toBe(true);
    expect(isSoftwareAdapter('nvidia / nvidia-h200 / NVIDIA: 580.159.04 580.159.4.0')).toBe(false);
    expect(isSoftwareAdapter('apple / metal-3 / Apple M2')).toBe(false);
    // This suite's own adapter is one of CI's software drivers.
    expect(gpu.softwareAdapter).toBe(isSoftwareAdapter(gpu.adapterInfo));
  });

  it("a storage may take exactly maxStorageBufferBindingSize bytes, not one word more; the error names the op and the sizes", () => {
    const small = Object.create(gpu, { limits: { value: { ...gpu.limits, maxStorageBufferBindingSize: 64 } } }) as WebGPUBackend;
    const fits = small.output(16, 'float32', 'matmul');
    expect(fits.byteSize).toBe(64);
    gpu.release(fits);
    expect(() => small.output(17, 'float32', 'matmul')).toThrow(
      "webgpu: matmul: a float32 tensor of 17 elements needs 68 bytes, more than this device's maxStorageBufferBindingSize of 64 bytes",
    );
    expect(() => gpu.output(-1, 'float32', 'relu')).toThrow('webgpu: relu: invalid length -1');
    expect(() => gpu.output(2.5, 'float32', 'relu')).toThrow('webgpu: relu: invalid length 2.5');
  });

  it('each refusal names the call: read, release, fill, cast, random, routine', async () => {
    const x = gpu.upload(new Float32Array(2), 'float32');
    gpu.release(x);
    await expect(gpu.read(x)).rejects.toThrow('webgpu: read: this storage was released');
    expect(() => gpu.release(x)).toThrow('webgpu: release: this storage was released');
    expect(() => gpu.fill(2, 1, 'float64')).toThrow(/^fill: webgpu backend does not support float64/);
    const y = gpu.upload(new Float32Array(2), 'float32');
    expect(() => gpu.cast(y, 'float64')).toThrow(/^cast: webgpu backend does not support float64/);
    expect(() => gpu.random('uniform', 4, 1, 0, 'float64')).toThrow(/^random uniform: webgpu backend does not support float64/);
    expect(() => gpu.routine('nope' as 'softmax', { x: y }, { rows: 1, cols: 2, log: false })).toThrow("webgpu.routine: unknown routine 'nope'");
    if (gpu.shaderF16) {
      const h = gpu.upload(new Float32Array(2), 'float16');
      expect(() => gpu.routine('softmax', { x: h }, { rows: 1, cols: 2, log: false })).toThrow(
        "softmax: x is float16, which the webgpu backend's softmax kernel does not support; cast it to float32 first",
      );
      gpu.release(h);
    }
    gpu.release(y);
  });

  it('an empty storage reads back empty, without a submit', async () => {
    gpu.flush();
    const before = gpu.stats().submits;
    const out = await gpu.read(gpu.output(0, 'int32', 'empty'));
    expect(out).toBeInstanceOf(Int32Array);
    expect(out.length).toBe(0);
    expect(gpu.stats().submits).toBe(before);
  });

  it('flush submits the open batch; trimPool frees the pooled storage and staging buffers', async () => {
    const x = gpu.upload(new Float32Array([1, -2, 3]), 'float32');
    gpu.flush();
    const before = gpu.stats().submits;
    const y = gpu.unary('relu', x, 0);
    gpu.flush();
    expect(gpu.stats().submits).toBe(before + 1);
    expect(Array.from(await gpu.read(y))).toEqual([1, 0, 3]);
    for (const s of [x, y]) gpu.release(s);
    // The read left a staging buffer pooled, and the releases two storage buffers.
    expect(gpu.memoryStats().pooledBytes).toBeGreaterThan(0);
    gpu.trimPool();
    expect(gpu.memoryStats().pooledBytes).toBe(0);
  });

  it('the memory counters add the storage and staging pools: an upload and a read of a new size add one buffer each', async () => {
    gpu.trimPool();
    const m0 = gpu.memoryStats();
    const n = 12_347; // a size no earlier test pooled
    const x = gpu.upload(new Float32Array(n).fill(2), 'float32');
    const got = await gpu.read(x);
    expect(got[n - 1]).toBe(2);
    const m1 = gpu.memoryStats();
    expect(m1.buffersCreated - m0.buffersCreated).toBe(2);
    // Each buffer holds at least the 4·n bytes (pools may round up, to at most twice).
    expect(m1.allocatedBytes - m0.allocatedBytes).toBeGreaterThanOrEqual(2 * 4 * n);
    expect(m1.allocatedBytes - m0.allocatedBytes).toBeLessThanOrEqual(4 * 4 * n);
    gpu.release(x);
  });
});
