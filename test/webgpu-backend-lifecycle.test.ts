/**
 * The WebGPU backend's life cycle and bookkeeping (src/backend/webgpu/backend.ts), each checked for
 * its effect rather than through a whole model: sync, settle, a read held to the bound of work in
 * flight, debug mode, destroy, the device checks a read carries (assertFinite, float32 and float16),
 * compile-only mode (precompile's counters and placeholders), an upload that must not reuse a
 * buffer the open batch still reads, int32/float32 uploads from other arrays, float16 sizes and
 * refusals, the memory counters term by term, and buffer labels. Written against the mutants
 * StrykerJS left alive in backend.ts (WEBGRAD_MUTATE_SCOPE=webgpu-backend). No adapter is a failure
 * (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebGPUBackend, type GpuStorage } from '../src/backend/webgpu/backend.js';
import type { BufferPool } from '../src/backend/webgpu/buffer-pool.js';
import { CompileSession, isPlaceholder } from '../src/backend/webgpu/precompile.js';
import { roundToF16 } from '../src/backend/f16.js';

const DESTROYED = "webgpu: this backend was destroyed; call `await init({ backend: 'webgpu' })` for a fresh device";

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false, maxPendingSubmits: 2 });
});
afterAll(() => gpu?.destroy());

/** The backend's two pools (private: read here to check that the counters add every term). */
function pools(b: WebGPUBackend): { pool: BufferPool; staging: BufferPool } {
  return { pool: b['pool'], staging: b['staging'] };
}

/** `b` with other device properties (limits, shaderF16), sharing its pools and device. */
function variant(b: WebGPUBackend, props: Partial<Pick<WebGPUBackend, 'shaderF16'>>): WebGPUBackend {
  const descriptors: PropertyDescriptorMap = {};
  for (const [k, v] of Object.entries(props)) descriptors[k] = { value: v };
  return Object.create(b, descriptors) as WebGPUBackend;
}

/** Encodes `count` relu dispatches, each submitted on its own, with no await in between. */
function submitMany(b: WebGPUBackend, x: GpuStorage, count: number): void {
  for (let i = 0; i < count; i++) {
    b.release(b.unary('relu', x, 0));
    b.flush();
  }
}

describe('webgpu backend: waiting for the GPU', () => {
  it('settle holds the work in flight to maxPendingSubmits; sync waits for all of it', async () => {
    const x = gpu.upload(new Float32Array(64).fill(-1), 'float32') as GpuStorage;
    await gpu.sync();
    expect(gpu.stats().pendingSubmits).toBe(0);
    const waits0 = gpu.stats().throttleWaits;
    submitMany(gpu, x, 6);
    expect(gpu.stats().pendingSubmits).toBe(6);
    await gpu.settle();
    expect(gpu.stats().pendingSubmits).toBeLessThanOrEqual(2);
    expect(gpu.stats().throttleWaits).toBe(waits0 + 1);
    // Even within the bound (2 unfinished), sync waits: counted as one more throttle wait.
    submitMany(gpu, x, 2);
    await gpu.sync();
    expect(gpu.stats().pendingSubmits).toBe(0);
    expect(gpu.stats().throttleWaits).toBe(waits0 + 2);
    gpu.release(x);
  });

  it('a read first waits until no more than maxPendingSubmits submits are unfinished', async () => {
    const x = gpu.upload(new Float32Array([-1, 2]), 'float32') as GpuStorage;
    await gpu.sync();
    const waits0 = gpu.stats().throttleWaits;
    submitMany(gpu, x, 5);
    expect(Array.from(await gpu.read(x))).toEqual([-1, 2]);
    expect(gpu.stats().throttleWaits).toBe(waits0 + 1);
    // Within the bound, a read does not wait.
    await gpu.sync();
    submitMany(gpu, x, 1);
    expect(Array.from(await gpu.read(x))).toEqual([-1, 2]);
    expect(gpu.stats().throttleWaits).toBe(waits0 + 1);
    // The read's own submit is not tracked by a callback: the read reports it done when its mapping is.
    await gpu.sync();
    const y = gpu.unary('relu', x, 0);
    expect(Array.from(await gpu.read(y))).toEqual([0, 2]);
    expect(gpu.stats().pendingSubmits).toBe(0);
    gpu.release(x);
    gpu.release(y);
  });

  it('a read at exactly the bound does not wait: its copy goes in the same submit as the open batch', async () => {
    const x = gpu.upload(new Float32Array([3, -3]), 'float32') as GpuStorage;
    await gpu.sync();
    submitMany(gpu, x, 2); // exactly maxPendingSubmits unfinished
    const y = gpu.unary('relu', x, 0); // an open batch
    const before = gpu.stats();
    expect(Array.from(await gpu.read(y))).toEqual([3, 0]);
    expect(gpu.stats().submits).toBe(before.submits + 1);
    expect(gpu.stats().throttleWaits).toBe(before.throttleWaits);
    gpu.release(x);
    gpu.release(y);
  });

  it('a read asks for no completion callback (it awaits its own mapping) and, with no device check pending, writes nothing', async () => {
    const x = gpu.upload(new Float32Array([4, -4]), 'float32') as GpuStorage;
    const y = gpu.unary('abs', x, 0);
    await gpu.sync();
    const queue = gpu.device.queue;
    const done = vi.spyOn(queue, 'onSubmittedWorkDone');
    const writes = vi.spyOn(queue, 'writeBuffer');
    try {
      expect(Array.from(await gpu.read(y))).toEqual([4, 4]);
      expect(done).not.toHaveBeenCalled();
      expect(writes).not.toHaveBeenCalled();
      // With a check pending, the read clears the slots after copying them: one write to the slot
      // buffer (the check's own dispatch may upload its uniforms as well).
      gpu.assertFinite(x, 'clipGradNorm', (v) => `norm ${v}`);
      expect(Array.from(await gpu.read(y))).toEqual([4, 4]);
      expect(done).not.toHaveBeenCalled();
      expect(writes.mock.calls.filter((c) => c[0] === gpu.asserts.buffer)).toHaveLength(1);
    } finally {
      done.mockRestore();
      writes.mockRestore();
    }
    gpu.release(x);
    gpu.release(y);
  });

  it('setDebug switches the validation error scopes around each submit on and off', () => {
    expect(gpu.batcher.errorScopes).toBe(false);
    gpu.setDebug(true);
    expect(gpu.batcher.errorScopes).toBe(true);
    gpu.setDebug(false);
    expect(gpu.batcher.errorScopes).toBe(false);
  });
});

describe('webgpu backend: destroy', () => {
  it('leaves the backend unusable: every call names the cause, a release is a no-op, destroy again is harmless', async () => {
    const b = await WebGPUBackend.create({ autotune: false });
    const x = b.upload(new Float32Array([1, 2]), 'float32');
    const y = b.unary('relu', x, 0);
    await b.read(y);
    b.release(y);
    const { pool, staging } = pools(b);
    expect(pool.pooledBytes).toBeGreaterThan(0);
    expect(staging.pooledBytes).toBeGreaterThan(0);
    expect(b.stats().bindGroupsCached).toBe(1);
    expect(b.unusable).toBe(false);
    b.destroy();
    expect(b.unusable).toBe(true);
    // Every pool, the bind-group cache and its uniform pages, and the device itself are gone.
    expect(pool.pooledBytes).toBe(0);
    expect(staging.pooledBytes).toBe(0);
    expect(pool.buffersDestroyed).toBeGreaterThan(0);
    expect(staging.buffersDestroyed).toBeGreaterThan(0);
    expect(b.stats().bindGroupsCached).toBe(0);
    expect(b.stats().uniformPages).toBe(0);
    expect((await b.device.lost).reason).toBe('destroyed');
    expect(() => b.flush()).toThrow(DESTROYED);
    expect(() => b.trimPool()).toThrow(DESTROYED);
    expect(() => b.upload(new Float32Array(1), 'float32')).toThrow(DESTROYED);
    expect(() => b.unary('relu', x, 0)).toThrow(DESTROYED);
    expect(() => b.assertFinite(x, 'clipGradNorm', () => 'never')).toThrow(DESTROYED);
    await expect(b.read(x)).rejects.toThrow(DESTROYED);
    await expect(b.sync()).rejects.toThrow(DESTROYED);
    await expect(b.settle()).rejects.toThrow(DESTROYED);
    // Releasing after destroy returns nothing to a pool that no longer exists, and does not throw.
    const pooled = b.memoryStats().pooledBytes;
    expect(() => b.release(x)).not.toThrow();
    expect(b.memoryStats().pooledBytes).toBe(pooled);
    expect(() => b.destroy()).not.toThrow();
  });
});

describe('webgpu backend: trimPool and a failed mapping', () => {
  it('trimPool drops the cached bind groups of the buffers it destroys', async () => {
    const b = await WebGPUBackend.create({ autotune: false });
    try {
      const x = b.upload(new Float32Array([1, -2]), 'float32');
      const y = b.unary('relu', x, 0);
      expect(Array.from(await b.read(y))).toEqual([1, 0]);
      expect(b.stats().bindGroupsCached).toBe(1);
      b.release(x);
      b.release(y);
      b.trimPool();
      expect(b.stats().bindGroupsCached).toBe(0);
    } finally {
      b.destroy();
    }
  });

  it('a staging buffer that cannot be mapped fails the read with the cause, naming read', async () => {
    const { staging } = pools(gpu);
    const failing = {
      acquire(bytes: number, purpose: 'output' | 'upload'): GPUBuffer {
        const buffer = staging.acquire(bytes, purpose);
        Object.defineProperty(buffer, 'mapAsync', { value: () => Promise.reject(new Error('mapping refused (stand-in)')) });
        return buffer;
      },
    };
    const broken = Object.create(gpu, { staging: { value: failing } }) as WebGPUBackend;
    const x = gpu.upload(new Float32Array([1]), 'float32');
    await expect(broken.read(x)).rejects.toThrow('webgpu: read: mapping the staging buffer failed: mapping refused (stand-in)');
    // The backend itself is unharmed.
    expect(Array.from(await gpu.read(x))).toEqual([1]);
    gpu.release(x);
  });
});

describe('webgpu backend: device checks travel with the next read', () => {
  it('assertFinite on float32: the next read throws the message with the value, once; later reads are clean', async () => {
    const bad = gpu.upload(new Float32Array([NaN, 1]), 'float32');
    const other = gpu.upload(new Float32Array([5]), 'float32');
    gpu.assertFinite(bad, 'clipGradNorm', (v) => `clipGradNorm: total norm is ${v}`);
    await expect(gpu.read(other)).rejects.toThrow('clipGradNorm: total norm is NaN');
    expect(Array.from(await gpu.read(other))).toEqual([5]);
    // A finite value records nothing.
    const good = gpu.upload(new Float32Array([3, NaN]), 'float32');
    gpu.assertFinite(good, 'clipGradNorm', (v) => `clipGradNorm: total norm is ${v}`);
    expect(Array.from(await gpu.read(other))).toEqual([5]);
    for (const s of [bad, other, good]) gpu.release(s);
  });

  it('the slots are cleared after a failure is reported: a second check reports its own value', async () => {
    const inf = gpu.upload(new Float32Array([-Infinity]), 'float32');
    const nan = gpu.upload(new Float32Array([NaN]), 'float32');
    gpu.assertFinite(inf, 'first', (v) => `first check saw ${v}`);
    await expect(gpu.read(inf)).rejects.toThrow('first check saw -Infinity');
    gpu.assertFinite(nan, 'second', (v) => `second check saw ${v}`);
    await expect(gpu.read(inf)).rejects.toThrow('second check saw NaN');
    gpu.release(inf);
    gpu.release(nan);
  });

  it('assertFinite on float16 widens element 0 and returns the widened copy to the pool', async () => {
    if (!gpu.shaderF16) {
      // The other branch, asserted rather than skipped: no float16 storage can exist on this device.
      expect(() => gpu.upload(new Float32Array([1]), 'float16')).toThrow("float16 needs the WebGPU feature 'shader-f16'");
      return;
    }
    const h = gpu.upload(new Float32Array([Infinity, 1, 2]), 'float16');
    gpu.flush();
    gpu.trimPool();
    expect(gpu.memoryStats().pooledBytes).toBe(0);
    gpu.assertFinite(h, 'clipGradNorm', (v) => `norm ${v}`);
    // The float32 copy (12 bytes, pooled in its size class) went back to the pool.
    expect(gpu.memoryStats().pooledBytes).toBeGreaterThanOrEqual(12);
    await expect(gpu.read(h)).rejects.toThrow('norm Infinity');
    const fine = gpu.upload(new Float32Array([0.5, Infinity]), 'float16');
    gpu.assertFinite(fine, 'clipGradNorm', (v) => `norm ${v}`);
    expect(Array.from(await gpu.read(fine))).toEqual([0.5, Infinity]);
    gpu.release(h);
    gpu.release(fine);
  });
});

describe('webgpu backend: compile-only mode (precompile)', () => {
  it('uploads become placeholders without writing, reads are refused and counted, placeholders are refused afterwards', async () => {
    const session = new CompileSession(gpu.device);
    gpu.compileOnly = session;
    try {
      expect(gpu.compileOnly).toBe(session);
      expect(gpu.batcher.compileOnly).toBe(session);
      const u = gpu.upload(new Float32Array([1, 2, 3]), 'float32') as GpuStorage;
      expect(isPlaceholder(u)).toBe(true);
      expect(session.uploadsSkipped).toBe(1);
      // An empty upload writes nothing in any mode: not counted.
      gpu.upload(new Float32Array(0), 'float32');
      expect(session.uploadsSkipped).toBe(1);
      const o = gpu.output(4, 'float32', 'relu');
      expect(isPlaceholder(o)).toBe(true);
      // Inside the session a placeholder is a valid operand.
      expect(gpu.input(u, 'relu')).toBe(u);
      await expect(gpu.read(u)).rejects.toThrow(
        'read: precompile(fn) compiles kernels without running them, so nothing can be read inside fn; read after it resolves',
      );
      expect(session.readsRefused).toBe(1);
      gpu.compileOnly = null;
      expect(gpu.batcher.compileOnly).toBeNull();
      expect(() => gpu.input(u, 'relu')).toThrow('relu: this tensor was made inside precompile(fn)');
      await expect(gpu.read(u)).rejects.toThrow('read: this tensor was made inside precompile(fn)');
      // A placeholder can still be released.
      gpu.release(u);
      gpu.release(o);
      // Outside the session storages are real.
      const real = gpu.upload(new Float32Array([7]), 'float32') as GpuStorage;
      expect(isPlaceholder(real)).toBe(false);
      expect(Array.from(await gpu.read(real))).toEqual([7]);
      gpu.release(real);
    } finally {
      gpu.compileOnly = null;
    }
  });
});

describe('webgpu backend: uploads', () => {
  it('an upload never lands in a buffer the open batch still reads (released there, same size class)', async () => {
    gpu.flush();
    const a = gpu.upload(new Float32Array([1, -2, 3, -4]), 'float32');
    const y = gpu.unary('neg', a, 0); // encoded, not submitted
    gpu.release(a); // back to the pool while the batch that reads it is open
    const b = gpu.upload(new Float32Array([10, 20, 30, 40]), 'float32');
    expect(Array.from(await gpu.read(y))).toEqual([-1, 2, -3, 4]);
    expect(Array.from(await gpu.read(b))).toEqual([10, 20, 30, 40]);
    gpu.release(y);
    gpu.release(b);
  });

  it('a buffer released while its batch is open serves uploads once that batch is submitted', async () => {
    gpu.trimPool();
    const n = 3001; // a size class nothing else here uses
    const a = gpu.upload(new Float32Array(n).fill(1), 'float32');
    const y = gpu.unary('neg', a, 0);
    gpu.release(a); // released in the open batch
    gpu.flush();
    const created = gpu.memoryStats().buffersCreated;
    const b = gpu.upload(new Float32Array(n).fill(2), 'float32');
    expect(gpu.memoryStats().buffersCreated).toBe(created);
    expect((await gpu.read(y))[n - 1]).toBe(-1);
    expect((await gpu.read(b))[0]).toBe(2);
    gpu.release(y);
    gpu.release(b);
  });

  it('int32 from other arrays truncates toward zero and wraps like Int32Array; float32 from float64 rounds once', async () => {
    const i = gpu.upload(new Float64Array([1.7, -2.7, 2 ** 31 + 5, -0.5, NaN, Infinity]), 'int32');
    expect(Array.from(await gpu.read(i))).toEqual([1, -2, -(2 ** 31) + 5, 0, 0, 0]);
    const j = gpu.upload(Int32Array.from([7, -8]), 'int32');
    expect(Array.from(await gpu.read(j))).toEqual([7, -8]);
    const f = gpu.upload(new Float64Array([0.1, 1 + 2 ** -30]), 'float32');
    expect(Array.from(await gpu.read(f))).toEqual([Math.fround(0.1), 1]);
    for (const s of [i, j, f]) gpu.release(s);
  });

  it('float16 storages take 2 bytes an element in whole words, and need shader-f16', () => {
    const f16 = variant(gpu, { shaderF16: true });
    const sizes = [1, 2, 3, 4, 5].map((n) => {
      const s = f16.output(n, 'float16', 'zeros');
      gpu.release(s);
      return s.byteSize;
    });
    expect(sizes).toEqual([4, 4, 8, 8, 12]);
    const none = variant(gpu, { shaderF16: false });
    expect(() => none.output(2, 'float16', 'zeros')).toThrow(
      `zeros: float16 needs the WebGPU feature 'shader-f16', which this device lacks (adapter: ${gpu.adapterInfo}); ` +
        'use float32 here, or the cpu backend for float16',
    );
    expect(() => none.output(2, 'float32', 'zeros')).not.toThrow();
  });
});

describe('webgpu backend: counters and labels', () => {
  it('memoryStats adds every term: storage pool, staging pool, uniform slots, the device-asserts buffer', async () => {
    const b = await WebGPUBackend.create({ autotune: false });
    try {
      const x = b.upload(new Float32Array([1, -1, 2]), 'float32');
      const y = b.unary('relu', x, 0);
      expect(Array.from(await b.read(y))).toEqual([1, 0, 2]);
      const { pool, staging } = pools(b);
      // Every term is non-zero here, so a term dropped or subtracted changes the sum.
      for (const v of [pool.allocatedBytes, staging.allocatedBytes, b.batcher.uniformBytes, b.asserts.bytes]) expect(v).toBeGreaterThan(0);
      for (const v of [pool.buffersCreated, staging.buffersCreated, b.batcher.uniformBuffers]) expect(v).toBeGreaterThan(0);
      b.release(x);
      b.release(y);
      const m = b.memoryStats();
      expect(m.allocatedBytes).toBe(pool.allocatedBytes + staging.allocatedBytes + b.batcher.uniformBytes + b.asserts.bytes);
      expect(m.buffersCreated).toBe(pool.buffersCreated + staging.buffersCreated + b.batcher.uniformBuffers + 1);
      expect(m.pooledBytes).toBe(pool.pooledBytes + staging.pooledBytes);
      expect(pool.pooledBytes).toBeGreaterThan(0);
      expect(staging.pooledBytes).toBeGreaterThan(0);
      const s = b.stats();
      expect(s.buffersCreated).toBe(m.buffersCreated);
      expect(s.pipelinesCreated).toBe(b.pipelines.pipelinesCreated);
      expect(s.pipelinesCreated).toBeGreaterThan(0);
      expect(s.dispatches).toBeGreaterThan(0);
    } finally {
      b.destroy();
    }
  });

  it('storage and staging buffers are labelled by pool and size class (for validation messages and captures)', async () => {
    const x = gpu.upload(new Float32Array(5), 'float32') as GpuStorage;
    expect(x.buffer.label).toMatch(/^webgrad storage \d+B$/);
    await gpu.read(x);
    gpu.release(x);
    const { staging } = pools(gpu);
    const labels = [...staging['free'].values()].flat().map((e) => e.buffer.label);
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels) expect(l).toMatch(/^webgrad staging \d+B$/);
  });
});
