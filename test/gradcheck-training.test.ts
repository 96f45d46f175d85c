/**
 * Central-difference gradient checks (float64 CPU, test/helpers/gradcheck.ts) for the training ops:
 * linear with each activation (inputs redrawn until every pre-activation is away from the kinks),
 * dropout with a fixed seed, batchNorm in training (x, weight, bias) and evaluation mode,
 * crossEntropy, mse, clone, softmax/logSoftmax edge widths and the L1/L2 penalties.
 */
import { describe, expect, it } from 'vitest';
import { assertGradcheck, type GradcheckInput } from './helpers/gradcheck.js';
import { expectNoLeak } from './helpers/oracle.js';
import { AWAY, BASE_SEED, U, draw, prng, sizeOf, type Dist } from './helpers/random-data.js';
import type { Tensor } from '../src/tensor.js';
import type { LinearActivation } from '../src/index.js';
import {
  add, batchNorm, clone, crossEntropy, dropout, exp, linear, logSoftmax, mse, mul, optim, softmax, sum, tensor, zeros,
} from '../src/index.js';

interface GCase {
  name: string;
  inputs: { shape: number[]; dist: Dist }[];
  fn: (...xs: Tensor[]) => Tensor;
  /** Redraw the inputs (next seed) while this returns false: keeps pre-activations off the kinks. */
  accept?: (values: Float64Array[]) => boolean;
  tol?: number;
  /** The true gradient is identically zero (one class, one column): assert that instead. */
  zero?: boolean;
}

const CASES: GCase[] = [];
const c = (g: GCase): void => void CASES.push(g);
const x = (shape: number[], dist: Dist = U(-2, 2)): { shape: number[]; dist: Dist } => ({ shape, dist });

// ---- linear: act(x·Wᵀ + b)

/** The pre-activations x·Wᵀ + b, flat, from host values. */
function preActivations(xv: Float64Array, xShape: number[], w: Float64Array, out: number, b: Float64Array | null): number[] {
  const inF = xShape[xShape.length - 1]!;
  const rows = sizeOf(xShape) / inF;
  const pre: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b[o]! : 0;
      for (let k = 0; k < inF; k++) s += xv[r * inF + k]! * w[o * inF + k]!;
      pre.push(s);
    }
  }
  return pre;
}

const KINKS: Partial<Record<LinearActivation, number[]>> = { relu: [0], relu6: [0, 6], leakyRelu: [0] };
const LIN_ACTS: { act: LinearActivation; slope?: number }[] = [
  { act: 'none' }, { act: 'relu' }, { act: 'relu6' }, { act: 'sigmoid' }, { act: 'tanh' }, { act: 'leakyRelu' },
  { act: 'leakyRelu', slope: 0.3 }, { act: 'gelu' },
];
for (const { act, slope } of LIN_ACTS) {
  const kinks = KINKS[act] ?? [];
  for (const [xShape, out, hasBias] of [[[3, 4], 5, true], [[2, 3, 4], 3, true], [[4, 3], 2, false]] as [number[], number, boolean][]) {
    const inF = xShape[xShape.length - 1]!;
    const opts = { activation: act, ...(slope !== undefined ? { negativeSlope: slope } : {}) };
    // W scaled so pre-activations reach past 6 for relu6 (and into sigmoid/tanh's curved parts).
    const wDist = act === 'relu6' ? U(-3, 3) : U(-1, 1);
    c({
      name: `linear ${act}${slope !== undefined ? `(${slope})` : ''} x[${xShape}] W[${out},${inF}]${hasBias ? ' +b' : ''}`,
      inputs: [x(xShape), x([out, inF], wDist), ...(hasBias ? [x([out], U(-1, 1))] : [])],
      fn: hasBias ? (p, w, b) => linear(p, w, b!, opts) : (p, w) => linear(p, w, null, opts),
      accept: (v) => preActivations(v[0]!, xShape, v[1]!, out, hasBias ? v[2]! : null).every((s) => kinks.every((k) => Math.abs(s - k) > 0.05)),
    });
  }
}
c({
  name: 'linear relu6: the pre-activations straddle both kinks',
  inputs: [x([6, 3], U(-3, 3)), x([4, 3], U(-2, 2)), x([4], U(-1, 1))],
  fn: (p, w, b) => linear(p, w, b, { activation: 'relu6' }),
  accept: (v) => {
    const pre = preActivations(v[0]!, [6, 3], v[1]!, 4, v[2]!);
    return pre.every((s) => Math.abs(s) > 0.05 && Math.abs(s - 6) > 0.05) && pre.some((s) => s < 0) && pre.some((s) => s > 6) && pre.some((s) => s > 0 && s < 6);
  },
});

// ---- dropout, fixed seed (the mask is a pure function of (seed, offset))
for (const p of [0.1, 0.5, 0.9]) {
  c({ name: `dropout p ${p} seed 7 [5,7]`, inputs: [x([5, 7])], fn: (q) => dropout(q, p, { seed: 7 }) });
}
c({ name: 'dropout p 0.3 seed 11, composed: dropout(x)·x', inputs: [x([3, 5])], fn: (q) => mul(dropout(q, 0.3, { seed: 11 }), q) });
c({ name: 'dropout eval (identity)', inputs: [x([3, 5])], fn: (q) => mul(dropout(q, 0.5, { training: false }), q) });

// ---- batchNorm
for (const [n, ch] of [[2, 3], [5, 4], [9, 1]] as [number, number][]) {
  c({
    name: `batchNorm train [${n},${ch}] x, weight, bias`,
    inputs: [x([n, ch]), x([ch], AWAY(0.5, 2)), x([ch])],
    fn: (p, w, b) => batchNorm(p, null, null, w, b, { training: true }),
  });
  c({ name: `batchNorm train [${n},${ch}] no affine`, inputs: [x([n, ch])], fn: (p) => batchNorm(p, null, null, null, null, { training: true }) });
}
c({ name: 'batchNorm train [4,3] weight only', inputs: [x([4, 3]), x([3], AWAY(0.5, 2))], fn: (p, w) => batchNorm(p, null, null, w, null, { training: true }) });
c({ name: 'batchNorm train [4,3] bias only', inputs: [x([4, 3]), x([3])], fn: (p, b) => batchNorm(p, null, null, null, b, { training: true }) });
c({
  name: 'batchNorm train [6,2] eps 0.1, with running statistics (updated each call)',
  inputs: [x([6, 2]), x([2], AWAY(0.5, 2)), x([2])],
  fn: (p, w, b) => {
    // Fresh statistics per call (the update is not differentiated; it must not disturb the gradient).
    const rm = zeros([2], { dtype: 'float64' });
    const rv = zeros([2], { dtype: 'float64' }).add(1);
    const y = batchNorm(p, rm, rv, w, b, { training: true, eps: 0.1, momentum: 0.2 });
    rm.dispose();
    rv.dispose();
    return y;
  },
});
c({
  name: 'batchNorm eval [4,3] x, weight, bias',
  inputs: [x([4, 3]), x([3], AWAY(0.5, 2)), x([3])],
  fn: (p, w, b) => {
    const rm = tensor([0.5, -0.25, 1], { dtype: 'float64' });
    const rv = tensor([0.8, 2, 0.3], { dtype: 'float64' });
    const y = batchNorm(p, rm, rv, w, b, { training: false });
    rm.dispose();
    rv.dispose();
    return y;
  },
});

// ---- crossEntropy (labels fixed), mse
for (const reduction of ['mean', 'sum', 'none'] as const) {
  c({
    name: `crossEntropy [4,5] ${reduction}`, inputs: [x([4, 5], U(-3, 3))],
    fn: (p) => crossEntropy(p, tensor([3, 0, 4, 4], { dtype: 'int32' }), reduction),
  });
  c({ name: `mse [3,4] ${reduction}`, inputs: [x([3, 4]), x([3, 4])], fn: (p, t) => mse(p, t, reduction) });
}
c({ name: 'crossEntropy [3,1] (one class: loss 0, gradient 0)', inputs: [x([3, 1])], fn: (p) => crossEntropy(p, tensor([0, 0, 0], { dtype: 'int32' }), 'sum'), zero: true });
c({ name: 'crossEntropy [2,3] logits ±30', inputs: [x([2, 3], U(-30, 30))], fn: (p) => crossEntropy(p, tensor([1, 2], { dtype: 'int32' }), 'sum'), tol: 1e-5 });
c({ name: 'mse [] sum', inputs: [x([]), x([])], fn: (p, t) => mse(p, t, 'sum') });

// ---- clone
c({ name: 'clone [3,4]', inputs: [x([3, 4])], fn: (p) => clone(p) });
c({ name: 'clone then mul with the original', inputs: [x([2, 3, 2])], fn: (p) => mul(clone(p), p) });
c({ name: 'clone of a computed value', inputs: [x([5])], fn: (p) => clone(exp(add(p, 1))) });

// ---- softmax widths not in gradcheck.test.ts
c({ name: 'softmax [3,1] (constant 1: gradient 0)', inputs: [x([3, 1])], fn: (p) => softmax(p), zero: true });
c({ name: 'logSoftmax [2,9]', inputs: [x([2, 9], U(-3, 3))], fn: (p) => logSoftmax(p) });

// ---- regularizers
c({ name: 'l2Penalty 0.3 over two tensors', inputs: [x([3, 2]), x([4])], fn: (p, q) => optim.l2Penalty([p, q], 0.3) });
c({ name: 'l1Penalty 0.7 over two tensors', inputs: [x([3, 2], AWAY(0.1, 2)), x([4], AWAY(0.1, 2))], fn: (p, q) => optim.l1Penalty([p, q], 0.7) });

function makeInputs(g: GCase, seed: number): { inputs: GradcheckInput[]; seed: number } {
  for (let attempt = 0; attempt < 200; attempt++) {
    const s = (seed + 7919 * attempt) >>> 0;
    const rnd = prng(s);
    const values = g.inputs.map((i) => draw(i.dist, sizeOf(i.shape), rnd, 'float64'));
    if (!g.accept || g.accept(values)) return { inputs: g.inputs.map((i, k) => ({ shape: i.shape, values: values[k]! })), seed: s };
  }
  throw new Error(`${g.name}: no acceptable inputs in 200 draws`);
}

describe('gradcheck of the training ops: analytic vs central-difference gradients (float64 CPU)', () => {
  CASES.forEach((g, idx) => {
    const seed = (BASE_SEED + 15485863 * (idx + 1)) >>> 0;
    it(`${g.name} · seed ${seed}`, async () => {
      await expectNoLeak(g.name, async () => {
        const { inputs, seed: used } = makeInputs(g, seed);
        const r = await assertGradcheck(`${g.name} (inputs seed ${used})`, g.fn, inputs, { seed, ...(g.tol ? { tol: g.tol } : {}) });
        expect(r.checked).toBe(g.inputs.reduce((n, i) => n + sizeOf(i.shape), 0));
        // Not vacuous: some gradient is non-zero (or, where the function is constant, all are zero).
        const allZero = r.analytic.every((a) => a.every((v) => v === 0));
        expect(allZero, g.zero ? 'the gradient of a constant function must be exactly zero' : 'every analytic gradient is zero').toBe(g.zero ?? false);
      });
    });
  });

  it('covers every fusable activation of linear, with and without bias', () => {
    const names = CASES.map((g) => g.name);
    for (const a of ['none', 'relu', 'relu6', 'sigmoid', 'tanh', 'leakyRelu', 'gelu']) {
      expect(names.some((n) => n.startsWith(`linear ${a} `) && n.endsWith('+b')), `${a} +b`).toBe(true);
      expect(names.some((n) => n.startsWith(`linear ${a} `) && !n.endsWith('+b')), `${a} no bias`).toBe(true);
    }
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('gradient sanity of the training ops (exact values)', () => {
  it('dropout with p 0.5, seed 7: the gradient is 2 on survivors and 0 on dropped elements, like the output', async () => {
    await expectNoLeak('dropout grad', async () => {
      const xt = tensor(Float64Array.from({ length: 64 }, (_, i) => 1 + i), { dtype: 'float64', requiresGrad: true });
      const y = dropout(xt, 0.5, { seed: 7 });
      const s = sum(y);
      s.backward();
      const out = Array.from(await y.data());
      const g = Array.from(await xt.grad!.data());
      expect(g).toEqual(out.map((v) => (v === 0 ? 0 : 2)));
      expect(out.filter((v) => v === 0).length).toBeGreaterThan(10);
      expect(out.filter((v) => v === 0).length).toBeLessThan(54);
      s.dispose();
      y.dispose();
      xt.dispose();
    });
  });
});
