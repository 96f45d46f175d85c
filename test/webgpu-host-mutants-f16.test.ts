/**
 * The float16 host code of the WebGPU backend (src/backend/webgpu/f16.ts): every matmul refusal with
 * its exact message, the empty product, a batch split over the device's z limit, the casts' paths
 * (values and kernel counts), and an op through float32 rounding once. Values are compared with
 * exact float16 numbers; the torch fixtures are in float16.test.ts. Written against the mutants
 * StrykerJS left alive there (WEBGRAD_MUTATE_SCOPE=webgpu-tune). Skipped, visibly, on a device
 * without 'shader-f16'; a missing adapter is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const h16 = (xs: number[]): Storage => gpu.upload(Float32Array.from(xs), 'float16');
const f32 = (xs: number[]): Storage => gpu.upload(Float32Array.from(xs), 'float32');
const read = async (s: Storage): Promise<number[]> => Array.from(await gpu.read(s));
/** The message, whole (toThrow with a string only checks that it is contained). */
const exact = (msg: string): RegExp => new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
const args = (o: Partial<Parameters<WebGPUBackend['matmul']>[2]> = {}) => ({ batch: 1, m: 1, k: 2, n: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, ...o });

describe('webgpu float16 host code', () => {
  it('matmul refusals: mixed dtypes, short operands, a bias of the wrong length, too many workgroups', (ctx) => {
    if (!gpu.shaderF16) ctx.skip();
    const a = h16([1, 2]);
    const b = h16([1, 2, 3, 4]);
    const b32 = f32([1, 2, 3, 4]);
    expect(() => gpu.matmul(a, b32, args())).toThrow(exact('webgpu: matmul: operands must all be float16 or all float32, got float16, float32'));
    expect(() => gpu.matmul(a, b, args({ bias: f32([1, 2]) }))).toThrow(exact('webgpu: matmul: operands must all be float16 or all float32, got float16, float16, float32'));
    expect(() => gpu.matmul(a, b, args({ m: 2 }))).toThrow(exact('webgpu: matmul: A has 2 elements, the arguments need 4'));
    // A batch reads (batch - 1)·stride + m·k elements.
    // (batch - 1)·stride + m·k = 2: exactly A's length.
    const ok = gpu.matmul(a, b, args({ batch: 2, aBatchStride: 1, k: 1, n: 1 }));
    expect(() => gpu.matmul(a, b, args({ batch: 2, aBatchStride: 1, bBatchStride: 3, k: 1, n: 2 }))).toThrow(exact('webgpu: matmul: B has 4 elements, the arguments need 5'));
    expect(() => gpu.matmul(a, b, args({ batch: 3, aBatchStride: 1, k: 1, n: 1 }))).toThrow(exact('webgpu: matmul: A has 2 elements, the arguments need 3'));
    expect(() => gpu.matmul(a, b, args({ batch: 3, aBatchStride: 1, k: 2, n: 1 }))).toThrow(exact('webgpu: matmul: A has 2 elements, the arguments need 4'));
    expect(() => gpu.matmul(a, b, args({ k: 3 }))).toThrow(exact('webgpu: matmul: A has 2 elements, the arguments need 3'));
    expect(() => gpu.matmul(a, b, args({ n: 3 }))).toThrow(exact('webgpu: matmul: B has 4 elements, the arguments need 6'));
    expect(() => gpu.matmul(a, b, args({ bias: h16([1, 2, 3]) }))).toThrow(exact('webgpu: matmul: bias has 3 elements, expected n = 2'));
    // Zero batches or an empty operand need nothing.
    expect(() => gpu.matmul(h16([]), h16([]), args({ batch: 0, m: 5, k: 5, n: 5, aBatchStride: 9 }))).not.toThrow();
    expect(() => gpu.matmul(h16([]), h16([]), args({ m: 3, k: 0, n: 3 }))).not.toThrow();
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    const n = max * 16 + 1;
    const wide = h16(new Array<number>(n).fill(1));
    expect(() => gpu.matmul(h16([1]), wide, args({ k: 1, n }))).toThrow(`webgpu: matmul: a 1x${n} float16 result needs ${max + 1}x1 workgroups, more than the device's ${max} per axis`);
    const tall = h16(new Array<number>(n).fill(1));
    expect(() => gpu.matmul(tall, h16([1]), args({ m: n, k: 1, n: 1 }))).toThrow(exact(`webgpu: matmul: a ${n}x1 float16 result needs 1x${max + 1} workgroups, more than the device's ${max} per axis`));
    // Exactly max workgroups per axis is allowed.
    const edge = h16(new Array<number>(max * 16).fill(1));
    const e1 = gpu.matmul(h16([1]), edge, args({ k: 1, n: max * 16 }));
    const e2 = gpu.matmul(edge, h16([1]), args({ m: max * 16, k: 1, n: 1 }));
    // An empty A or B row needs nothing even across batches; the counts multiply (m·k, k·n), not divide.
    const z1 = gpu.matmul(h16([]), h16([]), args({ batch: 2, m: 3, k: 0, n: 2, aBatchStride: 5, bBatchStride: 5 }));
    expect(z1.length).toBe(12);
    expect(() => gpu.matmul(h16([1, 2, 3, 4, 5, 6, 7]), h16(new Array<number>(4).fill(1)), args({ m: 2, k: 4, n: 1 }))).toThrow(exact('webgpu: matmul: A has 7 elements, the arguments need 8'));
    expect(() => gpu.matmul(h16(new Array<number>(8).fill(1)), h16([1, 2, 3, 4, 5, 6, 7]), args({ m: 2, k: 4, n: 2 }))).toThrow(exact('webgpu: matmul: B has 7 elements, the arguments need 8'));
    for (const s of [a, b, b32, wide, tall, ok, edge, e1, e2, z1]) gpu.release(s);
  });

  it('matmul: an empty result encodes nothing; a batch over the z limit is split, each part at its offset; bias and activation', async (ctx) => {
    if (!gpu.shaderF16) ctx.skip();
    const d0 = gpu.stats().dispatches;
    const empty = gpu.matmul(h16([]), h16([1, 2, 3, 4]), args({ m: 0 }));
    const noCols = gpu.matmul(h16([1, 2, 3, 4]), h16([]), args({ m: 2, k: 2, n: 0 }));
    expect([empty.length, empty.dtype, noCols.length, gpu.stats().dispatches - d0]).toEqual([0, 'float16', 0, 0]);
    // Exactly max batches: one dispatch.
    const max0 = gpu.limits.maxComputeWorkgroupsPerDimension;
    const ones = h16(new Array<number>(max0).fill(1));
    const dm = gpu.stats().dispatches;
    const full = gpu.matmul(ones, ones, { batch: max0, m: 1, k: 1, n: 1, transA: false, transB: false, aBatchStride: 1, bBatchStride: 1 });
    expect(gpu.stats().dispatches - dm).toBe(1);
    for (const s of [ones, full, noCols]) gpu.release(s);
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    const batch = max + 2;
    // Per batch z: [1x1]·[1x1] = (z mod 7)·2, exact in float16.
    const a = h16(Array.from({ length: batch }, (_, z) => z % 7));
    const b = h16(new Array<number>(batch).fill(2));
    const d1 = gpu.stats().dispatches;
    const c = gpu.matmul(a, b, { batch, m: 1, k: 1, n: 1, transA: false, transB: false, aBatchStride: 1, bBatchStride: 1 });
    expect(gpu.stats().dispatches - d1).toBe(2);
    const got = await read(c);
    expect(got.length).toBe(batch);
    const wrong = got.findIndex((v, z) => v !== (z % 7) * 2);
    expect(wrong).toBe(-1);
    // 2x2 with bias and relu, transposed B: [[1, -2], [3, 4]]·[[1, 0], [0, 1]]ᵀ + [1, -1].
    const x = h16([1, -2, 3, 4]);
    const w = h16([1, 0, 0, 1]);
    const y = gpu.matmul(x, w, { batch: 1, m: 2, k: 2, n: 2, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, bias: h16([1, -1]), activation: 'relu' });
    expect([y.dtype, ...(await read(y))]).toEqual(['float16', 2, 0, 4, 3]);
    const z = gpu.matmul(x, w, { batch: 1, m: 2, k: 2, n: 2, transA: true, transB: false, aBatchStride: 0, bBatchStride: 0, bias: h16([0.5, 0]) });
    expect(await read(z)).toEqual([1.5, 3, -1.5, 4]);
    for (const s of [a, b, c, x, w, y, z]) gpu.release(s);
  });

  it('casts: each direction, its values and how many kernels', async (ctx) => {
    if (!gpu.shaderF16) ctx.skip();
    const x = h16([1.5, -2, 65504, 0.1]);
    const count = (f: () => Storage): [Storage, number] => {
      const d = gpu.stats().dispatches;
      const s = f();
      return [s, gpu.stats().dispatches - d];
    };
    const [same, n1] = count(() => gpu.cast(x, 'float16'));
    expect([same.dtype, n1, same === x]).toEqual(['float16', 2, false]);
    expect(await read(same)).toEqual(await read(x));
    const [wide, n2] = count(() => gpu.cast(x, 'float32'));
    expect([wide.dtype, n2]).toEqual(['float32', 1]);
    expect(await read(wide)).toEqual([1.5, -2, 65504, Math.fround(0.0999755859375)]);
    const [int, n3] = count(() => gpu.cast(x, 'int32'));
    expect([int.dtype, n3]).toEqual(['int32', 2]);
    expect(await read(int)).toEqual([1, -2, 65504, 0]);
    const [half, n4] = count(() => gpu.cast(f32([0.1, 70000, -3.25]), 'float16'));
    expect([half.dtype, n4]).toEqual(['float16', 1]);
    expect(await read(half)).toEqual([0.0999755859375, Infinity, -3.25]);
    const [fromInt, n5] = count(() => gpu.cast(gpu.upload(Int32Array.from([3, -7, 2049]), 'int32'), 'float16'));
    expect([fromInt.dtype, n5]).toEqual(['float16', 2]);
    expect(await read(fromInt)).toEqual([3, -7, 2048]);
    const [none, n6] = count(() => gpu.cast(h16([]), 'float32'));
    expect([none.length, none.dtype, n6]).toEqual([0, 'float32', 0]);
  });

  it('ops on float16 run in float32 and round once; fill and random make float16', async (ctx) => {
    if (!gpu.shaderF16) ctx.skip();
    const a = h16([2048, 1, 0.5]);
    const b = h16([2, 2, 0.25]);
    const d = gpu.stats().dispatches;
    const s = gpu.binary('add', a, [3], b, [3], [3]);
    // widen a, widen b, add, narrow.
    expect([s.dtype, gpu.stats().dispatches - d]).toEqual(['float16', 4]);
    expect(await read(s)).toEqual([2050, 3, 0.75]);
    const u = gpu.unary('neg', a, 0);
    expect([u.dtype, ...(await read(u))]).toEqual(['float16', -2048, -1, -0.5]);
    // Accumulated in float32: 2048 + 1 + 1 = 2050 (adding 1 at a time in float16 would stay at 2048).
    const r = gpu.reduce('sum', h16([2048, 1, 1]), 1, 3, 1);
    expect([r.dtype, ...(await read(r))]).toEqual(['float16', 2050]);
    const f = gpu.fill(3, 0.1, 'float16');
    expect([f.dtype, ...(await read(f))]).toEqual(['float16', 0.0999755859375, 0.0999755859375, 0.0999755859375]);
    const rnd = gpu.random('uniform', 5, 1, 0, 'float16');
    expect(rnd.dtype).toBe('float16');
    expect(rnd.length).toBe(5);
    // A float32 operand next to a float16 one passes through unwidened.
    const mixed = gpu.binary('add', h16([1, 2]), [2], f32([0.5, 0.25]), [2], [2]);
    expect([mixed.dtype, ...(await read(mixed))]).toEqual(['float16', 1.5, 2.25]);
  });

  it('names: the op each kernel is recorded under, and the op a released operand is refused by', (ctx) => {
    if (!gpu.shaderF16) ctx.skip();
    const lastOp = (): string => (gpu as unknown as { health: { lastOp: string } }).health.lastOp;
    const x = h16([1, 2, 3, 4]);
    for (const [dtype, from] of [['float32', x], ['int32', x], ['float16', x], ['float16', f32([1])], ['float16', gpu.upload(Int32Array.from([1]), 'int32')]] as const) {
      gpu.cast(from, dtype);
      expect(lastOp(), dtype).toBe('cast');
    }
    gpu.matmul(x, x, args({ m: 2, k: 2, n: 2 }));
    expect(lastOp()).toBe('matmul (float16)');
    gpu.matmul(x, x, args({ m: 2, k: 2, n: 2, bias: h16([1, 2]) }));
    expect(lastOp()).toBe('matmul+bias (float16)');
    gpu.unary('exp', x, 0);
    expect(lastOp()).toBe('unary exp');
    const gone = h16([1, 2]);
    gpu.release(gone);
    const released = 'this storage was released; a released tensor cannot be used again';
    expect(() => gpu.cast(gone, 'float32')).toThrow(`webgpu: cast: ${released}`);
    expect(() => gpu.matmul(gone, x, args())).toThrow(`webgpu: matmul: ${released}`);
    expect(() => gpu.matmul(x, gone, args())).toThrow(`webgpu: matmul: ${released}`);
    expect(() => gpu.matmul(x, x, args({ bias: gone }))).toThrow(`webgpu: matmul: ${released}`);
    expect(() => gpu.unary('exp', gone, 0)).toThrow(`webgpu: unary exp: ${released}`);
  });
});
