/**
 * The WebGPU host code of the core ops and elementwise kernels (src/backend/webgpu/core-ops.ts,
 * elementwise.ts): every argument check with its exact message, the empty cases (no work encoded),
 * and the broadcast collapse that picks a kernel's index math. Written against the mutants
 * StrykerJS left alive there (WEBGRAD_MUTATE_SCOPE=webgpu); values are compared with the CPU
 * reference in test/webgpu-backend.test.ts and test/webgpu-host-mutants-routines.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { collapseBroadcast } from '../src/backend/webgpu/elementwise.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const f32 = (xs: number[]): Storage => gpu.upload(Float32Array.from(xs), 'float32');
const i32 = (xs: number[]): Storage => gpu.upload(Int32Array.from(xs), 'int32');

describe('webgpu core ops: refusals name the op, the argument and what was expected', () => {
  it('argReduce, gather, scatterAdd', () => {
    const x = f32([1, 2, 3, 4, 5, 6]);
    const ix = i32([0, 1]);
    expect(() => gpu.routine('argReduce', { x }, { op: 'argmax', outer: -1, length: 6, inner: 1 })).toThrow('webgpu: argmax: outer must be a non-negative integer, got -1');
    expect(() => gpu.routine('argReduce', { x }, { op: 'argmin', outer: 1, length: 2.5, inner: 1 })).toThrow('webgpu: argmin: length must be a non-negative integer, got 2.5');
    expect(() => gpu.routine('argReduce', { x }, { op: 'argmax', outer: 1, length: 6, inner: -2 })).toThrow('webgpu: argmax: inner must be a non-negative integer, got -2');
    expect(() => gpu.routine('argReduce', { x }, { op: 'argmax', outer: 6, length: 0, inner: 1 })).toThrow('webgpu: argmax: length must be at least 1');
    expect(() => gpu.routine('argReduce', { x }, { op: 'argmax', outer: 2, length: 2, inner: 1 })).toThrow('webgpu: argmax: x has 6 elements, expected 4');
    expect(() => gpu.routine('gather', { x, indices: ix }, { layout: 'shared', outer: 2, length: 3, inner: 1, count: -1 })).toThrow('webgpu: gather: count must be a non-negative integer, got -1');
    expect(() => gpu.routine('gather', { x, indices: ix }, { layout: 'shared', outer: 1, length: 3, inner: 1, count: 2 })).toThrow('webgpu: gather: x has 6 elements, expected 3');
    expect(() => gpu.routine('gather', { x, indices: x }, { layout: 'shared', outer: 2, length: 3, inner: 1, count: 2 })).toThrow('webgpu: gather: indices must be int32, got float32');
    expect(() => gpu.routine('gather', { x, indices: ix }, { layout: 'shared', outer: 2, length: 3, inner: 1, count: 3 })).toThrow('webgpu: gather: indices has 2 elements, expected 3');
    expect(() => gpu.routine('gather', { x, indices: ix }, { layout: 'perElement', outer: 2, length: 3, inner: 1, count: 2 })).toThrow('webgpu: gather: indices has 2 elements, expected 4');
    expect(() => gpu.routine('scatterAdd', { src: x, indices: ix }, { layout: 'shared', outer: 2, length: 3, inner: 1, count: 2 })).toThrow('webgpu: scatterAdd: src has 6 elements, expected 4');
    expect(() => gpu.routine('scatterAdd', { src: x, indices: ix }, { layout: 'perElement', outer: 3, length: 4, inner: 1, count: 2 })).toThrow('webgpu: scatterAdd: indices has 2 elements, expected 6');
    expect(() => gpu.routine('scatterAdd', { src: x, indices: ix }, { layout: 'shared', outer: 3, length: 4, inner: 1, count: 2.5 })).toThrow('webgpu: scatterAdd: count must be a non-negative integer, got 2.5');
    for (const s of [x, ix]) gpu.release(s);
  });

  it('select, stridedWrite, cumsum', () => {
    const a = f32([1, 2, 3]);
    const b = i32([1, 2, 3]);
    const c = i32([1, 0]);
    expect(() => gpu.routine('select', { cond: c, a, b }, {})).toThrow('webgpu: select: a and b have different dtypes (float32, int32)');
    expect(() => gpu.routine('select', { cond: c, a, b: a }, {})).toThrow('webgpu: select: cond has 2 elements, expected 3');
    const b2 = f32([1, 2]);
    const c3 = i32([1, 0, 1]);
    expect(() => gpu.routine('select', { cond: c3, a, b: b2 }, {})).toThrow('webgpu: select: b has 2 elements, expected 3');
    expect(() => gpu.routine('stridedWrite', { dst: a, src: b }, { srcShape: [3], strides: [1], offset: 0 })).toThrow('webgpu: stridedWrite: dst and src have different dtypes (float32, int32)');
    expect(() => gpu.routine('stridedWrite', { dst: a, src: b2 }, { srcShape: [2], strides: [1, 1], offset: 0 })).toThrow('webgpu: stridedWrite: 2 strides for a source of rank 1');
    expect(() => gpu.routine('stridedWrite', { dst: a, src: b2 }, { srcShape: [3], strides: [1], offset: 0 })).toThrow('webgpu: stridedWrite: src has 2 elements, expected 3');
    expect(() => gpu.routine('cumsum', { x: a }, { outer: 1, length: -3, inner: 1, reverse: false })).toThrow('webgpu: cumsum: length must be a non-negative integer, got -3');
    expect(() => gpu.routine('cumsum', { x: a }, { outer: 2, length: 3, inner: 1, reverse: false })).toThrow('webgpu: cumsum: x has 3 elements, expected 6');
    for (const s of [a, b, c, b2, c3]) gpu.release(s);
  });
});

describe('webgpu core ops: empty cases encode no work', () => {
  it('zero outputs and zero counts', async () => {
    const none = f32([]);
    const noneI = i32([]);
    const x = f32([1, 2, 3, 4]);
    const d0 = gpu.stats().dispatches;
    const outs: Storage[] = [
      gpu.routine('argReduce', { x: none }, { op: 'argmax', outer: 0, length: 3, inner: 1 }),
      gpu.routine('gather', { x, indices: noneI }, { layout: 'shared', outer: 1, length: 4, inner: 1, count: 0 }),
      gpu.routine('scatterAdd', { src: none, indices: noneI }, { layout: 'perElement', outer: 0, length: 3, inner: 1, count: 0 }),
      gpu.routine('select', { cond: noneI, a: none, b: none }, {}),
      gpu.routine('cumsum', { x: none }, { outer: 0, length: 3, inner: 1, reverse: true }),
      gpu.cast(none, 'int32'),
      gpu.unary('exp', none, 0),
      gpu.fill(0, 5, 'float32'),
      gpu.binary('add', none, [0, 2], none, [0, 2], [0, 2]),
      gpu.activationGrad('relu', none, none, 0),
    ];
    gpu.routine('stridedWrite', { dst: x, src: none }, { srcShape: [0], strides: [1], offset: 0 });
    expect(gpu.stats().dispatches).toBe(d0);
    expect(outs.map((o) => [o.length, o.dtype])).toEqual([
      [0, 'int32'], [0, 'float32'], [0, 'float32'], [0, 'float32'], [0, 'float32'], [0, 'int32'], [0, 'float32'], [0, 'float32'], [0, 'float32'], [0, 'float32'],
    ]);
    // scatterAdd with no sources: zeros, by a fill (one dispatch), not the scatter kernels.
    const z = gpu.routine('scatterAdd', { src: none, indices: noneI }, { layout: 'shared', outer: 2, length: 3, inner: 1, count: 0 });
    expect(gpu.stats().dispatches).toBe(d0 + 1);
    expect(Array.from(await gpu.read(z))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(await gpu.read(x))).toEqual([1, 2, 3, 4]);
    for (const s of [none, noneI, x, z, ...outs]) gpu.release(s);
  });
});

describe('webgpu elementwise: refusals and the broadcast collapse', () => {
  it('refuses float-only unary ops on int32, mixed dtypes and mismatched lengths, by name', () => {
    const xi = i32([1, 2]);
    const xf = f32([1, 2]);
    const xf3 = f32([1, 2, 3]);
    expect(() => gpu.unary('exp', xi, 0)).toThrow("webgpu: unary op 'exp' is not defined for int32 tensors");
    expect(() => gpu.activationGrad('relu', xi, xf, 0)).toThrow('webgpu: activationGrad relu needs float32 tensors, got int32 and float32');
    expect(() => gpu.activationGrad('relu', xf, xi, 0)).toThrow('webgpu: activationGrad relu needs float32 tensors, got float32 and int32');
    expect(() => gpu.activationGrad('gelu', xf, xf3, 0)).toThrow('webgpu: activationGrad gelu: x has 2 elements but dy has 3');
    expect(() => gpu.binary('mul', xf, [2], xi, [2], [2])).toThrow('webgpu: binary mul: operands have different dtypes (float32, int32)');
    for (const s of [xi, xf, xf3]) gpu.release(s);
  });

  it('collapseBroadcast drops size-1 axes and merges axes that are contiguous for both operands', () => {
    expect(collapseBroadcast([2, 3, 4], [2, 3, 4], [2, 3, 4])).toEqual({ shape: [24], sa: [1], sb: [1] });
    expect(collapseBroadcast([2, 3, 4], [4], [2, 3, 4])).toEqual({ shape: [6, 4], sa: [4, 1], sb: [0, 1] });
    expect(collapseBroadcast([2, 1, 4], [2, 3, 4], [2, 3, 4])).toEqual({ shape: [2, 3, 4], sa: [4, 0, 1], sb: [12, 4, 1] });
    expect(collapseBroadcast([3, 1], [1, 5], [3, 5])).toEqual({ shape: [3, 5], sa: [1, 0], sb: [0, 1] });
    expect(collapseBroadcast([1], [1, 1], [1, 1])).toEqual({ shape: [1], sa: [0], sb: [0] });
    expect(collapseBroadcast([], [], [])).toEqual({ shape: [1], sa: [0], sb: [0] });
    expect(collapseBroadcast([1, 6], [6], [1, 6])).toEqual({ shape: [6], sa: [1], sb: [1] });
    // Broadcast axes next to each other merge (both stride 0 for a).
    expect(collapseBroadcast([5], [2, 3, 5], [2, 3, 5])).toEqual({ shape: [6, 5], sa: [0, 1], sb: [5, 1] });
  });

  it('picks one kernel per (operand modes, vec4) and not more: same-shape, scalar and strided operands', async () => {
    const k0 = gpu.stats().pipelinesCreated;
    const a8 = f32([1, 2, 3, 4, 5, 6, 7, 8]);
    const s1 = f32([10]);
    // Same shape, length 8: the vec4 kernel; length 12 reuses it.
    const r1 = gpu.binary('add', a8, [8], a8, [8], [8]);
    const k1 = gpu.stats().pipelinesCreated;
    const a12 = f32([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const r2 = gpu.binary('add', a12, [12], a12, [12], [12]);
    expect(gpu.stats().pipelinesCreated).toBe(k1);
    // Length 7: not a multiple of 4, a new (scalar) kernel.
    const a7 = f32([1, 2, 3, 4, 5, 6, 7]);
    const r3 = gpu.binary('add', a7, [7], a7, [7], [7]);
    expect(gpu.stats().pipelinesCreated).toBe(k1 + 1);
    // b a scalar (all strides 0): another kernel; with a [1, 8] shape too (size-1 axes dropped).
    const r4 = gpu.binary('add', a8, [8], s1, [1], [8]);
    expect(gpu.stats().pipelinesCreated).toBe(k1 + 2);
    const r5 = gpu.binary('add', a8, [1, 8], s1, [1, 1], [1, 8]);
    expect(gpu.stats().pipelinesCreated).toBe(k1 + 2);
    // A scalar operand keeps the plain (vec4 or not) kernels: length 7 is another kernel than 8.
    const r6 = gpu.binary('add', a7, [7], s1, [1], [7]);
    expect(gpu.stats().pipelinesCreated).toBe(k1 + 3);
    expect(Array.from(await gpu.read(r6))).toEqual([11, 12, 13, 14, 15, 16, 17]);
    gpu.release(r6);
    expect(k1).toBeGreaterThanOrEqual(k0);
    expect(Array.from(await gpu.read(r4))).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    expect(Array.from(await gpu.read(r3))).toEqual([2, 4, 6, 8, 10, 12, 14]);
    for (const s of [a8, s1, r1, a12, r2, a7, r3, r4, r5]) gpu.release(s);
  });
});

describe('webgpu core ops and elementwise: each names itself in its input checks and its dispatches', () => {
  const lastOp = (): string => (gpu as unknown as { health: { lastOp: string } }).health.lastOp;
  const foreign = (): Storage => cpu.upload(Float32Array.from([1, 2, 3, 4]), 'float32');
  const cpuMsg = (op: string): string => `webgpu: ${op}: got a storage of the 'cpu' backend; move the tensor to webgpu first`;

  it('core ops', () => {
    const x = f32([1, 2, 3, 4]);
    const ix = i32([1, 0]);
    const c = i32([1, 0, 0, 1]);
    const run: Array<[string, () => unknown, () => unknown]> = [
      ['argmax', () => gpu.routine('argReduce', { x: foreign() }, { op: 'argmax', outer: 1, length: 4, inner: 1 }), () => gpu.routine('argReduce', { x }, { op: 'argmax', outer: 1, length: 4, inner: 1 })],
      ['gather', () => gpu.routine('gather', { x: foreign(), indices: ix }, { layout: 'shared', outer: 1, length: 4, inner: 1, count: 2 }), () => gpu.routine('gather', { x, indices: ix }, { layout: 'shared', outer: 1, length: 4, inner: 1, count: 2 })],
      ['scatterAdd', () => gpu.routine('scatterAdd', { src: foreign(), indices: ix }, { layout: 'perElement', outer: 2, length: 3, inner: 1, count: 1 }), () => gpu.routine('scatterAdd', { src: f32([5, 6]), indices: ix }, { layout: 'perElement', outer: 2, length: 3, inner: 1, count: 1 })],
      ['select', () => gpu.routine('select', { cond: c, a: x, b: foreign() }, {}), () => gpu.routine('select', { cond: c, a: x, b: x }, {})],
      ['stridedWrite', () => gpu.routine('stridedWrite', { dst: x, src: foreign() }, { srcShape: [4], strides: [1], offset: 0 }), () => gpu.routine('stridedWrite', { dst: x, src: f32([9, 9]) }, { srcShape: [2], strides: [2], offset: 0 })],
      ['cumsum', () => gpu.routine('cumsum', { x: foreign() }, { outer: 1, length: 4, inner: 1, reverse: false }), () => gpu.routine('cumsum', { x }, { outer: 1, length: 4, inner: 1, reverse: false })],
    ];
    for (const [op, bad, good] of run) {
      expect(bad, op).toThrow(cpuMsg(op));
      good();
      expect(lastOp(), op).toBe(op);
    }
    expect(() => gpu.routine('select', { cond: foreign(), a: x, b: x }, {})).toThrow(cpuMsg('select'));
    expect(() => gpu.routine('select', { cond: c, a: foreign(), b: x }, {})).toThrow(cpuMsg('select'));
    expect(() => gpu.routine('stridedWrite', { dst: foreign(), src: x }, { srcShape: [4], strides: [1], offset: 0 })).toThrow(cpuMsg('stridedWrite'));
    // argReduce with length 1 is valid (index 0 everywhere).
    expect(() => gpu.routine('argReduce', { x }, { op: 'argmin', outer: 2, length: 1, inner: 2 })).not.toThrow();
    // The scatterAdd of a shared index list runs its own passes (named scatterAdd too).
    // (the deterministic bucketed passes: counts, their scan, the bucket lists, the segment sums —
    // seven dispatches with the fills and the shifted copy — not the one scatter kernel).
    const src = f32([1, 2]);
    const d0 = gpu.stats().dispatches;
    gpu.routine('scatterAdd', { src, indices: ix }, { layout: 'shared', outer: 1, length: 2, inner: 1, count: 2 });
    expect(gpu.stats().dispatches - d0).toBe(7);
    expect(lastOp()).toBe('scatterAdd');
  });

  it('elementwise', () => {
    const x = f32([1, 2, 3, 4]);
    expect(() => gpu.cast(foreign(), 'int32')).toThrow(cpuMsg('cast'));
    gpu.cast(x, 'int32');
    expect(lastOp()).toBe('cast');
    gpu.fill(4, 1, 'float32');
    expect(lastOp()).toBe('fill');
    gpu.activationGrad('leakyRelu', x, x, 0.5);
    expect(lastOp()).toBe('activationGrad leakyRelu');
  });
});
