/**
 * Exact checks of the WebGPU host code's bookkeeping (src/backend/webgpu: batcher, bind-group
 * cache, buffer pool, size classes), written against the mutants StrykerJS left alive there
 * (`WEBGRAD_MUTATE_WITH_WEBGPU=1 WEBGRAD_MUTATE_SCOPE=webgpu npx stryker run --mutate ...`).
 *
 * The suites that run kernels show the values are right; they cannot see, say, a bind group
 * created twice, an upload range one word too wide, or a batch submitted one dispatch late. These
 * tests drive the classes with a recording stand-in device (test/helpers/fake-gpu-device.ts) and
 * check the exact calls. A real device is brought up first because the host code reads WebGPU's
 * global constants (GPUBufferUsage), which Dawn installs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { Batcher } from '../src/backend/webgpu/batcher.js';
import { BindGroupCache } from '../src/backend/webgpu/bind-groups.js';
import { BufferPool, sizeClass } from '../src/backend/webgpu/buffer-pool.js';
import { DeviceHealth, type DeviceLimits } from '../src/backend/webgpu/device.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import type { Kernel, KernelLayout } from '../src/backend/webgpu/pipeline-cache.js';
import { CompileSession } from '../src/backend/webgpu/precompile.js';
import type { GpuStorage } from '../src/backend/webgpu/storage.js';
import { forceKernelChoice, kernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { PipelineCache } from '../src/backend/webgpu/pipeline-cache.js';
import { DeviceAsserts } from '../src/backend/webgpu/device-asserts.js';
import { WebgradError } from '../src/errors.js';
import { ASSERT_SLOT, ASSERT_SLOT_COUNT, ASSERT_WORDS_PER_SLOT, type AssertSlotName } from '../shaders/asserts.js';
import type { BindingDecls, KernelProgram, UniformDecls } from '../shaders/program.js';
import { collapseStrided } from '../src/backend/webgpu/strided.js';
import { philoxWords } from '../src/random/philox.js';
import { asFake, asGpu, fakeDevice, type FakeBindGroup, type FakeBuffer } from './helpers/fake-gpu-device.js';

let gpu: WebGPUBackend | null = null;
beforeAll(async () => {
  // No adapter is a failure here (as in webgpu-backend.test.ts): these tests need Dawn's globals.
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const PAGE = 65536;
const layout = (id: number): KernelLayout => ({ id, access: [], bindGroupLayout: {} as GPUBindGroupLayout, pipelineLayout: {} as GPUPipelineLayout });
const kernel = (id: number): Kernel => ({ pipeline: {} as GPUComputePipeline, layout: layout(id), key: `k${id}` });
const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);
const bgOf = (bg: GPUBindGroup | null): FakeBindGroup => bg as unknown as FakeBindGroup;
const uniformEntry = (bg: GPUBindGroup | null): { buffer: FakeBuffer; offset: number; size: number } =>
  bgOf(bg).entries[0]!.resource as unknown as { buffer: FakeBuffer; offset: number; size: number };

function limits(maxWorkgroups: number, align = 256): DeviceLimits {
  return {
    maxStorageBufferBindingSize: 1 << 27,
    maxBufferSize: 1 << 28,
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupsPerDimension: maxWorkgroups,
    minUniformBufferOffsetAlignment: align,
    maxUniformBufferBindingSize: 65536,
    maxStorageBuffersPerShaderStage: 8,
  };
}

// ------------------------------------------------------------------ size classes
describe('webgpu host: sizeClass', () => {
  it('rounds to quarter octaves of at least 256 B, then falls back to 256 B and 4 B multiples above the limit', () => {
    const cases: Array<[number, number, number]> = [
      [0, Infinity, 256],
      [1, Infinity, 256],
      [256, Infinity, 256],
      [257, Infinity, 512],
      [512, Infinity, 512],
      [513, Infinity, 768],
      [1024, Infinity, 1024],
      [1025, Infinity, 1280],
      [2049, Infinity, 2560],
      [4096, Infinity, 4096],
      [4097, Infinity, 5120],
      // 3072 fits a 3100 B limit: the class itself.
      [3000, 3100, 3072],
      [3072, 3072, 3072],
      // class 3072 > 2900: the 256 B multiple 2816 fits.
      [2600, 2900, 2816],
      // class 3584 and the 256 B multiple 3328 exceed 3200: the 4 B multiple.
      [3100, 3200, 3100],
      [3101, 3200, 3104],
      // The 256 B multiple exactly at the limit is taken (not the 4 B one).
      [2600, 2816, 2816],
    ];
    for (const [b, max, want] of cases) expect(sizeClass(b, max), `sizeClass(${b}, ${max})`).toBe(want);
  });
});

// ------------------------------------------------------------------ buffer pool
describe('webgpu host: BufferPool', () => {
  it('creates class-sized buffers with its usage and label, and counts them', () => {
    const f = fakeDevice();
    const pool = new BufferPool(f.device, 0x84, 1 << 20, 'test pool');
    const a = asFake(pool.acquire(300, 'output'));
    expect([a.size, a.usage, a.label]).toEqual([512, 0x84, 'test pool 512B']);
    const b = asFake(pool.acquire(1025, 'upload'));
    expect(b.size).toBe(1280);
    expect([pool.allocatedBytes, pool.buffersCreated, pool.buffersDestroyed, pool.pooledBytes]).toEqual([1792, 2, 0, 0]);
  });

  it('reuses a released buffer of the same class, lowest creation serial first, whatever the release order', () => {
    const f = fakeDevice();
    const pool = new BufferPool(f.device, 1, 1 << 20, 'p');
    const b = [0, 1, 2, 3].map(() => pool.acquire(1000, 'output'));
    for (const i of [2, 0, 3, 1]) pool.release(b[i]!, false);
    expect(pool.pooledBytes).toBe(4 * 1024);
    // Another class does not take them.
    const other = pool.acquire(5000, 'output');
    expect(b.includes(other)).toBe(false);
    const got = [0, 1, 2, 3].map(() => pool.acquire(900, 'upload'));
    expect(got).toEqual(b);
    expect(pool.pooledBytes).toBe(0);
    expect(pool.buffersCreated).toBe(5);
  });

  it("keeps a buffer released in the open batch from uploads (not from outputs) until the batch is submitted", () => {
    const f = fakeDevice();
    const pool = new BufferPool(f.device, 1, 1 << 20, 'p');
    const [b0, b1, b2] = [0, 1, 2].map(() => pool.acquire(256, 'output'));
    pool.release(b0!, true);
    pool.release(b1!, true);
    pool.release(b2!, false);
    // The lowest serials were released in the open batch: an upload skips them and takes b2.
    expect(pool.acquire(256, 'upload')).toBe(b2);
    // Only open-batch buffers are left: an upload makes a new buffer, an output takes b0.
    const fresh = pool.acquire(256, 'upload');
    expect([b0, b1, b2].includes(fresh)).toBe(false);
    expect(pool.buffersCreated).toBe(4);
    expect(pool.acquire(256, 'output')).toBe(b0);
    // After the submit b1 is fine for an upload.
    pool.onSubmit();
    expect(pool.acquire(256, 'upload')).toBe(b1);
    // Released in the (new) open batch again: skipped by uploads again.
    pool.release(b1!, true);
    expect(pool.acquire(256, 'upload')).not.toBe(b1);
  });

  it('trim destroys the free buffers not released in the open batch and tells onDestroy first; destroy takes the rest', () => {
    const f = fakeDevice();
    const pool = new BufferPool(f.device, 1, 1 << 20, 'p');
    const seen: FakeBuffer[] = [];
    pool.onDestroy = (b) => {
      expect(asFake(b).destroyed, 'onDestroy runs before destroy()').toBe(false);
      seen.push(asFake(b));
    };
    const [a, b, c] = [256, 512, 512].map((n) => pool.acquire(n, 'output'));
    pool.release(a!, false);
    pool.release(b!, false);
    pool.release(c!, true);
    expect(pool.pooledBytes).toBe(1280);
    pool.trim();
    expect(seen).toEqual([asFake(a!), asFake(b!)]);
    expect([asFake(a!).destroyed, asFake(b!).destroyed, asFake(c!).destroyed]).toEqual([true, true, false]);
    expect([pool.buffersDestroyed, pool.pooledBytes]).toEqual([2, 512]);
    // The kept one is still handed out; the trimmed class makes a new buffer.
    expect(pool.acquire(512, 'output')).toBe(c);
    const n = pool.buffersCreated;
    pool.acquire(256, 'output');
    expect(pool.buffersCreated).toBe(n + 1);
    pool.release(c!, false);
    pool.destroy();
    expect(asFake(c!).destroyed).toBe(true);
    expect([pool.buffersDestroyed, pool.pooledBytes]).toEqual([3, 0]);
    // Destroyed buffers are forgotten: the next acquire creates.
    pool.acquire(512, 'output');
    expect(pool.buffersCreated).toBe(n + 2);
  });

  it('a buffer released with no batch open is free for uploads whatever the batch serial', () => {
    const f = fakeDevice();
    const pool = new BufferPool(f.device, 1, 1 << 20, 'p');
    const a = pool.acquire(256, 'output');
    pool.onSubmit();
    pool.release(a, false);
    expect(pool.acquire(256, 'upload')).toBe(a);
  });

  it('trim after the submit destroys buffers released in the batch before it', () => {
    const f = fakeDevice();
    const pool = new BufferPool(f.device, 1, 1 << 20, 'p');
    const a = pool.acquire(256, 'output');
    pool.release(a, true);
    pool.trim();
    expect(asFake(a).destroyed).toBe(false);
    pool.onSubmit();
    pool.trim();
    expect(asFake(a).destroyed).toBe(true);
    expect(pool.pooledBytes).toBe(0);
  });
});

// ------------------------------------------------------------------ bind-group cache
describe('webgpu host: BindGroupCache', () => {
  it('creates one bind group per layout, buffers and parameter bytes, with its uniform slot at binding 0', () => {
    const f = fakeDevice();
    const cache = new BindGroupCache(f.device, 256, 100);
    const [x, y] = [asGpu({ size: 4 } as FakeBuffer), asGpu({ size: 8 } as FakeBuffer)];
    const g1 = cache.bind(layout(3), [x!, y!], bytes(1, 2, 3, 4, 5, 6, 7, 8), 1);
    expect(f.bindGroups.length).toBe(1);
    const e = bgOf(g1).entries;
    expect(e.map((v) => v.binding)).toEqual([0, 1, 2]);
    expect(uniformEntry(g1)).toEqual({ buffer: f.buffers[0], offset: 0, size: 16 });
    expect([(e[1]!.resource as { buffer: unknown }).buffer, (e[2]!.resource as { buffer: unknown }).buffer]).toEqual([x, y]);
    expect([f.buffers[0]!.size, f.buffers[0]!.usage]).toEqual([PAGE, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST]);
    // Same bytes, same batch: shared.
    expect(cache.bind(layout(3), [x!, y!], bytes(1, 2, 3, 4, 5, 6, 7, 8), 1)).toBe(g1);
    // Other bytes in the same batch: a second entry with its own slot.
    const g2 = cache.bind(layout(3), [x!, y!], bytes(9, 2, 3, 4, 5, 6, 7, 8), 1);
    expect(g2).not.toBe(g1);
    expect(uniformEntry(g2).offset).toBe(256);
    // The first two bind groups again, by content, within the batch.
    expect(cache.bind(layout(3), [x!, y!], bytes(9, 2, 3, 4, 5, 6, 7, 8), 1)).toBe(g2);
    expect(cache.bind(layout(3), [x!, y!], bytes(1, 2, 3, 4, 5, 6, 7, 8), 1)).toBe(g1);
    // Another layout, other buffer order, other parameter size: new entries.
    const g3 = cache.bind(layout(4), [x!, y!], bytes(1, 2, 3, 4, 5, 6, 7, 8), 1);
    const g4 = cache.bind(layout(3), [y!, x!], bytes(1, 2, 3, 4, 5, 6, 7, 8), 1);
    const g5 = cache.bind(layout(3), [x!, y!], new Uint8Array(20), 1);
    expect(new Set([g1, g2, g3, g4, g5]).size).toBe(5);
    expect(uniformEntry(g5).size).toBe(32);
    // Next batch: the first entry is reused whatever the bytes (its slot is rewritten).
    expect(cache.bind(layout(3), [x!, y!], bytes(7, 7, 7, 7), 2)).toBe(g1);
    expect(cache.stats()).toEqual({ bindGroupsCreated: 5, bindGroupsEvicted: 0, bindGroupsCached: 5, uniformPages: 1 });
    expect([cache.size, cache.pageCount, cache.uniformBytes]).toEqual([5, 1, PAGE]);
  });

  it('uploads exactly the changed bytes, widened to whole words, once per submit', () => {
    const f = fakeDevice();
    const cache = new BindGroupCache(f.device, 256, 100);
    const x = asGpu({ size: 4 } as FakeBuffer);
    cache.bind(layout(1), [x], bytes(1, 2, 3, 4, 5, 6, 7, 8), 1);
    cache.bind(layout(2), [x], bytes(0, 0, 0, 0, 0, 9), 1);
    cache.upload();
    // Slot 0 changed bytes [0, 8), slot 1 (offset 256) byte 5 → words [256, 260) ∪ ... = [0, 264).
    expect(f.writes.map((w) => [w.offset, w.dataOffset, w.size])).toEqual([[0, 0, 264]]);
    expect(f.writes[0]!.buffer).toBe(f.buffers[0]);
    expect(f.writes[0]!.bytes.slice(0, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(f.writes[0]!.bytes.slice(256, 264)).toEqual([0, 0, 0, 0, 0, 9, 0, 0]);
    // Nothing changed: no upload.
    cache.upload();
    expect(f.writes.length).toBe(1);
    // The same bytes in the next batch: nothing to upload.
    cache.bind(layout(1), [x], bytes(1, 2, 3, 4, 5, 6, 7, 8), 2);
    cache.upload();
    expect(f.writes.length).toBe(1);
    // One byte changed (index 5): the word [4, 8) of slot 0.
    cache.bind(layout(1), [x], bytes(1, 2, 3, 4, 5, 60, 7, 8), 3);
    cache.upload();
    expect(f.writes.slice(1).map((w) => [w.offset, w.dataOffset, w.size, ...w.bytes])).toEqual([[4, 4, 4, 5, 60, 7, 8]]);
    // Byte 0 of slot 1 and byte 6 of slot 0 change: one range over both, [4, 260).
    cache.bind(layout(1), [x], bytes(1, 2, 3, 4, 5, 60, 70, 8), 4);
    cache.bind(layout(2), [x], bytes(1, 0, 0, 0, 0, 9), 4);
    cache.upload();
    expect(f.writes.slice(2).map((w) => [w.offset, w.size])).toEqual([[4, 256]]);
    // Bytes 3 and 4 (the end of one word and the start of the next): [0, 8).
    cache.bind(layout(1), [x], bytes(1, 2, 3, 40, 50, 60, 70, 8), 5);
    cache.upload();
    expect(f.writes.slice(3).map((w) => [w.offset, w.size])).toEqual([[0, 8]]);
  });

  it('opens a new uniform page when one is full, and uploads each page separately', () => {
    const f = fakeDevice();
    const cache = new BindGroupCache(f.device, 256, 1000);
    const x = asGpu({ size: 4 } as FakeBuffer);
    const per = PAGE / 256;
    const groups: Array<GPUBindGroup | null> = [];
    for (let i = 0; i <= per; i++) groups.push(cache.bind(layout(i), [x], bytes(i & 255, 1), 1));
    expect(cache.pageCount).toBe(2);
    expect(cache.uniformBytes).toBe(2 * PAGE);
    expect(uniformEntry(groups[per - 1]!)).toEqual({ buffer: f.buffers[0], offset: PAGE - 256, size: 16 });
    expect(uniformEntry(groups[per]!)).toEqual({ buffer: f.buffers[1], offset: 0, size: 16 });
    cache.upload();
    expect(f.writes.map((w) => [f.buffers.indexOf(w.buffer), w.offset, w.size])).toEqual([
      [0, 0, PAGE - 256 + 4],
      [1, 0, 4],
    ]);
    cache.destroy();
    expect(f.buffers.map((b) => b.destroyed)).toEqual([true, true]);
    expect(cache.pageCount).toBe(0);
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used eighth of the entries not in the open batch, and reuses their slots', () => {
    const f = fakeDevice();
    const cache = new BindGroupCache(f.device, 256, 16);
    const x = asGpu({ size: 4 } as FakeBuffer);
    const g: Array<GPUBindGroup | null> = [];
    for (let i = 0; i < 16; i++) g.push(cache.bind(layout(i), [x], bytes(i), 1));
    // Full of entries the open batch uses: null, nothing dropped.
    expect(cache.bind(layout(99), [x], bytes(1), 1)).toBeNull();
    expect(cache.stats().bindGroupsEvicted).toBe(0);
    // Batch 2 touches entries 0 and 1: entries 2 and 3 are now the least recently used.
    expect(cache.bind(layout(0), [x], bytes(0), 2)).toBe(g[0]);
    expect(cache.bind(layout(1), [x], bytes(1), 2)).toBe(g[1]);
    // Batch 3 needs a new entry: the cache drops two (16 >> 3), the least recently used.
    const n = cache.bind(layout(99), [x], bytes(1), 3);
    expect(cache.stats()).toMatchObject({ bindGroupsEvicted: 2, bindGroupsCached: 15, bindGroupsCreated: 17 });
    // The new entry took a freed slot (of entry 2 or 3), no new page or fresh offset.
    expect([512, 768]).toContain(uniformEntry(n).offset);
    expect(cache.pageCount).toBe(1);
    // Entries 2 and 3 are gone (new bind groups), 0, 1 and 4 are not.
    expect(cache.bind(layout(4), [x], bytes(4), 4)).toBe(g[4]);
    expect(cache.bind(layout(0), [x], bytes(0), 4)).toBe(g[0]);
    expect(cache.bind(layout(1), [x], bytes(1), 4)).toBe(g[1]);
    const again = cache.bind(layout(2), [x], bytes(2), 4);
    expect(again).not.toBe(g[2]);
    expect([512, 768]).toContain(uniformEntry(again).offset);
  });

  it('forgetBuffer drops every entry that binds the buffer and nothing else', () => {
    const f = fakeDevice();
    const cache = new BindGroupCache(f.device, 256, 100);
    const [x, y, z] = [1, 2, 3].map((s) => asGpu({ size: s } as FakeBuffer));
    const gx = cache.bind(layout(1), [x!], bytes(1), 1);
    const gxy = cache.bind(layout(2), [x!, y!], bytes(1), 1);
    const gyz = cache.bind(layout(2), [y!, z!], bytes(1), 1);
    cache.forgetBuffer(x!);
    expect(cache.stats()).toMatchObject({ bindGroupsCached: 1, bindGroupsEvicted: 2 });
    expect(cache.bind(layout(2), [y!, z!], bytes(1), 2)).toBe(gyz);
    expect(cache.bind(layout(1), [x!], bytes(1), 2)).not.toBe(gx);
    // Forgetting y drops gyz (and the entry x·y is already gone); a buffer with no entries is a no-op.
    cache.forgetBuffer(y!);
    cache.forgetBuffer(asGpu({ size: 9 } as FakeBuffer));
    expect(cache.stats()).toMatchObject({ bindGroupsCached: 1, bindGroupsEvicted: 3 });
    expect(cache.bind(layout(2), [x!, y!], bytes(1), 3)).not.toBe(gxy);
    // z's set was emptied with gyz: forgetting z drops nothing more.
    cache.forgetBuffer(z!);
    expect(cache.stats()).toMatchObject({ bindGroupsCached: 2, bindGroupsEvicted: 3 });
    // The cache keeps no reference to a buffer that no cached entry binds (z, y after their
    // entries went): the buffer-to-entries index would otherwise grow with every buffer ever bound.
    const byBuffer = (cache as unknown as { byBuffer: Map<GPUBuffer, Set<unknown>> }).byBuffer;
    expect([...byBuffer.keys()]).toEqual([x, y]);
    cache.forgetBuffer(x!);
    expect([...byBuffer.keys()]).toEqual([]);
    // An entry that binds one buffer twice is dropped once.
    cache.bind(layout(5), [z!, z!], bytes(1), 6);
    const before = cache.stats().bindGroupsEvicted;
    cache.forgetBuffer(z!);
    expect(cache.stats().bindGroupsEvicted).toBe(before + 1);
    expect([...byBuffer.keys()]).toEqual([]);
  });
});

// ------------------------------------------------------------------ batcher
describe('webgpu host: Batcher', () => {
  const health = (): DeviceHealth => new DeviceHealth();

  it('folds a linear workgroup count into (x, y) within the per-dimension limit, and refuses above its square', () => {
    const b = new Batcher(fakeDevice().device, health(), limits(4), []);
    expect(b.fold(1)).toEqual([1, 1, 1]);
    expect(b.fold(3)).toEqual([3, 1, 1]);
    expect(b.fold(4)).toEqual([4, 1, 1]);
    expect(b.fold(5)).toEqual([3, 2, 1]);
    expect(b.fold(13)).toEqual([4, 4, 1]);
    expect(b.fold(16)).toEqual([4, 4, 1]);
    expect(() => b.fold(17)).toThrow('webgpu: a dispatch of 17 workgroups exceeds 4² (maxComputeWorkgroupsPerDimension squared)');
  });

  it('encodes a dispatch into one open pass and submits on flush, with counters and serials', () => {
    const f = fakeDevice();
    const h = health();
    const submits: number[] = [];
    const pool = { onSubmit: () => submits.push(1) } as unknown as BufferPool;
    const b = new Batcher(f.device, h, limits(4), [pool]);
    expect(b.open).toBe(false);
    expect(b.flush()).toBe(0);
    expect(f.calls).toEqual([]);
    const buf = asGpu({ size: 4 } as FakeBuffer);
    b.dispatch('opA', kernel(1), [buf], bytes(1), 6);
    b.dispatch('opB', kernel(2), [buf], bytes(2), [2, 3, 1]);
    expect(h.lastOp).toBe('opB');
    expect(b.open).toBe(true);
    expect(f.calls).toEqual(['encoder', 'pass', 'setPipeline', 'setBindGroup 0 0', 'dispatch 3,2,1', 'setPipeline', 'setBindGroup 0 1', 'dispatch 2,3,1']);
    expect(b.flush()).toBe(1);
    expect(f.calls.slice(8)).toEqual(['end', 'finish', 'submit']);
    expect(submits.length).toBe(1);
    expect(b.open).toBe(false);
    expect(b.stats).toMatchObject({ submits: 1, dispatches: 2, pendingSubmits: 1, maxPendingSubmits: 1, throttleWaits: 0, bindGroupsCreated: 2 });
    // The uniform bytes went up before the submit.
    expect(f.writes.length).toBe(1);
    // Nothing encoded since: flush is a no-op.
    expect(b.flush()).toBe(0);
    // Untracked submit: its serial comes back; pending until completedThrough says so.
    b.dispatch('opC', kernel(1), [buf], bytes(1), 1);
    expect(b.flush(false)).toBe(2);
    expect(f.workDone.length).toBe(1);
    expect(b.pendingSubmits).toBe(2);
    b.completedThrough(2);
    expect(b.pendingSubmits).toBe(0);
    b.completedThrough(1);
    expect(b.pendingSubmits).toBe(0);
    expect(b.stats.submits).toBe(2);
  });

  it('copyEncoder closes the open pass, marks the batch open, and the next dispatch opens a new pass', () => {
    const f = fakeDevice();
    const b = new Batcher(f.device, health(), limits(64), []);
    const buf = asGpu({ size: 4 } as FakeBuffer);
    const e1 = b.copyEncoder();
    expect(b.open).toBe(true);
    expect(f.calls).toEqual(['encoder']);
    b.dispatch('op', kernel(1), [buf], bytes(1), 1);
    expect(b.copyEncoder()).toBe(e1);
    expect(f.calls).toEqual(['encoder', 'pass', 'setPipeline', 'setBindGroup 0 0', 'dispatch 1,1,1', 'end']);
    b.dispatch('op', kernel(1), [buf], bytes(1), 1);
    expect(f.calls.slice(6)).toEqual(['pass', 'setPipeline', 'setBindGroup 0 0', 'dispatch 1,1,1']);
    b.flush();
    expect(f.calls.slice(10)).toEqual(['end', 'finish', 'submit']);
    // A copy-only batch is submitted with no pass to end.
    b.copyEncoder();
    b.flush();
    expect(f.calls.slice(13)).toEqual(['encoder', 'finish', 'submit']);
  });

  it('submits by itself after 256 pending dispatches by default, or the number asked for', () => {
    const f = fakeDevice();
    const b = new Batcher(f.device, health(), limits(64), [], { maxBindGroups: 1000 });
    const buf = asGpu({ size: 4 } as FakeBuffer);
    for (let i = 0; i < 255; i++) b.dispatch('op', kernel(1), [buf], bytes(i & 255, i >> 8), 1);
    expect(b.stats.submits).toBe(0);
    b.dispatch('op', kernel(1), [buf], bytes(9, 9), 1);
    expect(b.stats.submits).toBe(1);
    const f2 = fakeDevice();
    const b2 = new Batcher(f2.device, health(), limits(64), [], { maxPendingDispatches: 3 });
    for (let i = 0; i < 7; i++) b2.dispatch('op', kernel(1), [buf], bytes(i), 1);
    expect(b2.stats.submits).toBe(2);
    expect(b2.open).toBe(true);
  });

  it('holds at least 64 bind groups, submits when all of them are in the open batch, and aligns slots to at least 16 B', () => {
    const f = fakeDevice();
    const b = new Batcher(f.device, health(), limits(64, 4), [], { maxBindGroups: 10 });
    const buf = asGpu({ size: 4 } as FakeBuffer);
    for (let i = 0; i < 64; i++) b.dispatch('op', kernel(i), [buf], bytes(1), 1);
    expect(b.stats.submits).toBe(0);
    expect(uniformEntry(f.bindGroups[1] as unknown as GPUBindGroup).offset).toBe(16);
    b.dispatch('op', kernel(64), [buf], bytes(1), 1);
    expect(b.stats).toMatchObject({ submits: 1, bindGroupsCached: 57, bindGroupsEvicted: 8 });
    // The 65th dispatch is encoded after that submit, in the new batch.
    expect(f.calls.slice(-4)).toEqual(['pass', 'setPipeline', 'setBindGroup 0 64', 'dispatch 1,1,1']);
    expect(b.uniformBuffers).toBe(1);
    expect(b.uniformBytes).toBe(PAGE);
    b.destroy();
    expect(f.buffers.every((x) => x.destroyed)).toBe(true);
    // A device alignment above 16 B spaces the slots by it.
    const f2 = fakeDevice();
    const b2 = new Batcher(f2.device, health(), limits(64, 256), []);
    for (let i = 0; i < 2; i++) b2.dispatch('op', kernel(i), [buf], bytes(1), 1);
    expect(uniformEntry(f2.bindGroups[1] as unknown as GPUBindGroup).offset).toBe(256);
  });

  it('submitLimit is at least 1 (default 4); throttle waits for the oldest submits and counts the wait', async () => {
    expect(new Batcher(fakeDevice().device, health(), limits(4), []).submitLimit).toBe(4);
    expect(new Batcher(fakeDevice().device, health(), limits(4), [], { maxPendingSubmits: 0 }).submitLimit).toBe(1);
    expect(new Batcher(fakeDevice().device, health(), limits(4), [], { maxPendingSubmits: 7 }).submitLimit).toBe(7);
    const f = fakeDevice();
    const b = new Batcher(f.device, health(), limits(4), [], { maxPendingSubmits: 1 });
    const buf = asGpu({ size: 4 } as FakeBuffer);
    for (let i = 0; i < 3; i++) {
      b.dispatch('op', kernel(1), [buf], bytes(i), 1);
      b.flush();
    }
    expect(b.pendingSubmits).toBe(3);
    expect(b.stats.maxPendingSubmits).toBe(3);
    // Nothing above the limit: no wait.
    await b.throttle(3);
    expect(b.stats.throttleWaits).toBe(0);
    // The GPU finishes the first two submits while throttle waits.
    const t = b.throttle();
    f.workDone[0]!();
    f.workDone[1]!();
    await t;
    expect(b.pendingSubmits).toBe(1);
    expect(b.stats.throttleWaits).toBe(1);
    expect(b.stats.maxPendingSubmits).toBe(3);
    // The last one finishing out of band: throttle(0) has nothing to wait for.
    f.workDone[2]!();
    await Promise.resolve();
    await Promise.resolve();
    expect(b.pendingSubmits).toBe(0);
    await b.throttle(0);
    expect(b.stats.throttleWaits).toBe(1);
  });

  it('a submit finishing reports every earlier one done too (queue order)', async () => {
    const f = fakeDevice();
    const b = new Batcher(f.device, health(), limits(4), []);
    const buf = asGpu({ size: 4 } as FakeBuffer);
    for (let i = 0; i < 3; i++) {
      b.dispatch('op', kernel(1), [buf], bytes(i), 1);
      b.flush();
    }
    f.workDone[1]!();
    await new Promise((r) => setTimeout(r, 0));
    expect(b.pendingSubmits).toBe(1);
    // The first one's (late) completion does not move the count back.
    f.workDone[0]!();
    await new Promise((r) => setTimeout(r, 0));
    expect(b.pendingSubmits).toBe(1);
    // throttle(0) waits only for what is still in flight: the third.
    const t = b.throttle(0);
    f.workDone[2]!();
    await t;
    expect(b.pendingSubmits).toBe(0);
    expect(b.stats.throttleWaits).toBe(1);
  });

  it('throttle stops waiting when the device is lost', async () => {
    const f = fakeDevice();
    const b = new Batcher(f.device, health(), limits(4), []);
    const buf = asGpu({ size: 4 } as FakeBuffer);
    for (let i = 0; i < 2; i++) {
      b.dispatch('op', kernel(1), [buf], bytes(i), 1);
      b.flush();
    }
    const t = b.throttle(0);
    f.lose();
    await t;
    expect(b.pendingSubmits).toBe(2);
    expect(b.stats.throttleWaits).toBe(1);
    // The submits stay in flight (never finished): a later throttle tries again and stops again.
    await b.throttle(0);
    expect(b.stats.throttleWaits).toBe(2);
  });

  it('with error scopes, names the batch\'s ops in a validation error; without, pushes no scope', async () => {
    const f = fakeDevice();
    const h = health();
    const b = new Batcher(f.device, h, limits(4), [], { errorScopes: true });
    expect(b.errorScopes).toBe(true);
    const buf = asGpu({ size: 4 } as FakeBuffer);
    f.scopeErrors.push({ message: 'bad binding' });
    b.dispatch('matmul', kernel(1), [buf], bytes(1), 1);
    b.dispatch('add', kernel(2), [buf], bytes(1), 1);
    b.dispatch('matmul', kernel(1), [buf], bytes(2), 1);
    b.dispatch('relu', kernel(3), [buf], bytes(1), 1);
    h.lastOp = 'later op';
    b.flush();
    expect(f.calls.filter((c) => c.startsWith('pushErrorScope'))).toEqual(['pushErrorScope validation']);
    await new Promise((r) => setTimeout(r, 0));
    expect(h.lastError).toEqual({ message: 'bad binding (the batch held 4 dispatches of: matmul, add, relu)', op: 'relu' });
    // A copy-only batch: attributed to '(copy)'. The op list of the previous batch is not kept.
    h.lastError = null;
    f.scopeErrors.push({ message: 'bad copy' });
    b.copyEncoder();
    b.flush();
    await new Promise((r) => setTimeout(r, 0));
    expect(h.lastError).toEqual({ message: 'bad copy (the batch held 0 dispatches of: )', op: '(copy)' });
    // No error: nothing recorded.
    h.lastError = null;
    b.dispatch('add', kernel(2), [buf], bytes(1), 1);
    b.flush();
    await new Promise((r) => setTimeout(r, 0));
    expect(h.lastError).toBeNull();
    // Default: no scopes.
    const f2 = fakeDevice();
    const b2 = new Batcher(f2.device, health(), limits(4), []);
    expect(b2.errorScopes).toBe(false);
    b2.dispatch('add', kernel(2), [buf], bytes(1), 1);
    b2.flush();
    expect(f2.calls.some((c) => c.startsWith('pushErrorScope'))).toBe(false);
  });

  it('under precompile, counts dispatches and encodes nothing', () => {
    const f = fakeDevice();
    const b = new Batcher(f.device, health(), limits(4), []);
    const session = new CompileSession(f.device);
    b.compileOnly = session;
    b.dispatch('op', kernel(1), [asGpu({ size: 4 } as FakeBuffer)], bytes(1), 1);
    expect(session.dispatchesSkipped).toBe(1);
    expect(f.calls).toEqual([]);
    expect(b.open).toBe(false);
    expect(b.stats.dispatches).toBe(0);
  });
});

// ------------------------------------------------------------------ strided, random, storage (real device)
describe('webgpu host: strided, random and storage on the device', () => {
  it('collapseStrided drops size-1 axes and merges axes contiguous in the source', () => {
    expect(collapseStrided([2, 3, 4], [12, 4, 1])).toEqual({ shape: [24], strides: [1] });
    expect(collapseStrided([3, 2], [2, 1])).toEqual({ shape: [6], strides: [1] });
    expect(collapseStrided([2, 1, 3], [3, 7, 1])).toEqual({ shape: [6], strides: [1] });
    expect(collapseStrided([1, 1], [5, 5])).toEqual({ shape: [1], strides: [0] });
    expect(collapseStrided([], [])).toEqual({ shape: [1], strides: [0] });
    expect(collapseStrided([2, 3], [1, 2])).toEqual({ shape: [2, 3], strides: [1, 2] });
    // Broadcast (stride 0) axes merge only with other stride-0 axes.
    expect(collapseStrided([4, 2, 3], [0, 0, 1])).toEqual({ shape: [8, 3], strides: [0, 1] });
    expect(collapseStrided([2, 4, 3], [3, 0, 1])).toEqual({ shape: [2, 4, 3], strides: [3, 0, 1] });
  });

  it('strided refuses a stride list of the wrong rank, gives an empty output for an empty shape, and gathers with an offset', async () => {
    const g = gpu!;
    const x = g.upload(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 'float32');
    expect(() => g.strided(x, [2, 2], [1], 0)).toThrow('webgpu: strided: 1 strides for an output of rank 2');
    const foreign = new CpuBackend().upload(Float32Array.from([1]), 'float32');
    expect(() => g.strided(foreign, [1], [1], 0)).toThrow("webgpu: strided: got a storage of the 'cpu' backend; move the tensor to webgpu first");
    const before = g.stats().dispatches;
    const empty = g.strided(x, [2, 0, 3], [0, 0, 1], 0);
    // No work encoded for it (a zero-workgroup dispatch would still be counted and bound).
    expect([empty.length, g.stats().dispatches]).toEqual([0, before]);
    expect(Array.from(await g.read(empty))).toEqual([]);
    // A transposed 2x3 view starting at element 1: rows of the source read down the columns.
    const t = g.strided(x, [3, 2], [1, 3], 1);
    expect((g as unknown as { health: { lastOp: string } }).health.lastOp).toBe('strided');
    expect(Array.from(await g.read(t))).toEqual([1, 4, 2, 5, 3, 6]);
    for (const s of [x, empty, t]) g.release(s);
  });

  it('random names the bad seed or offset and the wrong dtype exactly, and makes an empty draw without work', async () => {
    const g = gpu!;
    expect(() => g.random('uniform', 4, -1, 0, 'float32')).toThrow('webgpu: random: seed must be a non-negative safe integer, got -1');
    expect(() => g.random('uniform', 4, 1.5, 0, 'float32')).toThrow('webgpu: random: seed must be a non-negative safe integer, got 1.5');
    expect(() => g.random('normal', 4, 1, -3, 'float32')).toThrow('webgpu: random: offset must be a non-negative safe integer, got -3');
    expect(() => g.random('normal', 4, 1, 2 ** 53, 'float32')).toThrow(`webgpu: random: offset must be a non-negative safe integer, got ${2 ** 53}`);
    expect(() => g.random('uniform', 4, 1, 0, 'int32')).toThrow('webgpu: random uniform produces float32, got dtype int32');
    expect(() => g.random('bits', 4, 1, 0, 'float32')).toThrow('webgpu: random bits produces int32, got dtype float32');
    // Seed 0 and offset 0 are valid.
    const z = g.random('bits', 2, 0, 0, 'int32');
    expect(Array.from(await g.read(z))).toEqual(Array.from(Int32Array.from(philoxWords(0, 0, 2), (w) => w | 0)));
    const before = g.stats().dispatches;
    const e = g.random('normal', 0, 5, 7, 'float32');
    expect([e.length, e.dtype, g.stats().dispatches]).toEqual([0, 'float32', before]);
    for (const s of [z, e]) g.release(s);
  });

  it('a storage names itself webgpu, and a released one refuses its buffer', () => {
    const g = gpu!;
    const s = g.upload(Float32Array.from([1, 2, 3]), 'float32') as GpuStorage;
    expect([s.backend, s.dtype, s.length, s.byteSize, s.released]).toEqual(['webgpu', 'float32', 3, 12, false]);
    const b = s.buffer;
    expect(s.detach()).toBe(b);
    expect(s.released).toBe(true);
    expect(() => s.buffer).toThrow('webgpu: this storage was released; a released tensor cannot be used again');
    expect(() => s.detach()).toThrow('webgpu: this storage was released; a released tensor cannot be used again');
  });
});

// ------------------------------------------------------------------ pipeline cache
describe('webgpu host: PipelineCache', () => {
  const prog = (key: string, access: Array<'read' | 'read_write'>, wgsl: string): KernelProgram<BindingDecls, UniformDecls> =>
    ({ key, access, wgsl: () => wgsl }) as unknown as KernelProgram<BindingDecls, UniformDecls>;

  it('builds one layout per access signature, with the uniform at binding 0 and storage bindings after it', () => {
    const f = fakeDevice();
    const cache = new PipelineCache(f.device, new DeviceHealth());
    const l = cache.layoutFor(['read', 'read_write']);
    expect(l.id).toBe(0);
    expect(l.access).toEqual(['read', 'read_write']);
    const desc = l.bindGroupLayout as unknown as GPUBindGroupLayoutDescriptor;
    expect(desc.label).toBe('webgrad layout rw');
    expect([...desc.entries]).toEqual([
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
    ]);
    const pl = l.pipelineLayout as unknown as GPUPipelineLayoutDescriptor;
    expect(pl.label).toBe('webgrad layout rw');
    expect([...pl.bindGroupLayouts]).toEqual([l.bindGroupLayout]);
    expect(cache.layoutFor(['read', 'read_write'])).toBe(l);
    const l2 = cache.layoutFor(['read_write']);
    expect([l2.id, (l2.bindGroupLayout as unknown as GPUBindGroupLayoutDescriptor).label]).toEqual([1, 'webgrad layout w']);
    expect(f.calls).toEqual(['bindGroupLayout webgrad layout rw', 'pipelineLayout webgrad layout rw', 'bindGroupLayout webgrad layout w', 'pipelineLayout webgrad layout w']);
  });

  it('compiles a key once, shares a shader module between keys of the same source, and names the key and WGSL in a validation error', async () => {
    const f = fakeDevice();
    const h = new DeviceHealth();
    const cache = new PipelineCache(f.device, h);
    let sourced = 0;
    const p1 = { key: 'k1', access: ['read_write'], wgsl: () => (sourced++, 'SRC A') } as unknown as KernelProgram<BindingDecls, UniformDecls>;
    const k1 = cache.program(p1);
    expect(k1.key).toBe('k1');
    expect(k1.layout).toBe(cache.layoutFor(['read_write']));
    const pd = k1.pipeline as unknown as GPUComputePipelineDescriptor;
    expect(pd.label).toBe('k1');
    expect(pd.layout).toBe(k1.layout.pipelineLayout);
    expect(pd.compute.entryPoint).toBe('main');
    expect((pd.compute.module as unknown as GPUShaderModuleDescriptor).code).toBe('SRC A');
    expect(cache.pipelinesCreated).toBe(1);
    // A hit: same kernel object, no source asked for, nothing created.
    expect(cache.program(p1)).toBe(cache.program(p1));
    expect(sourced).toBe(1);
    expect(cache.pipelinesCreated).toBe(1);
    // Another key with the same source: a new pipeline on the same module.
    const k2 = cache.program(prog('k2', ['read_write'], 'SRC A'));
    expect((k2.pipeline as unknown as GPUComputePipelineDescriptor).compute.module).toBe(pd.compute.module);
    expect(f.calls.filter((c) => c.startsWith('shaderModule'))).toEqual(['shaderModule k1']);
    expect(f.calls.filter((c) => c.startsWith('pushErrorScope'))).toEqual(['pushErrorScope validation', 'pushErrorScope validation']);
    expect(cache.pipelinesCreated).toBe(2);
    await new Promise((r) => setTimeout(r, 0));
    expect(h.lastError).toBeNull();
    // A validation error while building: recorded against the key, with the WGSL.
    f.scopeErrors.push({ message: 'bad shader' });
    cache.program(prog('k3', ['read'], 'SRC B'));
    await new Promise((r) => setTimeout(r, 0));
    expect(h.lastError).toEqual({ message: "bad shader\n--- WGSL of pipeline 'k3' ---\nSRC B", op: 'k3' });
  });
});

// ------------------------------------------------------------------ device asserts
describe('webgpu host: DeviceAsserts', () => {
  it('owns one slot buffer, pending while a check is recorded, and words the first set slot', () => {
    const f = fakeDevice();
    const a = new DeviceAsserts(f.device);
    const buf = f.buffers[0]!;
    expect([buf.size, buf.usage, buf.label]).toEqual([a.bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'webgrad device asserts']);
    expect(a.bytes).toBe(ASSERT_SLOT_COUNT * ASSERT_WORDS_PER_SLOT * 4);
    expect(a.pending).toBe(false);
    // take() copies the whole buffer and hands over (then forgets) the recorded checks.
    const copies: unknown[][] = [];
    const encoder = { copyBufferToBuffer: (...args: unknown[]) => copies.push(args) } as unknown as GPUCommandEncoder;
    const staging = asGpu({ size: a.bytes } as FakeBuffer);
    expect(a.take(encoder, staging).size).toBe(0);
    expect(copies).toEqual([[a.buffer, 0, staging, 0, a.bytes]]);
    // reset() zeroes the whole buffer.
    a.reset();
    expect(f.writes.map((w) => [w.buffer, w.offset, w.bytes.length, w.bytes.every((v) => v === 0)])).toEqual([[buf, 0, a.bytes, true]]);
    a.destroy();
    expect(buf.destroyed).toBe(true);
  });

  it('failure() reports the first set slot with its describer, and null when none is set', () => {
    const words = new Uint32Array(ASSERT_SLOT_COUNT * ASSERT_WORDS_PER_SLOT);
    const taken = new Map<AssertSlotName, (w: Uint32Array) => string>([
      ['labels', (w) => `labels ${Array.from(w).join(',')}`],
      ['nonFinite', (w) => `nonFinite ${w[0]}`],
    ]);
    expect(DeviceAsserts.failure(words, taken)).toBeNull();
    const nf = ASSERT_SLOT.nonFinite * ASSERT_WORDS_PER_SLOT;
    words[nf] = 1;
    const e = DeviceAsserts.failure(words, taken);
    expect(e).toBeInstanceOf(WebgradError);
    expect(e!.message).toBe('nonFinite 1');
    const lb = ASSERT_SLOT.labels * ASSERT_WORDS_PER_SLOT;
    words.set([1, 3, 0xfffffff6, 10], lb);
    expect(DeviceAsserts.failure(words, taken)!.message).toBe(`labels ${[1, 3, 0xfffffff6, 10, ...Array(ASSERT_WORDS_PER_SLOT - 4).fill(0)].join(',')}`);
    // A slot with no describer taken is not reported.
    expect(DeviceAsserts.failure(words, new Map())).toBeNull();
  });

  it('a bad label and a non-finite check come back at the next read with their exact wording, once', async () => {
    const g = gpu!;
    const labels = g.upload(Int32Array.from([0, 2, -6, 1]), 'int32');
    g.asserts.checkLabels(g, 'crossEntropy', labels, 4, 3);
    // Zero rows: nothing dispatched, nothing recorded.
    const d = g.stats().dispatches;
    g.asserts.checkLabels(g, 'other', labels, 0, 3);
    expect(g.stats().dispatches).toBe(d);
    expect(g.asserts.pending).toBe(true);
    await expect(g.read(labels)).rejects.toThrow(
      'crossEntropy: label -6 at row 2 is outside the 3 classes [0, 3) (checked on the device; reported at the first read after the call)',
    );
    expect(g.asserts.pending).toBe(false);
    expect(Array.from(await g.read(labels))).toEqual([0, 2, -6, 1]);
    const x = g.upload(Float32Array.from([Infinity, 1]), 'float32');
    g.asserts.checkFinite(g, 'clip', x, (v) => `clip: total norm is ${v}`);
    await expect(g.read(x)).rejects.toThrow('clip: total norm is Infinity');
    expect(Array.from(await g.read(x))).toEqual([Infinity, 1]);
    g.release(labels);
    g.release(x);
  });

  it('the first check recorded since the last read words the failure, and each check is dispatched under its op name', async () => {
    const g = gpu!;
    const lastOp = (): string => (g as unknown as { health: { lastOp: string } }).health.lastOp;
    const labels = g.upload(Int32Array.from([5, 0]), 'int32');
    g.asserts.checkLabels(g, 'first', labels, 2, 3);
    expect(lastOp()).toBe('first label check');
    g.asserts.checkLabels(g, 'second', labels, 2, 3);
    await expect(g.read(labels)).rejects.toThrow('first: label 5 at row 0 is outside the 3 classes [0, 3)');
    const x = g.upload(Float32Array.from([NaN]), 'float32');
    g.asserts.checkFinite(g, 'one', x, (v) => `one: ${v}`);
    expect(lastOp()).toBe('one finite check');
    g.asserts.checkFinite(g, 'two', x, (v) => `two: ${v}`);
    await expect(g.read(x)).rejects.toThrow('one: NaN');
    g.release(labels);
    g.release(x);
  });
});

// ------------------------------------------------------------------ kernel-choice hook
describe('webgpu host: forceKernelChoice', () => {
  it('merges onto the choices in force and restores exactly the previous ones', () => {
    const start = kernelChoice();
    const undoA = forceKernelChoice({ reducePath: 'loop', convPath: 'gemm' });
    expect(kernelChoice()).toEqual({ ...start, reducePath: 'loop', convPath: 'gemm' });
    const undoB = forceKernelChoice({ convPath: 'direct', batchNormTile: 8 });
    expect(kernelChoice()).toEqual({ ...start, reducePath: 'loop', convPath: 'direct', batchNormTile: 8 });
    undoB();
    expect(kernelChoice()).toEqual({ ...start, reducePath: 'loop', convPath: 'gemm' });
    undoA();
    expect(kernelChoice()).toBe(start);
  });
});
