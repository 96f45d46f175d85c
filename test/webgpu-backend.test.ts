/**
 * The WebGPU backend kernel by kernel against the CPU reference (float32), on awkward shapes.
 *
 * Every output is read whole and compared element by element; before each GPU kernel the pool is
 * poisoned (buffers of the output's size class filled with NaN, or a sentinel for int32, then
 * released), so an element a kernel fails to write reads back as poison and fails the comparison.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import {
  ACTIVATION_GRAD_OPS,
  BINARY_OPS,
  UNARY_OPS,
  type ActivationGradOp,
  type Backend,
  type BinaryOp,
  type DType,
  type EpilogueActivation,
  type MatmulArgs,
  type Storage,
  type TypedArray,
  type UnaryOp,
} from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { sizeClass } from '../src/backend/webgpu/buffer-pool.js';
import { DeviceHealth } from '../src/backend/webgpu/device.js';
import { philoxWords } from '../src/random/philox.js';
import { INT32_UNARY_OPS } from '../shaders/elementwise.js';
import { expectErrorSync } from './helpers/expect-error.js';

// The backend's own argument checks throw a plain Error (internal; the public ops check first).
// memory() counts tensors, so at this level its check only shows no tensor was made.
const INTERNAL = { type: Error };
import { ARITH, EXACT, TRANS, type Tol } from './helpers/compare.js';
import { assertClose, f32, i32, poisonPool, testData, type Input } from './helpers/kernel-harness.js';

const EPS = 2 ** -23;

let gpu: WebGPUBackend;
const cpu = new CpuBackend();

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});

afterAll(() => {
  gpu?.destroy();
});

// ---------------------------------------------------------------- helpers

const { rand, randInt } = testData(0);
const poison = (n: number, dtype: DType): void => poisonPool(gpu, [n], dtype);


const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Runs `run` on both backends with the same inputs and compares (int32 outputs exactly). Returns the
 * expected values for extra checks.
 */
async function check(what: string, inputs: readonly Input[], run: (be: Backend, xs: Storage[]) => Storage, tol: Tol | ((expected: TypedArray) => Tol)): Promise<TypedArray> {
  const cx = inputs.map((i) => cpu.upload(i.data, i.dtype));
  const expectedS = run(cpu, cx);
  const expected = await cpu.read(expectedS);
  const gx = inputs.map((i) => gpu.upload(i.data, i.dtype));
  poison(expected.length, expectedS.dtype);
  const outS = run(gpu, gx);
  expect(outS.dtype, `${what}: dtype`).toBe(expectedS.dtype);
  expect(outS.length, `${what}: length`).toBe(expectedS.length);
  const got = await gpu.read(outS);
  expect(got.constructor, `${what}: array type`).toBe(expected.constructor);
  const t = typeof tol === 'function' ? tol(expected) : tol;
  assertClose(what, got, expected, expectedS.dtype === 'int32' ? EXACT : t);
  for (const s of gx) gpu.release(s);
  gpu.release(outS);
  return expected;
}

const LENGTHS = [1, 3, 17, 33, 65, 257, 1031];

// ---------------------------------------------------------------- memory and checks

describe('webgpu backend: memory', () => {
  it('reports the adapter and its limits', () => {
    expect(gpu.adapterInfo.length).toBeGreaterThan(0);
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('upload/read round-trips float32 and int32, converting other typed arrays', async () => {
    for (const n of [0, 1, 3, 257]) {
      const f = rand(n, -100, 100);
      expect(Array.from(await gpu.read(gpu.upload(f, 'float32')))).toEqual(Array.from(f));
      const i = randInt(n, -(2 ** 31), 2 ** 31 - 1);
      const back = await gpu.read(gpu.upload(i, 'int32'));
      expect(back).toBeInstanceOf(Int32Array);
      expect(Array.from(back)).toEqual(Array.from(i));
    }
    const conv = await gpu.read(gpu.upload(Float64Array.from([1.9, -1.9, 3e9]), 'int32'));
    const ref = await cpu.read(cpu.upload(Float64Array.from([1.9, -1.9, 3e9]), 'int32'));
    expect(Array.from(conv)).toEqual(Array.from(ref));
  });

  it('throws clear errors: float64, released storages, foreign storages, oversize tensors', () => {
    const f64 = new Float64Array(3);
    expectErrorSync(() => gpu.upload(f64, 'float64'), /does not support float64; use float32, or the cpu backend/);
    expectErrorSync(() => gpu.fill(3, 0, 'float64'), /float64/);
    const s = gpu.upload(new Float32Array(3), 'float32');
    gpu.release(s);
    expectErrorSync(() => gpu.unary('neg', s, 0), /released/, INTERNAL);
    expectErrorSync(() => gpu.release(s), /released/, INTERNAL);
    const foreign = cpu.upload(new Float32Array(2), 'float32');
    expectErrorSync(() => gpu.unary('neg', foreign, 0), /'cpu' backend/, INTERNAL);
    const tooMany = Math.floor(gpu.limits.maxStorageBufferBindingSize / 4) + 1;
    expectErrorSync(() => gpu.fill(tooMany, 0, 'float32'), /maxStorageBufferBindingSize/);
  });

  it('size classes waste at most 25% and are multiples of 256 bytes', () => {
    for (let b = 1; b < 1 << 22; b = Math.ceil(b * 1.37) + 1) {
      const c = sizeClass(b);
      expect(c).toBeGreaterThanOrEqual(b);
      expect(c % 256).toBe(0);
      expect(c).toBeLessThanOrEqual(Math.max(b * 1.25, b + 255));
    }
  });

  it('reuses pooled buffers and counts bytes', async () => {
    const x = gpu.upload(rand(1000), 'float32');
    await gpu.read(x);
    const before = gpu.memoryStats();
    const pagesBefore = gpu.stats().uniformPages;
    for (let i = 0; i < 20; i++) {
      const y = gpu.unary('neg', x, 0);
      gpu.release(y);
    }
    await gpu.read(x);
    const after = gpu.memoryStats();
    // Storage buffers: at most one new; a uniform-slot page for the new bind group may come too.
    const newPages = gpu.stats().uniformPages - pagesBefore;
    expect(after.buffersCreated - before.buffersCreated - newPages).toBeLessThanOrEqual(1);
    expect(after.pooledBytes).toBeGreaterThanOrEqual(sizeClass(4000));
    gpu.release(x);
  });

  it('pool reuse in one batch: upload, dispatch, release, upload again gives right answers', async () => {
    const n = 777;
    const a = rand(n);
    const b = rand(n);
    const sa = gpu.upload(a, 'float32');
    const y = gpu.unary('mulScalar', sa, 2); // reads sa's buffer, not yet submitted
    gpu.release(sa); // released while the batch that reads it is open
    const sb = gpu.upload(b, 'float32'); // must not land in sa's buffer before y is computed
    const z = gpu.unary('mulScalar', sb, 3);
    gpu.release(sb);
    const w = gpu.unary('addScalar', y, 1); // an output may reuse a buffer released in this batch
    const [gy, gz, gw] = await Promise.all([gpu.read(y), gpu.read(z), gpu.read(w)]);
    assertClose('y', gy, a.map((v) => Math.fround(v * 2)), EXACT);
    assertClose('z', gz, b.map((v) => Math.fround(v * 3)), EXACT);
    assertClose('w', gw, a.map((v) => Math.fround(Math.fround(v * 2) + 1)), EXACT);
    for (const s of [y, z, w]) gpu.release(s);
  });

  it('batches lazily: many ops, one submit at the readback', async () => {
    const x = gpu.upload(rand(300), 'float32');
    gpu.flush();
    const s0 = gpu.stats().submits;
    let y = x;
    for (let i = 0; i < 20; i++) {
      const next = gpu.unary('addScalar', y, 1);
      if (y !== x) gpu.release(y);
      y = next;
    }
    expect(gpu.stats().submits).toBe(s0);
    await gpu.read(y);
    expect(gpu.stats().submits).toBe(s0 + 1);
  });

  it('submits early when the pending-dispatch bound is reached', async () => {
    const x = gpu.upload(rand(10), 'float32');
    gpu.flush();
    const s0 = gpu.stats().submits;
    const outs: Storage[] = [];
    for (let i = 0; i < 300; i++) outs.push(gpu.unary('neg', x, 0));
    expect(gpu.stats().submits).toBeGreaterThan(s0);
    const last = await gpu.read(outs[299]!);
    expect(last[0]).toBe(-(await gpu.read(x))[0]!);
    for (const s of outs) gpu.release(s);
  });

  it('surfaces an asynchronous GPU error on the next call, naming the last op', async () => {
    const other = await WebGPUBackend.create({ autotune: false });
    try {
      const x = other.upload(rand(4), 'float32');
      other.unary('exp', x, 0);
      // Wait for the event itself, not a fixed time: listeners run in the order they were added,
      // so the engine's handler (set at creation) has recorded the error when this one resolves.
      const raised = new Promise<void>((resolve) => other.device.addEventListener('uncapturederror', () => resolve(), { once: true }));
      // An invalid buffer (MAP_READ with STORAGE) raises an uncaptured validation error.
      other.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
      await raised;
      expect(() => other.unary('neg', x, 0)).toThrow(/GPU error .*unary exp/s);
    } finally {
      other.destroy();
    }
    expectErrorSync(() => other.fill(1, 0, 'float32'), /destroyed/, INTERNAL);
  });

  it('DeviceHealth reports a lost device on every call', () => {
    const h = new DeviceHealth();
    h.lost = { reason: 'unknown', message: 'gone' };
    expect(() => h.check()).toThrow(/device was lost/);
    expect(() => h.check()).toThrow(/device was lost/);
  });
});

// ---------------------------------------------------------------- elementwise

describe('webgpu backend: fill and cast', () => {
  it('fill', async () => {
    for (const n of [0, ...LENGTHS]) {
      await check(`fill f32 ${n}`, [], (be) => be.fill(n, -2.5, 'float32'), EXACT);
      await check(`fill i32 ${n}`, [], (be) => be.fill(n, -7, 'int32'), EXACT);
    }
  });

  it('cast', async () => {
    for (const n of LENGTHS) {
      await check(`cast f32->i32 ${n}`, [f32(rand(n, -1000, 1000))], (be, [x]) => be.cast(x!, 'int32'), EXACT);
      await check(`cast i32->f32 ${n}`, [i32(randInt(n, -(2 ** 24), 2 ** 24))], (be, [x]) => be.cast(x!, 'float32'), EXACT);
      await check(`cast f32->f32 ${n}`, [f32(rand(n))], (be, [x]) => be.cast(x!, 'float32'), EXACT);
    }
  });
});

/** Input range and tolerance per unary op (float32). */
const UNARY_CASES: { [K in UnaryOp]: { lo: number; hi: number; specials?: number[]; param?: number; tol: Tol } } = {
  neg: { lo: -10, hi: 10, tol: EXACT },
  exp: { lo: -10, hi: 10, tol: TRANS },
  log: { lo: 1e-3, hi: 100, specials: [1, 2, 0.5], tol: TRANS },
  sqrt: { lo: 0, hi: 100, specials: [0, 1, 4], tol: ARITH },
  abs: { lo: -10, hi: 10, tol: EXACT },
  square: { lo: -10, hi: 10, tol: ARITH },
  sign: { lo: -10, hi: 10, specials: [0], tol: EXACT },
  reciprocal: { lo: 0.1, hi: 10, tol: ARITH },
  sigmoid: { lo: -20, hi: 20, specials: [100, -100, 0], tol: TRANS },
  tanh: { lo: -10, hi: 10, specials: [100, -100, 0, 15.5, -16], tol: TRANS },
  relu: { lo: -10, hi: 10, specials: [0], tol: EXACT },
  relu6: { lo: -10, hi: 10, specials: [0, 6], tol: EXACT },
  leakyRelu: { lo: -10, hi: 10, specials: [0], param: 0.1, tol: ARITH },
  gelu: { lo: -10, hi: 10, specials: [0, -100, 100], tol: TRANS },
  geluTanh: { lo: -10, hi: 10, specials: [0, -100, 100], tol: TRANS },
  softplus: { lo: -30, hi: 30, specials: [100, -100, 0], tol: TRANS },
  powScalar: { lo: 0.1, hi: 5, param: 2.5, tol: TRANS },
  addScalar: { lo: -10, hi: 10, param: 1.25, tol: ARITH },
  mulScalar: { lo: -10, hi: 10, param: -3, tol: ARITH },
  rsubScalar: { lo: -10, hi: 10, param: 0.5, tol: ARITH },
  maxScalar: { lo: -10, hi: 10, param: 0.5, tol: EXACT },
  minScalar: { lo: -10, hi: 10, param: 0.5, tol: EXACT },
  isNonFinite: { lo: -10, hi: 10, specials: [Infinity, -Infinity, NaN, 3.4e38, -0], tol: EXACT },
};

describe('webgpu backend: unary (float32)', () => {
  for (const op of UNARY_OPS) {
    it(op, async () => {
      const c = UNARY_CASES[op];
      for (const n of [1, 17, 257]) {
        const x = rand(n, c.lo, c.hi, n >= 17 ? c.specials ?? [] : []);
        await check(`unary ${op} [${n}]`, [f32(x)], (be, [s]) => be.unary(op, s!, c.param ?? 0), c.tol);
      }
    });
  }

  it('powScalar with negative bases, integer and other exponents', async () => {
    for (const p of [2, 3, -1, -2, 0, 0.5, 1.5, 1]) {
      const x = rand(65, -4, 4, [0, -0, 1, -1, -2]);
      await check(`powScalar ^${p}`, [f32(x)], (be, [s]) => be.unary('powScalar', s!, p), TRANS);
    }
  });
});

describe('webgpu backend: unary (int32)', () => {
  for (const op of INT32_UNARY_OPS) {
    it(op, async () => {
      const x = randInt(257, -50000, 50000);
      x.set([0, -1, 1, 2147483647, -2147483648]);
      for (const p of [0, 3, -7]) {
        await check(`unary ${op} i32 p=${p}`, [i32(x)], (be, [s]) => be.unary(op, s!, p), EXACT);
      }
    });
  }

  it('rejects float-only ops on int32', () => {
    const xi = gpu.upload(new Int32Array(2), 'int32');
    expectErrorSync(() => gpu.unary('exp', xi, 0), /int32/, INTERNAL);
  });
});

const GRAD_CASES: { [K in ActivationGradOp]: { lo: number; hi: number; specials: number[]; param?: number } } = {
  sigmoid: { lo: -20, hi: 20, specials: [100, -100, 0] },
  tanh: { lo: -10, hi: 10, specials: [100, -100, 0] },
  relu: { lo: -5, hi: 5, specials: [0] },
  relu6: { lo: -3, hi: 9, specials: [0, 6] },
  leakyRelu: { lo: -5, hi: 5, specials: [0], param: 0.2 },
  gelu: { lo: -8, hi: 8, specials: [0, -100, 100] },
  geluTanh: { lo: -8, hi: 8, specials: [0, -100, 100] },
  softplus: { lo: -30, hi: 30, specials: [100, -100, 0] },
};

describe('webgpu backend: activationGrad', () => {
  for (const op of ACTIVATION_GRAD_OPS) {
    it(op, async () => {
      const c = GRAD_CASES[op];
      for (const n of [1, 33, 257]) {
        const x = rand(n, c.lo, c.hi, n >= 33 ? c.specials : []);
        const dy = rand(n, -2, 2);
        await check(`activationGrad ${op} [${n}]`, [f32(x), f32(dy)], (be, [a, b]) => be.activationGrad(op, a!, b!, c.param ?? 0), TRANS);
      }
    });
  }
});

// ---------------------------------------------------------------- binary

const BROADCASTS: [number[], number[], number[]][] = [
  [[17], [17], [17]],
  [[257], [1], [257]],
  [[1], [65], [65]],
  [[], [33], [33]],
  [[33, 17], [17], [33, 17]],
  [[33, 1], [1, 17], [33, 17]],
  [[3, 1, 5], [4, 1], [3, 4, 5]],
  [[2, 3, 4, 1, 5, 3], [3, 1, 7, 1, 3], [2, 3, 4, 7, 5, 3]],
  [[2, 1, 3, 1, 2, 1, 3], [1, 2, 1, 2, 1, 3, 3], [2, 2, 3, 2, 2, 3, 3]],
  [[65, 1], [65, 3], [65, 3]],
  [[0, 3], [3], [0, 3]],
];

const BINARY_DOMAIN: { [K in BinaryOp]: { a: [number, number]; b: [number, number]; tol: Tol } } = {
  add: { a: [-10, 10], b: [-10, 10], tol: ARITH },
  sub: { a: [-10, 10], b: [-10, 10], tol: ARITH },
  mul: { a: [-10, 10], b: [-10, 10], tol: ARITH },
  div: { a: [-10, 10], b: [0.5, 10], tol: { atol: 1e-7, rtol: 1e-6 } },
  maximum: { a: [-10, 10], b: [-10, 10], tol: EXACT },
  minimum: { a: [-10, 10], b: [-10, 10], tol: EXACT },
  pow: { a: [0.1, 4], b: [-3, 3], tol: TRANS },
  eq: { a: [-2, 2], b: [-2, 2], tol: EXACT },
  gt: { a: [-2, 2], b: [-2, 2], tol: EXACT },
  ge: { a: [-2, 2], b: [-2, 2], tol: EXACT },
};

function grid(x: Float32Array): Float32Array {
  return x.map((v) => Math.round(v * 2) / 2);
}

describe('webgpu backend: binary', () => {
  for (const op of BINARY_OPS) {
    it(`${op} float32 with broadcasting`, async () => {
      const d = BINARY_DOMAIN[op];
      const cmp = op === 'eq' || op === 'gt' || op === 'ge' || op === 'maximum' || op === 'minimum';
      for (const [as, bs, os] of BROADCASTS) {
        let a = rand(size(as), ...d.a);
        let b = rand(size(bs), ...d.b);
        if (cmp) [a, b] = [grid(a), grid(b)]; // ties
        await check(`${op} ${JSON.stringify(as)} ${JSON.stringify(bs)}`, [f32(a), f32(b)], (be, [x, y]) => be.binary(op, x!, as, y!, bs, os), d.tol);
      }
    });

    it(`${op} int32`, async () => {
      for (const [as, bs, os] of BROADCASTS.slice(0, 8)) {
        const a = randInt(size(as), -1000, 1000);
        const b = op === 'pow' ? randInt(size(bs), -2, 3) : randInt(size(bs), -20, 20);
        // Extremes exercise wrap-around; not for pow, whose CPU reference rounds in float64 first.
        if (a.length > 3 && op !== 'pow') a.set([2147483647, -2147483648, 0]);
        await check(`${op} i32 ${JSON.stringify(as)} ${JSON.stringify(bs)}`, [i32(a), i32(b)], (be, [x, y]) => be.binary(op, x!, as, y!, bs, os), EXACT);
      }
    });
  }

  it('pow with negative bases and special exponents (float32)', async () => {
    const a = Float32Array.from([-2, -2, -2, -2, 0, 0, 0, 3, -0.5, 2]);
    const b = Float32Array.from([2, 3, -1, 0.5, 0, -1, 2, 0, -3, 10]);
    await check('pow specials', [f32(a), f32(b)], (be, [x, y]) => be.binary('pow', x!, [10], y!, [10], [10]), TRANS);
  });

  it('int32 division truncates toward zero and x / 0 = 0', async () => {
    const a = Int32Array.from([7, -7, 7, -7, 5, -2147483648, 0, 9]);
    const b = Int32Array.from([2, 2, -2, -2, 0, -1, 0, 3]);
    const expected = await check('int div', [i32(a), i32(b)], (be, [x, y]) => be.binary('div', x!, [8], y!, [8], [8]), EXACT);
    expect(Array.from(expected)).toEqual([3, -3, -3, 3, 0, -2147483648, 0, 3]);
  });
});

// ---------------------------------------------------------------- reduce

function reduceTol(length: number, maxTerm: number): Tol {
  return { atol: 1e-7 + 16 * Math.sqrt(Math.max(1, length)) * EPS * maxTerm, rtol: 4 * EPS };
}

describe('webgpu backend: reduce', () => {
  const SHAPES: [number, number, number][] = [
    [1, 1, 1], [3, 17, 1], [17, 257, 1], [5, 33, 7], [2, 3, 65], [7, 129, 1], [1, 1031, 1],
    [1, 2000, 3], [33, 1, 17], [4, 4097, 1], [3, 0, 2], [0, 5, 3],
  ];
  for (const op of ['sum', 'max'] as const) {
    it(`${op} float32`, async () => {
      for (const [o, l, i] of SHAPES) {
        await check(`${op} [${o}, ${l}, ${i}]`, [f32(rand(o * l * i, -1, 1))], (be, [x]) => be.reduce(op, x!, o, l, i), reduceTol(l, 1));
      }
    });
    it(`${op} int32`, async () => {
      for (const [o, l, i] of SHAPES) {
        await check(`${op} i32 [${o}, ${l}, ${i}]`, [i32(randInt(o * l * i, -1000, 1000))], (be, [x]) => be.reduce(op, x!, o, l, i), EXACT);
      }
    });
  }

  it('a row of length 100000', async () => {
    for (const op of ['sum', 'max'] as const) {
      await check(`${op} [1, 100000, 1]`, [f32(rand(100000, -1, 1))], (be, [x]) => be.reduce(op, x!, 1, 100000, 1), reduceTol(100000, 1));
      await check(`${op} [2, 100000, 3]`, [f32(rand(600000, -1, 1))], (be, [x]) => be.reduce(op, x!, 2, 100000, 3), reduceTol(100000, 1));
    }
  });

  it('10000 rows', async () => {
    for (const op of ['sum', 'max'] as const) {
      await check(`${op} [10000, 17, 1]`, [f32(rand(170000, -1, 1))], (be, [x]) => be.reduce(op, x!, 10000, 17, 1), reduceTol(17, 1));
      await check(`${op} [10000, 130, 1]`, [f32(rand(1300000, -1, 1))], (be, [x]) => be.reduce(op, x!, 10000, 130, 1), reduceTol(130, 1));
      await check(`${op} [10000, 5, 3]`, [f32(rand(150000, -1, 1))], (be, [x]) => be.reduce(op, x!, 10000, 5, 3), reduceTol(5, 1));
    }
  });

  it('sums with a large mean stay accurate', async () => {
    const x = rand(50000, 999, 1001);
    await check('sum [1, 50000, 1] around 1000', [f32(x)], (be, [s]) => be.reduce('sum', s!, 1, 50000, 1), reduceTol(50000, 1001));
  });
});

// ---------------------------------------------------------------- strided

describe('webgpu backend: strided', () => {
  const CASES: { xLen: number; shape: number[]; strides: number[]; offset: number }[] = [
    { xLen: 17 * 33, shape: [33, 17], strides: [1, 33], offset: 0 }, // transpose
    { xLen: 3 * 5 * 7, shape: [7, 3, 5], strides: [1, 35, 7], offset: 0 }, // permute
    { xLen: 65, shape: [4, 65], strides: [0, 1], offset: 0 }, // broadcast rows
    { xLen: 65, shape: [65, 3], strides: [1, 0], offset: 0 }, // broadcast columns
    { xLen: 100, shape: [5, 7], strides: [10, 1], offset: 12 }, // slice
    { xLen: 100, shape: [9, 3], strides: [-10, -3], offset: 99 }, // flips
    { xLen: 257, shape: [257], strides: [1], offset: 0 }, // copy
    { xLen: 2 * 3 * 2 * 3 * 2 * 3 * 2, shape: [2, 2, 3, 3, 2, 2, 3], strides: [108, 1, 2, 36, 6, 54, 18], offset: 0 }, // rank 7
    { xLen: 1, shape: [3, 1, 4], strides: [0, 0, 0], offset: 0 },
    { xLen: 5, shape: [], strides: [], offset: 3 },
    { xLen: 5, shape: [0, 4], strides: [4, 1], offset: 0 },
  ];
  it('float32 and int32 gathers', async () => {
    for (const c of CASES) {
      const label = `strided ${JSON.stringify(c)}`;
      await check(label, [f32(rand(c.xLen, -5, 5))], (be, [x]) => be.strided(x!, c.shape, c.strides, c.offset), EXACT);
      await check(`${label} i32`, [i32(randInt(c.xLen, -(2 ** 31), 2 ** 31 - 1))], (be, [x]) => be.strided(x!, c.shape, c.strides, c.offset), EXACT);
    }
  });
});

// ---------------------------------------------------------------- matmul

function matmulTol(k: number): Tol {
  // Terms are products of values in [-1, 1]; float32 rounding of a k-term dot product.
  return { atol: 1e-6 + 2 * k * EPS, rtol: 1e-5 };
}

async function checkMatmul(args: MatmulArgs, biasOn = false): Promise<void> {
  const { batch, m, k, n, aBatchStride, bBatchStride } = args;
  const aLen = batch > 0 ? (batch - 1) * aBatchStride + m * k : 0;
  const bLen = batch > 0 ? (batch - 1) * bBatchStride + k * n : 0;
  const inputs = [f32(rand(aLen)), f32(rand(bLen))];
  if (biasOn) inputs.push(f32(rand(n)));
  const label = `matmul ${JSON.stringify({ ...args, bias: biasOn })}`;
  await check(label, inputs, (be, [a, b, bias]) => be.matmul(a!, b!, bias ? { ...args, bias } : args), matmulTol(k));
}

describe('webgpu backend: matmul', () => {
  const SIZES = [1, 3, 17, 33, 65];
  it('all transposes over awkward sizes', async () => {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [m, k, n] of [
          [1, 1, 1], [3, 17, 33], [17, 3, 65], [33, 65, 1], [65, 33, 17], [1, 65, 3], [4, 8, 12], [16, 16, 16], [20, 12, 36], [5, 4, 7], [8, 5, 4],
        ] as const) {
          await checkMatmul({ batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0 });
        }
      }
    }
  });

  it('square and rectangular sizes (1, 3, 17, 33, 65, 257)', async () => {
    for (const s of [...SIZES, 257]) await checkMatmul({ batch: 1, m: s, k: s, n: s, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    await checkMatmul({ batch: 1, m: 257, k: 33, n: 65, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    await checkMatmul({ batch: 1, m: 64, k: 256, n: 128, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    await checkMatmul({ batch: 1, m: 64, k: 256, n: 128, transA: true, transB: true, aBatchStride: 0, bBatchStride: 0 });
  });

  it('batches, with broadcast (stride 0) operands', async () => {
    await checkMatmul({ batch: 3, m: 17, k: 33, n: 5, transA: false, transB: false, aBatchStride: 17 * 33, bBatchStride: 33 * 5 });
    await checkMatmul({ batch: 4, m: 8, k: 12, n: 16, transA: true, transB: false, aBatchStride: 96, bBatchStride: 0 });
    await checkMatmul({ batch: 5, m: 3, k: 7, n: 9, transA: false, transB: true, aBatchStride: 0, bBatchStride: 63 });
    await checkMatmul({ batch: 2, m: 4, k: 4, n: 4, transA: false, transB: false, aBatchStride: 18, bBatchStride: 16 }); // unaligned stride
  });

  it('k = 0 gives zeros (plus the bias)', async () => {
    await checkMatmul({ batch: 1, m: 3, k: 0, n: 5, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    await checkMatmul({ batch: 1, m: 3, k: 0, n: 5, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 }, true);
  });

  // Each epilogue is its own pipeline: with Mesa's shader cache empty (a fresh machine), lavapipe's
  // LLVM compiles them all here, 119 s on 2 idle cores (2026-12-04) against 1.2 s with the cache
  // warm; past the 120 s default on a loaded CI machine. Hence a longer clock for this test alone.
  it('fused bias + activation epilogues', async () => {
    const acts: EpilogueActivation[] = ['none', 'relu', 'relu6', 'sigmoid', 'tanh', 'leakyRelu', 'gelu', 'geluTanh'];
    for (const activation of acts) {
      for (const [m, k, n] of [[17, 33, 5], [8, 16, 12]] as const) {
        const args: MatmulArgs = { batch: 1, m, k, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, activation, alpha: 0.2 };
        await checkMatmul(args, true);
      }
    }
    await checkMatmul({ batch: 2, m: 9, k: 9, n: 9, transA: true, transB: true, aBatchStride: 81, bBatchStride: 0, activation: 'leakyRelu' }, false);
  }, 600_000);
});

// ---------------------------------------------------------------- random

describe('webgpu backend: random', () => {
  const SEEDS = [0, 1, 12345, 2 ** 40 + 3];
  const OFFSETS = [0, 1, 2, 3, 5, 1001, 2 ** 32 + 7];
  it("'bits' are philoxWords word for word", async () => {
    for (const seed of SEEDS) {
      for (const offset of OFFSETS) {
        for (const n of [1, 3, 17, 258]) {
          const got = await gpu.read(gpu.random('bits', n, seed, offset, 'int32'));
          const want = Int32Array.from(philoxWords(seed, offset, n), (w) => w | 0);
          assertClose(`bits seed ${seed} offset ${offset} n ${n}`, got, want, EXACT);
        }
      }
    }
  });

  it('the block counter carries into its high word', async () => {
    const offset = 4 * (2 ** 32 - 2) + 1; // q0 = 2^32 - 2: later blocks carry
    const got = await gpu.read(gpu.random('bits', 300, 99, offset, 'int32'));
    assertClose('bits across the carry', got, Int32Array.from(philoxWords(99, offset, 300), (w) => w | 0), EXACT);
  });

  it('uniform matches the CPU exactly, normal within float32 rounding', async () => {
    for (const seed of SEEDS) {
      for (const offset of [0, 1, 3, 2 ** 33 + 1]) {
        for (const n of [1, 4, 65, 1001]) {
          await check(`uniform ${seed} ${offset} ${n}`, [], (be) => be.random('uniform', n, seed, offset, 'float32'), EXACT);
          await check(`normal ${seed} ${offset} ${n}`, [], (be) => be.random('normal', n, seed, offset, 'float32'), { atol: 4e-6, rtol: 4e-6 });
        }
      }
    }
  });

  it('rejects the wrong dtype and float64', () => {
    expectErrorSync(() => gpu.random('uniform', 4, 1, 0, 'int32'), /float32/, INTERNAL);
    expectErrorSync(() => gpu.random('bits', 4, 1, 0, 'float32'), /int32/, INTERNAL);
    expectErrorSync(() => gpu.random('normal', 4, 1, 0, 'float64'), /float64/, INTERNAL);
  });
});

// ---------------------------------------------------------------- big dispatches

describe('webgpu backend: large dispatches', () => {
  it('an elementwise op over more than 65535 workgroups (folded into 2-D)', async () => {
    const n = 65536 * 256 + 1000; // 65540 workgroups of 256
    const x = gpu.fill(n, 1.5, 'float32');
    // No poisoning needed: y's buffer is new (zero-filled), and every element is checked for 3.5.
    const y = gpu.unary('addScalar', x, 2);
    const got = (await gpu.read(y)) as Float32Array;
    let bad = 0;
    for (let i = 0; i < n; i++) if (got[i] !== 3.5) bad++;
    expect(bad).toBe(0);
    gpu.release(x);
    gpu.release(y);
  });
});
