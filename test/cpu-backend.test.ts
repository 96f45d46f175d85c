import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { ACTIVATION_DERIVATIVE, UNARY } from '../src/backend/cpu/unary.js';
import { erf, erfc } from '../src/backend/cpu/special.js';
import { philoxNormal, philoxUniform, philoxWords } from '../src/random/philox.js';
import {
  ACTIVATION_GRAD_OPS, type DType, type MatmulArgs, type Storage, type TypedArray,
} from '../src/backend/types.js';
import { expectError, expectErrorSync } from './helpers/expect-error.js';

const be = new CpuBackend();
/**
 * The backend's own argument checks guard engine invariants (the public ops refuse bad input with a
 * WebgradError before reaching them), so they raise a plain Error. This standalone backend's storages
 * are not counted by memory(); the helper still checks the type and message.
 */
const INTERNAL = { type: Error };
const f64 = (xs: number[]) => be.upload(Float64Array.from(xs), 'float64');
const f32 = (xs: number[]) => be.upload(Float32Array.from(xs), 'float32');
const i32 = (xs: number[]) => be.upload(Int32Array.from(xs), 'int32');
const read = async (s: Storage) => Array.from(await be.read(s));

/** A deterministic pseudo-random array in [-1, 1). */
function rand(n: number, seed: number): number[] {
  return Array.from(philoxUniform(seed, 0, n), (u) => 2 * u - 1);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (Math.abs(a - e) > tol * Math.max(1, Math.abs(e))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (tolerance ${tol})`);
    }
  }
}

describe('memory', () => {
  it('upload copies and converts; read returns a copy', async () => {
    const src = Float64Array.from([1.9, -1.9, 0.1]);
    const s = be.upload(src, 'float32');
    src[0] = 99;
    expect(await read(s)).toEqual([Math.fround(1.9), Math.fround(-1.9), Math.fround(0.1)]);
    const out = await be.read(s);
    expect(out).toBeInstanceOf(Float32Array);
    out[0] = 5;
    expect((await be.read(s))[0]).toBe(Math.fround(1.9));
    expect(await read(be.upload(Float64Array.from([1.9, -1.9]), 'int32'))).toEqual([1, -1]);
  });

  it('counts allocations, and a released storage throws when used', async () => {
    const b = new CpuBackend();
    expect(b.memoryStats()).toEqual({ pooledBytes: 0, allocatedBytes: 0, buffersCreated: 0 });
    const s = b.upload(Float32Array.from([1, 2, 3]), 'float32');
    const t = b.unary('neg', s, 0);
    b.fill(2, 0, 'float64');
    expect(b.memoryStats()).toEqual({ pooledBytes: 0, allocatedBytes: 12 + 12 + 16, buffersCreated: 3 });
    b.release(s);
    await expectError(() => b.read(s), /cpu\.read.*released/, INTERNAL);
    expectErrorSync(() => b.unary('exp', s, 0), /cpu\.unary.*released/, INTERNAL);
    expectErrorSync(() => b.release(s), /released/, INTERNAL);
    expect(await b.read(t)).toEqual(Float32Array.from([-1, -2, -3]));
  });

  it('rejects storages of another backend, naming the kernel', () => {
    const fake: Storage = { backend: 'webgpu', dtype: 'float32', length: 1 };
    expectErrorSync(() => be.unary('neg', fake, 0), /cpu\.unary: x is not a CPU storage.*webgpu/, INTERNAL);
    const a = f32([1]);
    expectErrorSync(() => be.matmul(a, fake, { batch: 1, m: 1, k: 1, n: 1, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }), /cpu\.matmul: b/, INTERNAL);
  });
});

describe('fill and cast', () => {
  it('fills each dtype', async () => {
    expect(await be.read(be.fill(3, 0.1, 'float32'))).toEqual(Float32Array.from([0.1, 0.1, 0.1]));
    expect(await read(be.fill(2, -7, 'int32'))).toEqual([-7, -7]);
    expect(await read(be.fill(0, 1, 'float64'))).toEqual([]);
  });

  it('float → int32 truncates toward zero; int32 → float is exact', async () => {
    expect(await read(be.cast(f64([1.9, -1.9, 2.5, -0.5, 3]), 'int32'))).toEqual([1, -1, 2, 0, 3]);
    const c = be.cast(i32([-2147483648, 16777217]), 'float64');
    expect(c.dtype).toBe('float64');
    expect(await read(c)).toEqual([-2147483648, 16777217]);
    expect(await read(be.cast(f64([0.1]), 'float32'))).toEqual([Math.fround(0.1)]);
  });
});

describe('erf', () => {
  it('matches reference values', () => {
    expect(erf(0)).toBe(0);
    expectClose([erf(0.5), erf(-0.5), erf(2), erf(6)], [0.5204998778130465, -0.5204998778130465, 0.9953222650189527, 1], 1e-14);
    expect(Math.abs(erfc(5) / 1.5374597944280351e-12 - 1)).toBeLessThan(1e-12);
    expectClose([erfc(-3)], [1.9999779095030015], 1e-14);
    expect(Number.isNaN(erf(Number.NaN))).toBe(true);
  });
});

describe('unary', () => {
  it('computes the formulas', async () => {
    const x = f64([-2, -0.5, 0, 0.5, 3, 7]);
    expect(await read(be.unary('relu', x, 0))).toEqual([0, 0, 0, 0.5, 3, 7]);
    expect(await read(be.unary('relu6', x, 0))).toEqual([0, 0, 0, 0.5, 3, 6]);
    expect(await read(be.unary('leakyRelu', x, 0.1))).toEqual([-0.2, -0.05, 0, 0.5, 3, 7]);
    expect(await read(be.unary('sign', x, 0))).toEqual([-1, -1, 0, 1, 1, 1]);
    expect(await read(be.unary('square', x, 0))).toEqual([4, 0.25, 0, 0.25, 9, 49]);
    expect(await read(be.unary('rsubScalar', x, 1))).toEqual([3, 1.5, 1, 0.5, -2, -6]);
    expect(await read(be.unary('maxScalar', x, 0.25))).toEqual([0.25, 0.25, 0.25, 0.5, 3, 7]);
    expect(await read(be.unary('powScalar', f64([2, 9]), 0.5))).toEqual([Math.SQRT2, 3]);
    expectClose(await read(be.unary('sigmoid', f64([0, 2, -2]), 0)), [0.5, 1 / (1 + Math.exp(-2)), 1 / (1 + Math.exp(2))], 1e-15);
    expectClose(await read(be.unary('softplus', f64([0, 1]), 0)), [Math.LN2, Math.log(1 + Math.E)], 1e-15);
    const odd = await read(be.unary('isNonFinite', f64([1, Number.NaN, Infinity, -Infinity, -0]), 0));
    expect(odd).toEqual([0, 1, 1, 1, 0]);
    expect(Number.isNaN((await read(be.unary('sign', f64([Number.NaN]), 0)))[0])).toBe(true);
  });

  it('gelu matches known values, including the far negative tail', async () => {
    const g = await read(be.unary('gelu', f64([1, -1, 0, -6]), 0));
    expectClose(g.slice(0, 3), [0.8413447460685429, -0.15865525393145707, 0], 1e-14);
    expect(Math.abs(g[3]! / -5.919525870226207e-9 - 1)).toBeLessThan(1e-12);
    expectClose(await read(be.unary('geluTanh', f64([1, -0.5]), 0)), [0.8411919906082768, -0.15428599017485606], 1e-14);
  });

  it('float32 results round to float32', async () => {
    const r = await be.read(be.unary('exp', f32([1]), 0));
    expect(r).toBeInstanceOf(Float32Array);
    expect(r[0]).toBe(Math.fround(Math.E));
  });

  it('is stable at x = ±100', async () => {
    for (const op of ['sigmoid', 'tanh', 'softplus', 'gelu', 'geluTanh', 'relu6', 'leakyRelu'] as const) {
      for (const v of await read(be.unary(op, f64([-100, 100]), 0.01))) expect(Number.isFinite(v)).toBe(true);
    }
    const [lo, hi] = await read(be.unary('sigmoid', f64([-100, 100]), 0));
    expect(lo).toBeGreaterThan(0);
    expect(lo).toBeLessThan(1e-40);
    expect(hi).toBe(1);
    const [spLo, spHi] = await read(be.unary('softplus', f64([-100, 100]), 0));
    expect(spHi).toBe(100);
    expect(Math.abs(spLo! / Math.exp(-100) - 1)).toBeLessThan(1e-12);
  });

  it('int32 ops wrap like i32, and float-only ops are refused', async () => {
    expect(await read(be.unary('square', i32([65537, -3]), 0))).toEqual([131073, 9]); // 65537² = 2^32 + 131073
    expect(await read(be.unary('neg', i32([-2147483648, 5]), 0))).toEqual([-2147483648, -5]);
    expect(await read(be.unary('addScalar', i32([2147483647]), 1))).toEqual([-2147483648]);
    expect(await read(be.unary('mulScalar', i32([65536, -3]), 65536))).toEqual([0, -196608]);
    expect(await read(be.unary('relu', i32([-4, 4]), 0))).toEqual([0, 4]);
    expectErrorSync(() => be.unary('exp', i32([1]), 0), /cpu\.unary.*exp.*int32/, INTERNAL);
  });
});

describe('activationGrad', () => {
  const points = [-3, -0.7, 0.4, 2.5, 5.5];

  it.each(ACTIVATION_GRAD_OPS.map((op) => [op]))('%s matches a central difference of the unary formula', async (op) => {
    const p = 0.2;
    const dy = points.map((_, i) => 0.5 + i);
    const got = await read(be.activationGrad(op, f64(points), f64(dy), p));
    const h = 1e-5;
    const f = UNARY[op];
    const expected = points.map((x, i) => dy[i]! * (f(x + h, p) - f(x - h, p)) / (2 * h));
    expectClose(got, expected, 1e-8);
  });

  it('relu\'(0) = 0 and relu6 is flat outside (0, 6)', () => {
    expect(ACTIVATION_DERIVATIVE.relu(0, 0)).toBe(0);
    expect(ACTIVATION_DERIVATIVE.relu6(6, 0)).toBe(0);
    expect(ACTIVATION_DERIVATIVE.relu6(0, 0)).toBe(0);
    expect(ACTIVATION_DERIVATIVE.leakyRelu(-1, 0.3)).toBe(0.3);
  });

  it('is finite at x = ±100 and takes the saturated limits', async () => {
    for (const op of ACTIVATION_GRAD_OPS) {
      const [lo, hi] = await read(be.activationGrad(op, f64([-100, 100]), f64([1, 1]), 0.01));
      expect(Number.isFinite(lo) && Number.isFinite(hi)).toBe(true);
      if (op !== 'leakyRelu') expect(lo).toBeCloseTo(0, 12);
      if (op === 'relu6') expect(hi).toBe(0);
      else if (op === 'sigmoid' || op === 'tanh') expect(hi).toBeCloseTo(0, 12);
      else expect(hi).toBeCloseTo(1, 12);
    }
    expect(Number.isFinite(ACTIVATION_DERIVATIVE.geluTanh(1e200, 0))).toBe(true);
  });
});

describe('binary', () => {
  it('broadcasts [3,1] + [1,4]', async () => {
    const out = be.binary('add', f64([1, 2, 3]), [3, 1], f64([10, 20, 30, 40]), [1, 4], [3, 4]);
    expect(await read(out)).toEqual([11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43]);
  });

  it('broadcasts across ranks and a middle axis', async () => {
    // a: [2,1,3], b: [2,1] → [2,2,3]; out[i,j,k] = a[i,0,k] - b[j,0]
    const a = [1, 2, 3, 4, 5, 6];
    const out = await read(be.binary('sub', f64(a), [2, 1, 3], f64([100, 200]), [2, 1], [2, 2, 3]));
    const expected: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) expected.push(a[i * 3 + k]! - [100, 200][j]!);
    expect(out).toEqual(expected);
    expect(await read(be.binary('mul', f64([2]), [], f64([1, 2, 3]), [3], [3]))).toEqual([2, 4, 6]);
  });

  it('computes each float op, comparisons as 1/0', async () => {
    const a = f64([1, 4, -2, 3]);
    const b = f64([2, 4, 3, 0]);
    const s = [4];
    expect(await read(be.binary('div', a, s, b, s, s))).toEqual([0.5, 1, -2 / 3, Infinity]);
    expect(await read(be.binary('maximum', a, s, b, s, s))).toEqual([2, 4, 3, 3]);
    expect(await read(be.binary('minimum', a, s, b, s, s))).toEqual([1, 4, -2, 0]);
    expect(await read(be.binary('pow', a, s, b, s, s))).toEqual([1, 256, -8, 1]);
    expect(await read(be.binary('eq', a, s, b, s, s))).toEqual([0, 1, 0, 0]);
    expect(await read(be.binary('gt', a, s, b, s, s))).toEqual([0, 0, 0, 1]);
    expect(await read(be.binary('ge', a, s, b, s, s))).toEqual([0, 1, 0, 1]);
    expect(await read(be.binary('add', f32([0.1]), [1], f32([0.2]), [1], [1]))).toEqual([Math.fround(Math.fround(0.1) + Math.fround(0.2))]);
  });

  it('int32: division truncates toward zero (by zero gives 0), add/mul wrap', async () => {
    const s = [6];
    const q = be.binary('div', i32([7, -7, 7, -7, 5, -2147483648]), s, i32([2, 2, -2, -2, 0, -1]), s, s);
    expect(q.dtype).toBe('int32');
    expect(await read(q)).toEqual([3, -3, -3, 3, 0, -2147483648]);
    expect(await read(be.binary('mul', i32([65536, 3]), [2], i32([65536, -5]), [2], [2]))).toEqual([0, -15]);
    expect(await read(be.binary('add', i32([2147483647]), [1], i32([1]), [1], [1]))).toEqual([-2147483648]);
    expect(await read(be.binary('gt', i32([1, 2]), [2], i32([2]), [1], [2]))).toEqual([0, 0]);
  });

  it('rejects mismatched shapes and dtypes', () => {
    expectErrorSync(() => be.binary('add', f64([1, 2]), [2], f64([1, 2, 3]), [3], [3]), /cpu\.binary.*broadcast/, INTERNAL);
    expectErrorSync(() => be.binary('add', f64([1, 2]), [3], f64([1]), [1], [3]), /cpu\.binary: aShape/, INTERNAL);
    expectErrorSync(() => be.binary('add', f64([1]), [1], f32([1]), [1], [1]), /dtypes differ/, INTERNAL);
  });
});

describe('reduce', () => {
  const x = Array.from({ length: 24 }, (_, i) => i);

  it('sums and maxes the middle axis of [2,3,4]', async () => {
    expect(await read(be.reduce('sum', f64(x), 2, 3, 4))).toEqual([12, 15, 18, 21, 48, 51, 54, 57]);
    expect(await read(be.reduce('max', f64(x), 2, 3, 4))).toEqual([8, 9, 10, 11, 20, 21, 22, 23]);
    expect(await read(be.reduce('sum', i32(x), 1, 24, 1))).toEqual([276]);
  });

  it('handles empty reductions and NaN', async () => {
    expect(await read(be.reduce('sum', f64([]), 2, 0, 1))).toEqual([0, 0]);
    expect(await read(be.reduce('max', f64([]), 1, 0, 2))).toEqual([-Infinity, -Infinity]);
    const m = await read(be.reduce('max', f64([1, Number.NaN, 3, 4]), 2, 2, 1));
    expect(Number.isNaN(m[0])).toBe(true);
    expect(m[1]).toBe(4);
    expectErrorSync(() => be.reduce('sum', f64(x), 2, 3, 5), /cpu\.reduce/, INTERNAL);
  });
});

describe('strided', () => {
  it('transposes, broadcasts and offsets', async () => {
    const x = f64([0, 1, 2, 3, 4, 5]); // [2,3]
    expect(await read(be.strided(x, [3, 2], [1, 3], 0))).toEqual([0, 3, 1, 4, 2, 5]);
    expect(await read(be.strided(x, [2, 3], [0, 1], 3))).toEqual([3, 4, 5, 3, 4, 5]);
    expect(await read(be.strided(x, [3], [-2], 5))).toEqual([5, 3, 1]);
    // [2,3,4] permuted to [4,2,3]
    const y = Array.from({ length: 24 }, (_, i) => i);
    const p = await read(be.strided(f64(y), [4, 2, 3], [1, 12, 4], 0));
    const expected: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expected.push(i * 12 + j * 4 + k);
    expect(p).toEqual(expected);
  });

  it('rejects reads outside the storage', () => {
    expectErrorSync(() => be.strided(f64([1, 2]), [3], [1], 0), /cpu\.strided.*outside/, INTERNAL);
    expectErrorSync(() => be.strided(f64([1, 2]), [2], [-1], 0), /cpu\.strided.*outside/, INTERNAL);
  });
});

describe('matmul', () => {
  /** Plain reference: C[b] = A[b] · B[b] from row-major A [batch,m,k] and B [batch,k,n]. */
  function reference(A: number[], B: number[], batch: number, m: number, k: number, n: number): number[] {
    const C: number[] = [];
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += A[b * m * k + i * k + p]! * B[b * k * n + p * n + j]!;
          C.push(s);
        }
    return C;
  }
  function transpose(X: number[], rows: number, cols: number): number[] {
    const T: number[] = [];
    for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) T.push(X[i * cols + j]!);
    return T;
  }
  const args = (o: Partial<MatmulArgs> & { m: number; k: number; n: number }): MatmulArgs =>
    ({ batch: 1, transA: false, transB: false, aBatchStride: o.m * o.k, bBatchStride: o.k * o.n, ...o });

  it('multiplies a hand-computed 2x3 · 3x2', async () => {
    const out = be.matmul(f64([1, 2, 3, 4, 5, 6]), f64([7, 8, 9, 10, 11, 12]), args({ m: 2, k: 3, n: 2 }));
    expect(await read(out)).toEqual([58, 64, 139, 154]);
  });

  it('transA and transB read the transposed layouts', async () => {
    const [m, k, n] = [5, 7, 3];
    const A = rand(m * k, 1);
    const B = rand(k * n, 2);
    const C = reference(A, B, 1, m, k, n);
    const At = transpose(A, m, k); // stored [k, m]
    const Bt = transpose(B, k, n); // stored [n, k]
    expectClose(await read(be.matmul(f64(At), f64(B), args({ m, k, n, transA: true }))), C, 1e-14);
    expectClose(await read(be.matmul(f64(A), f64(Bt), args({ m, k, n, transB: true }))), C, 1e-14);
    expectClose(await read(be.matmul(f64(At), f64(Bt), args({ m, k, n, transA: true, transB: true }))), C, 1e-14);
  });

  it('batches, with batch stride 0 broadcasting one matrix', async () => {
    const [batch, m, k, n] = [3, 2, 4, 5];
    const A = rand(batch * m * k, 3);
    const B = rand(k * n, 4);
    const Brep = [...B, ...B, ...B];
    const out = be.matmul(f64(A), f64(B), args({ batch, m, k, n, bBatchStride: 0 }));
    expectClose(await read(out), reference(A, Brep, batch, m, k, n), 1e-14);
    // And broadcasting A instead.
    const A1 = A.slice(0, m * k);
    const Bb = rand(batch * k * n, 5);
    const out2 = be.matmul(f64(A1), f64(Bb), args({ batch, m, k, n, aBatchStride: 0 }));
    expectClose(await read(out2), reference([...A1, ...A1, ...A1], Bb, batch, m, k, n), 1e-14);
  });

  it('applies bias then the activation epilogue', async () => {
    const A = f64([1, 2, 3, 4, 5, 6]);
    const B = f64([7, 8, 9, 10, 11, 12]);
    const bias = f64([-100, 10]);
    const raw = [58 - 100, 64 + 10, 139 - 100, 154 + 10];
    expect(await read(be.matmul(A, B, { ...args({ m: 2, k: 3, n: 2 }), bias }))).toEqual(raw);
    expect(await read(be.matmul(A, B, { ...args({ m: 2, k: 3, n: 2 }), bias, activation: 'relu' }))).toEqual([0, 74, 39, 164]);
    expect(await read(be.matmul(A, B, { ...args({ m: 2, k: 3, n: 2 }), bias, activation: 'leakyRelu', alpha: 0.5 })))
      .toEqual([-21, 74, 39, 164]);
    expectClose(await read(be.matmul(A, B, { ...args({ m: 2, k: 3, n: 2 }), bias, activation: 'sigmoid' })), raw.map((v) => UNARY.sigmoid(v, 0)), 1e-15);
  });

  it('float32 output is the float64 sum rounded once', async () => {
    const A = rand(6, 7).map(Math.fround);
    const B = rand(6, 8).map(Math.fround);
    const out = await be.read(be.matmul(f32(A), f32(B), args({ m: 2, k: 3, n: 2 })));
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual(reference(A, B, 1, 2, 3, 2).map(Math.fround));
  });

  it('rejects storages too small for the arguments', () => {
    expectErrorSync(() => be.matmul(f64([1, 2, 3]), f64([1, 2]), args({ m: 2, k: 2, n: 1 })), /cpu\.matmul: a has 3/, INTERNAL);
    expectErrorSync(() => be.matmul(f64([1, 2]), f64([1, 2]), { ...args({ m: 1, k: 2, n: 1 }), bias: f64([1, 2]) }), /bias/, INTERNAL);
  });
});

describe('random', () => {
  it('draws the philox streams in each kind', async () => {
    const dts: DType[] = ['float32', 'float64'];
    for (const dtype of dts) {
      const u = await be.read(be.random('uniform', 9, 77, 5, dtype));
      expect(Array.from(u)).toEqual(Array.from(philoxUniform(77, 5, 9))); // exact in float32 too
    }
    const z: TypedArray = await be.read(be.random('normal', 7, 77, 3, 'float64'));
    expect(Array.from(z)).toEqual(Array.from(philoxNormal(77, 3, 7)));
    const z32 = await be.read(be.random('normal', 7, 77, 3, 'float32'));
    expect(Array.from(z32)).toEqual(Array.from(philoxNormal(77, 3, 7), Math.fround));
    const bits = await read(be.random('bits', 6, 77, 1, 'int32'));
    expect(bits).toEqual(Array.from(philoxWords(77, 1, 6), (w) => w | 0));
    expect(bits.some((b) => b < 0)).toBe(true); // high-bit words bit-cast to negatives
  });

  it('rejects kind/dtype mismatches', () => {
    expectErrorSync(() => be.random('bits', 2, 1, 0, 'float32'), /cpu\.random.*int32/, INTERNAL);
    expectErrorSync(() => be.random('uniform', 2, 1, 0, 'int32'), /cpu\.random.*float/, INTERNAL);
    expectErrorSync(() => be.random('uniform', 2, -1, 0, 'float32'), /seed/, INTERNAL);
  });
});
