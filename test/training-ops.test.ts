/**
 * The op suite for the training ops (linear with its fused activations, dropout, batch norm,
 * softmax/logSoftmax, crossEntropy, mse), in the style of op-suite.test.ts: written once, run on
 * every backend (describeEachBackend) against the CPU reference in float64, on seeded inputs with
 * awkward shapes (1, 3, 17, 33, 65, 257, and 4099 columns for the row-wise kernels), the device's
 * pool poisoned with NaN buffers before each run. Forward outputs and the gradients of
 * sum(op(x)·W) for every float input (inputs and parameters) are compared with per-op tolerances.
 * Where a short independent float64 JS formula exists it is checked too, so the CPU run tests
 * something as well.
 *
 * Dropout is compared bit-for-bit: the Philox mask and the f32 scale are the same on every backend.
 * Batch norm's running statistics are checked against the formula (momentum, unbiased variance).
 */
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { expectError, expectErrorSync } from './helpers/expect-error.js';
import { caseSeed, describeOpCases, expectNoLeak, readAndDispose, type CaseCtx, type OpCase } from './helpers/oracle.js';
import { ARITH, EPS32, EXACT, TRANS, assertClose, poison, reductionTol, type Tol } from './helpers/compare.js';
import { AWAY, FIXED, SPECIALS, U, draw, maxAbs, prng, sizeOf, type Dist } from './helpers/random-data.js';
import type { Tensor } from '../src/tensor.js';
import type { BackendName, DType } from '../src/backend/types.js';
import type { LinearActivation } from '../src/index.js';
import {
  batchNorm, crossEntropy, dropout, linear, logSoftmax, manualSeed, mse, mul, ones, rand, softmax, sum, tensor, zeros,
} from '../src/index.js';
import { dispose, tidy } from '../src/lifetime.js';

const sh = (s: readonly number[]): string => `[${s.join(',')}]`;
const f = (shape: number[], dist: Dist = U()): { shape: number[]; dist: Dist } => ({ shape, dist });
const addTol = (a: Tol, b: Tol): Tol => ({ atol: a.atol + b.atol, rtol: a.rtol + b.rtol });

const CASES: OpCase[] = [];
const add_ = (c: OpCase): void => void CASES.push(c);

// ---------------------------------------------------------------------------------------------
// linear: act(x·Wᵀ + b), x [..., in], W [out, in], b [out]. W is scaled by 3/√in so that the
// pre-activations spread over about ±4 (every region of relu6, sigmoid and tanh is visited).

interface Act { act: LinearActivation; slope?: number; js?: (v: number) => number; trans: boolean }
const sigmoidJs = (v: number): number => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
const ACTS: Act[] = [
  { act: 'none', js: (v) => v, trans: false },
  { act: 'relu', js: (v) => Math.max(v, 0), trans: false },
  { act: 'relu6', js: (v) => Math.min(Math.max(v, 0), 6), trans: false },
  { act: 'sigmoid', js: sigmoidJs, trans: true },
  { act: 'tanh', js: Math.tanh, trans: true },
  { act: 'leakyRelu', js: (v) => (v > 0 ? v : 0.01 * v), trans: false },
  { act: 'leakyRelu', slope: 0.2, js: (v) => (v > 0 ? v : 0.2 * v), trans: false },
  { act: 'gelu', trans: true }, // no JS erf here; gelu's values are checked against PyTorch in pytorch-parity
];
const actName = (a: Act): string => (a.slope !== undefined ? `${a.act}(${a.slope})` : a.act);

/** [x shape, out features]: ranks 2 and 3, each of 1, 3, 17, 33, 65, 257 somewhere. */
const LIN_ALL: [number[], number][] = [
  [[1, 1], 1], [[3, 17], 33], [[17, 33], 3], [[65, 257], 17], [[257, 3], 65], [[2, 17, 33], 5], [[3, 1, 65], 17],
];
const LIN_ACT: [number[], number][] = [[[3, 17], 33], [[65, 257], 17], [[257, 3], 65], [[2, 17, 33], 5]];

function linearOracle(xShape: number[], out: number, hasBias: boolean, act: (v: number) => number) {
  const inF = xShape[xShape.length - 1]!;
  const rows = sizeOf(xShape) / inF;
  return (x: Float64Array, w: Float64Array, b?: Float64Array): number[] => {
    const y: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < out; o++) {
        let s = hasBias ? b![o]! : 0;
        for (let k = 0; k < inF; k++) s += x[r * inF + k]! * w[o * inF + k]!;
        y.push(act(s));
      }
    }
    return y;
  };
}

function addLinear(xShape: number[], out: number, a: Act, hasBias: boolean): void {
  const inF = xShape[xShape.length - 1]!;
  const rows = sizeOf(xShape) / inF;
  const ws = 3 / Math.sqrt(inF);
  const opts = { activation: a.act, ...(a.slope !== undefined ? { negativeSlope: a.slope } : {}) };
  const gelu = a.act === 'gelu';
  add_({
    name: `linear ${actName(a)} x${sh(xShape)} W[${out},${inF}]${hasBias ? ' +b' : ' no bias'}`,
    inputs: [f(xShape, U(-2, 2)), f([out, inF], U(-ws, ws)), ...(hasBias ? [f([out], U(-1, 1))] : [])],
    run: hasBias ? (x, w, b) => linear(x, w, b!, opts) : (x, w) => linear(x, w, null, opts),
    tol: (c: CaseCtx) => {
      const t = reductionTol(inF + 1, Math.max(maxAbs(c.inputs[0]!) * maxAbs(c.inputs[1]!), hasBias ? maxAbs(c.inputs[2]!) : 0));
      return gelu ? addTol(t, { atol: 1e-5, rtol: 1e-5 }) : a.trans ? addTol(t, TRANS) : t;
    },
    // dx sums over `out`, dW and db over the rows.
    gradK: [out, rows, rows],
    gradTol: a.trans ? { atol: 2e-5, rtol: 2e-4 } : { atol: 2e-6, rtol: 2e-5 },
    ...(a.js ? { oracle: linearOracle(xShape, out, hasBias, a.js) } : {}),
  });
}

for (const [s, o] of LIN_ALL) for (const hasBias of [true, false]) addLinear(s, o, ACTS[0]!, hasBias);
for (const a of ACTS.slice(1)) {
  for (const [s, o] of LIN_ACT) addLinear(s, o, a, true);
  addLinear([17, 33], 3, a, false);
}

// ---------------------------------------------------------------------------------------------
// softmax / logSoftmax along the last axis (and one long axis 0), cols 1 .. 4099.

function softmaxOracle(shape: number[], log: boolean) {
  const cols = shape[shape.length - 1]!;
  const rows = sizeOf(shape) / cols;
  return (x: Float64Array): number[] => {
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const m = Math.max(...row);
      const s = row.reduce((acc, v) => acc + Math.exp(v - m), 0);
      for (const v of row) out.push(log ? v - m - Math.log(s) : Math.exp(v - m) / s);
    }
    return out;
  };
}

const BIG = SPECIALS([100, -100, 99.5, -99.5, 0], -100, 100);
const SOFTMAX_SHAPES: [number[], Dist][] = [
  [[1, 1], U(-3, 3)], [[257, 1], U(-3, 3)], [[3, 17], U(-3, 3)], [[17, 257], U(-3, 3)], [[65, 33], BIG],
  [[1, 4099], U(-3, 3)], [[3, 4099], BIG], [[2, 3, 65], U(-3, 3)],
];
for (const [s, dist] of SOFTMAX_SHAPES) {
  const k = s[s.length - 1]!;
  const tag = dist === BIG ? ' (±100)' : '';
  add_({
    name: `softmax ${sh(s)}${tag}`, inputs: [f(s, dist)], run: (x) => softmax(x),
    tol: { atol: 1e-6, rtol: 2e-5 + 16 * Math.sqrt(k) * EPS32 }, gradK: [k], oracle: softmaxOracle(s, false),
  });
  add_({
    name: `logSoftmax ${sh(s)}${tag}`, inputs: [f(s, dist)], run: (x) => logSoftmax(x),
    tol: { atol: 2e-6 + 16 * Math.sqrt(k) * EPS32, rtol: 1e-5 }, gradK: [k], gradTol: { atol: 2e-6, rtol: 2e-5 },
    oracle: softmaxOracle(s, true),
  });
}
add_({
  name: 'softmax [4099,3] axis 0', inputs: [f([4099, 3], U(-3, 3))], run: (x) => softmax(x, 0),
  tol: { atol: 1e-6, rtol: 2e-5 + 16 * Math.sqrt(4099) * EPS32 }, gradK: [4099],
});

// ---------------------------------------------------------------------------------------------
// crossEntropy (int32 labels, drawn per case and baked into the case) and mse.

function ceOracle(n: number, c: number, labels: Int32Array, reduction: 'mean' | 'sum' | 'none') {
  return (x: Float64Array): number[] => {
    const per: number[] = [];
    for (let r = 0; r < n; r++) {
      const row = Array.from(x.subarray(r * c, (r + 1) * c));
      const m = Math.max(...row);
      per.push(m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[labels[r]!]!);
    }
    if (reduction === 'none') return per;
    const s = per.reduce((a, v) => a + v, 0);
    return [reduction === 'mean' ? s / n : s];
  };
}

const CE_SHAPES: [number, number, Dist][] = [
  [1, 1, U(-3, 3)], [3, 17, U(-3, 3)], [17, 3, U(-3, 3)], [65, 33, U(-3, 3)], [257, 5, U(-3, 3)],
  [1, 4099, U(-3, 3)], [3, 4099, U(-3, 3)], [17, 33, BIG],
];
for (const [n, c, dist] of CE_SHAPES) {
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    const name = `crossEntropy [${n},${c}]${dist === BIG ? ' (±100)' : ''} ${reduction}`;
    const rnd = prng(caseSeed(name) ^ 0x1abe1);
    const labels = Int32Array.from({ length: n }, () => Math.floor(rnd() * c));
    add_({
      name, inputs: [f([n, c], dist)],
      run: (x) => crossEntropy(x, tensor(labels, { shape: [n], dtype: 'int32', device: x.device }), reduction),
      tol: (ctx: CaseCtx) => {
        const m = maxAbs(ctx.inputs[0]!);
        const row: Tol = { atol: 2e-6 + 16 * Math.sqrt(c) * EPS32 + 4 * EPS32 * m, rtol: 2e-5 };
        return reduction === 'none' ? row : addTol(row, reductionTol(n, 2 * m + Math.log(c)));
      },
      gradK: [c], gradTol: { atol: 2e-6, rtol: 2e-5 },
      oracle: ceOracle(n, c, labels, reduction),
    });
  }
}

function mseOracle(reduction: 'mean' | 'sum' | 'none') {
  return (p: Float64Array, t: Float64Array): number[] => {
    const sq = Array.from(p, (v, i) => (v - t[i]!) ** 2);
    if (reduction === 'none') return sq;
    const s = sq.reduce((a, v) => a + v, 0);
    return [reduction === 'mean' ? s / sq.length : s];
  };
}
for (const s of [[17, 33], [257], [], [3, 1, 5], [65, 257]]) {
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    const k = Math.max(1, sizeOf(s));
    add_({
      name: `mse ${sh(s)} ${reduction}`, inputs: [f(s, U(-2, 2)), f(s, U(-2, 2))], run: (p, t) => mse(p, t, reduction),
      tol: reduction === 'none' ? ARITH : reductionTol(k, 16, { atol: 1e-7, rtol: 8 * EPS32 }),
      gradK: [1, 1], oracle: mseOracle(reduction),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// batchNorm in training mode (batch statistics), affine or not; n 2..300, c 1..257. Channel j's
// values are offset_j + scale_j·U(−1, 1) (offsets in ±1, scales 0.5..2), so the mean really has to
// be subtracted. `r2[j]` = max x²/var over channel j: the conditioning of channel j's variance and
// of x − mean, which scales the float32 error of its outputs. The output tolerance is per channel
// (a max over channels let one ill-conditioned channel of [2, 257] widen all the others' bound to
// several times the outputs' size, so a variance 30 % off passed); `r2max` is for the gradients.

function channelData(n: number, c: number, seed: number): { values: number[]; r2: Float64Array; r2max: number } {
  const rnd = prng(seed);
  const off = Array.from({ length: c }, () => -1 + 2 * rnd());
  const scale = Array.from({ length: c }, () => 0.5 + 1.5 * rnd());
  const values = Array.from({ length: n * c }, (_, i) => Math.fround(off[i % c]! + scale[i % c]! * (2 * rnd() - 1)));
  const r2 = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += values[i * c + j]! / n;
    let v = 0;
    let mx = 0;
    for (let i = 0; i < n; i++) {
      v += (values[i * c + j]! - m) ** 2 / n;
      mx = Math.max(mx, values[i * c + j]! ** 2);
    }
    r2[j] = Math.max(1, mx / v);
  }
  return { values, r2, r2max: Math.max(...r2) };
}

/** JS float64 batch norm in training mode: out, batch mean and biased variance. */
function bnTrainJs(x: ArrayLike<number>, n: number, c: number, w: ArrayLike<number> | null, b: ArrayLike<number> | null, eps = 1e-5) {
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  const out = new Float64Array(n * c);
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i * c + j]!;
    mean[j] = s / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * c + j]! - mean[j]!) ** 2;
    variance[j] = v / n;
    for (let i = 0; i < n; i++) {
      out[i * c + j] = ((x[i * c + j]! - mean[j]!) / Math.sqrt(variance[j]! + eps)) * (w ? w[j]! : 1) + (b ? b[j]! : 0);
    }
  }
  return { out, mean, variance };
}

type Affine = 'affine' | 'none' | 'weight only' | 'bias only';
const BN_SHAPES: [number, number][] = [[2, 1], [2, 257], [3, 17], [17, 33], [65, 3], [300, 1], [300, 65], [33, 257], [257, 5]];
function addBatchNorm(n: number, c: number, affine: Affine): void {
  const name = `batchNorm train [${n},${c}] ${affine}`;
  const { values, r2, r2max } = channelData(n, c, caseSeed(name));
  const hasW = affine === 'affine' || affine === 'weight only';
  const hasB = affine === 'affine' || affine === 'bias only';
  const inputs = [f([n, c], FIXED(values)), ...(hasW ? [f([c], AWAY(0.5, 2))] : []), ...(hasB ? [f([c], U(-1, 1))] : [])];
  const cond = Math.sqrt(n) * r2max;
  const atolOf = (j: number): number => 1e-6 + 4 * Math.sqrt(n) * r2[j]! * EPS32 * (hasW ? 2 : 1);
  add_({
    name, inputs,
    run: (x, p, q) => batchNorm(x, null, null, hasW ? p! : null, hasB ? (hasW ? q! : p!) : null, { training: true }),
    tol: { atol: atolOf(0), rtol: 1e-5, atolAt: (i) => atolOf(i % c) },
    // x̂ carries the conditioning into dx and dweight (n = 2 with two close values is ill-conditioned).
    gradK: hasW ? [cond * cond, cond * cond, n] : [cond * cond, n],
    gradTol: { atol: 1e-5, rtol: 1e-4 },
    oracle: (x, p, q) => bnTrainJs(x, n, c, hasW ? p! : null, hasB ? (hasW ? q! : p!) : null).out,
  });
}
for (const [n, c] of BN_SHAPES) for (const a of ['affine', 'none'] as const) addBatchNorm(n, c, a);
addBatchNorm(17, 33, 'weight only');
addBatchNorm(17, 33, 'bias only');

// Evaluation mode: (x − runningMean)/sqrt(runningVar + eps)·w + b, written with ops.
for (const [n, c] of [[2, 1], [17, 33], [300, 65], [3, 257]] as [number, number][]) {
  for (const affine of [true, false]) {
    add_({
      name: `batchNorm eval [${n},${c}]${affine ? ' affine' : ''}`,
      inputs: [f([n, c], U(-2, 2)), f([c], U(-1, 1)), f([c], U(0.2, 3)), ...(affine ? [f([c], AWAY(0.5, 2)), f([c], U(-1, 1))] : [])],
      run: (x, rm, rv, w, b) => batchNorm(x, rm!, rv!, affine ? w! : null, affine ? b! : null, { training: false }),
      tol: { atol: 1e-5, rtol: 1e-4 },
      gradK: [1, n, n, n, n],
      gradTol: { atol: 1e-5, rtol: 1e-4 },
      oracle: (x, rm, rv, w, b) => Array.from(x, (v, i) => {
        const j = i % c;
        return ((v - rm![j]!) / Math.sqrt(rv![j]! + 1e-5)) * (affine ? w![j]! : 1) + (affine ? b![j]! : 0);
      }),
    });
  }
}

// ---------------------------------------------------------------------------------------------

describeEachBackend('training ops vs the CPU float64 reference', (device) => {
  describeOpCases(CASES, device, 'gradients of sum(op(x)·W), every float input (inputs and parameters)');
});

// ---------------------------------------------------------------------------------------------
// Dropout.

const read = readAndDispose;

/** Indices where exactly one of the two arrays is zero (different masks). */
function maskDiff(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const bad: number[] = [];
  for (let i = 0; i < a.length; i++) if ((a[i] === 0) !== (b[i] === 0)) bad.push(i);
  return bad;
}

interface DropRun { out: number[]; grad: number[] }
/** dropout(x, p, {seed}) forward, then the gradient of sum(out·W), on one backend and dtype. */
async function dropRun(device: BackendName, dtype: DType, x: Float64Array, w: Float64Array, shape: number[], p: number, seed: number | undefined, training = true): Promise<DropRun> {
  const xt = tensor(x, { shape, dtype, device, requiresGrad: true });
  try {
    const y = dropout(xt, p, { ...(seed !== undefined ? { seed } : {}), training });
    const out = Array.from(await y.data());
    const W = tensor(w, { shape, dtype, device });
    const loss = tidy(() => sum(mul(y, W)));
    loss.backward();
    dispose([loss, W, y]);
    return { out, grad: Array.from(await xt.grad!.data()) };
  } finally {
    xt.dispose();
  }
}

const DROP_SHAPES: number[][] = [[257], [3, 17, 33], [65, 257]];
describeEachBackend('dropout', (device) => {
  for (const p of [0.1, 0.5, 0.9]) {
    for (const shape of DROP_SHAPES) {
      const n = sizeOf(shape);
      const seed = caseSeed(`dropout ${p} ${sh(shape)}`) % 100000;
      it(`p ${p} ${sh(shape)} seed ${seed}: the CPU's exact mask and values, forward and backward; zeros ≈ p; survivors x/(1−p)`, async () => {
        await expectNoLeak('dropout', async () => {
          // x away from 0, so a zero output means a dropped element.
          const x = draw(AWAY(0.25, 2), n, prng(seed));
          const w = draw(AWAY(0.25, 2), n, prng(seed ^ 0x5bd1e995));
          const ref32 = await dropRun('cpu', 'float32', x, w, shape, p, seed);
          const ref64 = await dropRun('cpu', 'float64', x, w, shape, p, seed);
          poison(device, [n]);
          const got = await dropRun(device, 'float32', x, w, shape, p, seed);
          const label = `dropout p ${p} ${sh(shape)} seed ${seed} on ${device}`;

          expect(maskDiff(got.out, ref32.out), `${label}: forward mask differs from the CPU's at`).toEqual([]);
          assertClose(`${label}: forward`, got.out, ref32.out, shape, EXACT);
          expect(maskDiff(got.grad, got.out), `${label}: the backward mask differs from the forward mask at`).toEqual([]);
          assertClose(`${label}: backward`, got.grad, ref32.grad, shape, EXACT);

          // Semantics, on the float64 reference: zeros ≈ p (5σ), survivors x/(1−p), grad W/(1−p).
          const zeros = ref64.out.filter((v) => v === 0).length;
          const sigma = Math.sqrt((p * (1 - p)) / n);
          expect(Math.abs(zeros / n - p), `${label}: zero fraction ${zeros / n}`).toBeLessThan(5 * sigma + 1 / n);
          const keep = ref64.out.map((v) => (v === 0 ? 0 : 1));
          assertClose(`${label}: survivors = x/(1−p)`, ref64.out, Array.from(x, (v, i) => (keep[i]! * v) / (1 - p)), shape, ARITH);
          assertClose(`${label}: grad = W/(1−p) on survivors`, ref64.grad, Array.from(w, (v, i) => (keep[i]! * v) / (1 - p)), shape, ARITH);
          expect(maskDiff(ref64.out, ref32.out), `${label}: float64 and float32 masks differ`).toEqual([]);
        });
      });
    }
  }

  it('a fixed seed repeats its mask; another seed gives another mask', async () => {
    await expectNoLeak('dropout seeds', async () => {
      const x = tensor(new Float32Array(4096).fill(1), { shape: [4096], device });
      const a = await read(dropout(x, 0.5, { seed: 42 }));
      const b = await read(dropout(x, 0.5, { seed: 42 }));
      const c = await read(dropout(x, 0.5, { seed: 43 }));
      x.dispose();
      expect(maskDiff(a, b)).toEqual([]);
      expect(maskDiff(a, c).length).toBeGreaterThan(1000);
    });
  });

  it('the global stream: equal to the CPU after manualSeed, advances between calls, and backward reuses the forward mask', async () => {
    await expectNoLeak('dropout global stream', async () => {
      const n = 2000;
      const xv = draw(AWAY(0.5, 1), n, prng(3));
      const masks: Record<string, number[][]> = {};
      for (const dev of ['cpu', device] as const) {
        manualSeed(1234);
        const x = tensor(xv, { shape: [n], dtype: 'float32', device: dev, requiresGrad: true });
        const y1 = dropout(x, 0.5);
        const y2 = dropout(x, 0.5);
        // Another draw between forward and backward must not change the mask the backward uses.
        const noise = rand([777], { device: dev });
        const loss = tidy(() => sum(y1));
        loss.backward();
        const g = Array.from(await x.grad!.data());
        masks[dev] = [await read(y1), await read(y2), g];
        dispose([x, noise, loss, y2]);
      }
      const [c1, c2, cg] = masks.cpu!;
      const [d1, d2, dg] = masks[device]!;
      expect(maskDiff(c1!, c2!).length, 'consecutive global-stream dropouts share a mask').toBeGreaterThan(n / 4);
      expect(maskDiff(cg!, c1!), 'cpu: backward mask vs forward mask').toEqual([]);
      expect(maskDiff(d1!, c1!), `${device}: first mask vs the CPU's`).toEqual([]);
      expect(maskDiff(d2!, c2!), `${device}: second mask vs the CPU's`).toEqual([]);
      expect(maskDiff(dg!, d1!), `${device}: backward mask vs forward mask`).toEqual([]);
    });
  });

  it('evaluation mode (training: false) and p = 0 are the identity, forward and backward', async () => {
    await expectNoLeak('dropout identity', async () => {
      const shape = [17, 33];
      const x = draw(U(-2, 2), 561, prng(8));
      const w = draw(U(-1, 1), 561, prng(9));
      for (const [p, training] of [[0.5, false], [0.9, false], [0, true]] as const) {
        const r = await dropRun(device, 'float32', x, w, shape, p, 5, training);
        assertClose(`dropout p ${p} training ${training}: forward`, r.out, x, shape, EXACT);
        assertClose(`dropout p ${p} training ${training}: backward`, r.grad, w, shape, EXACT);
      }
    });
  });

  it('rejects p outside [0, 1)', () => {
    const x = ones([3], { device });
    for (const p of [1, -0.1, 1.5, Number.NaN]) expectErrorSync(() => dropout(x, p), /dropout.*p/);
    x.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// batchNorm's running statistics: runningMean ← (1−m)·runningMean + m·mean,
// runningVar ← (1−m)·runningVar + m·var·n/(n−1) (the UNBIASED variance), then eval with them.

describeEachBackend('batchNorm running statistics', (device) => {
  it('n = 2, one channel, x = [0, 2]: runningMean 0.1, runningVar 0.9 + 0.1·2 = 1.1 (unbiased), not 1.0 (biased)', async () => {
    const x = tensor([[0], [2]], { device });
    const rm = zeros([1], { device });
    const rv = ones([1], { device });
    try {
      const y = batchNorm(x, rm, rv, null, null, { training: true });
      // Normalised with the biased variance 1: (x − 1)/sqrt(1 + 1e-5).
      assertClose('bn output', await read(y), [-1 / Math.sqrt(1 + 1e-5), 1 / Math.sqrt(1 + 1e-5)], [2, 1], ARITH);
      assertClose('runningMean', await rm.data(), [0.1], [1], ARITH);
      assertClose('runningVar', await rv.data(), [1.1], [1], ARITH);
      expect([rm.requiresGrad, rv.requiresGrad]).toEqual([false, false]);
    } finally {
      dispose([x, rm, rv]);
    }
  });

  it('updating the running statistics leaks no tensors (a training loop calls this every step)', async () => {
    const x = tensor([[0, 1], [2, 5], [3, -1]], { device });
    const rm = zeros([2], { device });
    const rv = ones([2], { device });
    try {
      await expectNoLeak('batchNorm(x, runningMean, runningVar, ..., { training: true })', async () => {
        batchNorm(x, rm, rv, null, null, { training: true }).dispose();
      });
    } finally {
      dispose([x, rm, rv]);
    }
  });

  const CONFIGS: [number, number, number | undefined][] = [[2, 3, undefined], [17, 33, 0.1], [300, 5, 0.3], [65, 257, undefined], [3, 1, 1]];
  for (const [n, c, momentum] of CONFIGS) {
    it(`[${n},${c}] momentum ${momentum ?? 'default (0.1)'}: 3 training steps update the statistics; eval uses them`, async () => {
      // (Leaks are checked by their own test above: this one checks values.)
      await tidy(async () => {
        const m = momentum ?? 0.1;
        const seed = caseSeed(`bn stats ${n} ${c} ${momentum}`);
        const w = draw(AWAY(0.5, 2), c, prng(seed + 1));
        const b = draw(U(-1, 1), c, prng(seed + 2));
        const wt = tensor(w, { shape: [c], dtype: 'float32', device });
        const bt = tensor(b, { shape: [c], dtype: 'float32', device });
        const rm = zeros([c], { device });
        const rv = ones([c], { device });
        let eMean = new Float64Array(c);
        let eVar = new Float64Array(c).fill(1);
        const opts = { training: true, ...(momentum !== undefined ? { momentum } : {}) };
        let r2 = 1;
        for (let step = 0; step < 3; step++) {
          const data = channelData(n, c, seed + 10 + step);
          r2 = Math.max(r2, data.r2max);
          const js = bnTrainJs(data.values, n, c, w, b);
          eMean = eMean.map((v, j) => (1 - m) * v + m * js.mean[j]!);
          eVar = eVar.map((v, j) => (1 - m) * v + (m * js.variance[j]! * n) / (n - 1));
          const x = tensor(data.values, { shape: [n, c], dtype: 'float32', device });
          poison(device, [n * c, c]);
          const y = batchNorm(x, rm, rv, wt, bt, opts);
          const tol: Tol = { atol: 1e-6 + 8 * Math.sqrt(n) * r2 * EPS32, rtol: 1e-5 };
          assertClose(`step ${step}: output`, await read(y), js.out, [n, c], tol);
          assertClose(`step ${step}: runningMean`, await rm.data(), eMean, [c], tol);
          assertClose(`step ${step}: runningVar (unbiased batch variance)`, await rv.data(), eVar, [c], tol);
          x.dispose();
        }
        // Evaluation: the running statistics, not the batch's; and they stay unchanged.
        const xe = draw(U(-2, 2), n * c, prng(seed + 99));
        const xt = tensor(xe, { shape: [n, c], dtype: 'float32', device });
        const ye = batchNorm(xt, rm, rv, wt, bt, { training: false });
        const expected = Array.from(xe, (v, i) => ((v - eMean[i % c]!) / Math.sqrt(eVar[i % c]! + 1e-5)) * w[i % c]! + b[i % c]!);
        assertClose('eval output', await read(ye), expected, [n, c], { atol: 1e-5, rtol: 1e-4 });
        assertClose('runningMean unchanged by eval', await rm.data(), eMean, [c], { atol: 1e-6, rtol: 1e-5 });
        assertClose('runningVar unchanged by eval', await rv.data(), eVar, [c], { atol: 1e-6, rtol: 1e-5 });
        dispose([xt, wt, bt, rm, rv]);
      });
    });
  }

  it('argument checks: rank, n = 1 in training, eval without statistics, vector shapes', () => {
    const x = zeros([1, 3], { device });
    const x2 = zeros([4, 3], { device });
    const v2 = zeros([2], { device });
    expectErrorSync(() => batchNorm(x, null, null, null, null, { training: true }), /batchNorm.*more than one value per channel/);
    expectErrorSync(() => batchNorm(x2, null, null, null, null, { training: false }), /batchNorm.*runningMean and runningVar/);
    expectErrorSync(() => batchNorm(x2, null, null, v2, null, { training: true }), /batchNorm.*weight must have shape \[3\], got \[2\]/);
    const x3 = zeros([2, 3, 4], { device });
    expectErrorSync(() => batchNorm(x3, null, null, null, null, { training: true }), /batchNorm.*2-D/);
    dispose([x, x2, v2, x3]);
  });
});

// ---------------------------------------------------------------------------------------------
// crossEntropy: labels out of range, argument checks.

describe('crossEntropy labels out of range', () => {
  it('[cpu] throws at the call, naming the label, row and class count', () => {
    const logits = zeros([3, 4], { device: 'cpu' });
    const labels = tensor([0, 4, 1], { dtype: 'int32', device: 'cpu' });
    expectErrorSync(() => crossEntropy(logits, labels), /label 4 at row 1 is outside the 4 classes/);
    const neg = tensor([0, 1, -1], { dtype: 'int32', device: 'cpu' });
    expectErrorSync(() => crossEntropy(logits, neg, 'none'), /label -1 at row 2/);
    dispose([logits, labels, neg]);
  });
});

describeEachBackend('crossEntropy', (device) => {
  it('is an error naming the label and row (CPU: at the call; device: at the next read, that row NaN)', async () => {
    await expectNoLeak('ce NaN row', async () => {
      const logits = tensor([[1, 2, 3, 4], [0, 0, 0, 0], [4, 3, 2, 1]], { device });
      const labels = tensor([3, 7, 0], { dtype: 'int32', device });
      if (device === 'cpu') {
        expectErrorSync(() => crossEntropy(logits, labels, 'none'), /label 7 at row 1/);
      } else {
        const loss = crossEntropy(logits, labels, 'none');
        await expectError(() => loss.data(), /crossEntropy: label 7 at row 1 is outside the 4 classes/);
        const l = await read(loss); // reported once; the values are there
        const lse = Math.log(Math.exp(-3) + Math.exp(-2) + Math.exp(-1) + 1);
        expect(Number.isNaN(l[1]!), `row 1 loss ${l[1]}`).toBe(true);
        assertClose('valid rows', [l[0]!, l[2]!], [lse, lse], [2], TRANS);
      }
      dispose([logits, labels]);
    });
  });

  it('argument checks: float labels, wrong label shape, rank, reduction', () => {
    const logits = zeros([3, 4], { device });
    const fl = zeros([3], { device });
    const l2 = tensor([0, 1], { dtype: 'int32', device });
    const l3 = tensor([0, 1, 2], { dtype: 'int32', device });
    expectErrorSync(() => crossEntropy(logits, fl), /labels must be int32/);
    expectErrorSync(() => crossEntropy(logits, l2), /labels must have shape \[3\]/);
    const l1 = zeros([12], { device });
    expectErrorSync(() => crossEntropy(l1, l3), /logits must be 2-D/);
    expectErrorSync(() => crossEntropy(logits, l3, 'avg' as 'mean'), /reduction must be/);
    expectErrorSync(() => mse(logits, fl), /mse.*same shape/);
    dispose([logits, fl, l2, l3, l1]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('training op suite self-checks', () => {
  it('covers every op, activation, rank, reduction and affine mode; case names are unique', () => {
    const names = CASES.map((c) => c.name);
    for (const a of ACTS) {
      expect(names.some((n) => n.startsWith(`linear ${actName(a)} `) && n.includes('+b')), `${actName(a)} with bias`).toBe(true);
      expect(names.some((n) => n.startsWith(`linear ${actName(a)} `) && n.includes('no bias')), `${actName(a)} without bias`).toBe(true);
    }
    expect(names.some((n) => /^linear .* x\[\d+,\d+,\d+\]/.test(n)), 'rank-3 input').toBe(true);
    for (const p of ['softmax [1,4099]', 'logSoftmax [257,1]', 'crossEntropy [3,4099] mean', 'crossEntropy [1,1] none', 'mse [] sum']) {
      expect(names.some((n) => n.startsWith(p)), p).toBe(true);
    }
    for (const a of ['affine', 'none', 'weight only', 'bias only']) expect(names).toContain(`batchNorm train [17,33] ${a}`);
    expect(names).toContain('batchNorm train [300,65] affine');
    expect(names).toContain('batchNorm train [2,257] none');
    expect(new Set(names).size, 'case names must be unique (they seed the inputs)').toBe(names.length);
  });

  it('the batch-norm JS oracle normalises with the biased variance', () => {
    const r = bnTrainJs([0, 2], 2, 1, null, null, 0);
    expect(Array.from(r.out)).toEqual([-1, 1]);
    expect([r.mean[0], r.variance[0]]).toEqual([1, 1]);
  });
});
