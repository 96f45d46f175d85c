/**
 * How the WebGPU backend routes float16 work (src/backend/webgpu/backend.ts): every verb but cast
 * and matmul widens its f16 operands to f32, runs the f32 kernel and rounds the result to f16 once,
 * each conversion dispatched under the verb's name (so a device error is attributed to the call that
 * made it); fill and random make f32 and round, returning the f32 temporary to the pool; a float16
 * matmul with an epilogue applies the activation after the rounding (PyTorch's linear then act),
 * leakyRelu's slope defaulting to 0.01. The float16 *values* are checked against PyTorch and the
 * CPU in float16.test.ts; here the dispatches are recorded dry (nothing compiles or runs, so this
 * holds on any adapter: the backend is given shader-f16 for the test) and checked exactly.
 * No adapter is a failure (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGPUBackend, type GpuStorage } from '../src/backend/webgpu/backend.js';
import { recordDispatches, type DispatchRec } from './helpers/dispatch-recorder.js';

let real: WebGPUBackend;
let gpu: WebGPUBackend;
beforeAll(async () => {
  real = await WebGPUBackend.create({ autotune: false });
  // The same backend, told it has shader-f16: storages are host objects, and dry dispatches compile nothing.
  gpu = Object.create(real, { shaderF16: { value: true } }) as WebGPUBackend;
});
afterAll(() => real?.destroy());

const half = (n: number): GpuStorage => gpu.output(n, 'float16', 'test operand');
const single = (n: number): GpuStorage => gpu.output(n, 'float32', 'test operand');

/** Op and kernel name of each dispatch `f` makes, dry. */
function dispatches<T>(f: () => T): { out: T; ops: string[]; kernels: string[]; recs: DispatchRec[] } {
  const { out, recs } = recordDispatches(gpu, f, true);
  return { out, ops: recs.map((r) => r.op), kernels: recs.map((r) => r.name), recs };
}

/** Bytes held in the backend's pools (free buffers). */
const pooled = (): number => gpu.memoryStats().pooledBytes;

describe('webgpu backend: float16 routing', () => {
  it('unary: widen, the f32 kernel, round; the conversions carry the call name, the result is float16', () => {
    const x = half(5);
    const { out, ops, kernels } = dispatches(() => gpu.unary('exp', x, 0));
    expect(out.dtype).toBe('float16');
    expect(ops).toEqual(['unary exp', 'unary exp', 'unary exp']);
    // The middle one is the float32 kernel itself.
    expect(kernels[1]).toBe(dispatches(() => gpu.unary('exp', single(5), 0)).kernels[0]);
    expect(new Set(kernels).size).toBe(3);
  });

  it('activationGrad, binary, reduce and strided likewise, each under its own name', () => {
    const x = half(6);
    const dy = half(6);
    const g = dispatches(() => gpu.activationGrad('sigmoid', x, dy, 0));
    expect(g.out.dtype).toBe('float16');
    expect(g.ops[0]).toBe('activationGrad sigmoid');
    expect(g.ops[1]).toBe('activationGrad sigmoid');
    expect(g.ops.at(-1)).toBe('activationGrad sigmoid');
    expect(g.ops).toHaveLength(4);

    const b = dispatches(() => gpu.binary('mul', x, [2, 3], dy, [2, 3], [2, 3]));
    expect(b.out.dtype).toBe('float16');
    expect([b.ops[0], b.ops[1], b.ops.at(-1)]).toEqual(['binary mul', 'binary mul', 'binary mul']);
    expect(b.ops).toHaveLength(4);

    const r = dispatches(() => gpu.reduce('sum', x, 2, 3, 1));
    expect(r.out.dtype).toBe('float16');
    expect(r.out.length).toBe(2);
    expect([r.ops[0], r.ops.at(-1)]).toEqual(['reduce sum', 'reduce sum']);

    const s = dispatches(() => gpu.strided(x, [3, 2], [1, 3], 0));
    expect(s.out.dtype).toBe('float16');
    expect(s.ops).toEqual(['strided', 'strided', 'strided']);
  });

  it('a mixed binary widens only its float16 operand', () => {
    const { out, ops, kernels } = dispatches(() => gpu.binary('add', half(4), [4], single(4), [4], [4]));
    expect(out.dtype).toBe('float16');
    expect(ops).toEqual(['binary add', 'binary add', 'binary add']);
    expect(kernels[1]).toBe(dispatches(() => gpu.binary('add', single(4), [4], single(4), [4], [4])).kernels[0]);
  });

  it('float32 operands take the f32 kernels directly: no conversion, a float32 result', () => {
    for (const [f, name] of [
      [() => gpu.unary('exp', single(5), 0), 'unary exp'],
      [() => gpu.strided(single(6), [3, 2], [1, 3], 0), 'strided'],
    ] as const) {
      const { out, ops } = dispatches(f);
      expect(out.dtype).toBe('float32');
      expect(ops).toEqual([name]);
    }
    expect(dispatches(() => gpu.reduce('sum', single(6), 2, 3, 1)).out.dtype).toBe('float32');
    const bin = dispatches(() => gpu.binary('mul', single(6), [6], single(6), [6], [6]));
    expect(bin.out.dtype).toBe('float32');
    expect(bin.ops).toEqual(['binary mul']);
    expect(dispatches(() => gpu.activationGrad('sigmoid', single(6), single(6), 0)).out.dtype).toBe('float32');
  });

  it('fill and random make float32, round it to float16 under their own names, and return the temporary to the pool', () => {
    gpu.flush();
    gpu.trimPool();
    expect(pooled()).toBe(0);
    const f = dispatches(() => gpu.fill(1000, 0.1, 'float16'));
    expect(f.out.dtype).toBe('float16');
    expect(f.ops).toEqual(['fill', 'fill']);
    expect(pooled()).toBe(4096); // the 4000-byte f32 temporary, in its size class
    gpu.flush();
    gpu.trimPool();
    const r = dispatches(() => gpu.random('normal', 1000, 7, 0, 'float16'));
    expect(r.out.dtype).toBe('float16');
    expect(r.ops.at(-1)).toBe('random normal');
    expect(pooled()).toBe(4096);
    // float32 fills and draws make no temporary.
    gpu.flush();
    gpu.trimPool();
    expect(dispatches(() => gpu.fill(1000, 0.1, 'float32')).ops).toEqual(['fill']);
    expect(dispatches(() => gpu.random('normal', 1000, 7, 0, 'float32')).out.dtype).toBe('float32');
    expect(pooled()).toBe(0);
  });

  it('cast to or from float16 converts on the device; float32 to int32 is the plain cast', () => {
    const toHalf = dispatches(() => gpu.cast(single(3), 'float16'));
    expect(toHalf.out.dtype).toBe('float16');
    expect(toHalf.ops).toEqual(['cast']);
    const fromHalf = dispatches(() => gpu.cast(half(3), 'float32'));
    expect(fromHalf.out.dtype).toBe('float32');
    expect(fromHalf.ops).toEqual(['cast']);
    expect(toHalf.kernels[0]).not.toBe(fromHalf.kernels[0]);
    const plain = dispatches(() => gpu.cast(single(3), 'int32'));
    expect(plain.out.dtype).toBe('int32');
    expect(plain.kernels).not.toContain(toHalf.kernels[0]);
    expect(plain.kernels).not.toContain(fromHalf.kernels[0]);
  });

  it('a float16 matmul applies its epilogue after the rounding, leakyRelu at slope 0.01 unless given, and pools the pre-activation', () => {
    const args = { batch: 1, m: 2, k: 3, n: 4, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
    const plain = dispatches(() => gpu.matmul(half(6), half(12), args));
    expect(plain.out.dtype).toBe('float16');
    expect(plain.ops).toHaveLength(1);
    gpu.flush();
    gpu.trimPool();
    const act = dispatches(() => gpu.matmul(half(6), half(12), { ...args, activation: 'leakyRelu' }));
    expect(act.out.dtype).toBe('float16');
    expect(act.ops.slice(1)).toEqual(['unary leakyRelu', 'unary leakyRelu', 'unary leakyRelu']);
    expect(act.recs[0]!.name).toBe(plain.recs[0]!.name);
    // The leakyRelu kernel's slope: the default 0.01, then the one given.
    const slope = (recs: DispatchRec[]): number => new Float32Array(new Uint32Array([recs[2]!.u32[1]!]).buffer)[0]!;
    expect(slope(act.recs)).toBeCloseTo(0.01, 7);
    const given = dispatches(() => gpu.matmul(half(6), half(12), { ...args, activation: 'leakyRelu', alpha: 0.25 }));
    expect(slope(given.recs)).toBe(0.25);
    // After the trim, four 256-byte buffers were made: the f16 product y, its f32 widening w, the f32
    // activation r and the f16 result (which reuses w's buffer, freed first). y and r come back to
    // the pool: 512 bytes.
    gpu.flush();
    gpu.trimPool();
    const a = half(6);
    const b = half(12);
    const result = dispatches(() => gpu.matmul(a, b, { ...args, activation: 'relu' })).out;
    expect(result.dtype).toBe('float16');
    expect(pooled()).toBe(512);
    for (const s of [a, b, result]) gpu.release(s);
  });

  it('a released float16 operand is refused by name on each verb', () => {
    const x = half(4);
    gpu.release(x);
    const released = (call: string): string => `webgpu: ${call}: this storage was released`;
    expect(() => gpu.unary('relu', x, 0)).toThrow(released('unary relu'));
    expect(() => gpu.activationGrad('tanh', x, x, 0)).toThrow(released('activationGrad tanh'));
    expect(() => gpu.binary('sub', x, [4], x, [4], [4])).toThrow(released('binary sub'));
    expect(() => gpu.reduce('max', x, 1, 4, 1)).toThrow(released('reduce max'));
    expect(() => gpu.strided(x, [4], [1], 0)).toThrow(released('strided'));
  });
});
