/**
 * NaN, ±Inf, ±0, subnormals and huge values are never hidden: activations (forward and backward),
 * clamp, maximum/minimum, sign, log, sqrt, max reductions and softmax against PyTorch
 * (test/fixtures/nan_numerics.json, written by test/fixtures/make_nan_fixtures.py), on every backend.
 *
 * Expected values are PyTorch's float64 results on float32 inputs, rounded to float32. Both backends
 * run in float32 here (the CPU computes in float64 and rounds on store). On a device a result that
 * is a float32 subnormal may be flushed to 0 where it comes from arithmetic (WGSL allows that; a
 * result chosen by a bit test, like relu(1e-38), must be exact).
 *
 * Run on SwiftShader too: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx vitest run test/nan-numerics.test.ts
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import type { Tensor } from '../src/tensor.js';
import type { BackendName } from '../src/backend/types.js';
import {
  clamp, gelu, leakyRelu, linear, log, max, maximum, minimum, relu, relu6, sigmoid, sign, softmax, softplus, sqrt, sum,
  tanh, tensor, abs, exp,
} from '../src/index.js';
import { dispose } from '../src/lifetime.js';

type Enc = number | string;

/** Decodes the fixture's strings for non-finite values and -0. */
function dec(v: Enc): number {
  if (typeof v === 'number') return v;
  const named: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };
  const n = named[v];
  if (n === undefined) throw new Error(`fixture: unknown value ${v}`);
  return n;
}
const decAll = (a: readonly Enc[]): number[] => a.map(dec);

interface NanFixture {
  points: Enc[];
  leakySlope: number;
  activations: Record<string, { y: Enc[]; dx: Enc[] }>;
  elementwise: Record<string, Enc[]>;
  float32Differs: { at: string; float64: Enc; float32: Enc }[];
  reductions: { name: string; x?: Enc[]; shape: number[]; axis: number; nanAt?: number[][]; max: Enc[] }[];
  softmax: { x: Enc[]; shape: number[]; softmax: Enc[] };
}

export const NAN_FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/nan_numerics.json', import.meta.url), 'utf8')) as NanFixture;
const F = NAN_FIXTURE;
const POINTS = decAll(F.points);
const SUBNORMAL = 1.1754943508222875e-38;
const GRAD_ATOL = 1e-7;

/**
 * Element i of `actual` against PyTorch's `expected` (float64, compared after rounding to float32):
 * NaN must be NaN, ±Inf the same infinity, numbers within rtol. `flushOk`: a device may give 0
 * where the expected value is a float32 subnormal.
 */
function check(what: string, actual: ArrayLike<number>, expected: readonly number[], rtol: number, flushOk: boolean, atol = 1e-45, xs: readonly number[] = POINTS): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const bad: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const e = Math.fround(expected[i]!);
    const a = actual[i]!;
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!Number.isFinite(e)) ok = a === e;
    else if (flushOk && e !== 0 && Math.abs(e) < SUBNORMAL && a === 0) ok = true;
    else ok = Math.abs(a - e) <= rtol * Math.abs(e) + atol;
    if (!ok) bad.push(`[${i}${i < xs.length ? ` x=${xs[i]}` : ''}] got ${a}, PyTorch ${e}`);
  }
  expect(bad, `${what}: elements differing from PyTorch`).toEqual([]);
}

async function read(t: Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  sigmoid,
  tanh,
  relu,
  relu6,
  leakyRelu: (x) => leakyRelu(x, F.leakySlope),
  gelu: (x) => gelu(x),
  geluTanh: (x) => gelu(x, 'tanh'),
  softplus,
};

/** Results chosen by bit tests (no arithmetic): exact on every driver, subnormals included. */
const EXACT: ReadonlySet<string> = new Set(['relu', 'relu6', 'clamp(-1,1)', 'clamp(min=0)', 'clamp(max=0)', 'maximum(x,0.5)', 'maximum(0.5,x)', 'minimum(x,0.5)', 'minimum(0.5,x)', 'abs', 'sign']);

/** sign(NaN): NaN here (NaN is never hidden, as NumPy), where PyTorch 1.13 gives 0. */
function expectedElementwise(name: string): number[] {
  const e = decAll(F.elementwise[name]!);
  if (name === 'sign') return e.map((v, i) => (Number.isNaN(POINTS[i]!) ? Number.NaN : v));
  return e;
}

it('the fixture covers NaN, ±Inf, ±0, ±1e-38 (float32 subnormal) and ±1e20', () => {
  const p = POINTS.map((v) => Math.fround(v));
  expect(p.some(Number.isNaN)).toBe(true);
  for (const v of [Infinity, -Infinity, 1e20, -1e20, 1e-38, -1e-38].map(Math.fround)) expect(p).toContain(v);
  expect(p.some((v) => Object.is(v, -0))).toBe(true);
  expect(Math.abs(Math.fround(1e-38))).toBeLessThan(SUBNORMAL);
});

describeEachBackend('NaN, Inf and subnormals as PyTorch', (device: BackendName) => {
  const dtype = 'float32' as const;
  const rtol = device === 'cpu' ? 2e-7 : 2e-5;
  const flush = device !== 'cpu';
  const points = () => tensor(POINTS, { shape: [POINTS.length], dtype, device });

  for (const [name, fn] of Object.entries(ACTIVATIONS)) {
    it(`${name}: forward and backward at NaN, ±Inf, ±0, ±1e-38, ±1e20`, async () => {
      const x = tensor(POINTS, { shape: [POINTS.length], dtype, device, requiresGrad: true });
      const y = fn(x);
      const s = sum(y);
      s.backward();
      const e = F.activations[name]!;
      check(`${name}(x)`, await read(y), decAll(e.y), rtol, flush && !EXACT.has(name));
      // Derivatives are at most ~1.13 here; float32 loses relative accuracy where they are tiny
      // (sigmoid'(7) = 1 - σ cancels; PyTorch's own float32 is off by 6e-5 there), hence the atol.
      check(`${name}'(x)`, await read(x.grad!), decAll(e.dx), rtol, flush, GRAD_ATOL);
      dispose([x, y, s]);
    });
  }

  // The fused linear layer: the activation runs in the matmul epilogue and its gradient is taken
  // from the saved output. x·[[1]] is arithmetic, so the subnormal points are left out here.
  for (const name of ['relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh'] as const) {
    it(`linear(x, [[1]], activation '${name}'): epilogue and gradient from the output`, async () => {
      const keep = POINTS.map((v, i) => i).filter((i) => !(POINTS[i] !== 0 && Math.abs(POINTS[i]!) < 1e-30));
      const xs = keep.map((i) => POINTS[i]!);
      const x = tensor(xs, { shape: [xs.length, 1], dtype, device, requiresGrad: true });
      const w = tensor([1], { shape: [1, 1], dtype, device });
      const y = linear(x, w, null, { activation: name, negativeSlope: F.leakySlope });
      const s = sum(y);
      s.backward();
      const e = F.activations[name]!;
      check(`linear ${name}`, await read(y), keep.map((i) => dec(e.y[i]!)), rtol, false, 1e-45, xs);
      // From the float32 output y: σ' = y(1 - y) and tanh' = 1 - y² cancel near saturation.
      check(`linear ${name} grad`, await read(x.grad!), keep.map((i) => dec(e.dx[i]!)), rtol, false, 1e-6, xs);
      dispose([x, w, y, s]);
    });
  }

  const ELEMENTWISE: Record<string, (x: Tensor) => Tensor> = {
    'clamp(-1,1)': (x) => clamp(x, -1, 1),
    'clamp(min=0)': (x) => clamp(x, 0, null),
    'clamp(max=0)': (x) => clamp(x, null, 0),
    'maximum(x,0.5)': (x) => maximum(x, 0.5),
    'minimum(x,0.5)': (x) => minimum(x, 0.5),
    sign,
    log,
    sqrt,
    abs,
    exp,
  };
  for (const [name, fn] of Object.entries(ELEMENTWISE)) {
    it(`${name} at NaN, ±Inf, ±0, ±1e-38, ±1e20`, async () => {
      const x = points();
      const y = fn(x);
      check(name, await read(y), expectedElementwise(name), rtol, flush && !EXACT.has(name));
      dispose([x, y]);
    });
  }

  for (const [name, swap] of [['maximum', false], ['maximum', true], ['minimum', false], ['minimum', true]] as const) {
    const key = swap ? `${name}(0.5,x)` : `${name}(x,0.5)`;
    it(`${key} of two tensors (NaN in either operand)`, async () => {
      const x = points();
      const h = tensor(POINTS.map(() => 0.5), { shape: [POINTS.length], dtype, device });
      const f = name === 'maximum' ? maximum : minimum;
      const y = swap ? f(h, x) : f(x, h);
      check(key, await read(y), expectedElementwise(key), rtol, false);
      // The same through the vec4 kernel (length a multiple of 4) and the broadcasting one.
      const x4 = tensor([...POINTS, ...POINTS, ...POINTS, ...POINTS], { shape: [4, POINTS.length], dtype, device });
      const hb = tensor([0.5], { shape: [1, 1], dtype, device });
      const h4 = tensor(new Array<number>(x4.size).fill(0.5), { shape: x4.shape, dtype, device });
      const yb = swap ? f(hb, x4) : f(x4, hb);
      const y4 = swap ? f(h4, x4) : f(x4, h4);
      const e = expectedElementwise(key);
      check(`${key} broadcast`, await read(yb), [...e, ...e, ...e, ...e], rtol, false);
      check(`${key} vec4`, await read(y4), [...e, ...e, ...e, ...e], rtol, false);
      dispose([x, h, y, x4, hb, h4, yb, y4]);
    });
  }

  for (const c of F.reductions) {
    it(`max over ${c.name} (axis ${c.axis})`, async () => {
      let values: number[];
      if (c.x) {
        values = decAll(c.x);
      } else {
        // LONG_FORMULA of the fixture script: float32(((i * 7919 + r * 131) % 10007) / 1000 - 5).
        const [rows, n] = c.shape as [number, number];
        values = [];
        for (let r = 0; r < rows; r++) {
          for (let i = 0; i < n; i++) values.push(Math.fround(((i * 7919 + r * 131) % 10007) / 1000 - 5));
        }
        c.nanAt!.forEach((cols, r) => cols.forEach((i) => (values[r * n + i] = Number.NaN)));
      }
      const x = tensor(values, { shape: c.shape, dtype, device });
      const y = max(x, c.axis);
      check(`max ${c.name}`, await read(y), decAll(c.max), rtol, false);
      dispose([x, y]);
    });
  }

  it('softmax of a row holding NaN is NaN throughout; other rows unchanged', async () => {
    const x = tensor(decAll(F.softmax.x), { shape: F.softmax.shape, dtype, device });
    const y = softmax(x);
    check('softmax', await read(y), decAll(F.softmax.softmax), rtol, false);
    // A row long enough for the workgroup (tree) kernel, NaN in the middle.
    const long = Array.from({ length: 300 }, (_, i) => Math.sin(i));
    long[150] = Number.NaN;
    const xl = tensor(long, { shape: [1, 300], dtype, device });
    const yl = softmax(xl);
    expect(Array.from(await read(yl)).every(Number.isNaN)).toBe(true);
    dispose([x, y, xl, yl]);
  });
});
