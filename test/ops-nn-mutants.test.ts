/**
 * batchNorm, batchNorm2d, dropout, linear and matmul where the suites leave a gap: every refusal's
 * full message, option edges (eps, momentum, p, negativeSlope), the running-statistics update with a
 * non-default momentum, gradients for every combination of affine parameters, broadcast and
 * transposed products, compared with closed forms computed here in float64 (PyTorch's
 * definitions). CPU, float64. Written from the mutation-testing survivors (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { amp, batchNorm, batchNorm2d, dropout, linear, matmul, memory, tensor, zeros } from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import { engine } from '../src/engine.js';
import { matmulT } from '../src/ops/matmul.js';
import { bad, close, f32, f64, i32, seq, vals } from './helpers/cpu-tensors.js';

/** Per-channel batch norm of rows [N][C] in float64: y, batch mean, biased and unbiased variance, and dx/dγ/dβ for dy. */
function referenceBn(x: number[][], dy: number[][], gamma: number[] | null, beta: number[] | null, eps: number) {
  const n = x.length;
  const c = x[0]!.length;
  const mean = seq(c, (j) => x.reduce((s, r) => s + r[j]!, 0) / n);
  const varB = seq(c, (j) => x.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / n);
  const varU = varB.map((v) => (v * n) / (n - 1));
  const inv = varB.map((v) => 1 / Math.sqrt(v + eps));
  const xhat = x.map((r) => r.map((v, j) => (v - mean[j]!) * inv[j]!));
  const y = xhat.map((r) => r.map((v, j) => v * (gamma ? gamma[j]! : 1) + (beta ? beta[j]! : 0)));
  const dbeta = seq(c, (j) => dy.reduce((s, r) => s + r[j]!, 0));
  const dgamma = seq(c, (j) => dy.reduce((s, r, i) => s + r[j]! * xhat[i]![j]!, 0));
  const dx = x.map((r, i) => r.map((_, j) => ((gamma ? gamma[j]! : 1) * inv[j]! / n) * (n * dy[i]![j]! - dbeta[j]! - xhat[i]![j]! * dgamma[j]!)));
  return { y, mean, varU, dx, dgamma, dbeta };
}

describe('batchNorm', () => {
  it('refusals name the op, the argument and what was expected', () => {
    const x = zeros([4, 3], f64);
    const v3 = zeros([3], f64);
    const v2 = zeros([2], f64);
    const v32 = zeros([3], f32);
    const xi = zeros([4, 3], i32);
    const x3 = zeros([4, 3, 1], f64);
    const x1 = zeros([1, 3], f64);
    const col3 = zeros([3, 1], f64);
    const train = { training: true };
    expectErrorSync(() => batchNorm(bad(1), null, null, null, null, train), /^batchNorm: input must be a Tensor, got number$/);
    expectErrorSync(() => batchNorm(xi, null, null, null, null, train), /^batchNorm: input must be a floating-point tensor, got int32$/);
    expectErrorSync(() => batchNorm(x3, null, null, null, null, train), /^batchNorm: input must be 2-D \[N, C\], got \[4, 3, 1\]$/);
    expectErrorSync(() => batchNorm(x, v2, v3, null, null, train), /^batchNorm: runningMean must have shape \[3\], got \[2\]$/);
    expectErrorSync(() => batchNorm(x, v3, v2, null, null, train), /^batchNorm: runningVar must have shape \[3\], got \[2\]$/);
    expectErrorSync(() => batchNorm(x, null, null, v2, null, train), /^batchNorm: weight must have shape \[3\], got \[2\]$/);
    expectErrorSync(() => batchNorm(x, null, null, null, x, train), /^batchNorm: bias must have shape \[3\], got \[4, 3\]$/);
    expectErrorSync(() => batchNorm(x, null, null, null, col3, train), /^batchNorm: bias must have shape \[3\], got \[3, 1\]$/);
    expectErrorSync(() => batchNorm(x, null, null, bad('w'), null, train), /^batchNorm: weight must be a Tensor, got string$/);
    expectErrorSync(() => batchNorm(x, null, null, null, v32, train), /^batchNorm: dtype mismatch: float64 and float32; convert one with \.cast\('float64'\)$/);
    expectErrorSync(() => batchNorm(x, null, null, null, null, { training: true, eps: 0 }), /^batchNorm: eps must be positive, got 0$/);
    expectErrorSync(() => batchNorm(x, null, null, null, null, { training: true, eps: NaN }), /^batchNorm: eps must be positive, got NaN$/);
    expectErrorSync(() => batchNorm(x, null, null, null, null, { training: true, momentum: 1.01 }), /^batchNorm: momentum must be in \[0, 1\], got 1\.01$/);
    expectErrorSync(() => batchNorm(x, null, null, null, null, { training: true, momentum: -0.01 }), /^batchNorm: momentum must be in \[0, 1\], got -0\.01$/);
    expectErrorSync(() => batchNorm(x, null, null, null, null, { training: true, momentum: NaN }), /^batchNorm: momentum must be in \[0, 1\], got NaN$/);
    expectErrorSync(() => batchNorm(x, v3, null, null, null, { training: false }), /^batchNorm: evaluation mode needs runningMean and runningVar$/);
    expectErrorSync(() => batchNorm(x, null, v3, null, null, { training: false }), /^batchNorm: evaluation mode needs runningMean and runningVar$/);
    expectErrorSync(() => batchNorm(x1, null, null, null, null, train), /^batchNorm: training needs more than one value per channel, got input \[1, 3\]$/);
    dispose([x, v3, v2, v32, xi, x3, x1, col3]);
  });

  it('training: normalises with the batch statistics, moves the running ones by momentum, and differentiates', async () => {
    const xr = [[1, -2, 0.5], [3, 4, -1], [-0.5, 2, 2], [2.5, 0, 1]];
    const dyr = [[0.3, -1, 2], [1, 0.5, -0.2], [-0.7, 1.5, 0.1], [0.2, -0.3, 1]];
    const gamma = [1.5, -0.5, 2];
    const beta = [0.1, 0.2, -0.3];
    const eps = 0.01;
    const ref = referenceBn(xr, dyr, gamma, beta, eps);
    const x = tensor(xr, f64).requiresGrad_(true);
    const w = tensor(gamma, f64).requiresGrad_(true);
    const b = tensor(beta, f64).requiresGrad_(true);
    const rm = tensor([1, 2, 3], f64);
    const rv = tensor([4, 5, 6], f64);
    const y = batchNorm(x, rm, rv, w, b, { training: true, momentum: 0.3, eps });
    close(await vals(y), ref.y.flat());
    close(await vals(rm), [1, 2, 3].map((v, j) => 0.7 * v + 0.3 * ref.mean[j]!));
    close(await vals(rv), [4, 5, 6].map((v, j) => 0.7 * v + 0.3 * ref.varU[j]!));
    y.backward(tensor(dyr, f64));
    close(await vals(x.grad!), ref.dx.flat());
    close(await vals(w.grad!), ref.dgamma);
    close(await vals(b.grad!), ref.dbeta);
    // Momentum 0 keeps the running statistics, 1 replaces them; the defaults are 0.1 and 1e-5.
    const y0 = batchNorm(x, rm, rv, null, null, { training: true, momentum: 0 });
    const before = await vals(rm);
    close(await vals(rm), before);
    const y1 = batchNorm(x, rm, rv, null, null, { training: true, momentum: 1 });
    close(await vals(rm), ref.mean);
    close(await vals(rv), ref.varU);
    const refDefault = referenceBn(xr, dyr, null, null, 1e-5);
    const rm2 = tensor([1, 2, 3], f64);
    const rv2 = tensor([4, 5, 6], f64);
    const yd = batchNorm(x, rm2, rv2, null, null, { training: true });
    close(await vals(yd), refDefault.y.flat());
    close(await vals(rm2), [1, 2, 3].map((v, j) => 0.9 * v + 0.1 * ref.mean[j]!));
    close(await vals(rv2), [4, 5, 6].map((v, j) => 0.9 * v + 0.1 * ref.varU[j]!));
    dispose([x, w, b, rm, rv, y, y0, y1, rm2, rv2, yd]);
  });

  it('training with one running buffer updates neither; with two rows the unbiased variance divides by 1', async () => {
    const x = tensor([[1, 5], [3, 9]], f64);
    const rm = tensor([0, 0], f64);
    const y = batchNorm(x, rm, null, null, null, { training: true, momentum: 0.5 });
    expect(await vals(rm)).toEqual([0, 0]);
    const rv = tensor([0, 0], f64);
    const y2 = batchNorm(x, rm, rv, null, null, { training: true, momentum: 1 });
    expect(await vals(rm)).toEqual([2, 7]);
    expect(await vals(rv)).toEqual([2, 8]);
    dispose([x, rm, y, rv, y2]);
  });

  it('gives gradients in input order for weight-only and bias-only layers, and none where not needed', async () => {
    const xr = [[1, -2], [3, 4], [-0.5, 2]];
    const dyr = [[0.3, -1], [1, 0.5], [-0.7, 1.5]];
    const refW = referenceBn(xr, dyr, [2, 3], null, 1e-5);
    const x = tensor(xr, f64);
    const w = tensor([2, 3], f64).requiresGrad_(true);
    const y = batchNorm(x, null, null, w, null, { training: true });
    y.backward(tensor(dyr, f64));
    expect(x.grad).toBeNull();
    close(await vals(w.grad!), refW.dgamma);
    const refB = referenceBn(xr, dyr, null, [1, 1], 1e-5);
    const x2 = tensor(xr, f64).requiresGrad_(true);
    const b = tensor([1, 1], f64).requiresGrad_(true);
    const y2 = batchNorm(x2, null, null, null, b, { training: true });
    y2.backward(tensor(dyr, f64));
    close(await vals(x2.grad!), refB.dx.flat());
    close(await vals(b.grad!), refB.dbeta);
    const w3 = tensor([2, 3], f64);
    const b3 = tensor([1, 1], f64).requiresGrad_(true);
    const y3 = batchNorm(x, null, null, w3, b3, { training: true });
    y3.backward(tensor(dyr, f64));
    expect(w3.grad).toBeNull();
    close(await vals(b3.grad!), refW.dbeta);
    dispose([x, w, y, x2, b, y2, w3, b3, y3]);
  });

  it('leaves nothing behind but its output, in training and evaluation', () => {
    const x = tensor([[1, 5], [3, 9], [2, 2]], f64);
    const rm = tensor([0, 0], f64);
    const rv = tensor([1, 1], f64);
    const w = tensor([1, 2], f64);
    const x4 = tensor([1, 5, 3, 9, 2, 2], { ...f64, shape: [3, 2, 1, 1] });
    const before = memory();
    for (const training of [true, false]) {
      batchNorm(x, rm, rv, w, w, { training }).dispose();
      batchNorm2d(x4, rm, rv, null, w, { training }).dispose();
    }
    const after = memory();
    expect([after.liveTensors, after.liveStorages, after.liveBytes]).toEqual([before.liveTensors, before.liveStorages, before.liveBytes]);
    dispose([x, rm, rv, w, x4]);
  });

  it('evaluation: (x − runningMean)/sqrt(runningVar + eps)·weight + bias, differentiable', async () => {
    const x = tensor([[1, 2], [3, 4]], f64).requiresGrad_(true);
    const rm = tensor([1, -1], f64);
    const rv = tensor([3, 0.5], f64);
    const w = tensor([2, -1], f64).requiresGrad_(true);
    const b = tensor([0.5, 1], f64);
    const eps = 1;
    const y = batchNorm(x, rm, rv, w, b, { training: false, eps });
    const s = [1 / 2, 1 / Math.sqrt(1.5)];
    close(await vals(y), [0 * s[0]! * 2 + 0.5, 3 * s[1]! * -1 + 1, 2 * s[0]! * 2 + 0.5, 5 * s[1]! * -1 + 1]);
    y.sum().backward();
    close(await vals(x.grad!), [2 * s[0]!, -s[1]!, 2 * s[0]!, -s[1]!]);
    close(await vals(w.grad!), [(0 + 2) * s[0]!, (3 + 5) * s[1]!]);
    const plain = batchNorm(x, rm, rv, null, null, { training: false });
    close(await vals(plain), [0, 3 / Math.sqrt(0.5 + 1e-5), 2 / Math.sqrt(3 + 1e-5), 5 / Math.sqrt(0.5 + 1e-5)]);
    expect(await vals(rm)).toEqual([1, -1]);
    dispose([x, rm, rv, w, b, y, plain]);
  });
});

describe('batchNorm2d', () => {
  it('refusals name batchNorm2d', () => {
    const x = zeros([2, 3, 2, 2], f64);
    const v2 = zeros([2], f64);
    const x2 = zeros([2, 3], f64);
    const xi = zeros([2, 3, 2, 2], i32);
    const one = zeros([1, 3, 1, 1], f64);
    const train = { training: true };
    expectErrorSync(() => batchNorm2d(bad(null), null, null, null, null, train), /^batchNorm2d: input must be a Tensor, got null$/);
    expectErrorSync(() => batchNorm2d(xi, null, null, null, null, train), /^batchNorm2d: input must be a floating-point tensor, got int32$/);
    expectErrorSync(() => batchNorm2d(x2, null, null, null, null, train), /^batchNorm2d: input must be 4-D \[N, C, H, W\], got \[2, 3\]$/);
    expectErrorSync(() => batchNorm2d(x, null, null, v2, null, train), /^batchNorm2d: weight must have shape \[3\], got \[2\]$/);
    expectErrorSync(() => batchNorm2d(x, null, null, null, null, { training: true, eps: -1 }), /^batchNorm2d: eps must be positive, got -1$/);
    expectErrorSync(() => batchNorm2d(one, null, null, null, null, train), /^batchNorm2d: training needs more than one value per channel, got input \[1, 3, 1, 1\]$/);
    dispose([x, v2, x2, xi, one]);
  });

  it('training: statistics over N·H·W per channel (unbiased over N·H·W − 1 for the running variance), and gradients', async () => {
    // [N=2, C=2, H=1, W=2]; channel c's values are rows of the [N·H·W, C] view.
    const data = [1, -2, 0.5, 3, 4, -1, 2.5, 0];
    const x = tensor(data, { ...f64, shape: [2, 2, 1, 2] }).requiresGrad_(true);
    const rows = [[1, 0.5], [-2, 3], [4, 2.5], [-1, 0]]; // (n, w) pairs per channel
    const dyData = [0.3, -1, 2, 1, 0.5, -0.2, -0.7, 1.5];
    const dyRows = [[0.3, 2], [-1, 1], [0.5, -0.7], [-0.2, 1.5]];
    const gamma = [1.5, -0.5];
    const beta = [0.1, 0.2];
    const ref = referenceBn(rows, dyRows, gamma, beta, 1e-5);
    const toNchw = (r: number[][]): number[] => [r[0]![0]!, r[1]![0]!, r[0]![1]!, r[1]![1]!, r[2]![0]!, r[3]![0]!, r[2]![1]!, r[3]![1]!];
    const w = tensor(gamma, f64).requiresGrad_(true);
    const b = tensor(beta, f64).requiresGrad_(true);
    const rm = tensor([0, 0], f64);
    const rv = tensor([1, 1], f64);
    const y = batchNorm2d(x, rm, rv, w, b, { training: true, momentum: 0.25 });
    expect(y.shape).toEqual([2, 2, 1, 2]);
    close(await vals(y), toNchw(ref.y));
    close(await vals(rm), ref.mean.map((m) => 0.25 * m));
    close(await vals(rv), ref.varU.map((v) => 0.75 + 0.25 * v));
    y.backward(tensor(dyData, { ...f64, shape: [2, 2, 1, 2] }));
    close(await vals(x.grad!), toNchw(ref.dx));
    close(await vals(w.grad!), ref.dgamma);
    close(await vals(b.grad!), ref.dbeta);
    // A bias-only layer: the bias gets dβ, not dγ.
    const b2 = tensor(beta, f64).requiresGrad_(true);
    const yb = batchNorm2d(tensor(data, { ...f64, shape: [2, 2, 1, 2] }), null, null, null, b2, { training: true });
    yb.backward(tensor(dyData, { ...f64, shape: [2, 2, 1, 2] }));
    close(await vals(b2.grad!), ref.dbeta);
    dispose([b2, yb]);
    // One sample with two pixels is enough to train.
    const single = tensor([1, 3, 5, 9], { ...f64, shape: [1, 2, 1, 2] });
    const ys = batchNorm2d(single, null, null, null, null, { training: true });
    close(await vals(ys), [-1, 1, -1, 1].map((v, i) => v * (i < 2 ? 1 / Math.sqrt(1 + 1e-5) : 2 / Math.sqrt(4 + 1e-5))));
    dispose([x, w, b, rm, rv, y, single, ys]);
  });

  it('evaluation uses the running statistics per channel', async () => {
    const x = tensor([1, 2, 3, 4], { ...f64, shape: [1, 2, 1, 2] });
    const rm = tensor([1, 2], f64);
    const rv = tensor([4, 1], f64);
    const b = tensor([0, 10], f64);
    const y = batchNorm2d(x, rm, rv, null, b, { training: false, eps: 0.5 });
    expect(y.shape).toEqual([1, 2, 1, 2]);
    close(await vals(y), [0, 1 / Math.sqrt(4.5), 1 / Math.sqrt(1.5) + 10, 2 / Math.sqrt(1.5) + 10]);
    dispose([x, rm, rv, b, y]);
  });
});

describe('dropout', () => {
  it('refusals name the argument', () => {
    const x = zeros([4], f64);
    const xi = zeros([4], i32);
    expectErrorSync(() => dropout(bad(1)), /^dropout: input must be a Tensor, got number$/);
    expectErrorSync(() => dropout(xi), /^dropout: input must be a floating-point tensor, got int32$/);
    expectErrorSync(() => dropout(x, 1), /^dropout: p \(the probability of zeroing\) must be in \[0, 1\), got 1$/);
    expectErrorSync(() => dropout(x, -0.1), /^dropout: p \(the probability of zeroing\) must be in \[0, 1\), got -0\.1$/);
    expectErrorSync(() => dropout(x, bad('0.5')), /^dropout: p \(the probability of zeroing\) must be in \[0, 1\), got 0\.5$/);
    expectErrorSync(() => dropout(x, NaN), /^dropout: p \(the probability of zeroing\) must be in \[0, 1\), got NaN$/);
    dispose([x, xi]);
  });

  it('is the identity (still differentiable) when not training or p = 0, and draws nothing', async () => {
    const x = tensor([1, 2, 3], f64).requiresGrad_(true);
    const offset = engine.randomOffset;
    const e = dropout(x, 0.9, { training: false });
    const z = dropout(x, 0);
    expect(engine.randomOffset).toBe(offset);
    expect(await vals(e)).toEqual([1, 2, 3]);
    expect(await vals(z)).toEqual([1, 2, 3]);
    e.add(z).sum().backward();
    expect(await vals(x.grad!)).toEqual([2, 2, 2]);
    dispose([x, e, z]);
  });

  it('zeroes with probability p, scales survivors by 1/(1 − p), and masks the gradient the same way', async () => {
    const n = 400;
    const x = tensor(seq(n, (i) => i + 1), f64).requiresGrad_(true);
    const offset = engine.randomOffset;
    const y = dropout(x, 0.25); // the global stream, training by default
    expect(engine.randomOffset).toBe(offset + n);
    const yv = await vals(y);
    const kept = yv.filter((v) => v !== 0).length;
    // float64 data is scaled by the double 1/(1 − p), as PyTorch's double dropout: exact.
    yv.forEach((v, i) => expect(v === 0 || v === (i + 1) * (1 / 0.75)).toBe(true));
    expect(kept).toBeGreaterThan(n * 0.6);
    expect(kept).toBeLessThan(n * 0.9);
    y.sum().backward();
    (await vals(x.grad!)).forEach((g, i) => expect(g).toBeCloseTo(yv[i] === 0 ? 0 : 1 / 0.75, 6));
    const s1 = dropout(x, 0.5, { seed: 3 });
    const s2 = dropout(x, 0.5, { seed: 3, training: true });
    expect(await vals(s1)).toEqual(await vals(s2));
    expect(engine.randomOffset).toBe(offset + n);
    dispose([x, y, s1, s2]);
  });
});

describe('linear', () => {
  it('refusals name the op, the argument and the expected shape', () => {
    const x = zeros([4, 3], f64);
    const w = zeros([2, 3], f64);
    const xi = zeros([4, 3], i32);
    const w32 = zeros([2, 3], f32);
    const w1 = zeros([3], f64);
    const x2 = zeros([4, 2], f64);
    const s = tensor(1, f64);
    const b3 = zeros([3], f64);
    const b32 = zeros([2], f32);
    const col2 = zeros([2, 1], f64);
    expectErrorSync(() => linear(bad(1), w), /^linear: input must be a Tensor, got number$/);
    expectErrorSync(() => linear(x, bad(null)), /^linear: weight must be a Tensor, got null$/);
    expectErrorSync(() => linear(xi, w), /^linear: input must be a floating-point tensor, got int32$/);
    expectErrorSync(() => linear(x, w32), /^linear: dtype mismatch: float64 and float32; convert one with \.cast\('float64'\)$/);
    expectErrorSync(() => linear(x, w1), /^linear: weight must be 2-D \[out, in\], got \[3\]$/);
    expectErrorSync(() => linear(x2, w), /^linear: input's last dimension must be 3 \(weight \[2, 3\]\), got input \[4, 2\]$/);
    expectErrorSync(() => linear(s, w), /^linear: input's last dimension must be 3 \(weight \[2, 3\]\), got input \[\]$/);
    expectErrorSync(() => linear(x, w, bad(2)), /^linear: bias must be a Tensor, got number$/);
    expectErrorSync(() => linear(x, w, b32), /^linear: dtype mismatch: float64 and float32/);
    expectErrorSync(() => linear(x, w, b3), /^linear: bias must have shape \[2\], got \[3\]$/);
    expectErrorSync(() => linear(x, w, x), /^linear: bias must have shape \[2\], got \[4, 3\]$/);
    expectErrorSync(() => linear(x, w, col2), /^linear: bias must have shape \[2\], got \[2, 1\]$/);
    expectErrorSync(() => linear(x, w, null, { activation: 'leakyRelu', negativeSlope: 0 }), /^linear: negativeSlope must be positive for a fused leakyRelu, got 0$/);
    expectErrorSync(() => linear(x, w, null, { activation: 'leakyRelu', negativeSlope: NaN }), /^linear: negativeSlope must be positive for a fused leakyRelu, got NaN$/);
    expectErrorSync(() => linear(x, w, null, { activation: bad('swish') }), /^linear: unknown activation 'swish'$/);
    const xf = zeros([4, 3], f32);
    const wf = zeros([2, 3], f32);
    expectErrorSync(() => amp.autocast(() => linear(xf, wf, null, { activation: bad('swish') })), /^linear: unknown activation 'swish'$/);
    dispose([x, w, xi, w32, w1, x2, s, b3, b32, xf, wf, col2]);
  });

  it('computes act(x·Wᵀ + b) over leading dimensions for every activation, with its gradient', async () => {
    const xr = [[0.5, -1, 2], [-1.5, 0.25, 1], [2, 1, -0.5], [0, -2, 0.75]];
    const wr = [[0.2, -0.4, 0.6], [-1, 0.5, 0.3]];
    const br = [0.1, -0.2];
    const pre = xr.map((r) => wr.map((wrow, o) => wrow.reduce((s, wv, k) => s + wv * r[k]!, br[o]!)));
    const gelu = (v: number): number => 0.5 * v * (1 + erf(v / Math.SQRT2));
    const acts: Record<string, [(v: number) => number, (v: number) => number]> = {
      none: [(v) => v, () => 1],
      relu: [(v) => Math.max(0, v), (v) => (v > 0 ? 1 : 0)],
      relu6: [(v) => Math.min(6, Math.max(0, v)), (v) => (v > 0 && v < 6 ? 1 : 0)],
      sigmoid: [(v) => 1 / (1 + Math.exp(-v)), (v) => Math.exp(-v) / (1 + Math.exp(-v)) ** 2],
      tanh: [Math.tanh, (v) => 1 - Math.tanh(v) ** 2],
      leakyRelu: [(v) => (v > 0 ? v : 0.2 * v), (v) => (v > 0 ? 1 : 0.2)],
      gelu: [gelu, (v) => 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-v * v / 2)) / Math.sqrt(2 * Math.PI)],
    };
    for (const [name, [f, df]] of Object.entries(acts)) {
      const x = tensor([xr.slice(0, 2), xr.slice(2)], f64).requiresGrad_(true); // [2, 2, 3]
      const w = tensor(wr, f64).requiresGrad_(true);
      const b = tensor(br, f64).requiresGrad_(true);
      const y = linear(x, w, b, { activation: name as never, negativeSlope: 0.2 });
      expect(y.shape).toEqual([2, 2, 2]);
      close(await vals(y), pre.flat().map(f), 6);
      y.sum().backward();
      const dpre = pre.map((r) => r.map(df));
      close(await vals(x.grad!), xr.map((_, i) => [0, 1, 2].map((k) => dpre[i]!.reduce((s, d, o) => s + d * wr[o]![k]!, 0))).flat(), 6);
      close(await vals(w.grad!), wr.map((_, o) => [0, 1, 2].map((k) => dpre.reduce((s, d, i) => s + d[o]! * xr[i]![k]!, 0))).flat(), 6);
      close(await vals(b.grad!), [0, 1].map((o) => dpre.reduce((s, d) => s + d[o]!, 0)), 6);
      dispose([x, w, b, y]);
    }
    // The default slope is 0.01; no bias means none in the gradient list.
    const x = tensor([[-1, 0, 0]], f64).requiresGrad_(true);
    const w = tensor([[1, 0, 0]], f64);
    const y = linear(x, w, null, { activation: 'leakyRelu' });
    expect(await vals(y)).toEqual([-0.01]);
    y.backward();
    expect(await vals(x.grad!)).toEqual([0.01, 0, 0]);
    expect(w.grad).toBeNull();
    dispose([x, w, y]);
  });

  it('under autocast runs in float16 and applies the activation after', async () => {
    const x = tensor([[1, -2]], f32);
    const w = tensor([[1, 1], [2, -1], [-1, 0.5]], f32);
    const b = tensor([0.5, 0, 0], f32);
    for (const [activation, expected] of [['none', [-0.5, 4, -2]], ['relu', [0, 4, 0]], ['leakyRelu', [-0.25, 4, -1]], ['gelu', null]] as const) {
      const y = amp.autocast(() => linear(x, w, b, { activation, negativeSlope: 0.5 }));
      expect(y.dtype).toBe('float16');
      const got = await vals(y);
      if (expected) expect(got).toEqual(expected);
      else close(got, [-0.5, 4, -2].map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))), 2);
      y.dispose();
    }
    // A float16 input (the previous layer's output) is taken as is; float64 layers are left alone.
    const h = x.cast('float16');
    const y16 = amp.autocast(() => linear(h, w, b));
    expect(y16.dtype).toBe('float16');
    expect(await vals(y16)).toEqual([-0.5, 4, -2]);
    const x64 = tensor([[1, -2]], f64);
    const w64 = tensor([[1, 1], [2, -1], [-1, 0.5]], f64);
    const y64 = amp.autocast(() => linear(x64, w64));
    expect(y64.dtype).toBe('float64');
    expect(await vals(y64)).toEqual([-1, 4, -2]);
    dispose([h, y16, x64, w64, y64]);
    const d = amp.autocast(() => linear(x, w, b, { activation: 'leakyRelu' }));
    close(await vals(d), [-0.005, 4, -0.02], 3);
    dispose([x, w, b, d]);
  });
});

describe('temporaries', () => {
  it('a materialised matmul operand and linear\'s pre-gelu product are freed', () => {
    const a = zeros([2, 1, 2, 3], f64);
    const b = zeros([3, 3, 4], f64);
    const x = zeros([2, 3], f64);
    const w = zeros([4, 3], f64);
    const before = memory();
    matmul(a, b).dispose();
    linear(x, w, null, { activation: 'gelu' }).dispose();
    const after = memory();
    expect([after.liveTensors, after.liveStorages, after.liveBytes]).toEqual([before.liveTensors, before.liveStorages, before.liveBytes]);
    dispose([a, b, x, w]);
  });
});

describe('matmul', () => {
  it('refusals name the operands and both full shapes', () => {
    const a = zeros([2, 3], f64);
    const v = zeros([3], f64);
    const b = zeros([2, 2], f64);
    const ai = zeros([2, 3], i32);
    const a32 = zeros([2, 3], f32);
    const ba = zeros([2, 2, 3], f64);
    const bb = zeros([3, 3, 2], f64);
    expectErrorSync(() => matmul(bad(1), a), /^matmul: a must be a Tensor, got number$/);
    expectErrorSync(() => matmul(a, bad(null)), /^matmul: b must be a Tensor, got null$/);
    expectErrorSync(() => matmul(a, a32), /^matmul: dtype mismatch: float64 and float32/);
    expectErrorSync(() => matmul(ai, ai), /^matmul: a must be a floating-point tensor, got int32$/);
    expectErrorSync(() => matmul(v, a), /^matmul: expected tensors of rank >= 2, got \[3\] and \[2, 3\]$/);
    expectErrorSync(() => matmul(a, v), /^matmul: expected tensors of rank >= 2, got \[2, 3\] and \[3\]$/);
    expectErrorSync(() => matmul(a, b), /^matmul: inner dimensions differ: \[2, 3\] @ \[2, 2\] \(3 vs 2\)$/);
    expectErrorSync(() => matmulT(b, a, true, true, 'linear'), /^linear: inner dimensions differ: \[2, 2\]ᵀ @ \[2, 3\]ᵀ \(2 vs 3\)$/);
    expectErrorSync(() => matmulT(a, b, false, true), /^matmul: inner dimensions differ: \[2, 3\] @ \[2, 2\]ᵀ \(3 vs 2\)$/);
    expectErrorSync(() => matmul(ba, bb), /^matmul: the batch dimensions of \[2, 2, 3\] and \[3, 3, 2\] cannot be broadcast together \(\[2\] vs \[3\]\)$/);
    dispose([a, v, b, ai, a32, ba, bb]);
  });

  it('broadcasts batch dimensions (size-1, missing and materialised) and reads transposes in place', async () => {
    const A = (bi: number, i: number, k: number): number => 1 + bi + 0.5 * i - 0.25 * k * (bi + 1);
    const B = (bi: number, k: number, j: number): number => 2 - bi + 0.3 * k * j - 0.1 * j;
    const mk = (batch: number, r: number, c: number, f: (b: number, i: number, j: number) => number): number[] =>
      seq(batch * r * c, (n) => f(Math.floor(n / (r * c)), Math.floor((n % (r * c)) / c), n % c));
    const prod = (ab: (i: number) => number, bb: (i: number) => number, batch: number): number[] =>
      seq(batch * 2 * 4, (n) => {
        const bi = Math.floor(n / 8);
        const i = Math.floor((n % 8) / 4);
        const j = n % 4;
        return seq(3, (k) => A(ab(bi), i, k) * B(bb(bi), k, j)).reduce((s, v) => s + v, 0);
      });
    // [3, 2, 3] @ [3, 4]: b shared (stride 0).
    const a3 = tensor(mk(3, 2, 3, A), { ...f64, shape: [3, 2, 3] }).requiresGrad_(true);
    const b1 = tensor(mk(1, 3, 4, B), { ...f64, shape: [3, 4] }).requiresGrad_(true);
    const y1 = matmul(a3, b1);
    expect(y1.shape).toEqual([3, 2, 4]);
    close(await vals(y1), prod((b) => b, () => 0, 3));
    y1.sum().backward();
    expect(b1.grad!.shape).toEqual([3, 4]);
    close(await vals(b1.grad!), seq(12, (n) => seq(3, (bi) => seq(2, (i) => A(bi, i, Math.floor(n / 4))).reduce((s, v) => s + v, 0)).reduce((s, v) => s + v, 0)));
    expect(a3.grad!.shape).toEqual([3, 2, 3]);
    // [1, 2, 3] @ [3, 3, 4]: a shared through its size-1 batch.
    const a1 = tensor(mk(1, 2, 3, A), { ...f64, shape: [1, 2, 3] });
    const b3 = tensor(mk(3, 3, 4, B), { ...f64, shape: [3, 3, 4] });
    const y2 = matmul(a1, b3);
    expect(y2.shape).toEqual([3, 2, 4]);
    close(await vals(y2), prod(() => 0, (b) => b, 3));
    // [2, 1, 2, 3] @ [3, 3, 4]: both batch shapes differ from the result's [2, 3]; a is materialised.
    const a21 = tensor(mk(2, 2, 3, A), { ...f64, shape: [2, 1, 2, 3] }).requiresGrad_(true);
    const y3 = matmul(a21, b3);
    expect(y3.shape).toEqual([2, 3, 2, 4]);
    close(await vals(y3), prod((b) => Math.floor(b / 3), (b) => b % 3, 6));
    y3.sum().backward();
    expect(a21.grad!.shape).toEqual([2, 1, 2, 3]);
    close(await vals(a21.grad!), mk(2, 2, 3, (_, _i, k) => seq(3, (bi) => seq(4, (j) => B(bi, k, j)).reduce((s, v) => s + v, 0)).reduce((s, v) => s + v, 0)));
    // Transposed operands, with every gradient branch.
    const p = tensor([[1, 2], [3, 4], [5, 6]], f64).requiresGrad_(true); // read as pᵀ [2, 3]
    const q = tensor([[1, 0, -1], [2, 1, 0]], f64).requiresGrad_(true); // read as qᵀ [3, 2]
    const t = matmulT(p, q, true, true);
    expect(t.shape).toEqual([2, 2]);
    expect(await vals(t)).toEqual([-4, 5, -4, 8]);
    t.backward(tensor([[1, 2], [3, 4]], f64));
    // d(pᵀ) = dY·q → dp = (dY·q)ᵀ; d(qᵀ) = pᵀᵀ·dY... written out: dp[k][i] = Σ_j dY[i][j]·q[j][k], dq[j][k] = Σ_i dY[i][j]·p[k][i]
    expect(await vals(p.grad!)).toEqual([5, 11, 2, 4, -1, -3]);
    expect(await vals(q.grad!)).toEqual([7, 15, 23, 10, 22, 34]);
    const p2 = tensor([[1, 2], [3, 4], [5, 6]], f64).requiresGrad_(true);
    const q2 = tensor([[1, 0], [2, 1]], f64).requiresGrad_(true);
    const t2 = matmulT(p2, q2, false, true); // p2 @ q2ᵀ
    expect(await vals(t2)).toEqual([1, 4, 3, 10, 5, 16]);
    t2.sum().backward();
    expect(await vals(p2.grad!)).toEqual([3, 1, 3, 1, 3, 1]);
    expect(await vals(q2.grad!)).toEqual([9, 12, 9, 12]);
    const p3 = tensor([[1, 2], [3, 4]], f64).requiresGrad_(true);
    const q3 = tensor([[1, 0, 1], [2, 1, 0]], f64).requiresGrad_(true);
    const t3 = matmulT(p3, q3, true, false); // p3ᵀ @ q3
    expect(await vals(t3)).toEqual([7, 3, 1, 10, 4, 2]);
    t3.sum().backward();
    expect(await vals(p3.grad!)).toEqual([2, 2, 3, 3]);
    expect(await vals(q3.grad!)).toEqual([3, 3, 3, 7, 7, 7]);
    dispose([a3, b1, y1, a1, b3, y2, a21, y3, p, q, t, p2, q2, t2, p3, q3, t3]);
  });
});

/** Abramowitz–Stegun 7.1.26 is too coarse for 1e-6; this series/continued-fraction pair is exact to ~1e-15. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let total = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      total += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * total;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
}
