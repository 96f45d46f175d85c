/**
 * batchNorm2d in evaluation mode reads NCHW in place: without a gradient to carry it is one
 * batchNorm2dApply with the running statistics (no permute to [N·H·W, C] and back); with one, the
 * same per-channel map from broadcasting ops. Both give PyTorch's eval formula
 * y = (x − running_mean)/sqrt(running_var + eps)·weight + bias (computed here in float64), with and
 * without the affine vectors, and the gradients of sum(y·W) are torch's (dx = W·weight·rstd,
 * dweight = Σ W·x̂, dbias = Σ W over N, H, W). The whole eval path against torch's own logits is in
 * test/conv-layers.test.ts.
 */
import { expect, it, vi } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose } from './helpers/compare.js';
import { prng } from './helpers/random-data.js';
import { batchNorm2d } from '../src/ops/batchnorm2d.js';
import { tensor } from '../src/ops/creation.js';
import { mul, sum } from '../src/index.js';
import { getBackend } from '../src/engine.js';
import { noGrad } from '../src/lifetime.js';
import type { BackendName } from '../src/backend/types.js';
import type { Tensor } from '../src/tensor.js';

const [N, C, H, W] = [3, 5, 4, 6];
const EPS = 1e-3;
const rnd = prng(77);
const draw = (n: number, lo: number, hi: number): number[] => Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * rnd()));
const X = draw(N * C * H * W, -2, 2);
const RM = draw(C, -0.5, 0.5);
const RV = draw(C, 0.2, 2);
const G = draw(C, 0.5, 1.5);
const B = draw(C, -1, 1);
const WT = draw(N * C * H * W, -1, 1);
const channel = (i: number): number => Math.floor(i / (H * W)) % C;
const xhat = (i: number): number => (X[i]! - RM[channel(i)]!) / Math.sqrt(RV[channel(i)]! + EPS);

function expected(affine: boolean): Float64Array {
  return Float64Array.from(X, (_, i) => (affine ? xhat(i) * G[channel(i)]! + B[channel(i)]! : xhat(i)));
}

const TOL = { atol: 2e-6, rtol: 2e-6 };

describeEachBackend('batchNorm2d eval on NCHW', (device: BackendName) => {
  const make = (v: number[], shape: number[], grad = false): Tensor => tensor(v, { shape, dtype: 'float32', device, requiresGrad: grad });

  it('without a gradient: one batchNorm2dApply with the running statistics, PyTorch\'s eval formula, affine or not', async () => {
    for (const affine of [true, false]) {
      const x = make(X, [N, C, H, W]);
      const [rm, rv] = [make(RM, [C]), make(RV, [C])];
      const [g, b] = affine ? [make(G, [C]), make(B, [C])] : [null, null];
      const backend = getBackend(device);
      const spy = vi.spyOn(backend, 'routine');
      const y = noGrad(() => batchNorm2d(x, rm, rv, g, b, { training: false, eps: EPS }));
      const calls = spy.mock.calls.map((c) => c[0]);
      spy.mockRestore();
      expect(calls).toEqual(['batchNorm2dApply']);
      expect(y.shape).toEqual([N, C, H, W]);
      expect(y.requiresGrad).toBe(false);
      assertClose(`eval affine=${affine}`, Float64Array.from(await y.data()), expected(affine), [N, C, H, W], TOL);
      // The running statistics are read, not changed.
      expect(Array.from(await rm.data())).toEqual(RM);
      expect(Array.from(await rv.data())).toEqual(RV);
      for (const t of [x, rm, rv, g, b, y]) t?.dispose();
    }
  });

  it('with a gradient: the same values, and torch\'s gradients for the input, weight and bias', async () => {
    const x = make(X, [N, C, H, W], true);
    const [rm, rv] = [make(RM, [C]), make(RV, [C])];
    const [g, b] = [make(G, [C], true), make(B, [C], true)];
    const wt = make(WT, [N, C, H, W]);
    const y = batchNorm2d(x, rm, rv, g, b, { training: false, eps: EPS });
    expect(y.requiresGrad).toBe(true);
    assertClose('eval (grad path)', Float64Array.from(await y.data()), expected(true), [N, C, H, W], TOL);
    sum(mul(y, wt)).backward();
    const dx = Float64Array.from(X, (_, i) => WT[i]! * G[channel(i)]! / Math.sqrt(RV[channel(i)]! + EPS));
    const dg = new Float64Array(C);
    const db = new Float64Array(C);
    X.forEach((_, i) => {
      dg[channel(i)] += WT[i]! * xhat(i);
      db[channel(i)] += WT[i]!;
    });
    assertClose('dx', Float64Array.from(await x.grad!.data()), dx, [N, C, H, W], TOL);
    assertClose('dweight', Float64Array.from(await g.grad!.data()), dg, [C], { atol: 2e-5, rtol: 2e-5 });
    assertClose('dbias', Float64Array.from(await b.grad!.data()), db, [C], { atol: 2e-5, rtol: 2e-5 });
    expect(rm.grad ?? null).toBeNull();
    for (const t of [x, rm, rv, g, b, wt, y]) t.dispose();
  });

  it('evaluation without running statistics is refused', () => {
    const x = make(X, [N, C, H, W]);
    expect(() => batchNorm2d(x, null, null, null, null, { training: false })).toThrow(/batchNorm2d: evaluation mode needs runningMean and runningVar/);
    x.dispose();
  });
});
