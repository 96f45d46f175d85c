/**
 * Tensor lifetime on every backend: tidy (sync, async, nested, on throw), keep, `using`, dispose,
 * errors on disposed tensors, no tape leaks over a training-like loop, and the release of graphs
 * that are never differentiated.
 */
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { expectError, expectErrorSync } from './helpers/expect-error.js';
import type { BackendName } from '../src/backend/types.js';
import type { Tensor } from '../src/tensor.js';
import type { MemoryInfo } from '../src/lifetime.js';
import {
  add, dispose, div, exp, gt, maximum, keep, log, matmul, mean, memory, mul, noGrad, ones, randn, relu, sigmoid, square, sub, sum, tensor,
  tidy,
} from '../src/index.js';

type Counts = [liveTensors: number, liveStorages: number, liveBytes: number];
const counts = (m: MemoryInfo = memory()): Counts => [m.liveTensors, m.liveStorages, m.liveBytes];

describeEachBackend('lifetime', (device: BackendName) => {
  const t = (data: number[], requiresGrad = false): Tensor => tensor(data, { device, requiresGrad });

  it('tidy disposes the intermediates and keeps the returned tensors', async () => {
    const before = counts();
    let a!: Tensor;
    let b!: Tensor;
    const out = tidy(() => {
      a = t([1, 2, 3]);
      b = add(a, 1);
      return mul(b, 2);
    });
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(true);
    expect(out.isDisposed).toBe(false);
    expect(counts()).toEqual([before[0] + 1, before[1] + 1, before[2] + 12]);
    expect(Array.from(await out.data())).toEqual([4, 6, 8]);
    out.dispose();
    expect(counts()).toEqual(before);
  });

  it('tidy keeps tensors returned inside arrays and plain objects; nested scopes hand results outward', async () => {
    const before = counts();
    const r = tidy(() => {
      const x = t([1, 2]);
      const inner = tidy(() => {
        const tmp = exp(x);
        return { y: add(tmp, 1), list: [mul(x, 3)] };
      });
      // inner results moved to this scope: alive now, disposed with it unless returned.
      expect(inner.y.isDisposed).toBe(false);
      const dropped = inner.list[0]!;
      return { kept: inner.y, pair: [sub(x, 1), square(x)] as const, dropped };
    });
    expect(r.kept.isDisposed || r.pair[0].isDisposed || r.pair[1].isDisposed || r.dropped.isDisposed).toBe(false);
    expect(counts()[0]).toBe(before[0] + 4);
    expect(Array.from(await r.pair[1].data())).toEqual([1, 4]);
    dispose(r);
    expect(counts()).toEqual(before);
  });

  it('tidy disposes what it created when the function throws', () => {
    const before = counts();
    expect(() => tidy(() => {
      const a = t([1, 2]);
      mul(a, 2);
      throw new Error('inside tidy');
    })).toThrow('inside tidy');
    expect(counts()).toEqual(before);
  });

  it('async tidy disposes intermediates after the promise settles and keeps the result', async () => {
    const before = counts();
    let a!: Tensor;
    const out = await tidy(async () => {
      a = t([1, -2, 3]);
      const v = Array.from(await a.data());
      const b = mul(a, v[0]! + 1);
      return relu(b);
    });
    expect(a.isDisposed).toBe(true);
    expect(out.isDisposed).toBe(false);
    expect(Array.from(await out.data())).toEqual([2, 0, 6]);
    expect(counts()[0]).toBe(before[0] + 1);
    out.dispose();
    expect(counts()).toEqual(before);
    // A rejected async tidy disposes everything it created.
    await expect(tidy(async () => {
      const c = t([1]);
      await c.data();
      throw new Error('async failure');
    })).rejects.toThrow('async failure');
    expect(counts()).toEqual(before);
  });

  it('keep() exempts a tensor from the enclosing scopes until it is disposed', () => {
    const before = counts();
    let kept!: Tensor;
    let other!: Tensor;
    tidy(() => {
      tidy(() => {
        kept = keep(t([5, 6]));
        other = t([7]);
      });
    });
    expect(kept.isDisposed).toBe(false);
    expect(other.isDisposed).toBe(true);
    expect(counts()[0]).toBe(before[0] + 1);
    kept.dispose();
    expect(counts()).toEqual(before);
  });

  it('`using` disposes at the end of the block (and Symbol.dispose works directly)', () => {
    const before = counts();
    let seen!: Tensor;
    {
      using x = t([1, 2, 3]);
      seen = x;
      expect(x.isDisposed).toBe(false);
      expect(counts()[0]).toBe(before[0] + 1);
    }
    expect(seen.isDisposed).toBe(true);
    expect(counts()).toEqual(before);
    const y = t([4]);
    y[Symbol.dispose]();
    expect(y.isDisposed).toBe(true);
    expect(counts()).toEqual(before);
  });

  it('dispose twice is safe and counts once; dispose() takes arrays and objects', () => {
    const before = counts();
    const a = t([1, 2]);
    const b = a.reshape([2, 1]); // shares a's storage
    expect(counts()).toEqual([before[0] + 2, before[1] + 1, before[2] + 8]);
    a.dispose();
    a.dispose();
    expect(counts()).toEqual([before[0] + 1, before[1] + 1, before[2] + 8]);
    b.dispose();
    b.dispose();
    expect(counts()).toEqual(before);
    const c = t([1]);
    const d = t([2]);
    dispose({ c, more: [d, d] });
    expect(c.isDisposed && d.isDisposed).toBe(true);
    expect(counts()).toEqual(before);
  });

  it('using a disposed tensor throws a WebgradError naming the op and "disposed"', async () => {
    const before = counts();
    const x = t([1, 2, 3, 4]);
    const m = tensor([[1, 2], [3, 4]], { device });
    const m4 = m.reshape([4]);
    x.dispose();
    expectErrorSync(() => exp(x), /disposed/);
    // Every op names itself (not an internal accessor such as 'dtype').
    const uses: [string, () => unknown][] = [
      ['exp', () => exp(x)],
      ['add', () => add(x, 1)],
      ['add', () => add(1, x)],
      ['add', () => add(x, m4)],
      ['mul', () => x.mul(2)],
      ['mul', () => x.mul(m4)],
      ['sub', () => sub(3, x)],
      ['div', () => div(x, 2)],
      ['gt', () => gt(x, 0)],
      ['maximum', () => maximum(x, m4)],
      ['sum', () => sum(x)],
      ['relu', () => relu(x)],
      ['reshape', () => x.reshape([2, 2])],
      ['matmul', () => matmul(m, x)],
    ];
    for (const [op, use] of uses) expectErrorSync(use, new RegExp(`^${op}: .*disposed`));
    await expectError(() => x.data(), /^data: .*disposed/);
    expect(x.shape).toEqual([4]); // metadata stays readable
    expect(String(x)).toMatch(/disposed/);
    dispose([m, m4]);
    expect(counts()).toEqual(before);
  });

  it('a training-like loop (forward + backward + update under tidy) x50 returns memory to its start', async () => {
    // A tiny MLP on fixed data: 17 samples, 5 features, 3 hidden, 1 output.
    const X = randn([17, 5], { device, seed: 1 });
    const Y = randn([17, 1], { device, seed: 2 });
    let w1 = randn([5, 3], { device, seed: 3 }).requiresGrad_();
    let w2 = randn([3, 1], { device, seed: 4 }).requiresGrad_();
    const start = counts();
    const after: Counts[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 50; step++) {
      const loss = tidy(() => {
        const h = sigmoid(matmul(X, w1));
        const pred = matmul(h, w2);
        const l = mean(square(sub(pred, Y)));
        l.backward();
        // The update: new leaves replace the old ones (the old ones and their grads are disposed).
        const [n1, n2] = noGrad(() => [sub(w1, mul(w1.grad!, 0.1)), sub(w2, mul(w2.grad!, 0.1))]);
        w1.dispose();
        w2.dispose();
        w1 = keep(n1!).requiresGrad_();
        w2 = keep(n2!).requiresGrad_();
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
      after.push(counts());
    }
    // Exactly the starting memory after every step: nothing grows with the number of steps.
    for (const [i, c] of after.entries()) expect(c, `after step ${i + 1}`).toEqual(start);
    expect(losses[49]!).toBeLessThan(losses[0]!); // it did train
    dispose([X, Y, w1, w2]);
  });

  it('a graph that is never differentiated releases its storages when its tensors are disposed', async () => {
    const before = counts();
    const x = t([0.5, 1, 2], true);
    const a = exp(x); // the tape saves x and a
    const s = add(a, 1);
    const b = log(s); // saves s and b
    const p = mul(b, a); // saves b and a
    const c = sum(p);
    expect(c.requiresGrad).toBe(true);
    // Dispose the user handles in an awkward order: the leaf first, the root last.
    for (const u of [x, a, s, b, p]) u.dispose();
    expect(counts()[0]).toBe(before[0] + 1);
    // The tape still holds the storages c's graph would need (x, a, s, b) besides c's own.
    expect(counts()[1]).toBe(before[1] + 5);
    expect(Number.isFinite(await c.item())).toBe(true);
    c.dispose();
    expect(counts()).toEqual(before);
  });

  it('after backward the tape drops its saved tensors even while the outputs stay alive', () => {
    const before = counts();
    const x = t([0.5, 1, 2], true);
    const y = tidy(() => {
      const a = exp(x);
      const b = sigmoid(mul(a, x));
      return sum(b);
    });
    // Saved intermediates (a, a·x, b) are held by the tape only.
    expect(counts()[0]).toBe(before[0] + 2);
    expect(counts()[1]).toBe(before[1] + 5);
    y.backward();
    // Left: x, y and x.grad — 3 tensors, 3 storages, 12 + 4 + 12 bytes.
    expect(counts()).toEqual([before[0] + 3, before[1] + 3, before[2] + 28]);
    dispose([x, y]);
    expect(counts()).toEqual(before);
  });

  it('tensors created under noGrad inside tidy follow the same rules', () => {
    const before = counts();
    const x = ones([3], { device, requiresGrad: true });
    const y = tidy(() => noGrad(() => exp(mul(x, 2))));
    expect(y.requiresGrad).toBe(false);
    expect(counts()[0]).toBe(before[0] + 2);
    dispose([x, y]);
    expect(counts()).toEqual(before);
  });
});
