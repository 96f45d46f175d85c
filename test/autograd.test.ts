/**
 * The tape's behaviour on every backend: accumulation, shared values, noGrad, detach, the errors of
 * backward, retainGraph, int32 leaves and deep graphs.
 */
import { expectErrorSync } from './helpers/expect-error.js';
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { BackendName } from '../src/backend/types.js';
import type { Tensor } from '../src/tensor.js';
import {
  add, arange, dispose, exp, matmul, memory, mul, noGrad, ones, square, sum, tensor, tidy, WebgradError,
} from '../src/index.js';

async function values(t: Tensor | null): Promise<number[]> {
  if (!t) throw new Error('expected a tensor, got null');
  return Array.from(await t.data());
}

function expectClose(got: number[], want: number[], tol = 1e-6): void {
  expect(got.length, `length of ${JSON.stringify(got)}`).toBe(want.length);
  got.forEach((g, i) => {
    if (!(Math.abs(g - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)))) {
      throw new Error(`element ${i}: got ${g}, expected ${want[i]} (tol ${tol}); got ${JSON.stringify(got)}`);
    }
  });
}

describeEachBackend('autograd', (device: BackendName) => {
  const leaf = (data: number[] | number[][], requiresGrad = true): Tensor => tensor(data, { device, requiresGrad });

  it('gradients accumulate across two backward() calls on leaves', async () => {
    await expectNoLeak('accumulate', async () => {
      const x = leaf([1, -2, 3]);
      const y1 = tidy(() => sum(mul(x, 2)));
      y1.backward();
      expectClose(await values(x.grad), [2, 2, 2]);
      const y2 = tidy(() => sum(square(x)));
      y2.backward();
      expectClose(await values(x.grad), [2 + 2, 2 - 4, 2 + 6]);
      expect(x.grad!.shape).toEqual([3]);
      expect(x.grad!.device).toBe(device);
      dispose([x, y1, y2]);
    });
  });

  it('a value used twice (x·x) gets both contributions: 2x; x·x·x gives 3x²; x + x gives 2', async () => {
    await expectNoLeak('shared', async () => {
      const x = leaf([[0.5, -1.5, 2], [3, -0.25, 1]]);
      const y = tidy(() => sum(mul(x, x)));
      y.backward();
      expectClose(await values(x.grad), [1, -3, 4, 6, -0.5, 2]);
      const x2 = leaf([0.5, -1.5, 2]);
      const y2 = tidy(() => sum(mul(mul(x2, x2), x2)));
      y2.backward();
      expectClose(await values(x2.grad), [0.75, 6.75, 12]);
      const x3 = leaf([4, 5]);
      const y3 = tidy(() => sum(add(x3, x3)));
      y3.backward();
      expectClose(await values(x3.grad), [2, 2]);
      // Both operands of a matmul are the same leaf: d(sum(A·A))/dA = 1·Aᵀ + Aᵀ·1.
      const a = leaf([[1, 2], [3, 4]]);
      const y4 = tidy(() => sum(matmul(a, a)));
      y4.backward();
      // dL/dA[p][q] = rowsum(A)[q] + colsum(A)[p], with row sums [3, 7] and column sums [4, 6].
      expectClose(await values(a.grad), [3 + 4, 7 + 4, 3 + 6, 7 + 6]);
      dispose([x, y, x2, y2, x3, y3, a, y4]);
    });
  });

  it('only leaves that require grad receive one; intermediates keep none', async () => {
    await expectNoLeak('leaves', async () => {
      const x = leaf([1, 2]);
      const c = leaf([3, 4], false);
      const m = mul(x, c);
      const y = sum(m);
      y.backward();
      expectClose(await values(x.grad), [3, 4]);
      expect(c.grad).toBeNull();
      expect(m.grad).toBeNull();
      expect(m.requiresGrad).toBe(true);
      dispose([x, c, m, y]);
    });
  });

  it('noGrad records nothing: results do not require grad and cannot be differentiated', async () => {
    await expectNoLeak('noGrad', async () => {
      const x = leaf([1, 2, 3]);
      const y = noGrad(() => tidy(() => sum(mul(exp(x), 2))));
      expect(y.requiresGrad).toBe(false);
      expectErrorSync(() => y.backward(), /does not require grad/);
      expect(x.grad).toBeNull();
      // Recording resumes afterwards, also after a throw inside noGrad.
      expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
      const z = tidy(() => sum(mul(x, 2)));
      expect(z.requiresGrad).toBe(true);
      // ...and after an async noGrad.
      const w = await noGrad(async () => {
        await Promise.resolve();
        return mul(x, 3);
      });
      expect(w.requiresGrad).toBe(false);
      const v = mul(x, 4);
      expect(v.requiresGrad).toBe(true);
      dispose([x, y, z, w, v]);
    });
  });

  it('detach cuts the graph (the detached value acts as a constant) and shares the values', async () => {
    await expectNoLeak('detach', async () => {
      const x = leaf([1, -2, 3]);
      const d = x.detach();
      expect(d.requiresGrad).toBe(false);
      expectClose(await values(d), [1, -2, 3]);
      const y = tidy(() => sum(mul(d, x))); // d/dx of (const · x) = const
      y.backward();
      expectClose(await values(x.grad), [1, -2, 3]);
      // Through an intermediate: exp(x).detach() stops the gradient of exp.
      const x2 = leaf([0, 1]);
      const y2 = tidy(() => sum(add(mul(exp(x2).detach(), 0), x2)));
      y2.backward();
      expectClose(await values(x2.grad), [1, 1]);
      dispose([x, d, y, x2, y2]);
    });
  });

  it('backward on a non-scalar without gradient throws, naming the shape; with a gradient it weighs the outputs', async () => {
    await expectNoLeak('non-scalar', async () => {
      const x = leaf([[1, 2, 3], [4, 5, 6]]);
      const y = mul(x, 2);
      expectErrorSync(() => y.backward(), []);
      expectErrorSync(() => y.backward(), /\[2, 3\]/);
      const wrong = ones([3, 2], { device });
      expectErrorSync(() => y.backward(wrong), /\[3, 2\].*\[2, 3\]/);
      const g = tensor([[1, 0, -1], [2, 0.5, 0]], { device });
      y.backward(g);
      expectClose(await values(x.grad), [2, 0, -2, 4, 1, 0]);
      dispose([x, y, wrong, g]);
    });
  });

  it('backward twice through a freed graph throws (mentioning retainGraph) without touching the grads; retainGraph allows it', async () => {
    const x = leaf([0, 1]);
    const y = tidy(() => sum(exp(mul(x, 2))));
    y.backward();
    const once = await values(x.grad);
    expectClose(once, [2, 2 * Math.exp(2)], 1e-5);
    expectErrorSync(() => y.backward(), /retainGraph/);
    expectClose(await values(x.grad), once, 0);

    const x2 = leaf([0, 1]);
    const y2 = tidy(() => sum(exp(mul(x2, 2))));
    y2.backward(undefined, { retainGraph: true });
    y2.backward(undefined, { retainGraph: true });
    y2.backward();
    expectClose(await values(x2.grad), [6, 6 * Math.exp(2)], 1e-5);
    expectErrorSync(() => y2.backward(), /retainGraph/);
    dispose([x, y, x2, y2]);
  });

  it('retainGraph: the retained graph is still released when its tensors are disposed', async () => {
    await expectNoLeak('retainGraph', async () => {
      const x = leaf([0, 1]);
      const y = tidy(() => sum(exp(mul(x, 2))));
      y.backward(undefined, { retainGraph: true });
      y.backward(undefined, { retainGraph: true });
      expectClose(await values(x.grad), [4, 4 * Math.exp(2)], 1e-5);
      dispose([x, y]);
    });
  });

  it('a backward() that fails on a freed graph leaks nothing (neither the implicit nor an explicit seed)', async () => {
    const x = leaf([0, 1]);
    const y = tidy(() => sum(exp(x)));
    const v = tidy(() => exp(x));
    const g = ones([2], { device });
    y.backward();
    v.backward(g);
    const before = memory();
    expectErrorSync(() => y.backward(), /retainGraph/);
    expectErrorSync(() => v.backward(g), /retainGraph/);
    const after = memory();
    dispose([x, y, v, g]);
    expect({ liveTensors: after.liveTensors, liveStorages: after.liveStorages, liveBytes: after.liveBytes }).toEqual({
      liveTensors: before.liveTensors, liveStorages: before.liveStorages, liveBytes: before.liveBytes,
    });
  });

  it('requiresGrad on an int32 tensor throws', () => {
    expectErrorSync(() => tensor([1, 2], { device, dtype: 'int32', requiresGrad: true }), /requiresGrad.*int32/);
    const t = tensor([1, 2], { device, dtype: 'int32' });
    expectErrorSync(() => t.requiresGrad_(), []);
    expectErrorSync(() => t.requiresGrad_(), /int32/);
    expect(t.requiresGrad).toBe(false);
    t.requiresGrad_(false); // turning it off is fine
    t.dispose();
  });

  it('a creation call refused for requiresGrad on int32 leaves no tensor behind', () => {
    const before = memory();
    expectErrorSync(() => tensor([1, 2], { device, dtype: 'int32', requiresGrad: true }), /int32/);
    expectErrorSync(() => arange(0, 5, 1, { device, requiresGrad: true }), /int32/);
    const after = memory();
    expect([after.liveTensors, after.liveStorages, after.liveBytes]).toEqual([before.liveTensors, before.liveStorages, before.liveBytes]);
  });

  it('a deep chain (2000 ops) differentiates without overflowing the stack, and is freed after', async () => {
    await expectNoLeak('deep chain', async () => {
      const x = leaf([1, -1]);
      const loss = tidy(() => {
        let y = x;
        for (let i = 0; i < 2000; i++) y = mul(y, 1.0001);
        return sum(y);
      });
      loss.backward();
      const want = 1.0001 ** 2000;
      expectClose(await values(x.grad), [want, want], 1e-4);
      dispose([x, loss]);
    });
  });

  it('a deep chain that is never differentiated is released without overflowing the stack', async () => {
    const before = memory();
    const x = leaf([1, -1]);
    const loss = tidy(() => {
      let y = x;
      for (let i = 0; i < 2000; i++) y = add(y, 0.5);
      return sum(y);
    });
    expectClose(await values(loss), [2000]);
    expect(() => dispose([x, loss])).not.toThrow();
    const after = memory();
    expect([after.liveTensors, after.liveStorages, after.liveBytes]).toEqual([before.liveTensors, before.liveStorages, before.liveBytes]);
  });
});

describe('tape depth (backend-independent, on the CPU)', () => {
  // Node.release() walks upstream recursively; a graph deeper than the JS stack must still be
  // released (topoOrder is iterative for the same reason).
  it('a 20000-op chain is differentiated and then released without overflowing the stack', async () => {
    const before = memory();
    const x = tensor([1, -1], { dtype: 'float64', requiresGrad: true });
    const loss = tidy(() => {
      let y = x;
      for (let i = 0; i < 20000; i++) y = mul(y, 1.00001);
      return sum(y);
    });
    loss.backward();
    expectClose(await values(x.grad), [1.00001 ** 20000, 1.00001 ** 20000], 1e-9);
    expect(() => loss.dispose()).not.toThrow();
    x.dispose();
    const after = memory();
    expect([after.liveTensors, after.liveStorages, after.liveBytes]).toEqual([before.liveTensors, before.liveStorages, before.liveBytes]);
  });

  it('a 20000-op chain that is never differentiated is released without overflowing the stack', () => {
    const before = memory();
    const x = tensor([1, -1], { dtype: 'float64', requiresGrad: true });
    const loss = tidy(() => {
      let y = x;
      for (let i = 0; i < 20000; i++) y = add(y, 1);
      return sum(y);
    });
    expect(() => loss.dispose()).not.toThrow();
    x.dispose();
    const after = memory();
    expect([after.liveTensors, after.liveStorages, after.liveBytes]).toEqual([before.liveTensors, before.liveStorages, before.liveBytes]);
  });
});
