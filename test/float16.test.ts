/**
 * float16 (torch.float16): the host rounding helper against PyTorch's bit patterns, then casts,
 * elementwise ops, reductions and matmul on every backend: exact agreement with PyTorch where it
 * computes the same way (casts, +, ×), and the CPU backend's f16-rounded reference elsewhere, on
 * awkward shapes with outputs poisoned by float16 NaN. Also: the clear error where the device lacks
 * 'shader-f16', and routines refusing float16 inputs.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as wg from '../src/index.js';
import type { BackendName } from '../src/backend/types.js';
import { getBackend } from '../src/engine.js';
import { decodeF16, encodeF16, f16Bits, f16FromBits, roundToF16 } from '../src/backend/f16.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { matmulT } from '../src/ops/matmul.js';
import { describeEachBackend, webgpuAvailability } from './helpers/backends.js';

type Num = number | string;
interface Fixture {
  torch: string;
  casts: { x: Num[]; bits: number[]; values: Num[] };
  binary: { a: Num[]; b: Num[]; add: Num[]; mul: Num[]; div: Num[]; mul_big: Num[] };
  sum: { x: Num[]; sum: number };
}
const F = JSON.parse(readFileSync(new URL('./fixtures/float16.json', import.meta.url), 'utf8')) as Fixture;
const num = (v: Num): number => (typeof v === 'number' ? v : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : NaN);
const nums = (l: Num[]): number[] => l.map(num);

/** Spacing of float16 values at |v| (2^-24 below 2^-14). */
function ulp16(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -14) return 2 ** -24;
  return 2 ** (Math.floor(Math.log2(a)) - 10);
}

/** Same values bit for bit (−0 vs +0 and NaN included). */
function expectExact(got: ArrayLike<number>, want: readonly number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/** |got − want| ≤ ulps·ulp16(want) + atol, infinities equal. */
function expectNear(got: ArrayLike<number>, want: readonly number[], ulps: number, atol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (!Object.is(g, w)) throw new Error(`${what}: element ${i} is ${g}, expected ${w}`);
      continue;
    }
    if (Math.abs(g - w) > ulps * ulp16(w) + atol) throw new Error(`${what}: element ${i} is ${g}, expected ${w} (±${ulps} ulp + ${atol})`);
  }
}

/** Every value of `data` is a float16 (the storage holds nothing finer). */
function expectHalfValues(data: ArrayLike<number>, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isNaN(v) && roundToF16(v) !== v) throw new Error(`${what}: element ${i} = ${v} is not a float16 value`);
  }
}

/** Frees float16 storages filled with NaN, so a pooled backend hands them to the next outputs. */
function poisonHalf(device: BackendName, sizes: readonly number[]): void {
  const b = getBackend(device);
  const s = sizes.filter((n) => n > 0).flatMap((n) => [b.fill(n, NaN, 'float16'), b.fill(n, NaN, 'float16')]);
  for (const x of s) b.release(x);
}

/** Deterministic values spread over several binades, rounded to float16. */
function halfData(n: number, seed: number, scale = 4): number[] {
  const out: number[] = [];
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(roundToF16(((s / 2 ** 32) * 2 - 1) * scale));
  }
  return out;
}

describe('float16 host rounding (src/backend/f16.ts)', () => {
  it('matches torch.float16 bit for bit on casts and rounding edge cases', () => {
    const xs = nums(F.casts.x);
    expect(xs.length).toBeGreaterThan(80);
    xs.forEach((x, i) => {
      expect(f16Bits(x), `bits of ${x}`).toBe(F.casts.bits[i]);
      expect(Object.is(roundToF16(x), num(F.casts.values[i]!)), `value of ${x}: ${roundToF16(x)} vs ${String(F.casts.values[i])}`).toBe(true);
    });
  });

  it('named cases: 65504 max, 65520 → inf, 2^-24, subnormals, ties to even', () => {
    expect(roundToF16(65504)).toBe(65504);
    expect(roundToF16(65519.99)).toBe(65504);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(-65520)).toBe(-Infinity);
    expect(roundToF16(2 ** -24)).toBe(2 ** -24);
    expect(roundToF16(2 ** -25)).toBe(0); // tie between 0 and 2^-24: even is 0
    expect(roundToF16(3 * 2 ** -25)).toBe(2 ** -23); // tie between 1 and 2 quanta: even is 2
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // tie: 1 has an even mantissa
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToF16(2049)).toBe(2048);
    expect(roundToF16(2051)).toBe(2052);
    expect(Object.is(roundToF16(-1e-9), -0)).toBe(true);
  });

  it('bits and values round-trip for all 65536 patterns (NaNs stay NaN)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16FromBits(h);
      if (Number.isNaN(v)) expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
      else if (f16Bits(v) !== h) throw new Error(`pattern ${h.toString(16)} → ${v} → ${f16Bits(v).toString(16)}`);
    }
    expectExact(decodeF16(encodeF16([1, -2, 65504]), 3), [1, -2, 65504], 'encode/decode');
  });
});

describeEachBackend('float16 tensors', (device) => {
  if (device === 'webgpu') {
    // float16 on WebGPU needs 'shader-f16' (lavapipe, the CI driver, has it; SwiftShader does not).
    // Without it these cases are reported as skipped; the refusal itself is checked below on any adapter.
    beforeEach((ctx) => {
      if (!(getBackend('webgpu') as WebGPUBackend).shaderF16) ctx.skip();
    });
  }
  const opts = { device };
  const half = { device, dtype: 'float16' as const };

  it('creation, cast from float32 and back: exactly torch.float16 (fixture)', async () => {
    const xs = nums(F.casts.x);
    const want = nums(F.casts.values);
    poisonHalf(device, [xs.length]);
    const up = wg.tensor(xs, half);
    expect(up.dtype).toBe('float16');
    const got = await up.data();
    expect(got).toBeInstanceOf(Float32Array);
    expectExact(got, want, 'tensor(..., float16)');
    const x32 = wg.tensor(new Float32Array(xs), opts);
    const h = x32.cast('float16');
    expectExact(await h.data(), want, 'cast float32 → float16');
    const back = h.cast('float32');
    expect(back.dtype).toBe('float32');
    expectExact(await back.data(), want, 'cast float16 → float32');
    const i32 = wg.tensor([3, -70000, 2049], { device, dtype: 'int32' }).cast('float16');
    expectExact(await i32.data(), [3, -Infinity, 2048], 'cast int32 → float16');
    expectExact(await wg.tensor([1.5, -2.5, 65504], half).cast('int32').data(), [1, -2, 65504], 'cast float16 → int32');
    wg.dispose([up, x32, h, back, i32]);
  });

  it('add and mul exactly as torch.float16, div within one ulp, overflow to inf', async () => {
    const a = wg.tensor(nums(F.binary.a), half);
    const b = wg.tensor(nums(F.binary.b), half);
    poisonHalf(device, [a.size]);
    expectExact(await a.add(b).data(), nums(F.binary.add), 'add');
    expectExact(await a.mul(b).data(), nums(F.binary.mul), 'mul');
    expectExact(await a.mul(4000).data(), nums(F.binary.mul_big), 'mul by 4000 (overflows to inf)');
    // WGSL's f32 division may be off by 2.5 f32 ulps, which can move the f16 rounding by one.
    expectNear(await a.div(b).data(), nums(F.binary.div), device === 'cpu' ? 0 : 1, 0, 'div');
  });

  it('sum of 1000 float16 values (f32 accumulation) agrees with torch.sum within one ulp', async () => {
    const x = wg.tensor(nums(F.sum.x), half);
    const s = x.sum();
    expect(s.dtype).toBe('float16');
    const got = (await s.data())[0]!;
    expect(Math.abs(got - F.sum.sum)).toBeLessThanOrEqual(ulp16(F.sum.sum));
  });

  const SIZES = [1, 3, 17, 33, 65, 257];
  const UNARY: [string, (t: wg.Tensor) => wg.Tensor, (v: number) => number][] = [
    ['neg', (t) => t.neg(), (v) => -v],
    ['relu', (t) => t.relu(), (v) => Math.max(v, 0)],
    ['exp', (t) => t.exp(), Math.exp],
    ['tanh', (t) => t.tanh(), Math.tanh],
    ['sigmoid', (t) => t.sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
  ];
  for (const [name, run, f] of UNARY) {
    it(`${name} on float16 storage, awkward sizes, against the f16-rounded float64 formula`, async () => {
      for (const n of SIZES) {
        const xs = halfData(n, n * 7 + name.length);
        poisonHalf(device, [n]);
        const y = run(wg.tensor(xs, half));
        expect(y.dtype).toBe('float16');
        const got = await y.data();
        expectHalfValues(got, `${name} n=${n}`);
        // One f16 ulp: the f32 transcendental may land on the other side of a rounding boundary.
        expectNear(got, xs.map((v) => roundToF16(f(v))), 1, 0, `${name} n=${n}`);
      }
    });
  }

  it('broadcasting binary ops and strided views on float16', async () => {
    const a = halfData(17 * 33, 5);
    const b = halfData(33, 6);
    poisonHalf(device, [17 * 33]);
    const ta = wg.tensor(a, { ...half, shape: [17, 33] } as const);
    const tb = wg.tensor(b, { ...half, shape: [33] } as const);
    const got = await wg.sub(ta, tb).data();
    expectExact(got, a.map((v, i) => roundToF16(v - b[i % 33]!)), 'sub broadcast');
    const tt = await wg.clone(ta.transpose(0, 1)).data();
    expectExact(tt, Array.from({ length: 17 * 33 }, (_, i) => a[(i % 17) * 33 + Math.floor(i / 17)]!), 'transpose');
  });

  it('sum and max along each axis of [3, 17, 33] (f32 accumulation, one rounding)', async () => {
    const shape = [3, 17, 33];
    const xs = halfData(3 * 17 * 33, 9);
    const x = wg.tensor(xs, { ...half, shape } as const);
    for (let axis = 0; axis < 3; axis++) {
      const outer = shape.slice(0, axis).reduce((p, q) => p * q, 1);
      const len = shape[axis]!;
      const inner = shape.slice(axis + 1).reduce((p, q) => p * q, 1);
      const sums: number[] = [];
      const maxes: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (let k = 0; k < inner; k++) {
          let s = 0;
          let m = -Infinity;
          for (let l = 0; l < len; l++) {
            const v = xs[(o * len + l) * inner + k]!;
            s += v;
            m = Math.max(m, v);
          }
          sums.push(roundToF16(s));
          maxes.push(m);
        }
      }
      poisonHalf(device, [outer * inner]);
      // The f32 partial sums may differ from float64 by len·2^-24 relative: within one f16 ulp here.
      expectNear(await x.sum(axis).data(), sums, 1, 0, `sum axis ${axis}`);
      expectExact(await x.max(axis).data(), maxes, `max axis ${axis}`);
    }
  });

  const MATMULS: [number, number, number][] = [[1, 1, 1], [3, 17, 5], [33, 65, 17], [17, 257, 3], [65, 33, 33]];
  for (const [m, k, n] of MATMULS) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true]] as const) {
      it(`matmul ${m}x${k}x${n}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}: f16 in and out, f32 accumulation`, async () => {
        const av = halfData(m * k, m + k, 2);
        const bv = halfData(k * n, k + n + 1, 2);
        const a = wg.tensor(av, { ...half, shape: transA ? [k, m] : [m, k] } as const);
        const b = wg.tensor(bv, { ...half, shape: transB ? [n, k] : [k, n] } as const);
        poisonHalf(device, [m * n]);
        const c = matmulT(a, b, transA, transB);
        expect(c.dtype).toBe('float16');
        const want: number[] = [];
        const bound: number[] = [];
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            let abs = 0;
            for (let q = 0; q < k; q++) {
              const x = av[transA ? q * m + i : i * k + q]! * bv[transB ? j * k + q : q * n + j]!;
              s += x;
              abs += Math.abs(x);
            }
            want.push(roundToF16(s));
            bound.push(abs);
          }
        }
        const got = await c.data();
        expectHalfValues(got, 'matmul');
        // One f16 rounding of an f32 sum: the f32 error is at most k·2^-24·Σ|ab|.
        for (let i = 0; i < want.length; i++) {
          const tol = ulp16(want[i]!) + k * 2 ** -24 * bound[i]!;
          if (!(Math.abs(got[i]! - want[i]!) <= tol)) throw new Error(`matmul element ${i}: ${got[i]} vs ${want[i]} (tol ${tol})`);
        }
      });
    }
  }

  it('linear with bias and relu on float16, and a product beyond 65504 is inf', async () => {
    const x = wg.tensor(halfData(5 * 7, 1), { ...half, shape: [5, 7] } as const);
    const w = wg.tensor(halfData(3 * 7, 2), { ...half, shape: [3, 7] } as const);
    const bias = wg.tensor([0.5, -0.25, 1], half);
    const y = wg.linear(x, w, bias, { activation: 'relu' });
    const [xs, ws] = [await x.data(), await w.data()];
    const want = Array.from({ length: 15 }, (_, idx) => {
      const r = Math.floor(idx / 3);
      const c = idx % 3;
      let s = [0.5, -0.25, 1][c]!;
      for (let q = 0; q < 7; q++) s += xs[r * 7 + q]! * ws[c * 7 + q]!;
      return Math.max(roundToF16(s), 0);
    });
    expectNear(await y.data(), want, 1, 0, 'linear relu');
    const big = wg.full([1, 4], 200, half);
    const prod = await wg.matmul(big, wg.full([4, 1], 100, half)).data();
    expectExact(prod, [Infinity], '4·200·100 = 80000 → inf');
  });

  it('gradients flow through float16 ops and stay float16', async () => {
    const x = wg.tensor([0.5, -1.25, 3], half).requiresGrad_();
    x.mul(x).sum().backward();
    expect(x.grad!.dtype).toBe('float16');
    expectExact(await x.grad!.data(), [1, -2.5, 6], 'd(x²)/dx');
  });

  it('routines refuse float16 inputs with an error naming the routine', () => {
    const x = wg.tensor([[1, 2], [3, 4]], half);
    expect(() => wg.softmax(x, 1)).toThrow(wg.WebgradError);
    expect(() => wg.softmax(x, 1)).toThrow(/float16.*cast it to float32/);
  });
});

describe('float16 where the device lacks shader-f16', () => {
  it('the device is requested with shader-f16 when the adapter has it, and float16 refuses clearly without it', async () => {
    const a = await webgpuAvailability();
    if (!a.available) throw new Error(`this test needs a WebGPU adapter: ${a.reason}`);
    const gpu = getBackend('webgpu') as WebGPUBackend;
    // Lavapipe (the CI driver) offers shader-f16, so there the engine's device must have asked for it.
    if (/llvmpipe|lavapipe/i.test(gpu.adapterInfo)) expect(gpu.shaderF16).toBe(true);
    expect(gpu.device.features.has('shader-f16')).toBe(gpu.shaderF16);
    const plain = await WebGPUBackend.create({ shaderF16: false, autotune: false });
    try {
      expect(plain.shaderF16).toBe(false);
      expect(plain.device.features.has('shader-f16')).toBe(false);
      const src32 = plain.upload(new Float32Array([1]), 'float32');
      const before = plain.memoryStats().allocatedBytes;
      for (const [op, call] of [
        ['upload', () => plain.upload(new Float32Array([1, 2]), 'float16')],
        ['fill', () => plain.fill(4, 1, 'float16')],
        ['cast', () => plain.cast(src32, 'float16')],
        ['random uniform', () => plain.random('uniform', 4, 1, 0, 'float16')],
      ] as const) {
        let err: unknown = null;
        try { call(); } catch (e) { err = e; }
        expect(err, op).toBeInstanceOf(wg.WebgradError);
        expect((err as Error).message).toMatch(new RegExp(`^${op}: float16 needs the WebGPU feature 'shader-f16'`));
      }
      // The refused calls allocated nothing, and float32 keeps working.
      expect(plain.memoryStats().allocatedBytes).toBe(before);
      expect(Array.from(await plain.read(plain.upload(new Float32Array([1, 2]), 'float32')))).toEqual([1, 2]);
    } finally {
      plain.destroy();
    }
  });
});
