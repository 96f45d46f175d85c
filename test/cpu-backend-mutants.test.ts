/**
 * The CPU reference backend (src/backend/cpu/*.ts) and the host helpers beside it
 * (src/backend/{f16,routines,types}.ts), called directly where the op suites leave a gap: every
 * argument check's full message, int32 wrap-around, empty and boundary shapes, NaN rules, the
 * float16 rounding edges and the special functions against CPython's math.erf/erfc.
 * Written from the mutation-testing survivors (`npm run mutate`, README "Mutation testing").
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { CpuStorage, allocCpuArray, cpuStorage, CPU_MAX_ELEMENTS } from '../src/backend/cpu/storage.js';
import { erf, erfc, normalCdf, normalPdf } from '../src/backend/cpu/special.js';
import { sigmoid } from '../src/backend/cpu/unary.js';
import { broadcastStrides } from '../src/backend/cpu/binary.js';
import { stridedIndexRange } from '../src/backend/cpu/strided.js';
import { epilogueFn } from '../src/backend/cpu/matmul.js';
import {
  F16_MAX, F16_MIN_NORMAL, F16_MIN_SUBNORMAL, decodeF16, encodeF16, f16Bits, f16FromBits, refuseHalfRoutine, roundArrayToF16, roundToF16,
} from '../src/backend/f16.js';
import { routineFrom, type RoutineName, type RoutineTable } from '../src/backend/routines.js';
import { bytesPerElement, typedArrayFor, type Conv2dGeometry, type DType, type MatmulArgs, type Pool2dGeometry, type Storage } from '../src/backend/types.js';
import { philoxNormal, philoxUniform, philoxWords } from '../src/random/philox.js';
import { WebgradError } from '../src/errors.js';

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

/** The message `f` throws (failing the test when it returns). */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a throw');
}

function setup(): {
  be: CpuBackend;
  up: (values: number[], dtype?: DType) => Storage;
  vals: (s: Storage) => number[];
} {
  const be = new CpuBackend();
  return {
    be,
    up: (values, dtype = 'float64') => be.upload(Float64Array.from(values), dtype),
    vals: (s) => Array.from((s as CpuStorage).data),
  };
}

/** Relative (or, near 0, absolute) closeness. */
function close(actual: number, expected: number, rel: number): void {
  if (Number.isNaN(expected)) {
    expect(actual).toBeNaN();
    return;
  }
  if (!Number.isFinite(expected)) {
    expect(actual).toBe(expected);
    return;
  }
  const tol = rel * Math.max(Math.abs(expected), 1e-300);
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
}

describe('cpu backend: memory verbs', () => {
  it('upload refuses an unknown dtype and a non-typed array, naming the verb', () => {
    const { be } = setup();
    expect(thrown(() => be.upload(new Float32Array(1), 'float8' as DType))).toBe("cpu.upload: unknown dtype 'float8'");
    expect(thrown(() => be.upload([1, 2] as unknown as Float32Array, 'float32'))).toBe('cpu.upload: data must be a typed array');
    expect(thrown(() => be.upload(new DataView(new ArrayBuffer(8)) as unknown as Float32Array, 'float32'))).toBe('cpu.upload: data must be a typed array');
    for (const d of ['float32', 'float64', 'int32', 'float16'] as const) expect(() => be.upload(new Float32Array(1), d)).not.toThrow();
  });

  it('upload rounds each number to float16 once (not through float32), truncates to int32, keeps float64', () => {
    const { up, vals } = setup();
    // 1 + 2^-11 + 2^-30 is above the float16 tie: 1 + 2^-10. Through float32 first it would be the tie itself, then 1.
    const x = 1 + 2 ** -11 + 2 ** -30;
    expect(vals(up([x], 'float16'))).toEqual([1 + 2 ** -10]);
    expect(vals(up([x], 'float64'))).toEqual([x]);
    expect(vals(up([x], 'float32'))).toEqual([Math.fround(x)]);
    expect(vals(up([2.7, -2.7], 'int32'))).toEqual([2, -2]);
  });

  it('read returns a copy; release makes later reads fail, naming the verb', async () => {
    const { be, up } = setup();
    const s = up([1, 2]);
    const r = await be.read(s);
    r[0] = 99;
    expect(Array.from(await be.read(s))).toEqual([1, 2]);
    be.release(s);
    await expect(be.read(s)).rejects.toThrow(/^cpu\.read: storage was released and cannot be used$/);
    expect(thrown(() => be.release(s))).toBe('cpu.release: storage was released and cannot be used');
  });

  it('memoryStats counts every allocation (routines included) in bytes of the dtype', () => {
    const { be, up } = setup();
    expect(be.memoryStats()).toEqual({ pooledBytes: 0, allocatedBytes: 0, buffersCreated: 0 });
    up([1, 2, 3], 'float64');
    up([1, 2, 3], 'float16');
    be.fill(5, 0, 'int32');
    expect(be.memoryStats()).toEqual({ pooledBytes: 0, allocatedBytes: 24 + 6 + 20, buffersCreated: 3 });
    const x = up([1, 2, 3, 4], 'float32');
    be.routine('argReduce', { x }, { op: 'argmax', outer: 1, length: 4, inner: 1 });
    expect(be.memoryStats()).toEqual({ pooledBytes: 0, allocatedBytes: 50 + 16 + 4, buffersCreated: 5 });
    be.flush();
  });

  it('assertFinite throws the caller message for a non-finite first element only', () => {
    const { be, up } = setup();
    const msg = (v: number): string => `bad ${v}`;
    expect(() => be.assertFinite(up([1, NaN]), 'op', msg)).not.toThrow();
    expect(() => be.assertFinite(up([]), 'op', msg)).not.toThrow();
    for (const v of [NaN, Infinity, -Infinity]) {
      let caught: unknown;
      try { be.assertFinite(up([v]), 'op', msg); } catch (e) { caught = e; }
      expect(caught).toBeInstanceOf(WebgradError);
      expect((caught as Error).message).toBe(`bad ${v}`);
    }
    expect(thrown(() => be.assertFinite({ backend: 'webgpu' } as unknown as Storage, 'myop', msg))).toBe("cpu.myop: x is not a CPU storage (it belongs to backend 'webgpu')");
  });

  it('fill and cast: dtype and length checks, float16 rounding once, int32 truncation', () => {
    const { be, up, vals } = setup();
    expect(thrown(() => be.fill(2, 0, 'bool' as DType))).toBe("cpu.fill: unknown dtype 'bool'");
    expect(thrown(() => be.fill(-1, 0, 'float32'))).toBe('cpu.fill: length must be a non-negative integer, got -1');
    expect(thrown(() => be.fill(1.5, 0, 'float32'))).toBe('cpu.fill: length must be a non-negative integer, got 1.5');
    expect(vals(be.fill(0, 3, 'float32'))).toEqual([]);
    expect(vals(be.fill(2, 1.5, 'int32'))).toEqual([1, 1]);
    expect(vals(be.fill(2, 1 + 2 ** -11 + 2 ** -30, 'float16'))).toEqual([1, 1]); // through float32 storage first, as documented
    const x = up([1 + 2 ** -11 + 2 ** -30, -3.9, 2 ** 40]);
    expect(thrown(() => be.cast(x, 'u8' as DType))).toBe("cpu.cast: unknown dtype 'u8'");
    expect(vals(be.cast(x, 'float16'))).toEqual([1 + 2 ** -10, -3.900390625, Infinity]);
    expect(vals(be.cast(x, 'int32'))).toEqual([1, -3, 0]);
    expect(vals(be.cast(x, 'float64'))).toEqual([1 + 2 ** -11 + 2 ** -30, -3.9, 2 ** 40]);
  });

  it('random: dtype, length and kind checks; values are the Philox streams', () => {
    const { be, vals } = setup();
    expect(thrown(() => be.random('uniform', 2, 1, 0, 'int32'))).toBe("cpu.random: 'uniform' draws need a float dtype, got int32");
    expect(thrown(() => be.random('normal', 2, 1, 0, 'int32'))).toBe("cpu.random: 'normal' draws need a float dtype, got int32");
    expect(thrown(() => be.random('bits', 2, 1, 0, 'float32'))).toBe("cpu.random: 'bits' draws need dtype int32, got float32");
    expect(thrown(() => be.random('gamma' as 'bits', 2, 1, 0, 'int32'))).toBe("cpu.random: unknown kind 'gamma'");
    expect(thrown(() => be.random('bits', -2, 1, 0, 'int32'))).toBe('cpu.random: length must be a non-negative integer, got -2');
    expect(thrown(() => be.random('bits', 2, 1, 0, 'f' as DType))).toBe("cpu.random: unknown dtype 'f'");
    expect(vals(be.random('uniform', 5, 7, 3, 'float64'))).toEqual(Array.from(philoxUniform(7, 3, 5)));
    expect(vals(be.random('normal', 5, 7, 3, 'float64'))).toEqual(Array.from(philoxNormal(7, 3, 5)));
    const words = Array.from(philoxWords(7, 3, 64));
    expect(words.some((w) => w >= 2 ** 31)).toBe(true); // so the bit-cast below is exercised
    expect(vals(be.random('bits', 64, 7, 3, 'int32'))).toEqual(words.map((w) => w | 0));
  });
});

describe('cpu backend: storages (storage.ts)', () => {
  it('names the kernel and argument for a foreign or released storage', () => {
    const { be, up } = setup();
    expect(thrown(() => be.unary('neg', { backend: 'webgpu' } as unknown as Storage, 0))).toBe("cpu.unary: x is not a CPU storage (it belongs to backend 'webgpu')");
    expect(thrown(() => be.unary('neg', {} as unknown as Storage, 0))).toBe('cpu.unary: x is not a CPU storage');
    expect(thrown(() => be.unary('neg', null as unknown as Storage, 0))).toBe('cpu.unary: x is not a CPU storage');
    expect(thrown(() => be.unary('neg', 'webgpu' as unknown as Storage, 0))).toBe('cpu.unary: x is not a CPU storage');
    const s = up([1]);
    be.release(s);
    expect(thrown(() => cpuStorage('k', 'arg', s))).toBe('cpu.k: arg was released and cannot be used');
    expect((s as CpuStorage).released).toBe(true);
    expect(thrown(() => (s as CpuStorage).data)).toBe('CpuStorage: the storage was released and cannot be used');
    const live = new CpuStorage('float32', new Float32Array(3));
    expect([live.released, live.length, live.dtype, live.backend]).toEqual([false, 3, 'float32', 'cpu']);
  });

  it('allocCpuArray refuses sizes past the typed-array limit and turns RangeError into a WebgradError', () => {
    expect(CPU_MAX_ELEMENTS).toBe(2 ** 32 - 1);
    let caught: unknown;
    try { allocCpuArray('float64', 2 ** 32); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(WebgradError);
    expect((caught as Error).message).toBe(
      'cpu: a float64 tensor of 4294967296 elements (34359738368 bytes) is larger than the CPU backend allows (4294967295 elements per tensor, the JavaScript typed-array limit)',
    );
    caught = undefined;
    try { allocCpuArray('float32', -1); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(WebgradError);
    expect((caught as Error).message).toMatch(/^cpu: cannot allocate a float32 tensor of -1 elements \(-4 bytes\): .+ \(out of memory\?\)$/);
    expect(allocCpuArray('int32', 3)).toBeInstanceOf(Int32Array);
  });

  it('bytesPerElement and typedArrayFor (types.ts)', () => {
    expect(['float32', 'float64', 'int32', 'float16'].map((d) => bytesPerElement(d as DType))).toEqual([4, 8, 4, 2]);
    const kinds = (['float32', 'float64', 'int32', 'float16'] as const).map((d) => typedArrayFor(d, 2).constructor.name);
    expect(kinds).toEqual(['Float32Array', 'Float64Array', 'Int32Array', 'Float32Array']);
    expect(typedArrayFor('float64', 3).length).toBe(3);
  });
});

describe('cpu backend: elementwise (unary.ts, binary.ts)', () => {
  it('float unary formulas at their edges, against closed forms', () => {
    const { be, up, vals } = setup();
    const at = (op: Parameters<CpuBackend['unary']>[0], xs: number[], p = 0): number[] => vals(be.unary(op, up(xs), p));
    expect(at('neg', [2, -0])).toEqual([-2, 0]);
    expect(at('exp', [0, 1])).toEqual([1, Math.E]);
    expect(at('log', [1, Math.E, 0, -1])).toEqual([0, 1, -Infinity, NaN]);
    expect(at('sqrt', [4, -1])).toEqual([2, NaN]);
    expect(at('abs', [-3, 2])).toEqual([3, 2]);
    expect(at('square', [-3])).toEqual([9]);
    expect(at('sign', [-5, 0, 7, NaN])).toEqual([-1, 0, 1, NaN]);
    expect(at('reciprocal', [4, 0])).toEqual([0.25, Infinity]);
    expect(at('tanh', [0, 1])).toEqual([0, Math.tanh(1)]);
    expect(at('relu', [-1, 0, 2, NaN])).toEqual([0, 0, 2, NaN]);
    expect(at('relu6', [-1, 3, 7, NaN])).toEqual([0, 3, 6, NaN]);
    expect(at('leakyRelu', [-2, 0, 3], 0.1)).toEqual([-0.2, 0, 3]);
    expect(at('softplus', [0, 1000, -1000, 2])).toEqual([Math.LN2, 1000, 0, 2 + Math.log1p(Math.exp(-2))]);
    expect(at('powScalar', [2, 9], 0.5)).toEqual([Math.SQRT2, 3]);
    expect(at('addScalar', [1], 2.5)).toEqual([3.5]);
    expect(at('mulScalar', [3], -2)).toEqual([-6]);
    expect(at('rsubScalar', [3], 10)).toEqual([7]);
    expect(at('maxScalar', [1, 5, NaN], 2)).toEqual([2, 5, NaN]);
    expect(at('minScalar', [1, 5, NaN], 2)).toEqual([1, 2, NaN]);
    expect(at('isNonFinite', [1, NaN, Infinity, -Infinity])).toEqual([0, 1, 1, 1]);
    // gelu(x) = x·Φ(x); geluTanh(x) = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).
    const g = at('gelu', [1, -1, 0]);
    close(g[0]!, 0.8413447460685429, 1e-15);
    close(g[1]!, -0.15865525393145707, 1e-14);
    expect(g[2]).toBe(0);
    const gt = at('geluTanh', [1, -2]);
    const ref = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    close(gt[0]!, ref(1), 1e-15);
    close(gt[1]!, ref(-2), 1e-13);
  });

  it('sigmoid uses exp of a non-positive number only: exact deep in both tails, 0.5 at 0', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(-720)).toBe(Math.exp(-720)); // subnormal, not 0
    expect(sigmoid(-720)).toBeGreaterThan(0);
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoid(-2)).toBe(Math.exp(-2) / (1 + Math.exp(-2)));
    expect(sigmoid(2)).toBe(1 / (1 + Math.exp(-2)));
  });

  it('int32 unary ops wrap like WGSL i32 and take the parameter as an i32', () => {
    const { be, up, vals } = setup();
    const at = (op: Parameters<CpuBackend['unary']>[0], xs: number[], p = 0): number[] => vals(be.unary(op, up(xs, 'int32'), p));
    expect(at('neg', [I32_MIN, 5])).toEqual([I32_MIN, -5]);
    expect(at('abs', [I32_MIN, -7])).toEqual([I32_MIN, 7]);
    expect(at('square', [46341, 65536, -3])).toEqual([-2147479015, 0, 9]);
    expect(at('sign', [-9, 0, 9])).toEqual([-1, 0, 1]);
    expect(at('relu', [-9, 9])).toEqual([0, 9]);
    expect(at('addScalar', [I32_MAX, 1], 1.9)).toEqual([I32_MIN, 2]);
    expect(at('mulScalar', [65536, 3], 65536.7)).toEqual([0, 196608]);
    expect(at('rsubScalar', [3, I32_MIN], 10.9)).toEqual([7, I32_MIN + 10]);
    expect(at('maxScalar', [1, 5], 2.9)).toEqual([2, 5]);
    expect(at('minScalar', [1, 5], 2.9)).toEqual([1, 2]);
    expect(thrown(() => be.unary('exp', up([1], 'int32'), 0))).toBe("cpu.unary: op 'exp' is not defined for int32 inputs");
    expect(vals(be.unary('neg', up([1.5], 'float32'), 0))).toEqual([-1.5]);
  });

  it('activation derivatives: PyTorch values at 0, NaN and ±Inf; dtype and length checks', () => {
    const { be, up, vals } = setup();
    const d = (op: Parameters<CpuBackend['activationGrad']>[0], xs: number[], p = 0): number[] =>
      vals(be.activationGrad(op, up(xs), up(xs.map(() => 2)), p));
    expect(d('relu', [-1, 0, 3, NaN])).toEqual([0, 0, 2, 2]);
    expect(d('relu6', [-1, 0, 3, 6, 7, NaN])).toEqual([0, 0, 2, 0, 0, 0]);
    expect(d('leakyRelu', [-1, 0, 3, NaN], 0.25)).toEqual([0.5, 0.5, 2, 0.5]);
    expect(d('sigmoid', [0])).toEqual([0.5]);
    expect(d('tanh', [0, 1])).toEqual([2, 2 * (1 - Math.tanh(1) ** 2)]);
    expect(d('softplus', [0, -3])).toEqual([1, 2 * sigmoid(-3)]);
    const gelu = d('gelu', [0, 1]);
    expect(gelu[0]).toBe(1);
    close(gelu[1]!, 2 * (0.8413447460685429 + Math.exp(-0.5) / Math.sqrt(2 * Math.PI)), 1e-15);
    // geluTanh': NaN at ±Inf and NaN (as PyTorch); σ saturated → exactly σ, with no 0·∞ for huge |x|.
    const gt = d('geluTanh', [Infinity, -Infinity, NaN, 1e200, -1e200, 0, 1]);
    expect(gt.slice(0, 5)).toEqual([NaN, NaN, NaN, 2, 0]);
    expect(gt[5]).toBe(1);
    const c = Math.sqrt(2 / Math.PI);
    const u = c * (1 + 0.044715);
    const t = Math.tanh(u);
    close(gt[6]!, 2 * (0.5 * (1 + t) + 0.5 * (1 - t * t) * c * (1 + 3 * 0.044715)), 1e-14);
    expect(thrown(() => be.activationGrad('relu', up([1]), up([1], 'float32'), 0))).toBe('cpu.activationGrad: dtypes differ (float64 and float32)');
    expect(thrown(() => be.activationGrad('relu', up([1, 2]), up([1, 2, 3]), 0))).toBe('cpu.activationGrad: x has 2 elements but dy has 3');
  });

  it('binary: broadcast strides, argument checks with full messages', () => {
    const { be, up, vals } = setup();
    expect(broadcastStrides([2, 1, 3], [4, 2, 5, 3])).toEqual([0, 3, 0, 1]);
    expect(broadcastStrides([], [2])).toEqual([0]);
    // a [2, 1, 3] + b [4, 1] → [2, 4, 3]
    const a = [0, 1, 2, 10, 11, 12];
    const b = [100, 200, 300, 400];
    const out = vals(be.binary('add', up(a), [2, 1, 3], up(b), [4, 1], [2, 4, 3]));
    const want: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) want.push(a[i * 3 + k]! + b[j]!);
    expect(out).toEqual(want);
    expect(vals(be.binary('sub', up([5]), [], up([1, 2]), [2], [2]))).toEqual([4, 3]);
    expect(vals(be.binary('mul', up([]), [0, 2], up([3, 4]), [2], [0, 2]))).toEqual([]);
    expect(thrown(() => be.binary('add', up([1]), [1], up([1], 'float32'), [1], [1]))).toBe('cpu.binary: dtypes differ (float64 and float32)');
    expect(thrown(() => be.binary('add', up([1]), [1, -1], up([1]), [1], [1]))).toBe('cpu.binary: aShape [1, -1] must hold non-negative integers');
    expect(thrown(() => be.binary('add', up([1]), [1], up([1]), [0.5], [1]))).toBe('cpu.binary: bShape [0.5] must hold non-negative integers');
    expect(thrown(() => be.binary('add', up([1]), [1], up([1]), [1], [NaN]))).toBe('cpu.binary: outShape [NaN] must hold non-negative integers');
    expect(thrown(() => be.binary('add', up([1, 2]), [3], up([1]), [1], [3]))).toBe("cpu.binary: aShape [3] does not match a's 2 elements");
    expect(thrown(() => be.binary('add', up([1]), [1], up([1, 2]), [1], [1]))).toBe("cpu.binary: bShape [1] does not match b's 2 elements");
    expect(thrown(() => be.binary('add', up([1, 2, 3]), [3], up([1]), [1], [2]))).toBe('cpu.binary: a of shape [3] does not broadcast to [2]');
    expect(thrown(() => be.binary('add', up([1]), [1], up([1, 2]), [2], [3]))).toBe('cpu.binary: b of shape [2] does not broadcast to [3]');
    expect(thrown(() => be.binary('add', up([1]), [1, 1], up([1]), [1], [1]))).toBe('cpu.binary: a of shape [1, 1] does not broadcast to [1]');
    expect(vals(be.binary('add', up([1]), [1], up([1, 2]), [1, 2], [1, 2]))).toEqual([2, 3]);
  });

  it('binary float formulas: comparisons give 0 with NaN; int32 formulas wrap and divide by 0 to 0', () => {
    const { be, up, vals } = setup();
    const f = (op: Parameters<CpuBackend['binary']>[0], a: number[], b: number[], dtype: DType = 'float64'): number[] =>
      vals(be.binary(op, up(a, dtype), [a.length], up(b, dtype), [b.length], [a.length]));
    const A = [1, 2, NaN, 3];
    const B = [2, 2, 1, 1];
    expect(f('eq', A, B)).toEqual([0, 1, 0, 0]);
    expect(f('gt', A, B)).toEqual([0, 0, 0, 1]);
    expect(f('ge', A, B)).toEqual([0, 1, 0, 1]);
    expect(f('maximum', A, B)).toEqual([2, 2, NaN, 3]);
    expect(f('minimum', A, B)).toEqual([1, 2, NaN, 1]);
    expect(f('div', [1, -1, 0], [0, 0, 0])).toEqual([Infinity, -Infinity, NaN]);
    expect(f('pow', [2, -8], [10, 1 / 3])).toEqual([1024, NaN]);
    expect(f('sub', [1], [3])).toEqual([-2]);
    expect(f('mul', [1.5], [4])).toEqual([6]);
    expect(f('add', [I32_MAX, 5], [1, -7], 'int32')).toEqual([I32_MIN, -2]);
    expect(f('sub', [I32_MIN, 5], [1, 7], 'int32')).toEqual([I32_MAX, -2]);
    expect(f('mul', [65536, -3], [65536, 7], 'int32')).toEqual([0, -21]);
    expect(f('div', [7, -7, 7, I32_MIN, 5], [2, 2, 0, -1, -5], 'int32')).toEqual([3, -3, 0, I32_MIN, -1]);
    expect(f('pow', [2, 3, 2], [31, 2, 0], 'int32')).toEqual([I32_MIN, 9, 1]);
    expect(f('maximum', [1, -5], [2, -6], 'int32')).toEqual([2, -5]);
    expect(f('minimum', [1, -5], [2, -6], 'int32')).toEqual([1, -6]);
    expect(f('eq', [1, 2], [1, 3], 'int32')).toEqual([1, 0]);
    expect(f('gt', [1, 3, 2], [1, 2, 3], 'int32')).toEqual([0, 1, 0]);
    expect(f('ge', [1, 3, 2], [1, 2, 3], 'int32')).toEqual([1, 1, 0]);
  });
});

describe('cpu backend: reduce, strided, matmul', () => {
  it('reduce: sum of nothing is 0, max of nothing −Inf (int32: −2^31), NaN propagates, [outer, length, inner] layout', () => {
    const { be, up, vals } = setup();
    const x = [1, 5, 2, 8, 3, 0, 7, 6, 4, 9, 11, 10]; // [2, 3, 2]
    expect(vals(be.reduce('sum', up(x), 2, 3, 2))).toEqual([6, 13, 22, 25]);
    expect(vals(be.reduce('max', up(x), 2, 3, 2))).toEqual([3, 8, 11, 10]);
    expect(vals(be.reduce('sum', up([]), 2, 0, 3))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(vals(be.reduce('max', up([]), 1, 0, 2))).toEqual([-Infinity, -Infinity]);
    expect(vals(be.reduce('max', up([], 'int32'), 1, 0, 2))).toEqual([I32_MIN, I32_MIN]);
    expect(vals(be.reduce('max', up([-5, -7], 'int32'), 1, 2, 1))).toEqual([-5]);
    expect(vals(be.reduce('max', up([1, NaN, 3]), 1, 3, 1))).toEqual([NaN]);
    expect(vals(be.reduce('max', up([-Infinity, -Infinity]), 1, 2, 1))).toEqual([-Infinity]);
    for (const [name, args] of [['outer', [-1, 1, 1]], ['length', [1, 1.5, 1]], ['inner', [1, 1, NaN]]] as const) {
      expect(thrown(() => be.reduce('sum', up([1]), args[0], args[1], args[2]))).toBe(`cpu.reduce: ${name} must be a non-negative integer, got ${args.find((v) => !(Number.isInteger(v) && v >= 0))}`);
    }
    expect(thrown(() => be.reduce('sum', up([1, 2, 3]), 1, 2, 1))).toBe("cpu.reduce: [outer, length, inner] = [1, 2, 1] does not match x's 3 elements");
  });

  it('strided: flips, broadcasts, bounds and argument checks', () => {
    const { be, up, vals } = setup();
    const x = up([0, 1, 2, 3, 4, 5]);
    expect(vals(be.strided(x, [2, 3], [1, 2], 0))).toEqual([0, 2, 4, 1, 3, 5]);
    expect(vals(be.strided(x, [3], [-2], 5))).toEqual([5, 3, 1]);
    expect(vals(be.strided(x, [2, 2], [0, 1], 4))).toEqual([4, 5, 4, 5]);
    expect(vals(be.strided(x, [2, 0], [1, 1], 100))).toEqual([]); // empty: no bounds to check
    expect(vals(be.strided(x, [], [], 5))).toEqual([5]);
    expect(stridedIndexRange([3, 2], [-2, 1], 4)).toEqual([0, 5]);
    expect(stridedIndexRange([1], [-7], 2)).toEqual([2, 2]);
    expect(thrown(() => be.strided(x, [3], [-2], 3))).toBe("cpu.strided: the view reads indices -1..3, outside x's 6 elements");
    expect(thrown(() => be.strided(x, [3], [2], 2))).toBe("cpu.strided: the view reads indices 2..6, outside x's 6 elements");
    expect(vals(be.strided(x, [3], [2], 1))).toEqual([1, 3, 5]); // the last element is in bounds
    expect(thrown(() => be.strided(x, [2, -1], [1, 1], 0))).toBe('cpu.strided: outShape [2, -1] must hold non-negative integers');
    expect(thrown(() => be.strided(x, [2, 2], [1], 0))).toBe('cpu.strided: strides [1] must be 2 integers, one per output dimension');
    expect(thrown(() => be.strided(x, [2], [0.5], 0))).toBe('cpu.strided: strides [0.5] must be 1 integers, one per output dimension');
    expect(thrown(() => be.strided(x, [2], [1], 0.5))).toBe('cpu.strided: offset must be an integer, got 0.5');
  });

  it('matmul: transposes, broadcast batches, bias and epilogue; every argument check', () => {
    const { be, up, vals } = setup();
    const base = { batch: 1, m: 2, k: 3, n: 2, transA: false, transB: false, aBatchStride: 6, bBatchStride: 6 } satisfies MatmulArgs;
    const A = [1, 2, 3, 4, 5, 6]; // [2, 3]
    const B = [1, -1, 2, 0, -3, 4]; // [3, 2]
    const AB = [1 * 1 + 2 * 2 + 3 * -3, 1 * -1 + 0 + 3 * 4, 4 * 1 + 5 * 2 + 6 * -3, 4 * -1 + 0 + 6 * 4]; // [-4, 11, -4, 20]
    expect(vals(be.matmul(up(A), up(B), base))).toEqual(AB);
    const At = [1, 4, 2, 5, 3, 6]; // A stored [3, 2]
    const Bt = [1, 2, -3, -1, 0, 4]; // B stored [2, 3]
    expect(vals(be.matmul(up(At), up(B), { ...base, transA: true }))).toEqual(AB);
    expect(vals(be.matmul(up(A), up(Bt), { ...base, transB: true }))).toEqual(AB);
    expect(vals(be.matmul(up(At), up(Bt), { ...base, transA: true, transB: true }))).toEqual(AB);
    // Two batches of A against one shared B (batch stride 0), bias and relu epilogue.
    const A2 = [...A, ...A.map((v) => -v)];
    const bias = up([1, -30]);
    expect(vals(be.matmul(up(A2), up(B), { ...base, batch: 2, bBatchStride: 0, bias, activation: 'relu' })))
      .toEqual([0, 0, 0, 0, 5, 0, 5, 0]);
    expect(vals(be.matmul(up(A), up(B), { ...base, activation: 'none' }))).toEqual(AB);
    expect(vals(be.matmul(up(A), up(B), { ...base, activation: 'leakyRelu' }))).toEqual([-4 * 0.01, 11, -4 * 0.01, 20]);
    expect(vals(be.matmul(up(A), up(B), { ...base, activation: 'leakyRelu', alpha: 0.5 }))).toEqual([-2, 11, -2, 20]);
    expect(epilogueFn(undefined, undefined)).toBeUndefined();
    expect(epilogueFn('none', 0.3)).toBeUndefined();
    expect(epilogueFn('leakyRelu', undefined)!(-100)).toBe(-1);
    expect(vals(be.matmul(up([]), up([]), { ...base, batch: 0, aBatchStride: 100, bBatchStride: 100 }))).toEqual([]);
    expect(vals(be.matmul(up([]), up([]), { ...base, batch: 0, aBatchStride: 0, bBatchStride: 0 }))).toEqual([]); // no matrix to fit
    expect(vals(be.matmul(up([]), up(B), { ...base, batch: 0, aBatchStride: 0, bBatchStride: 0 }))).toEqual([]);
    expect(vals(be.matmul(up([]), up([]), { ...base, k: 0, aBatchStride: 0, bBatchStride: 0 }))).toEqual([0, 0, 0, 0]);
    for (const key of ['batch', 'm', 'k', 'n', 'aBatchStride', 'bBatchStride'] as const) {
      expect(thrown(() => be.matmul(up(A), up(B), { ...base, [key]: -1 }))).toBe(`cpu.matmul: ${key} must be a non-negative integer, got -1`);
    }
    expect(thrown(() => be.matmul(up(A), up(B, 'float32'), base))).toBe('cpu.matmul: dtypes differ (float64 and float32)');
    expect(thrown(() => be.matmul(up(A), up(B), { ...base, batch: 2, bBatchStride: 0 })))
      .toBe('cpu.matmul: a has 6 elements, too few for batch 2 of 2x3 with batch stride 6');
    expect(thrown(() => be.matmul(up(A2), up(B), { ...base, batch: 2 })))
      .toBe('cpu.matmul: b has 6 elements, too few for batch 2 of 3x2 with batch stride 6');
    expect(vals(be.matmul(up(A2), up([...B, ...B]), { ...base, batch: 2 })).slice(4)).toEqual(AB.map((v) => -v)); // exactly fits
    expect(thrown(() => be.matmul(up(A), up(B), { ...base, bias: up([1, 2, 3]) }))).toBe('cpu.matmul: bias has 3 elements, expected n = 2');
    expect(thrown(() => be.matmul(up(A), up(B), { ...base, bias: up([1, 2], 'float32') }))).toBe('cpu.matmul: dtypes differ (float64 and float32)');
  });
});

describe('special functions (special.ts) against CPython math.erf / math.erfc', () => {
  // [x, erf(x), erfc(x)] from CPython 3's math module.
  const TABLE: [number, number, number][] = [
    [0.1, 0.1124629160182849, 0.8875370839817152],
    [0.5, 0.5204998778130465, 0.4795001221869535],
    [1.0, 0.8427007929497149, 0.15729920705028513],
    [1.4, 0.9522851197626487, 0.04771488023735121],
    [1.49, 0.9648978648432042, 0.03510213515679579],
    [1.5, 0.9661051464753108, 0.033894853524689274],
    [1.51, 0.9672767481287117, 0.03272325187128836],
    [2.0, 0.9953222650189527, 0.004677734981047265],
    [3.0, 0.9999779095030014, 2.2090496998585438e-05],
    [4.5, 0.9999999998033839, 1.9661604415428873e-10],
    [-0.7, -0.6778011938374184, 1.6778011938374184],
    [-1.5, -0.9661051464753108, 1.9661051464753108],
    [-2.5, -0.999593047982555, 1.999593047982555],
  ];
  it('erf and erfc to 1e-14 relative on both sides of the series/continued-fraction switch', () => {
    for (const [x, e, ec] of TABLE) {
      close(erf(x), e, 2e-15);
      close(erfc(x), ec, 1e-14);
    }
    // Deep upper tail: erfc stays relatively accurate (no 1 − erf cancellation).
    for (const [x, ec] of [[6, 2.1519736712498916e-17], [10, 2.088487583762545e-45], [20, 5.3958656116079005e-176], [26, 5.663192408856143e-296]] as const) {
      close(erfc(x), ec, 1e-14);
    }
    expect(erf(0)).toBe(0);
    expect(erfc(0)).toBe(1);
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erfc(Infinity)).toBe(0);
    expect(erfc(-Infinity)).toBe(2);
    for (const f of [erf, erfc, normalCdf, normalPdf]) expect(f(NaN)).toBeNaN();
  });

  it('normal pdf and cdf', () => {
    expect(normalPdf(0)).toBe(1 / Math.sqrt(2 * Math.PI));
    close(normalPdf(2), Math.exp(-2) / Math.sqrt(2 * Math.PI), 1e-15);
    expect(normalCdf(0)).toBe(0.5);
    close(normalCdf(1), 0.8413447460685429, 1e-15);
    close(normalCdf(-10 * Math.SQRT2), 2.088487583762545e-45 / 2, 1e-14); // Φ(−x) = erfc(x/√2)/2
  });
});

describe('float16 host rounding (f16.ts)', () => {
  type Num = number | string;
  const F = JSON.parse(readFileSync(new URL('./fixtures/float16.json', import.meta.url), 'utf8')) as {
    casts: { x: Num[]; bits: number[]; values: Num[] };
  };
  const num = (v: Num): number => (typeof v === 'number' ? v : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : NaN);

  it('matches torch.float16 bit for bit on the fixture casts', () => {
    F.casts.x.map(num).forEach((x, i) => {
      expect(f16Bits(x), `bits of ${x}`).toBe(F.casts.bits[i]);
      expect(Object.is(roundToF16(x), num(F.casts.values[i]!)), `value of ${x}`).toBe(true);
    });
  });

  it('constants, ties to even in every binade kind, overflow edge, signed zero', () => {
    expect([F16_MAX, F16_MIN_NORMAL, F16_MIN_SUBNORMAL]).toEqual([65504, 2 ** -14, 2 ** -24]);
    expect(roundToF16(65519.99)).toBe(65504);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(-65520)).toBe(-Infinity);
    expect(roundToF16(-65519)).toBe(-65504);
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // tie, even mantissa below
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie, even mantissa above
    expect(roundToF16(1 + 2 ** -11 + 2 ** -40)).toBe(1 + 2 ** -10);
    expect(roundToF16(1 + 2 ** -11 - 2 ** -40)).toBe(1);
    expect(roundToF16(2 ** -25)).toBe(0);
    expect(roundToF16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundToF16(2 ** -14 - 2 ** -26)).toBe(2 ** -14); // subnormal quantum rounds up into the normals
    expect(roundToF16(2 ** -14 + 2 ** -24)).toBe(2 ** -14 + 2 ** -24); // the smallest binade of normals has the subnormals' spacing
    expect(roundToF16(2 ** -14 + 2 ** -25)).toBe(2 ** -14); // tie → even
    expect(roundToF16(2 ** -14 + 3 * 2 ** -25)).toBe(2 ** -14 + 2 ** -23); // tie → even
    expect(roundToF16(2 ** -15 + 2 ** -25)).toBe(2 ** -15); // subnormal tie → even
    expect(roundToF16(2 - 2 ** -12)).toBe(2); // just below a power of two (exponent found exactly)
    expect(roundToF16(1024 + 0.5)).toBe(1024);
    expect(roundToF16(1024 + 1.5)).toBe(1026);
    expect(Object.is(roundToF16(-1e-9), -0)).toBe(true);
    expect(Object.is(roundToF16(-0), -0)).toBe(true);
    expect(roundToF16(NaN)).toBeNaN();
    expect(roundToF16(-Infinity)).toBe(-Infinity);
    const arr = new Float64Array([1 + 2 ** -11 + 2 ** -40, 70000, -3]);
    roundArrayToF16(arr);
    expect(Array.from(arr)).toEqual([1 + 2 ** -10, Infinity, -3]);
  });

  it('bit patterns: signs, subnormals, infinities, NaN, and every pattern round-trips', () => {
    expect(f16Bits(NaN)).toBe(0x7e00);
    expect(f16Bits(0)).toBe(0);
    expect(f16Bits(-0)).toBe(0x8000);
    expect(f16Bits(-1e-9)).toBe(0x8000);
    expect(f16Bits(Infinity)).toBe(0x7c00);
    expect(f16Bits(-1e6)).toBe(0xfc00);
    expect(f16Bits(2 ** -24)).toBe(1);
    expect(f16Bits(-(2 ** -14 - 2 ** -24))).toBe(0x83ff);
    expect(f16Bits(2 ** -14)).toBe(0x0400);
    expect(f16Bits(1)).toBe(0x3c00);
    expect(f16Bits(-2.5)).toBe(0xc100);
    expect(f16Bits(65504)).toBe(0x7bff);
    expect(f16FromBits(0x7c00)).toBe(Infinity);
    expect(f16FromBits(0xfc00)).toBe(-Infinity);
    expect(f16FromBits(0x7c01)).toBeNaN();
    expect(f16FromBits(0xfe00)).toBeNaN();
    expect(Object.is(f16FromBits(0x8000), -0)).toBe(true);
    expect(f16FromBits(0x8001)).toBe(-(2 ** -24));
    expect(f16FromBits(0x3c01)).toBe(1 + 2 ** -10);
    expect(f16FromBits(0x0400)).toBe(2 ** -14);
    for (let h = 0; h < 0x10000; h++) {
      const v = f16FromBits(h);
      if (Number.isNaN(v)) {
        if ((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) throw new Error(`NaN from ${h.toString(16)}`);
      } else if (f16Bits(v) !== h) throw new Error(`pattern ${h.toString(16)} → ${v} → ${f16Bits(v).toString(16)}`);
    }
  });

  it('encodeF16 pads to an even count; decodeF16 reads the first `length` values', () => {
    const odd = encodeF16([1, -2, 65504]);
    expect(odd).toBeInstanceOf(Uint16Array);
    expect(Array.from(odd)).toEqual([0x3c00, 0xc000, 0x7bff, 0]);
    expect(Array.from(encodeF16([1, 2]))).toEqual([0x3c00, 0x4000]);
    expect(encodeF16([]).length).toBe(0);
    const dec = decodeF16(odd, 3);
    expect(dec).toBeInstanceOf(Float32Array);
    expect(Array.from(dec)).toEqual([1, -2, 65504]);
    expect(Array.from(decodeF16(odd, 2))).toEqual([1, -2]);
  });

  it('refuseHalfRoutine names the routine, the argument and the backend; null and non-storage inputs pass', () => {
    const half = { dtype: 'float16' };
    const f32 = { dtype: 'float32' };
    let caught: unknown;
    try { refuseHalfRoutine('cpu', 'softmax', { x: half }); } catch (e) { caught = e; }
    expect(caught).toBeInstanceOf(WebgradError);
    expect((caught as Error).message).toBe("softmax: x is float16, which the cpu backend's softmax kernel does not support; cast it to float32 first");
    expect(thrown(() => refuseHalfRoutine('webgpu', 'concat', { parts: [f32, half] })))
      .toBe("concat: parts is float16, which the webgpu backend's concat kernel does not support; cast it to float32 first");
    expect(() => refuseHalfRoutine('cpu', 'bn', { gamma: null, x: f32, n: 3, s: 'float16', o: { other: 'float16' } })).not.toThrow();
    const { be, up } = setup();
    expect(thrown(() => be.routine('softmax', { x: up([1, 2], 'float16') }, { rows: 1, cols: 2, log: false })))
      .toBe("softmax: x is float16, which the cpu backend's softmax kernel does not support; cast it to float32 first");
  });

  it('routineFrom returns the own entry and names the backend for an unknown one', () => {
    const table = { softmax: () => 'ok' } as unknown as RoutineTable<null>;
    expect(routineFrom(table, 'cpu', 'softmax')).toBe((table as unknown as { softmax: unknown }).softmax);
    expect(thrown(() => routineFrom(table, 'mybackend', 'gather' as RoutineName))).toBe("mybackend.routine: unknown routine 'gather'");
    expect(thrown(() => routineFrom(table, 'cpu', 'constructor' as RoutineName))).toBe("cpu.routine: unknown routine 'constructor'");
  });
});

describe('cpu routines: core ops (core-ops.ts)', () => {
  it('argReduce: first on ties, first NaN wins, [outer, length, inner] layout, checks', () => {
    const { be, up, vals } = setup();
    const arg = (op: 'argmax' | 'argmin', x: number[], outer: number, length: number, inner: number): number[] =>
      vals(be.routine('argReduce', { x: up(x) }, { op, outer, length, inner }));
    expect(arg('argmax', [1, 3, 3, 2], 1, 4, 1)).toEqual([1]);
    expect(arg('argmin', [2, 1, 1, 3], 1, 4, 1)).toEqual([1]);
    expect(arg('argmax', [1, NaN, 5, NaN], 1, 4, 1)).toEqual([1]);
    expect(arg('argmin', [NaN, -5, NaN], 1, 3, 1)).toEqual([0]);
    expect(arg('argmax', [-Infinity, -Infinity], 1, 2, 1)).toEqual([0]);
    // [2, 3, 2]: per (outer, inner) column
    expect(arg('argmax', [1, 9, 5, 2, 3, 4, 0, 0, 7, -1, 7, 8], 2, 3, 2)).toEqual([1, 0, 1, 2]);
    expect(arg('argmin', [1, 9, 5, 2, 3, 4, 0, 0, 7, -1, 7, 8], 2, 3, 2)).toEqual([0, 1, 0, 1]);
    expect(arg('argmax', [], 0, 3, 2)).toEqual([]);
    const x = up([1, 2]);
    expect(thrown(() => be.routine('argReduce', { x }, { op: 'argmax', outer: 1, length: 0, inner: 2 }))).toBe('cpu.argReduce: length must be at least 1');
    expect(thrown(() => be.routine('argReduce', { x }, { op: 'argmax', outer: -1, length: 2, inner: 1 }))).toBe('cpu.argReduce: outer must be a non-negative integer, got -1');
    expect(thrown(() => be.routine('argReduce', { x }, { op: 'argmax', outer: 1, length: 1.5, inner: 1 }))).toBe('cpu.argReduce: length must be a non-negative integer, got 1.5');
    expect(thrown(() => be.routine('argReduce', { x }, { op: 'argmax', outer: 1, length: 2, inner: -2 }))).toBe('cpu.argReduce: inner must be a non-negative integer, got -2');
    expect(thrown(() => be.routine('argReduce', { x }, { op: 'argmax', outer: 1, length: 3, inner: 1 }))).toBe('cpu.argReduce: x has 2 elements, expected 3');
  });

  it('gather: shared and per-element indices, out-of-range gives NaN (float) or 0 (int32), checks', () => {
    const { be, up, vals } = setup();
    const x = up([10, 11, 20, 21, 30, 31]); // [1, 3, 2]
    const idx = (v: number[]): Storage => up(v, 'int32');
    const shared = vals(be.routine('gather', { x, indices: idx([2, 0, 3, -1]) }, { layout: 'shared', outer: 1, length: 3, inner: 2, count: 4 }));
    expect(shared).toEqual([30, 31, 10, 11, NaN, NaN, NaN, NaN]);
    const per = vals(be.routine('gather', { x, indices: idx([1, 2]) }, { layout: 'perElement', outer: 1, length: 3, inner: 2, count: 1 }));
    expect(per).toEqual([20, 31]);
    const xi = up([5, 6, 7, 8], 'int32'); // [2, 2, 1]
    expect(vals(be.routine('gather', { x: xi, indices: idx([1, 2]) }, { layout: 'shared', outer: 2, length: 2, inner: 1, count: 2 }))).toEqual([6, 0, 8, 0]);
    expect(vals(be.routine('gather', { x: xi, indices: idx([0, 1]) }, { layout: 'perElement', outer: 2, length: 2, inner: 1, count: 1 }))).toEqual([5, 8]);
    const g = { layout: 'shared', outer: 1, length: 3, inner: 2, count: 2 } as const;
    expect(thrown(() => be.routine('gather', { x, indices: up([0, 1]) }, g))).toBe('cpu.gather: indices must be int32, got float64');
    expect(thrown(() => be.routine('gather', { x, indices: idx([0]) }, g))).toBe('cpu.gather: indices has 1 elements, expected 2');
    expect(thrown(() => be.routine('gather', { x, indices: idx([0, 1]) }, { ...g, layout: 'perElement' }))).toBe('cpu.gather: indices has 2 elements, expected 4');
    expect(thrown(() => be.routine('gather', { x, indices: idx([0, 1]) }, { ...g, length: 2 }))).toBe('cpu.gather: x has 6 elements, expected 4');
    expect(thrown(() => be.routine('gather', { x, indices: idx([0, 1]) }, { ...g, count: -1 }))).toBe('cpu.gather: count must be a non-negative integer, got -1');
    expect(thrown(() => be.routine('gather', { x, indices: {} as Storage }, g))).toBe('cpu.gather: indices is not a CPU storage');
  });

  it('scatterAdd: repeated indices accumulate, out-of-range ones are skipped, checks', () => {
    const { be, up, vals } = setup();
    const src = up([1, 2, 3, 4, 5, 6]); // [1, 3, 2]
    const idx = (v: number[]): Storage => up(v, 'int32');
    const s = (indices: Storage, layout: 'shared' | 'perElement', length: number): number[] =>
      vals(be.routine('scatterAdd', { src, indices }, { layout, outer: 1, length, inner: 2, count: 3 }));
    expect(s(idx([1, 1, 0]), 'shared', 2)).toEqual([5, 6, 4, 6]);
    expect(s(idx([2, -1, 0]), 'shared', 3)).toEqual([5, 6, 0, 0, 1, 2]);
    expect(s(idx([0, 1, 1, 0, 3, 1]), 'perElement', 2)).toEqual([1, 4, 3, 2 + 6]);
    expect(vals(be.routine('scatterAdd', { src: up([7, 9], 'int32'), indices: idx([0, 0]) }, { layout: 'shared', outer: 1, length: 1, inner: 1, count: 2 }))).toEqual([16]);
    expect(thrown(() => be.routine('scatterAdd', { src, indices: idx([0, 1, 2]) }, { layout: 'shared', outer: 1, length: 3, inner: 2, count: 2 })))
      .toBe('cpu.scatterAdd: src has 6 elements, expected 4');
    expect(thrown(() => be.routine('scatterAdd', { src, indices: up([0, 1, 2], 'float32') }, { layout: 'shared', outer: 1, length: 3, inner: 2, count: 3 })))
      .toBe('cpu.scatterAdd: indices must be int32, got float32');
    expect(thrown(() => be.routine('scatterAdd', { src, indices: idx([0]) }, { layout: 'shared', outer: 1, length: -3, inner: 2, count: 3 })))
      .toBe('cpu.scatterAdd: length must be a non-negative integer, got -3');
  });

  it('select: NaN is true, −0 is false; dtype and length checks', () => {
    const { be, up, vals } = setup();
    const out = vals(be.routine('select', { cond: up([1, 0, NaN, -0, -2]), a: up([1, 2, 3, 4, 5]), b: up([-1, -2, -3, -4, -5]) }, {}));
    expect(out).toEqual([1, -2, 3, -4, 5]);
    expect(vals(be.routine('select', { cond: up([0, 1], 'int32'), a: up([1, 2], 'int32'), b: up([7, 8], 'int32') }, {}))).toEqual([7, 2]);
    expect(thrown(() => be.routine('select', { cond: up([1]), a: up([1]), b: up([1], 'float32') }, {}))).toBe('cpu.select: a and b have different dtypes (float64, float32)');
    expect(thrown(() => be.routine('select', { cond: up([1, 0]), a: up([1]), b: up([1]) }, {}))).toBe('cpu.select: cond has 2 elements, expected 1');
    expect(thrown(() => be.routine('select', { cond: up([1]), a: up([1]), b: up([1, 2]) }, {}))).toBe('cpu.select: b has 2 elements, expected 1');
  });

  it('stridedWrite: writes through strides in place, bounds and argument checks', () => {
    const { be, up, vals } = setup();
    const dst = up([0, 0, 0, 0, 0, 0]);
    be.routine('stridedWrite', { dst, src: up([1, 2, 3, 4]) }, { srcShape: [2, 2], strides: [1, 3], offset: 1 });
    expect(vals(dst)).toEqual([0, 1, 3, 0, 2, 4]);
    be.routine('stridedWrite', { dst, src: up([7, 8]) }, { srcShape: [2], strides: [-5], offset: 5 });
    expect(vals(dst)).toEqual([8, 1, 3, 0, 2, 7]);
    be.routine('stridedWrite', { dst, src: up([]) }, { srcShape: [0, 3], strides: [1, 1], offset: 99 });
    be.routine('stridedWrite', { dst, src: up([9]) }, { srcShape: [], strides: [], offset: 3 });
    expect(vals(dst)).toEqual([8, 1, 3, 9, 2, 7]);
    const p = { srcShape: [2], strides: [1], offset: 0 };
    expect(thrown(() => be.routine('stridedWrite', { dst, src: up([1, 2], 'float32') }, p))).toBe('cpu.stridedWrite: dst and src have different dtypes (float64, float32)');
    expect(thrown(() => be.routine('stridedWrite', { dst, src: up([1, 2]) }, { ...p, strides: [1, 1] }))).toBe('cpu.stridedWrite: need 1 integer strides and an integer offset');
    expect(thrown(() => be.routine('stridedWrite', { dst, src: up([1, 2]) }, { ...p, strides: [0.5] }))).toBe('cpu.stridedWrite: need 1 integer strides and an integer offset');
    expect(thrown(() => be.routine('stridedWrite', { dst, src: up([1, 2]) }, { ...p, offset: 0.5 }))).toBe('cpu.stridedWrite: need 1 integer strides and an integer offset');
    expect(thrown(() => be.routine('stridedWrite', { dst, src: up([1, 2, 3]) }, p))).toBe('cpu.stridedWrite: src has 3 elements, expected 2');
    expect(thrown(() => be.routine('stridedWrite', { dst, src: up([1, 2]) }, { ...p, offset: 5 }))).toBe("cpu.stridedWrite: the view writes indices 5..6, outside dst's 6 elements");
    expect(thrown(() => be.routine('stridedWrite', { dst, src: up([1, 2]) }, { ...p, strides: [-1] }))).toBe("cpu.stridedWrite: the view writes indices -1..0, outside dst's 6 elements");
    expect(vals(dst)).toEqual([8, 1, 3, 9, 2, 7]); // nothing written by a refused call
    be.routine('stridedWrite', { dst, src: up([5, 6]) }, { ...p, offset: 4 }); // exactly fits at the end
    expect(vals(dst)).toEqual([8, 1, 3, 9, 5, 6]);
  });

  it('cumsum: forward and reverse along the middle axis, checks', () => {
    const { be, up, vals } = setup();
    const x = up([1, 2, 3, 4, 5, 6]); // [1, 3, 2]
    const c = (reverse: boolean): number[] => vals(be.routine('cumsum', { x }, { outer: 1, length: 3, inner: 2, reverse }));
    expect(c(false)).toEqual([1, 2, 4, 6, 9, 12]);
    expect(c(true)).toEqual([9, 12, 8, 10, 5, 6]);
    expect(vals(be.routine('cumsum', { x }, { outer: 2, length: 3, inner: 1, reverse: false }))).toEqual([1, 3, 6, 4, 9, 15]);
    expect(vals(be.routine('cumsum', { x: up([I32_MAX, 1], 'int32') }, { outer: 1, length: 2, inner: 1, reverse: false }))).toEqual([I32_MAX, I32_MIN]);
    expect(thrown(() => be.routine('cumsum', { x }, { outer: 1, length: 4, inner: 2, reverse: false }))).toBe('cpu.cumsum: x has 6 elements, expected 8');
    expect(thrown(() => be.routine('cumsum', { x }, { outer: 1, length: 6, inner: -1, reverse: false }))).toBe('cpu.cumsum: inner must be a non-negative integer, got -1');
  });
});

describe('cpu routines: convolution and pooling (conv.ts)', () => {
  const geo = (over: Partial<Conv2dGeometry> = {}): Conv2dGeometry => ({
    n: 1, cin: 1, h: 3, w: 3, cout: 1, kh: 2, kw: 2, hout: 2, wout: 2,
    strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1, groups: 1, ...over,
  });
  const pool = (over: Partial<Pool2dGeometry> = {}): Pool2dGeometry => ({
    planes: 1, h: 3, w: 3, hout: 2, wout: 2, kh: 2, kw: 2, strideH: 1, strideW: 1, padH: 0, padW: 0,
    adaptive: false, countIncludePad: false, ...over,
  });

  it('conv2d: padding, stride, dilation, groups and bias against direct sums', () => {
    const { be, up, vals } = setup();
    const X = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const W = [1, 10, 100, 1000];
    expect(vals(be.routine('conv2d', { x: up(X), weight: up(W), bias: null }, geo())))
      .toEqual([1 + 20 + 400 + 5000, 2 + 30 + 500 + 6000, 4 + 50 + 700 + 8000, 5 + 60 + 800 + 9000]);
    // padding 1, stride 2: windows start at -1 and 1 → taps inside the input only
    expect(vals(be.routine('conv2d', { x: up(X), weight: up(W), bias: up([0.5]) }, geo({ padH: 1, padW: 1, strideH: 2, strideW: 2 }))))
      .toEqual([1000 * 1 + 0.5, 100 * 2 + 1000 * 3 + 0.5, 10 * 4 + 1000 * 7 + 0.5, 1 * 5 + 10 * 6 + 100 * 8 + 1000 * 9 + 0.5]);
    // dilation 2 on a 3x3 input: one output, the four corners
    expect(vals(be.routine('conv2d', { x: up(X), weight: up(W), bias: null }, geo({ dilationH: 2, dilationW: 2, hout: 1, wout: 1 }))))
      .toEqual([1 + 30 + 700 + 9000]);
    // groups 2: cin 2, cout 4 (two output channels per group), 1x1 kernels, bias per output channel
    const x2 = up([1, 2, 3, 4]); // [1, 2, 1, 2]
    const w2 = up([1, 2, 3, 4]); // [4, 1, 1, 1]
    const g2 = geo({ cin: 2, cout: 4, h: 1, w: 2, kh: 1, kw: 1, hout: 1, wout: 2, groups: 2 });
    expect(vals(be.routine('conv2d', { x: x2, weight: w2, bias: up([0, 10, 20, 30]) }, g2))).toEqual([1, 2, 12, 14, 29, 32, 42, 46]);
    // backward input / weight against the adjoint identity <conv(x, w), dy> = <x, dX> = <w, dW>
    const dy = [1, -2, 3, 5, 7, -11, 13, 17];
    const dX = vals(be.routine('conv2dBackwardInput', { dy: up(dy), weight: w2 }, g2));
    expect(dX).toEqual([1 * 1 + 2 * 3, 1 * -2 + 2 * 5, 3 * 7 + 4 * 13, 3 * -11 + 4 * 17]);
    const dW = vals(be.routine('conv2dBackwardWeight', { x: x2, dy: up(dy) }, g2));
    expect(dW).toEqual([1 * 1 + 2 * -2, 1 * 3 + 2 * 5, 3 * 7 + 4 * -11, 3 * 13 + 4 * 17]);
  });

  it('conv operands: lengths and int32 refused with full messages', () => {
    const { be, up } = setup();
    const X = up([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const W = up([1, 2, 3, 4]);
    expect(thrown(() => be.routine('conv2d', { x: up([1, 2]), weight: W, bias: null }, geo()))).toBe('cpu.conv2d: x has 2 elements, expected 9');
    expect(thrown(() => be.routine('conv2d', { x: X, weight: up([1]), bias: null }, geo()))).toBe('cpu.conv2d: weight has 1 elements, expected 4');
    expect(thrown(() => be.routine('conv2d', { x: X, weight: W, bias: up([1, 2]) }, geo()))).toBe('cpu.conv2d: bias has 2 elements, expected 1');
    expect(thrown(() => be.routine('conv2d', { x: up([1, 2, 3, 4, 5, 6, 7, 8, 9], 'int32'), weight: W, bias: null }, geo())))
      .toBe('cpu.conv2d: x must be floating point, got int32');
    expect(thrown(() => be.routine('conv2dBackwardInput', { dy: up([1, 2, 3]), weight: W }, geo()))).toBe('cpu.conv2dBackwardInput: dy has 3 elements, expected 4');
    expect(thrown(() => be.routine('conv2dBackwardWeight', { x: X, dy: up([1, 2, 3, 4], 'int32') }, geo())))
      .toBe('cpu.conv2dBackwardWeight: dy must be floating point, got int32');
    expect(thrown(() => be.routine('maxPool2dBackward', { dy: up([1, 2, 3, 4]), indices: up([0, 1, 2], 'int32') }, pool())))
      .toBe('cpu.maxPool2dBackward: indices has 3 elements, expected 4');
    expect(thrown(() => be.routine('avgPool2d', { x: up([1, 2]) }, pool()))).toBe('cpu.avgPool2d: x has 2 elements, expected 9');
    expect(thrown(() => be.routine('avgPool2dBackward', { dy: up([1, 2, 3, 4], 'int32') }, pool()))).toBe('cpu.avgPool2dBackward: dy must be floating point, got int32');
    expect(thrown(() => be.routine('maxPool2d', { x: up([1]) }, pool()))).toBe('cpu.maxPool2d: x has 1 elements, expected 9');
  });

  it('maxPool2d: first maximum, the last NaN wins, all −Inf gives the first index; backward routes by index', () => {
    const { be, up, vals } = setup();
    const r = be.routine('maxPool2d', { x: up([1, 5, 5, 5, 2, NaN, -1, NaN, 0]) }, pool());
    expect(vals(r.values)).toEqual([5, NaN, NaN, NaN]);
    expect(vals(r.indices)).toEqual([1, 5, 7, 7]); // window (1, 1) holds NaN at 5 and 7: the last wins
    const inf = be.routine('maxPool2d', { x: up([-Infinity, -Infinity, -Infinity, -Infinity]) }, pool({ h: 2, w: 2, hout: 1, wout: 1 }));
    expect([vals(inf.values), vals(inf.indices)]).toEqual([[-Infinity], [0]]);
    // padding 1, stride 2 on 3x3: windows clipped to the input
    const padded = be.routine('maxPool2d', { x: up([1, 2, 3, 4, 5, 6, 7, 8, 9]) }, pool({ padH: 1, padW: 1, strideH: 2, strideW: 2 }));
    expect([vals(padded.values), vals(padded.indices)]).toEqual([[1, 3, 7, 9], [0, 2, 6, 8]]);
    // two planes, overlapping windows accumulate; indices outside the plane are skipped
    const dx = be.routine('maxPool2dBackward', { dy: up([1, 2, 4, 8, 16, 32, 64, 128]), indices: up([4, 4, 4, -1, 0, 9, 8, 8], 'int32') }, pool({ planes: 2 }));
    expect(vals(dx)).toEqual([0, 0, 0, 0, 7, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 192]);
  });

  it('avgPool2d: divisor with and without padding counted, adaptive windows; backward spreads dy / divisor', () => {
    const { be, up, vals } = setup();
    const X = up([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(vals(be.routine('avgPool2d', { x: X }, pool()))).toEqual([3, 4, 6, 7]);
    const padded = pool({ padH: 1, padW: 1, strideH: 2, strideW: 2 });
    expect(vals(be.routine('avgPool2d', { x: X }, padded))).toEqual([1, 2.5, 5.5, 7]);
    expect(vals(be.routine('avgPool2d', { x: X }, { ...padded, countIncludePad: true }))).toEqual([0.25, 1.25, 2.75, 7]);
    // adaptive 3 → 2: rows [0, 2) and [1, 3); countIncludePad is ignored
    const ad = pool({ adaptive: true, countIncludePad: true, kh: 9, kw: 9, strideH: 5, padH: 4 });
    expect(vals(be.routine('avgPool2d', { x: X }, ad))).toEqual([3, 4, 6, 7]);
    const ad2 = pool({ w: 3, h: 1, hout: 1, wout: 2, adaptive: true });
    expect(vals(be.routine('avgPool2d', { x: up([1, 2, 3]) }, ad2))).toEqual([1.5, 2.5]);
    expect(vals(be.routine('avgPool2dBackward', { dy: up([4, 8, 12, 16]) }, pool()))).toEqual([1, 3, 2, 4, 10, 6, 3, 7, 4]);
    expect(vals(be.routine('avgPool2dBackward', { dy: up([4, 8, 12, 16]) }, { ...padded, countIncludePad: true }))).toEqual([1, 2, 2, 3, 4, 4, 3, 4, 4]);
    expect(vals(be.routine('avgPool2dBackward', { dy: up([4, 8]) }, ad2))).toEqual([2, 6, 4]);
  });
});

describe('cpu routine table (cpu/routines.ts): operand checks and counted results', () => {
  it('names the routine, the operand and the expected count; dtypes must agree', () => {
    const { be, up } = setup();
    const x = up([1, 2, 3, 4, 5, 6]);
    expect(thrown(() => be.routine('softmax', { x }, { rows: 2, cols: 2, log: false }))).toBe('cpu.softmax: x has 6 elements, expected 4');
    expect(thrown(() => be.routine('softmaxGrad', { y: x, dy: up([1, 2, 3, 4, 5, 6], 'float32') }, { rows: 2, cols: 3, log: false })))
      .toBe('cpu.softmaxGrad: dtypes differ (float64 and float32)');
    expect(thrown(() => be.routine('softmaxGrad', { y: x, dy: up([1]) }, { rows: 2, cols: 3, log: true }))).toBe('cpu.softmaxGrad: dy has 1 elements, expected 6');
    expect(thrown(() => be.routine('softmaxCrossEntropy', { logits: x, labels: up([0, 1]) }, { n: 2, c: 3 }))).toBe('cpu.softmaxCrossEntropy: labels must be 2 int32 values');
    expect(thrown(() => be.routine('softmaxCrossEntropy', { logits: x, labels: up([0], 'int32') }, { n: 2, c: 3 }))).toBe('cpu.softmaxCrossEntropy: labels must be 2 int32 values');
    expect(thrown(() => be.routine('softmaxCrossEntropyGrad', { logits: x, labels: up([0, 1], 'int32'), dLoss: up([1]) }, { n: 2, c: 3 })))
      .toBe('cpu.softmaxCrossEntropyGrad: dLoss has 1 elements, expected 2');
    expect(thrown(() => be.routine('softmaxCrossEntropyGrad', { logits: x, labels: up([0, 1]), dLoss: up([1, 1]) }, { n: 2, c: 3 })))
      .toBe('cpu.softmaxCrossEntropyGrad: labels must be 2 int32 values');
    expect(thrown(() => be.routine('batchNormApply', { x, mean: up([0, 0]), variance: up([1, 1]), gamma: up([1]), beta: null }, { n: 3, c: 2, eps: 0 })))
      .toBe('cpu.batchNormApply: gamma has 1 elements, expected 2');
    expect(thrown(() => be.routine('batchNormApply', { x, mean: up([0, 0], 'float32'), variance: up([1, 1]), gamma: null, beta: null }, { n: 3, c: 2, eps: 0 })))
      .toBe('cpu.batchNormApply: dtypes differ (float64 and float32)');
    expect(thrown(() => be.routine('batchNormStats', { x }, { n: 2, c: 2 }))).toBe('cpu.batchNormStats: x has 6 elements, expected 4');
    expect(thrown(() => be.routine('batchNorm2dStats', { x }, { n: 1, c: 2, hw: 2 }))).toBe('cpu.batchNorm2dStats: x has 6 elements, expected 4');
    expect(thrown(() => be.routine('batchNormBackward', { x, dy: x, mean: up([0]), variance: up([1, 1]), gamma: null }, { n: 3, c: 2, eps: 0 })))
      .toBe('cpu.batchNormBackward: mean has 1 elements, expected 2');
    expect(thrown(() => be.routine('batchNorm2dBackward', { x, dy: up([1]), mean: up([0, 0]), variance: up([1, 1]), gamma: null }, { n: 3, c: 2, hw: 1, eps: 0 })))
      .toBe('cpu.batchNorm2dBackward: dy has 1 elements, expected 6');
    expect(thrown(() => be.routine('batchNorm2dApply', { x, mean: up([0, 0]), variance: up([1]), gamma: null, beta: null }, { n: 3, c: 2, hw: 1, eps: 0 })))
      .toBe('cpu.batchNorm2dApply: variance has 1 elements, expected 2');
    expect(thrown(() => be.routine('activationGradFromOutput', { y: x, dy: up([1]) }, { op: 'relu', param: 0 })))
      .toBe('cpu.activationGradFromOutput: dy has 1 elements, expected 6');
    expect(thrown(() => be.routine('sgdStep', { param: x, grad: up([1]), velocity: null }, { lr: 1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false })))
      .toBe('cpu.sgdStep: grad has 1 elements, expected 6');
    expect(thrown(() => be.routine('sgdStep', { param: x, grad: x, velocity: up([1]) }, { lr: 1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false })))
      .toBe('cpu.sgdStep: velocity has 1 elements, expected 6');
    const adam = { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, biasCorrection1: 0.1, biasCorrection2: 0.001 };
    expect(thrown(() => be.routine('adamStep', { param: x, grad: x, m: x, v: up([1]) }, adam))).toBe('cpu.adamStep: v has 1 elements, expected 6');
    expect(thrown(() => be.routine('adamStep', { param: x, grad: x, m: up([1, 2, 3, 4, 5, 6], 'float32'), v: x }, adam))).toBe('cpu.adamStep: dtypes differ (float64 and float32)');
  });

  it('dropout: p outside [0, 1) is refused with its value; p = 0 keeps x; the mask follows the Philox stream', () => {
    const { be, up, vals } = setup();
    const x = up([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const p of [1, -0.1, NaN, 1.5]) {
      expect(thrown(() => be.routine('dropout', { x }, { p, seed: 1, offset: 0 }))).toBe(`cpu.dropout: p must be in [0, 1), got ${p}`);
    }
    expect(vals(be.routine('dropout', { x }, { p: 0, seed: 1, offset: 0 }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const u = Array.from(philoxUniform(9, 4, 8));
    // float64 data: the exact double scale (PyTorch's double dropout); float32: the f32 scale the GPU uses.
    expect(vals(be.routine('dropout', { x }, { p: 0.3, seed: 9, offset: 4 }))).toEqual(u.map((v, i) => (v >= 0.3 ? (i + 1) * (1 / (1 - 0.3)) : 0)));
    const x32 = up([1, 2, 3, 4, 5, 6, 7, 8], 'float32');
    const scale32 = Math.fround(1 / (1 - 0.3));
    expect(vals(be.routine('dropout', { x: x32 }, { p: 0.3, seed: 9, offset: 4 }))).toEqual(u.map((v, i) => (v >= 0.3 ? Math.fround((i + 1) * scale32) : 0)));
  });

  it('every routine result is counted in memoryStats (one buffer per returned storage)', () => {
    const { be, up } = setup();
    const x = up([1, 2, 3, 4]);
    const before = be.memoryStats().buffersCreated;
    be.routine('cumsum', { x }, { outer: 1, length: 4, inner: 1, reverse: false });
    be.routine('select', { cond: x, a: x, b: x }, {});
    be.routine('gather', { x, indices: up([0], 'int32') }, { layout: 'shared', outer: 1, length: 4, inner: 1, count: 1 });
    be.routine('scatterAdd', { src: x, indices: up([0, 0, 0, 0], 'int32') }, { layout: 'shared', outer: 1, length: 1, inner: 1, count: 4 });
    const p = { planes: 1, h: 2, w: 2, hout: 1, wout: 1, kh: 2, kw: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, adaptive: false, countIncludePad: false };
    const mp = be.routine('maxPool2d', { x }, p);
    be.routine('maxPool2dBackward', { dy: up([1]), indices: mp.indices }, p);
    be.routine('avgPool2d', { x }, p);
    be.routine('avgPool2dBackward', { dy: up([1]) }, p);
    const g = { n: 1, cin: 1, h: 2, w: 2, cout: 1, kh: 1, kw: 1, hout: 2, wout: 2, strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1, groups: 1 };
    be.routine('conv2d', { x, weight: up([2]), bias: null }, g);
    be.routine('conv2dBackwardInput', { dy: x, weight: up([2]) }, g);
    be.routine('conv2dBackwardWeight', { x, dy: x }, g);
    // uploads: indices ×2, dy ×2, weight ×2 = 6; results: 1+1+1+1+2+1+1+1+1+1+1 = 12
    expect(be.memoryStats().buffersCreated - before).toBe(18);
  });
});

describe('cpu routines: optimizer steps (optimizer.ts) against PyTorch-order closed forms', () => {
  const sgd = { lr: 0.1, momentum: 0.9, dampening: 0.2, weightDecay: 0.01, nesterov: false, firstStep: false };
  const cases: [boolean, boolean, number[], number[]][] = [
    // [nesterov, firstStep, param after, velocity after] (computed in float64 by PyTorch's update order)
    [true, false, [0.90418, -2.02336], [0.49800000000000005, 0.0040000000000000036]],
    [true, true, [0.9031, -2.0437], [0.51, 0.23]],
    [false, false, [0.9501999999999999, -2.0004], [0.49800000000000005, 0.0040000000000000036]],
    [false, true, [0.949, -2.023], [0.51, 0.23]],
  ];
  it('sgdStep: weight decay, dampening, nesterov and the first step, in place', () => {
    for (const [nesterov, firstStep, p, v] of cases) {
      const { be, up, vals } = setup();
      const param = up([1, -2]);
      const velocity = up([0.1, -0.2]);
      be.routine('sgdStep', { param, grad: up([0.5, 0.25]), velocity }, { ...sgd, nesterov, firstStep });
      vals(param).forEach((x, i) => close(x, p[i]!, 1e-15));
      vals(velocity).forEach((x, i) => close(x, v[i]!, 1e-15));
    }
  });

  it('sgdStep without momentum leaves a given velocity alone; without a velocity it is plain SGD', () => {
    const { be, up, vals } = setup();
    const param = up([1, -2]);
    const velocity = up([0.1, -0.2]);
    be.routine('sgdStep', { param, grad: up([0.5, 0.25]), velocity }, { ...sgd, momentum: 0 });
    expect(vals(velocity)).toEqual([0.1, -0.2]);
    vals(param).forEach((x, i) => close(x, [1 - 0.1 * 0.51, -2 - 0.1 * 0.23][i]!, 1e-15));
    const p2 = up([1, -2]);
    be.routine('sgdStep', { param: p2, grad: up([0.5, 0.25]), velocity: null }, sgd);
    vals(p2).forEach((x, i) => close(x, [1 - 0.1 * 0.51, -2 - 0.1 * 0.23][i]!, 1e-15));
  });

  it('adamStep: L2 (Adam) and decoupled (AdamW) weight decay, bias-corrected moments, in place', () => {
    const want: [boolean, number[], number[], number[]][] = [
      [false, [0.980845036333172, -1.9932337359764367], [0.096, -0.06700000000000002], [0.010250100000000002, 0.040012900000000004]],
      [true, [0.9800352213704551, -1.9914365013256832], [0.095, -0.06500000000000002], [0.01024, 0.0400225]],
    ];
    for (const [decoupled, p, m, v] of want) {
      const { be, up, vals } = setup();
      const param = up([1, -2]);
      const ms = up([0.05, -0.1]);
      const vs = up([0.01, 0.04]);
      be.routine('adamStep', { param, grad: up([0.5, 0.25]), m: ms, v: vs }, {
        lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled, biasCorrection1: 1 - 0.9 ** 3, biasCorrection2: 1 - 0.999 ** 3,
      });
      vals(param).forEach((x, i) => close(x, p[i]!, 1e-14));
      vals(ms).forEach((x, i) => close(x, m[i]!, 1e-14));
      vals(vs).forEach((x, i) => close(x, v[i]!, 1e-14));
    }
  });
});

describe('cpu routines: batch norm, softmax, activation from output (closed forms)', () => {
  // x [3, 2], eps 0.5, gamma [2, 1], beta [0.5, −1]; expected values from the formulas in float64 (NumPy order).
  const X = [0, 10, 1, 20, 5, 60];
  const DY = [1, 2, -3, 4, 5, -6];
  const MEAN = [2, 30];
  const VAR = [4.666666666666667, 466.6666666666667];
  const OUT = [-1.2597653802562396, -1.9253245229149678, -0.3798826901281198, -1.462662261457484, 3.1396480703843594, 0.3879867843724518];
  const DX = [1.8165320054257958, -0.07912960690071982, -2.611264757799581, 0.09923387498688527, 0.7947327523737849, -0.02010426808616543];
  const DG = [7.0390615210249585, -12.029218797894583];
  const DB = [3, 0];
  /** [n, c] row-major → [1, c, n] (NCHW with hw = n): the same statistics per channel. */
  const toPlanes = (v: number[]): number[] => [v[0]!, v[2]!, v[4]!, v[1]!, v[3]!, v[5]!];
  const near = (got: number[], want: number[]): void => { got.forEach((g, i) => close(g, want[i]!, 1e-13)); expect(got.length).toBe(want.length); };

  it('batchNorm over [n, c] and batchNorm2d over [n, c, hw]: stats, apply, backward', () => {
    const { be, up, vals } = setup();
    const s = be.routine('batchNormStats', { x: up(X) }, { n: 3, c: 2 });
    near(vals(s.mean), MEAN);
    near(vals(s.variance), VAR);
    const gamma = up([2, 1]);
    const beta = up([0.5, -1]);
    near(vals(be.routine('batchNormApply', { x: up(X), mean: up(MEAN), variance: up(VAR), gamma, beta }, { n: 3, c: 2, eps: 0.5 })), OUT);
    const plain = vals(be.routine('batchNormApply', { x: up(X), mean: up(MEAN), variance: up(VAR), gamma: null, beta: null }, { n: 3, c: 2, eps: 0.5 }));
    near(plain, OUT.map((v, i) => (i % 2 === 0 ? (v - 0.5) / 2 : v + 1)));
    const b = be.routine('batchNormBackward', { x: up(X), dy: up(DY), mean: up(MEAN), variance: up(VAR), gamma }, { n: 3, c: 2, eps: 0.5 });
    near(vals(b.dx), DX);
    near(vals(b.dgamma), DG);
    near(vals(b.dbeta), DB);
    const bNoGamma = be.routine('batchNormBackward', { x: up(X), dy: up(DY), mean: up(MEAN), variance: up(VAR), gamma: null }, { n: 3, c: 2, eps: 0.5 });
    near(vals(bNoGamma.dx), DX.map((v, i) => (i % 2 === 0 ? v / 2 : v)));

    for (const [n, hw, x, dy, out, dx] of [[3, 1, X, DY, OUT, DX], [1, 3, toPlanes(X), toPlanes(DY), toPlanes(OUT), toPlanes(DX)]] as const) {
      const s2 = be.routine('batchNorm2dStats', { x: up([...x]) }, { n, c: 2, hw });
      near(vals(s2.mean), MEAN);
      near(vals(s2.variance), VAR);
      near(vals(be.routine('batchNorm2dApply', { x: up([...x]), mean: up(MEAN), variance: up(VAR), gamma, beta }, { n, c: 2, hw, eps: 0.5 })), [...out]);
      const b2 = be.routine('batchNorm2dBackward', { x: up([...x]), dy: up([...dy]), mean: up(MEAN), variance: up(VAR), gamma }, { n, c: 2, hw, eps: 0.5 });
      near(vals(b2.dx), [...dx]);
      near(vals(b2.dgamma), DG);
      near(vals(b2.dbeta), DB);
      const plain2 = vals(be.routine('batchNorm2dApply', { x: up([...x]), mean: up(MEAN), variance: up(VAR), gamma: null, beta: null }, { n, c: 2, hw, eps: 0.5 }));
      near(plain2, n === 3 ? plain : toPlanes(plain));
    }
    // two batches of two planes: channel j of sample b starts at (b·c + j)·hw
    const x4 = [1, 2, 10, 20, 3, 4, 30, 40]; // [2, 2, 2]
    const s4 = be.routine('batchNorm2dStats', { x: up(x4) }, { n: 2, c: 2, hw: 2 });
    near(vals(s4.mean), [2.5, 25]);
    near(vals(s4.variance), [1.25, 125]);
  });

  it('softmax and logSoftmax with the max subtracted; their gradients from the output', () => {
    const { be, up, vals } = setup();
    const x = up([1, 2, 3, 1000, 1000, -Infinity]);
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const sum = e[0]! + e[1]! + e[2]!;
    const sm = vals(be.routine('softmax', { x }, { rows: 2, cols: 3, log: false }));
    near(sm, [e[0]! / sum, e[1]! / sum, 1 / sum, 0.5, 0.5, 0]);
    const lsm = vals(be.routine('softmax', { x }, { rows: 2, cols: 3, log: true }));
    near(lsm, [-2 - Math.log(sum), -1 - Math.log(sum), -Math.log(sum), -Math.LN2, -Math.LN2, -Infinity]);
    const y = up([0.2, 0.3, 0.5]);
    const dy = up([1, -2, 4]);
    const dot = 0.2 - 0.6 + 2;
    near(vals(be.routine('softmaxGrad', { y, dy }, { rows: 1, cols: 3, log: false })), [0.2 * (1 - dot), 0.3 * (-2 - dot), 0.5 * (4 - dot)]);
    const ly = up([Math.log(0.2), Math.log(0.3), Math.log(0.5)]);
    near(vals(be.routine('softmaxGrad', { y: ly, dy }, { rows: 1, cols: 3, log: true })), [1 - 0.2 * 3, -2 - 0.3 * 3, 4 - 0.5 * 3]);
  });

  it('softmax cross-entropy and its gradient per row, scaled by dLoss; labels checked in both', () => {
    const { be, up, vals } = setup();
    const logits = up([1, 2, 3, 1000, 0, 1000]);
    const labels = up([0, 2], 'int32');
    const lse0 = 3 + Math.log(Math.exp(-2) + Math.exp(-1) + 1);
    near(vals(be.routine('softmaxCrossEntropy', { logits, labels }, { n: 2, c: 3 })), [lse0 - 1, Math.LN2]);
    const g = vals(be.routine('softmaxCrossEntropyGrad', { logits, labels, dLoss: up([2, -1]) }, { n: 2, c: 3 }));
    near(g, [2 * (Math.exp(1 - lse0) - 1), 2 * Math.exp(2 - lse0), 2 * Math.exp(3 - lse0), -0.5, -0, -(0.5 - 1)]);
    expect(thrown(() => be.routine('softmaxCrossEntropyGrad', { logits, labels: up([0, 3], 'int32'), dLoss: up([1, 1]) }, { n: 2, c: 3 })))
      .toBe('cpu.softmaxCrossEntropyGrad: label 3 at row 1 is outside the 3 classes [0, 3)');
    expect(thrown(() => be.routine('softmaxCrossEntropyGrad', { logits, labels: up([-1, 0], 'int32'), dLoss: up([1, 1]) }, { n: 2, c: 3 })))
      .toBe('cpu.softmaxCrossEntropyGrad: label -1 at row 0 is outside the 3 classes [0, 3)');
    expect(thrown(() => be.routine('softmaxCrossEntropy', { logits, labels: up([2, 3], 'int32') }, { n: 2, c: 3 })))
      .toBe('cpu.softmaxCrossEntropy: label 3 at row 1 is outside the 3 classes [0, 3)');
  });

  it('activationGradFromOutput: derivatives through y at the edges (0, 6, NaN)', () => {
    const { be, up, vals } = setup();
    const d = (op: 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'leakyRelu', ys: number[], param = 0): number[] =>
      vals(be.routine('activationGradFromOutput', { y: up(ys), dy: up(ys.map(() => 3)) }, { op, param }));
    expect(d('relu', [-0, 0, 2, NaN])).toEqual([0, 0, 3, 3]);
    expect(d('relu6', [0, 3, 6, NaN])).toEqual([0, 3, 0, 0]);
    expect(d('sigmoid', [0.25])).toEqual([3 * 0.25 * 0.75]);
    expect(d('tanh', [0.5])).toEqual([3 * 0.75]);
    expect(d('leakyRelu', [-1, 0, 2], 0.5)).toEqual([1.5, 1.5, 3]);
  });
});

describe('cpu routines: every operand check names its routine and operand', () => {
  it('a short operand is refused naming the routine, the operand and the expected count', () => {
    const { be, up } = setup();
    const s6 = (): Storage => up([1, 2, 3, 4, 5, 6]);
    const short = up([1]);
    const bn = { n: 3, c: 2, eps: 0 };
    const bn2 = { n: 3, c: 2, hw: 1, eps: 0 };
    const m2 = (): Storage => up([0, 0]);
    const v2 = (): Storage => up([1, 1]);
    const sgd = { lr: 1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false };
    const adam = { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, biasCorrection1: 0.1, biasCorrection2: 0.001 };
    const cases: [string, () => unknown, string, number][] = [
      ['activationGradFromOutput', () => be.routine('activationGradFromOutput', { y: s6(), dy: short }, { op: 'relu', param: 0 }), 'dy', 6],
      ['batchNormApply', () => be.routine('batchNormApply', { x: short, mean: m2(), variance: v2(), gamma: null, beta: null }, bn), 'x', 6],
      ['batchNormApply', () => be.routine('batchNormApply', { x: s6(), mean: short, variance: v2(), gamma: null, beta: null }, bn), 'mean', 2],
      ['batchNormApply', () => be.routine('batchNormApply', { x: s6(), mean: m2(), variance: short, gamma: null, beta: null }, bn), 'variance', 2],
      ['batchNormApply', () => be.routine('batchNormApply', { x: s6(), mean: m2(), variance: v2(), gamma: null, beta: short }, bn), 'beta', 2],
      ['batchNormBackward', () => be.routine('batchNormBackward', { x: short, dy: s6(), mean: m2(), variance: v2(), gamma: null }, bn), 'x', 6],
      ['batchNormBackward', () => be.routine('batchNormBackward', { x: s6(), dy: short, mean: m2(), variance: v2(), gamma: null }, bn), 'dy', 6],
      ['batchNormBackward', () => be.routine('batchNormBackward', { x: s6(), dy: s6(), mean: m2(), variance: short, gamma: null }, bn), 'variance', 2],
      ['batchNormBackward', () => be.routine('batchNormBackward', { x: s6(), dy: s6(), mean: m2(), variance: v2(), gamma: short }, bn), 'gamma', 2],
      ['batchNorm2dApply', () => be.routine('batchNorm2dApply', { x: short, mean: m2(), variance: v2(), gamma: null, beta: null }, bn2), 'x', 6],
      ['batchNorm2dApply', () => be.routine('batchNorm2dApply', { x: s6(), mean: short, variance: v2(), gamma: null, beta: null }, bn2), 'mean', 2],
      ['batchNorm2dApply', () => be.routine('batchNorm2dApply', { x: s6(), mean: m2(), variance: v2(), gamma: short, beta: null }, bn2), 'gamma', 2],
      ['batchNorm2dApply', () => be.routine('batchNorm2dApply', { x: s6(), mean: m2(), variance: v2(), gamma: null, beta: short }, bn2), 'beta', 2],
      ['batchNorm2dBackward', () => be.routine('batchNorm2dBackward', { x: short, dy: s6(), mean: m2(), variance: v2(), gamma: null }, bn2), 'x', 6],
      ['batchNorm2dBackward', () => be.routine('batchNorm2dBackward', { x: s6(), dy: s6(), mean: short, variance: v2(), gamma: null }, bn2), 'mean', 2],
      ['batchNorm2dBackward', () => be.routine('batchNorm2dBackward', { x: s6(), dy: s6(), mean: m2(), variance: short, gamma: null }, bn2), 'variance', 2],
      ['batchNorm2dBackward', () => be.routine('batchNorm2dBackward', { x: s6(), dy: s6(), mean: m2(), variance: v2(), gamma: short }, bn2), 'gamma', 2],
      ['softmaxGrad', () => be.routine('softmaxGrad', { y: short, dy: s6() }, { rows: 2, cols: 3, log: false }), 'y', 6],
      ['softmaxCrossEntropy', () => be.routine('softmaxCrossEntropy', { logits: short, labels: up([0, 0], 'int32') }, { n: 2, c: 3 }), 'logits', 6],
      ['softmaxCrossEntropyGrad', () => be.routine('softmaxCrossEntropyGrad', { logits: short, labels: up([0, 0], 'int32'), dLoss: up([1, 1]) }, { n: 2, c: 3 }), 'logits', 6],
      ['sgdStep', () => be.routine('sgdStep', { param: s6(), grad: short, velocity: null }, sgd), 'grad', 6],
      ['adamStep', () => be.routine('adamStep', { param: s6(), grad: short, m: s6(), v: s6() }, adam), 'grad', 6],
      ['adamStep', () => be.routine('adamStep', { param: s6(), grad: s6(), m: short, v: s6() }, adam), 'm', 6],
    ];
    for (const [k, f, name, want] of cases) expect(thrown(f)).toBe(`cpu.${k}: ${name} has 1 elements, expected ${want}`);
    const foreign = { backend: 'webgpu' } as unknown as Storage;
    const names: [string, () => unknown, string][] = [
      ['dropout', () => be.routine('dropout', { x: foreign }, { p: 0.5, seed: 1, offset: 0 }), 'x'],
      ['sgdStep', () => be.routine('sgdStep', { param: foreign, grad: s6(), velocity: null }, sgd), 'param'],
      ['softmaxCrossEntropy', () => be.routine('softmaxCrossEntropy', { logits: s6(), labels: foreign }, { n: 2, c: 3 }), 'labels'],
      ['argReduce', () => be.routine('argReduce', { x: foreign }, { op: 'argmax', outer: 1, length: 1, inner: 1 }), 'x'],
      ['gather', () => be.routine('gather', { x: foreign, indices: up([0], 'int32') }, { layout: 'shared', outer: 1, length: 1, inner: 1, count: 1 }), 'x'],
      ['scatterAdd', () => be.routine('scatterAdd', { src: foreign, indices: up([0], 'int32') }, { layout: 'shared', outer: 1, length: 1, inner: 1, count: 1 }), 'src'],
      ['select', () => be.routine('select', { cond: foreign, a: s6(), b: s6() }, {}), 'cond'],
      ['select', () => be.routine('select', { cond: s6(), a: foreign, b: s6() }, {}), 'a'],
      ['select', () => be.routine('select', { cond: s6(), a: s6(), b: foreign }, {}), 'b'],
      ['stridedWrite', () => be.routine('stridedWrite', { dst: foreign, src: s6() }, { srcShape: [6], strides: [1], offset: 0 }), 'dst'],
      ['stridedWrite', () => be.routine('stridedWrite', { dst: s6(), src: foreign }, { srcShape: [6], strides: [1], offset: 0 }), 'src'],
      ['cumsum', () => be.routine('cumsum', { x: foreign }, { outer: 1, length: 1, inner: 1, reverse: false }), 'x'],
    ];
    for (const [k, f, name] of names) expect(thrown(f)).toBe(`cpu.${k}: ${name} is not a CPU storage (it belongs to backend 'webgpu')`);
  });

  it('core ops across several outer blocks: an index equal to length never reaches the next block', () => {
    const { be, up, vals } = setup();
    const idx = (v: number[]): Storage => up(v, 'int32');
    const x = up([1, 2, 3, 4, 5, 6]); // [2, 3, 1]
    expect(vals(be.routine('gather', { x, indices: idx([3, -1]) }, { layout: 'shared', outer: 2, length: 3, inner: 1, count: 2 }))).toEqual([NaN, NaN, NaN, NaN]);
    expect(vals(be.routine('gather', { x, indices: idx([2, 0, 1, 2]) }, { layout: 'perElement', outer: 2, length: 3, inner: 1, count: 2 }))).toEqual([3, 1, 5, 6]);
    const src = up([10, 20, 30, 40]); // [2, 2, 1]
    expect(vals(be.routine('scatterAdd', { src, indices: idx([3, -1]) }, { layout: 'shared', outer: 2, length: 3, inner: 1, count: 2 }))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(vals(be.routine('scatterAdd', { src, indices: idx([2, 0, 1, 1]) }, { layout: 'perElement', outer: 2, length: 3, inner: 1, count: 2 }))).toEqual([20, 0, 10, 0, 70, 0]);
    expect(vals(be.routine('cumsum', { x }, { outer: 2, length: 3, inner: 1, reverse: true }))).toEqual([6, 5, 3, 15, 11, 6]);
    expect(vals(be.routine('argReduce', { x }, { op: 'argmax', outer: 6, length: 1, inner: 1 }))).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('cpu backend verbs: argument names and multi-element shapes in the messages', () => {
  it('each verb names its storage arguments; shapes print with their separators', () => {
    const { be, up, vals } = setup();
    const foreign = { backend: 'webgpu' } as unknown as Storage;
    const x = up([1, 2]);
    const mm = { batch: 1, m: 1, k: 2, n: 1, transA: false, transB: false, aBatchStride: 2, bBatchStride: 2 } satisfies MatmulArgs;
    const cases: [string, () => unknown, string][] = [
      ['cast', () => be.cast(foreign, 'float32'), 'x'],
      ['activationGrad', () => be.activationGrad('relu', foreign, x, 0), 'x'],
      ['activationGrad', () => be.activationGrad('relu', x, foreign, 0), 'dy'],
      ['binary', () => be.binary('add', foreign, [2], x, [2], [2]), 'a'],
      ['binary', () => be.binary('add', x, [2], foreign, [2], [2]), 'b'],
      ['reduce', () => be.reduce('sum', foreign, 1, 2, 1), 'x'],
      ['strided', () => be.strided(foreign, [2], [1], 0), 'x'],
      ['matmul', () => be.matmul(foreign, x, mm), 'a'],
      ['matmul', () => be.matmul(x, foreign, mm), 'b'],
      ['matmul', () => be.matmul(x, x, { ...mm, bias: foreign }), 'bias'],
    ];
    for (const [k, f, name] of cases) expect(thrown(f)).toBe(`cpu.${k}: ${name} is not a CPU storage (it belongs to backend 'webgpu')`);
    expect(thrown(() => be.binary('add', x, [1, 3], x, [2], [1, 3]))).toBe("cpu.binary: aShape [1, 3] does not match a's 2 elements");
    expect(thrown(() => be.binary('add', x, [2], x, [2, 2], [2, 2]))).toBe("cpu.binary: bShape [2, 2] does not match b's 2 elements");
    expect(thrown(() => be.binary('add', x, [1, 2], x, [2], [2, 3]))).toBe('cpu.binary: a of shape [1, 2] does not broadcast to [2, 3]');
    expect(thrown(() => be.strided(x, [1, 2], [1, 1, 1], 0))).toBe('cpu.strided: strides [1, 1, 1] must be 2 integers, one per output dimension');
    expect(be.name).toBe('cpu');
    // b must hold k·n elements: 5 < 3·2
    expect(thrown(() => be.matmul(up([1, 2, 3, 4, 5, 6]), up([1, 2, 3, 4, 5]), { ...mm, m: 2, k: 3, n: 2, aBatchStride: 6, bBatchStride: 6 })))
      .toBe('cpu.matmul: b has 5 elements, too few for batch 1 of 3x2 with batch stride 6');
    // int32 products wrap through Math.imul: (2^31 − 1)² in float64 loses its low bits.
    const big = up([I32_MAX, -I32_MAX, 123456789], 'int32');
    expect(vals(be.binary('mul', big, [3], big, [3], [3]))).toEqual([1, 1, Math.imul(123456789, 123456789)]);
  });
});
