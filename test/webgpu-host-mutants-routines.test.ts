/**
 * The WebGPU routine table (src/backend/webgpu/routines.ts) passes each routine's named inputs and
 * parameters to its kernel function in the right order: every routine runs on both backends with
 * the same inputs and must agree with the CPU reference. Distinct values per input (and parameters
 * that are not interchangeable: n ≠ c, h ≠ w, non-zero eps) make a swapped argument show.
 * Written against the mutants StrykerJS left alive in routines.ts (WEBGRAD_MUTATE_SCOPE=webgpu).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Conv2dGeometry, Pool2dGeometry } from '../src/backend/routines.js';
import type { Backend, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

/** Deterministic values in [lo, hi), distinct per seed. */
function vals(n: number, seed: number, lo = -2, hi = 2): Float32Array {
  const out = new Float32Array(n);
  let s = seed * 7919 + 17;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = lo + ((s / 2147483648) * (hi - lo));
  }
  return out;
}
const ints = (xs: number[]): Int32Array => Int32Array.from(xs);

async function expectClose(label: string, g: Storage, c: Storage): Promise<void> {
  const a = Array.from(await gpu.read(g));
  const b = Array.from(await cpu.read(c));
  expect(a.length, `${label}: length`).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]!)) {
      expect(Number.isNaN(a[i]!), `${label}[${i}]: webgpu ${a[i]} vs cpu NaN`).toBe(true);
      continue;
    }
    const tol = 1e-4 + 1e-4 * Math.abs(b[i]!);
    expect(Math.abs(a[i]! - b[i]!) <= tol, `${label}[${i}]: webgpu ${a[i]} vs cpu ${b[i]}`).toBe(true);
  }
}

/** Runs `f` on both backends with fresh uploads of `data` and compares the storages it returns. */
async function both(label: string, data: Array<Float32Array | Int32Array>, f: (be: Backend, s: Storage[]) => Storage[]): Promise<void> {
  const up = (be: Backend): Storage[] => data.map((d) => be.upload(d.slice(), d instanceof Int32Array ? 'int32' : 'float32'));
  const gs = up(gpu);
  const cs = up(cpu);
  const go = f(gpu, gs);
  const co = f(cpu, cs);
  for (let i = 0; i < go.length; i++) await expectClose(`${label} #${i}`, go[i]!, co[i]!);
}

describe('webgpu routine table agrees with the CPU reference, routine by routine', () => {
  it('fused training routines', async () => {
    const [n, c] = [5, 3];
    const x = vals(n * c, 1);
    const dy = vals(n * c, 2);
    const mean = vals(c, 3);
    const variance = vals(c, 4, 0.5, 2);
    const gamma = vals(c, 5);
    const beta = vals(c, 6);
    await both('activationGradFromOutput', [vals(8, 7, 0.1, 0.9), dy.slice(0, 8)], (be, [y, d]) => [
      be.routine('activationGradFromOutput', { y: y!, dy: d! }, { op: 'leakyRelu', param: 0.3 }),
      be.routine('activationGradFromOutput', { y: y!, dy: d! }, { op: 'sigmoid', param: 0 }),
    ]);
    await both('dropout', [vals(64, 8)], (be, [v]) => [be.routine('dropout', { x: v! }, { p: 0.3, seed: 11, offset: 5 })]);
    await both('dropoutWithMask', [vals(64, 8)], (be, [v]) => {
      const r = be.routine('dropoutWithMask', { x: v! }, { p: 0.3, seed: 11, offset: 5 });
      return [r.out, r.mask];
    });
    await both('dropoutApplyMask', [vals(64, 9), vals(64, 8)], (be, [d, v]) => {
      const { mask } = be.routine('dropoutWithMask', { x: v! }, { p: 0.3, seed: 11, offset: 5 });
      return [be.routine('dropoutApplyMask', { dy: d!, mask }, { p: 0.3 })];
    });
    await both('batchNormStats', [x], (be, [v]) => {
      const r = be.routine('batchNormStats', { x: v! }, { n, c });
      return [r.mean, r.variance];
    });
    await both('batchNormApply', [x, mean, variance, gamma, beta], (be, [v, m, va, g, b]) => [
      be.routine('batchNormApply', { x: v!, mean: m!, variance: va!, gamma: g!, beta: b! }, { n, c, eps: 0.1 }),
    ]);
    await both('batchNormBackward', [x, dy, mean, variance, gamma], (be, [v, d, m, va, g]) => {
      const r = be.routine('batchNormBackward', { x: v!, dy: d!, mean: m!, variance: va!, gamma: g! }, { n, c, eps: 0.1 });
      return [r.dx, r.dgamma, r.dbeta];
    });
    await both('batchNormRunningStats', [mean, variance, gamma, beta], (be, [rm, rv, m, va]) => {
      be.routine('batchNormRunningStats', { runningMean: rm!, runningVar: rv!, mean: m!, variance: va! }, { c, keep: 0.8, momentum: 0.2, varScale: 1.5 });
      return [rm!, rv!];
    });
    const [n2, c2, hw] = [2, 3, 5];
    const x2 = vals(n2 * c2 * hw, 9);
    const dy2 = vals(n2 * c2 * hw, 10);
    await both('batchNorm2dStats', [x2], (be, [v]) => {
      const r = be.routine('batchNorm2dStats', { x: v! }, { n: n2, c: c2, hw });
      return [r.mean, r.variance];
    });
    await both('batchNorm2dApply', [x2, mean, variance, gamma, beta], (be, [v, m, va, g, b]) => [
      be.routine('batchNorm2dApply', { x: v!, mean: m!, variance: va!, gamma: g!, beta: b! }, { n: n2, c: c2, hw, eps: 0.1 }),
    ]);
    await both('batchNorm2dBackward', [x2, dy2, mean, variance, gamma], (be, [v, d, m, va, g]) => {
      const r = be.routine('batchNorm2dBackward', { x: v!, dy: d!, mean: m!, variance: va!, gamma: g! }, { n: n2, c: c2, hw, eps: 0.1 });
      return [r.dx, r.dgamma, r.dbeta];
    });
  });

  it('softmax, cross-entropy and optimizer steps', async () => {
    const [rows, cols] = [3, 5];
    const x = vals(rows * cols, 11);
    const dy = vals(rows * cols, 12);
    await both('softmax', [x], (be, [v]) => [be.routine('softmax', { x: v! }, { rows, cols, log: true }), be.routine('softmax', { x: v! }, { rows, cols, log: false })]);
    await both('softmaxGrad', [vals(rows * cols, 13, 0.05, 0.3), dy], (be, [y, d]) => [be.routine('softmaxGrad', { y: y!, dy: d! }, { rows, cols, log: false })]);
    const labels = ints([4, 0, 2]);
    await both('softmaxCrossEntropy', [x, labels], (be, [l, lb]) => [be.routine('softmaxCrossEntropy', { logits: l!, labels: lb! }, { n: rows, c: cols })]);
    await both('softmaxCrossEntropyGrad', [x, labels, Float32Array.from([0.7, -0.4, 1.3])], (be, [l, lb, d]) => [
      be.routine('softmaxCrossEntropyGrad', { logits: l!, labels: lb!, dLoss: d! }, { n: rows, c: cols }),
    ]);
    const p = vals(9, 14);
    const g = vals(9, 15);
    await both('sgdStep', [p, g, vals(9, 16)], (be, [pp, gg, vv]) => {
      be.routine('sgdStep', { param: pp!, grad: gg!, velocity: vv! }, { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true, weightDecay: 0.01, firstStep: false });
      return [pp!, vv!];
    });
    await both('sgdStepMany', [p, g, vals(9, 16), vals(5, 19), vals(5, 20)], (be, [pp, gg, vv, p2, g2]) => {
      be.routine('sgdStepMany', { params: [pp!, p2!], grads: [gg!, g2!], velocities: [vv!, null] }, { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0.01, firstStep: false });
      return [pp!, vv!, p2!];
    });
    await both('adamStep', [p, g, vals(9, 17), vals(9, 18, 0.1, 1)], (be, [pp, gg, m, v]) => {
      be.routine('adamStep', { param: pp!, grad: gg!, m: m!, v: v! }, { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-3, weightDecay: 0.02, decoupled: true, biasCorrection1: 0.5, biasCorrection2: 0.3 });
      return [pp!, m!, v!];
    });
  });

  it('selection, indexing and scans', async () => {
    const [outer, length, inner] = [2, 4, 3];
    const x = vals(outer * length * inner, 19);
    await both('argReduce', [x], (be, [v]) => [be.routine('argReduce', { x: v! }, { op: 'argmin', outer, length, inner })]);
    const perElement = ints([3, 0, 1, 2, 2, 1, 0, 3, 1, 1, 2, 0]);
    await both('gather', [x, perElement], (be, [v, i]) => [be.routine('gather', { x: v!, indices: i! }, { layout: 'perElement', outer, length, inner, count: 2 })]);
    await both('gather shared', [x, ints([3, 1])], (be, [v, i]) => [be.routine('gather', { x: v!, indices: i! }, { layout: 'shared', outer, length, inner, count: 2 })]);
    await both('scatterAdd shared', [vals(2 * 5 * 3, 31), ints([3, 0, 3, 1, 2])], (be, [s, i]) => [be.routine('scatterAdd', { src: s!, indices: i! }, { layout: 'shared', outer, length, inner, count: 5 })]);
    // Out-of-range indices read NaN from float32 x and 0 from int32 x, as on the CPU.
    await both('gather out of range', [x, ints([9, 1])], (be, [v, i]) => [be.routine('gather', { x: v!, indices: i! }, { layout: 'shared', outer, length, inner, count: 2 })]);
    await both('gather int32 out of range', [ints(Array.from({ length: 24 }, (_, k) => k * 3 - 7)), ints([9, 1])], (be, [v, i]) => [be.routine('gather', { x: v!, indices: i! }, { layout: 'shared', outer, length, inner, count: 2 })]);
    await both('scatterAdd', [vals(12, 20), perElement], (be, [s, i]) => [be.routine('scatterAdd', { src: s!, indices: i! }, { layout: 'perElement', outer, length, inner, count: 2 })]);
    await both('select', [ints([1, 0, 0, 1, 1, 0]), vals(6, 21), vals(6, 22)], (be, [c, a, b]) => [be.routine('select', { cond: c!, a: a!, b: b! }, {})]);
    await both('stridedWrite', [vals(12, 23), vals(6, 24)], (be, [d, s]) => {
      be.routine('stridedWrite', { dst: d!, src: s! }, { srcShape: [2, 3], strides: [1, 4], offset: 1 });
      return [d!];
    });
    await both('cumsum', [x], (be, [v]) => [
      be.routine('cumsum', { x: v! }, { outer, length, inner, reverse: true }),
      be.routine('cumsum', { x: v! }, { outer, length, inner, reverse: false }),
    ]);
  });

  it('convolution and pooling', async () => {
    const g: Conv2dGeometry = { n: 2, cin: 2, h: 5, w: 4, cout: 3, kh: 3, kw: 2, hout: 3, wout: 3, strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1, groups: 1 };
    const x = vals(2 * 2 * 5 * 4, 25);
    const w = vals(3 * 2 * 3 * 2, 26);
    const dy = vals(2 * 3 * 3 * 3, 27);
    await both('conv2d', [x, w, vals(3, 28)], (be, [xx, ww, b]) => [be.routine('conv2d', { x: xx!, weight: ww!, bias: b! }, g)]);
    await both('conv2dBackwardInput', [dy, w], (be, [d, ww]) => [be.routine('conv2dBackwardInput', { dy: d!, weight: ww! }, g)]);
    await both('conv2dBackwardWeight', [x, dy], (be, [xx, d]) => [be.routine('conv2dBackwardWeight', { x: xx!, dy: d! }, g)]);
    const p: Pool2dGeometry = { planes: 3, h: 5, w: 4, hout: 2, wout: 2, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, adaptive: false } as Pool2dGeometry;
    const px = vals(3 * 5 * 4, 29);
    const pdy = vals(3 * 2 * 2, 30);
    await both('maxPool2d', [px], (be, [v]) => {
      const r = be.routine('maxPool2d', { x: v! }, p);
      return [r.values, r.indices];
    });
    await both('maxPool2dBackward', [px, pdy], (be, [v, d]) => {
      const r = be.routine('maxPool2d', { x: v! }, p);
      return [be.routine('maxPool2dBackward', { dy: d!, indices: r.indices }, p)];
    });
    await both('avgPool2d', [px], (be, [v]) => [be.routine('avgPool2d', { x: v! }, p)]);
    await both('avgPool2dBackward', [pdy], (be, [d]) => [be.routine('avgPool2dBackward', { dy: d! }, p)]);
    await both('avgPool2d padded', [px], (be, [v]) => [be.routine('avgPool2d', { x: v! }, { ...p, padH: 1, padW: 1, hout: 3, wout: 3, countIncludePad: false } as Pool2dGeometry)]);
  });
});
