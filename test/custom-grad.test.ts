/**
 * customGrad: user-defined backward functions. Gradients by central differences on float64 CPU,
 * the same ops' gradients on WebGPU against the CPU, the user's backward really being used, the
 * errors of a bad backward (clear, at backward, nothing leaked), lifetimes (memory() back where it
 * was), noGrad, tidy, and a custom op inside a small network trained a few steps.
 */
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import type { Tensor } from '../src/index.js';
import type { BackendName } from '../src/backend/types.js';
import { assertGradcheck, gradcheck } from './helpers/gradcheck.js';
import { describeEachBackend } from './helpers/backends.js';
import { expectError, expectErrorSync } from './helpers/expect-error.js';
import { expectNoLeak } from './helpers/oracle.js';
import { draw, prng, U } from './helpers/random-data.js';

// ---- three custom ops ----

/** sigmoid with a hand-written backward dy·y·(1−y), y saved by closure. */
const customSigmoid = wg.customGrad((x: Tensor) => {
  const y = wg.onesLike(x).div(x.neg().exp().add(1));
  return { value: y, grad: (dy: Tensor) => [dy.mul(y).mul(y.neg().add(1))] };
}, { name: 'customSigmoid' });

/** Straight-through estimator: forward sign(x), backward dy where |x| ≤ 1, else 0 (deliberately not sign's zero). */
const steSign = wg.customGrad((x: Tensor) => ({
  value: wg.sign(x),
  grad: (dy: Tensor) => [dy.mul(x.abs().le(1))],
}), { name: 'steSign' });

/** Two tensor inputs and a non-tensor one: a·b + alpha·a². */
const bilinear = wg.customGrad((a: Tensor, alpha: number, b: Tensor) => {
  const value = a.mul(b).add(a.square().mul(alpha));
  return { value, grad: (dy: Tensor) => [dy.mul(b.add(a.mul(2 * alpha))), dy.mul(a)] };
}, { name: 'bilinear' });

/** The class form: torch.autograd.Function-style, same sigmoid, saving y with ctx. */
class ClassSigmoid extends wg.autograd.Function {
  static forward(ctx: wg.autograd.FunctionCtx, x: Tensor): Tensor {
    const y = wg.sigmoid(x);
    ctx.saveForBackward(y);
    return y;
  }
  static backward(ctx: wg.autograd.FunctionCtx, dy: Tensor): Tensor[] {
    const [y] = ctx.savedTensors;
    return [dy.mul(y!).mul(y!.neg().add(1))];
  }
}

/** The class form with two inputs, one not needing a gradient, and a deliberately wrong-shaped gradient when asked. */
class ClassScale extends wg.autograd.Function {
  static forward(ctx: wg.autograd.FunctionCtx, x: Tensor, s: Tensor, broken: boolean): Tensor {
    ctx.saveForBackward(x, s);
    ctx.broken = broken;
    return x.mul(s);
  }
  static backward(ctx: wg.autograd.FunctionCtx, dy: Tensor): (Tensor | null)[] {
    const [x, s] = ctx.savedTensors;
    if (ctx.broken) return [dy.sum(), null];
    return [dy.mul(s!), ctx.needsInputGrad[1] ? dy.mul(x!).sum() : null];
  }
}

function vals(n: number, seed: number, lo = -2, hi = 2): number[] {
  return Array.from(draw(U(lo, hi), n, prng(seed), 'float64'));
}

async function arr(t: Tensor | null): Promise<number[]> {
  if (!t) throw new Error('expected a tensor, got null');
  return Array.from(await t.data());
}

function expectClose(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  got.forEach((g, i) => {
    if (!(Math.abs(g - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)))) {
      throw new Error(`${what}: element ${i}: got ${g}, expected ${want[i]} (tol ${tol})`);
    }
  });
}

describe('customGrad: gradcheck on float64 CPU', () => {
  it('custom sigmoid passes central differences', async () => {
    const r = await assertGradcheck('customSigmoid', (x) => customSigmoid(x), [{ shape: [3, 4], values: vals(12, 1) }]);
    expect(r.checked).toBe(12);
  });

  it('the class form (autograd.Function) passes central differences, for one and two inputs', async () => {
    await assertGradcheck('ClassSigmoid', (x) => ClassSigmoid.apply(x!), [{ shape: [2, 3], values: vals(6, 11) }]);
    await assertGradcheck('ClassScale', (x, s) => ClassScale.apply(x!, s!, false), [
      { shape: [2, 3], values: vals(6, 12) },
      { shape: [], values: [0.8] },
    ]);
  });

  it('two-input op with a non-tensor argument passes central differences for both inputs', async () => {
    const r = await assertGradcheck('bilinear', (a, b) => bilinear(a!, 0.7, b!), [
      { shape: [2, 3], values: vals(6, 2) },
      { shape: [2, 3], values: vals(6, 3) },
    ]);
    expect(r.checked).toBe(12);
  });

  it('a composition (custom op between built-in ops) passes central differences', async () => {
    await assertGradcheck('compose', (x, w) => customSigmoid(x!.matmul(w!)).mul(bilinear(x!.matmul(w!), -0.3, x!.matmul(w!).exp())), [
      { shape: [2, 3], values: vals(6, 4, -1, 1) },
      { shape: [3, 2], values: vals(6, 5, -1, 1) },
    ]);
  });

  it('the straight-through estimator uses its own backward: analytic = W·[|x| ≤ 1], not the numeric 0', async () => {
    // Values kept away from 0 and ±1 so sign's numeric derivative is exactly 0 and the mask is unambiguous.
    const x = [-2.5, -0.5, 0.25, 0.75, 1.5, -1.25, 0.6, 3];
    const r = await gradcheck((t) => steSign(t), [{ shape: [8], values: x }]);
    expect(r.ok, 'numeric sign′ is 0 where the STE is 1: gradcheck must disagree').toBe(false);
    expect(Array.from(r.numeric[0]!)).toEqual(new Array(8).fill(0));
    // Its own formula: dL/dx = W ⊙ [|x| ≤ 1], with W the gradcheck's output weights (its default seed).
    const W = draw(U(-1, 1), 8, prng(0x9e3779b9), 'float64');
    expect(Array.from(r.analytic[0]!)).toEqual(x.map((v, i) => W[i]! * (Math.abs(v) <= 1 ? 1 : 0)));
    // And with a known upstream gradient: exactly the mask times it.
    await expectNoLeak('ste', async () => {
      const t = wg.tensor(x, { dtype: 'float64', requiresGrad: true });
      const up = wg.tensor(x.map((_, i) => i + 1), { dtype: 'float64' });
      const y = steSign(t);
      expect(await arr(y)).toEqual(x.map(Math.sign));
      y.backward(up);
      expect(await arr(t.grad)).toEqual(x.map((v, i) => (Math.abs(v) <= 1 ? i + 1 : 0)));
      wg.dispose([t, up, y]);
    });
  });
});

describeEachBackend('customGrad', (device: BackendName) => {
  const leaf = (data: number[], shape: number[], requiresGrad = true): Tensor => wg.tensor(data, { device, shape, requiresGrad });

  it('the README example: w.grad = clamp(exp(w), -1, 1) + [|w| <= 1]', async () => {
    const clippedExp = wg.customGrad((x: wg.Tensor) => {
      const y = x.exp();
      return { value: y, grad: (dy: wg.Tensor) => [dy.mul(y).clamp(-1, 1)] };
    }, { name: 'clippedExp' });
    const steSign = wg.customGrad((x: wg.Tensor) => ({
      value: wg.sign(x),
      grad: (dy: wg.Tensor) => [dy.mul(x.abs().le(1))],
    }));
    await expectNoLeak('readme', async () => {
      const w = wg.tensor([-2, 0.5, 3], { device }).requiresGrad_();
      const loss = wg.tidy(() => clippedExp(w).add(steSign(w)).sum());
      loss.backward();
      expectClose(await arr(w.grad), [Math.exp(-2), 1 + 1, 1], 1e-6, 'w.grad');
      wg.dispose([w, loss]);
    });
  });

  it('a forward with an integer value is refused when it would be recorded', async () => {
    const toInt = wg.customGrad((x: Tensor) => ({ value: x.cast('int32'), grad: (dy: Tensor) => [dy] }), { name: 'toInt' });
    const x = leaf([1, 2], [2]);
    await expectError(() => toInt(x), [/customGrad 'toInt'/, /must be floating-point to be differentiated, got int32/]);
    const y = wg.noGrad(() => toInt(x));
    expect(y.dtype).toBe('int32');
    wg.dispose([x, y]);
  });

  it('the class form: needsInputGrad, and a bad gradient names the class', async () => {
    await expectNoLeak('class', async () => {
      const x = leaf([1, 2], [2]);
      const s = wg.tensor(3, { device });
      const y = ClassScale.apply(x, s, false);
      const seed = wg.onesLike(y);
      y.backward(seed);
      expect(await arr(x.grad)).toEqual([3, 3]);
      expect(s.grad).toBeNull();
      wg.dispose([x, s, y, seed]);
    });
    await expectError(() => {
      const x = leaf([1, 2], [2]);
      const s = wg.tensor(3, { device });
      const loss = wg.tidy(() => ClassScale.apply(x, s, true).sum());
      try {
        loss.backward();
      } finally {
        wg.dispose([x, s, loss]);
      }
    }, [/customGrad 'ClassScale'/, /gradient for input 0 has shape \[\] but the input has shape \[2\]/], { device });
  });

  it('the user backward is really used: a constant gradient shows up in x.grad', async () => {
    const constGrad = wg.customGrad((x: Tensor) => ({ value: x.exp(), grad: (dy: Tensor) => [wg.full(x.shape, 7, { device: dy.device })] }));
    await expectNoLeak('constant grad', async () => {
      const x = leaf([0.1, 0.2, 0.3], [3]);
      const loss = wg.tidy(() => constGrad(x).sum());
      loss.backward();
      expect(await arr(x.grad)).toEqual([7, 7, 7]);
      wg.dispose([x, loss]);
    });
  });

  it('returning dy itself (identity backward) works and the value is right', async () => {
    const idGrad = wg.customGrad((x: Tensor) => ({ value: x.square(), grad: (dy: Tensor) => dy }));
    await expectNoLeak('identity', async () => {
      const x = leaf([1, 2, 3], [3]);
      const up = wg.tensor([4, 5, 6], { device });
      const y = idGrad(x);
      expect(await arr(y)).toEqual([1, 4, 9]);
      y.backward(up);
      expect(await arr(x.grad)).toEqual([4, 5, 6]);
      expect(up.isDisposed, 'the upstream gradient is the caller\'s').toBe(false);
      wg.dispose([x, up, y]);
    });
  });

  it(`gradients match the float64 CPU (${device})`, async () => {
    const cases: { name: string; shapes: number[][]; f: (...xs: Tensor[]) => Tensor }[] = [
      { name: 'customSigmoid', shapes: [[4, 5]], f: (x) => customSigmoid(x!) },
      { name: 'steSign', shapes: [[4, 5]], f: (x) => steSign(x!) },
      { name: 'ClassSigmoid', shapes: [[4, 5]], f: (x) => ClassSigmoid.apply(x!) },
      { name: 'bilinear', shapes: [[3, 4], [3, 4]], f: (a, b) => bilinear(a!, 0.7, b!) },
    ];
    for (const [k, c] of cases.entries()) {
      const inputs = c.shapes.map((s, i) => vals(s.reduce((p, q) => p * q, 1), 10 * k + i));
      const up = vals(c.shapes[0]!.reduce((p, q) => p * q, 1), 99 + k);
      const run = async (dev: BackendName, dtype: 'float32' | 'float64'): Promise<number[][]> => {
        const xs = inputs.map((v, i) => wg.tensor(v, { device: dev, dtype, shape: c.shapes[i], requiresGrad: true }));
        const u = wg.tensor(up, { device: dev, dtype, shape: c.shapes[0] });
        const y = c.f(...xs);
        y.backward(u);
        const g = await Promise.all(xs.map((x) => arr(x.grad)));
        wg.dispose([xs, u, y]);
        return g;
      };
      const ref = await run('cpu', 'float64');
      const got = await run(device, device === 'cpu' ? 'float64' : 'float32');
      got.forEach((g, i) => expectClose(g, ref[i]!, 1e-5, `${c.name} input ${i} on ${device}`));
    }
  });

  it('an input that does not require grad gets none, and needs says so', async () => {
    let seen: readonly boolean[] = [];
    const op = wg.customGrad((a: Tensor, b: Tensor) => ({
      value: a.mul(b),
      grad: (dy: Tensor, needs: readonly boolean[]) => { seen = needs; return [dy.mul(b), needs[1] ? dy.mul(a) : null]; },
    }));
    await expectNoLeak('needs', async () => {
      const a = leaf([1, 2], [2]);
      const b = leaf([3, 4], [2], false);
      const loss = wg.tidy(() => op(a, b).sum());
      loss.backward();
      expect(seen).toEqual([true, false]);
      expect(await arr(a.grad)).toEqual([3, 4]);
      expect(b.grad).toBeNull();
      wg.dispose([a, b, loss]);
    });
  });

  it('one gradient per argument (non-tensor ones included) is accepted too', async () => {
    const op = wg.customGrad((a: Tensor, s: number, b: Tensor) => ({
      value: a.mul(b).mul(s),
      grad: (dy: Tensor) => [dy.mul(b).mul(s), null, dy.mul(a).mul(s)],
    }));
    await expectNoLeak('per argument', async () => {
      const a = leaf([1, 2], [2]);
      const b = leaf([3, 4], [2]);
      const loss = wg.tidy(() => op(a, 2, b).sum());
      loss.backward();
      expect(await arr(a.grad)).toEqual([6, 8]);
      expect(await arr(b.grad)).toEqual([2, 4]);
      wg.dispose([a, b, loss]);
    });
  });

  it('under noGrad (or with no input requiring grad) nothing is recorded and nothing is kept', async () => {
    await expectNoLeak('noGrad', async () => {
      const x = leaf([0.5, -0.5], [2]);
      const y = wg.noGrad(() => customSigmoid(x));
      expect(y.requiresGrad).toBe(false);
      expect(y._node).toBeNull();
      expectClose(await arr(y), [0.5, -0.5].map((v) => 1 / (1 + Math.exp(-v))), 1e-6, 'value');
      // Only x and y are alive: the forward's intermediates were disposed.
      const w = leaf([1], [1], false);
      const z = customSigmoid(w);
      expect(z.requiresGrad).toBe(false);
      expect(z._node).toBeNull();
      wg.dispose([x, y, w, z]);
    });
    const before = wg.memory().liveTensors;
    const x = leaf([0.5], [1], false);
    const y = customSigmoid(x);
    expect(wg.memory().liveTensors - before, 'x and y only').toBe(2);
    wg.dispose([x, y]);
  });

  it('saved tensors outlive the user disposing the input and the output, then are released by backward', async () => {
    const snap = (): number[] => { const m = wg.memory(); return [m.liveTensors, m.liveStorages, m.liveBytes]; };
    const base = snap();
    const x = leaf([0.1, 0.2, 0.3], [3]);
    const withX = snap();
    const y = customSigmoid(x);
    const loss = wg.tidy(() => y.sum());
    y.dispose();
    expect(wg.memory().liveTensors, 'the node still holds the forward\'s tensors').toBeGreaterThan(withX[0]! + 1);
    loss.backward();
    loss.dispose();
    expect(wg.memory().liveTensors, 'x and x.grad only').toBe(withX[0]! + 1);
    expectClose(await arr(x.grad), [0.1, 0.2, 0.3].map((v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s); }), 1e-6, 'grad');
    x.dispose();
    expect(snap(), 'memory() back to the start').toEqual(base);
  });

  it('the backward works after the input itself was disposed (the forward saw a view)', async () => {
    await expectNoLeak('disposed input', async () => {
      const x = leaf([0.3, 0.4], [2]);
      const loss = wg.tidy(() => bilinear(x, 1, x).sum()); // same tensor twice: 3·x² → 6x
      x.dispose();
      loss.backward(); // x's grad is dropped (disposed leaf), but the closure's a and b are alive
      loss.dispose();
    });
  });

  it('retainGraph keeps the saved tensors for a second backward; disposing the graph releases them', async () => {
    await expectNoLeak('retainGraph', async () => {
      const x = leaf([0.1, -0.2], [2]);
      const loss = wg.tidy(() => customSigmoid(x).sum());
      loss.backward({ retainGraph: true });
      const first = await arr(x.grad);
      loss.backward();
      expectClose(await arr(x.grad), first.map((g) => 2 * g), 1e-6, 'accumulated');
      expectErrorSync(() => loss.backward(), /already freed/);
      wg.dispose([x, loss]);
    });
    await expectNoLeak('never differentiated', async () => {
      const x = leaf([0.1, -0.2], [2]);
      const y = customSigmoid(x);
      const loss = wg.tidy(() => y.mul(y).sum());
      wg.dispose([y, loss, x]);
    });
  });

  it('inside tidy: the backward closure survives the scope; only the returned loss is kept', async () => {
    await expectNoLeak('tidy', async () => {
      const x = leaf([1, 2], [2]);
      const b = leaf([3, 4], [2]);
      const before = wg.memory().liveTensors;
      const loss = wg.tidy(() => {
        const h = bilinear(x, 0.5, b);
        return customSigmoid(h).sum();
      });
      // x, b, loss, plus tensors owned by the nodes (not in any scope).
      expect(wg.memory().liveTensors).toBeGreaterThan(before + 1);
      loss.backward();
      loss.dispose();
      expect(wg.memory().liveTensors - before, 'x.grad and b.grad').toBe(2);
      const h = [1 * 3 + 0.5, 2 * 4 + 0.5 * 4];
      const s = h.map((v) => 1 / (1 + Math.exp(-v)));
      const ds = s.map((v) => v * (1 - v));
      expectClose(await arr(x.grad), [ds[0]! * (3 + 1), ds[1]! * (4 + 2)], 1e-5, 'x.grad');
      expectClose(await arr(b.grad), [ds[0]! * 1, ds[1]! * 2], 1e-5, 'b.grad');
      wg.dispose([x, b]);
    });
  });

  describe('a bad backward is refused at backward() with the op and input named, nothing leaked', () => {
    const cases: { what: string; grad: (dy: Tensor, a: Tensor) => wg.CustomGradients; pattern: RegExp[] }[] = [
      { what: 'wrong count', grad: (dy) => [dy, dy, dy], pattern: [/customGrad 'bad'/, /returned 3 gradient\(s\), expected 2/] },
      { what: 'wrong shape', grad: (dy) => [dy, dy.sum()], pattern: [/customGrad 'bad'/, /gradient for input 1/, /shape \[\] but the input has shape \[2\]/] },
      { what: 'wrong dtype', grad: (dy) => [dy, dy.cast('int32')], pattern: [/customGrad 'bad'/, /gradient for input 1/, /dtype int32 but the input has dtype float/] },
      { what: 'not a tensor', grad: (dy) => [dy, 3 as unknown as Tensor], pattern: [/customGrad 'bad'/, /gradient for input 1 must be a Tensor or null, got number/] },
      { what: 'not an array', grad: () => ({}) as unknown as Tensor, pattern: [/customGrad 'bad'/, /must return a Tensor or an array/] },
      { what: 'throws itself', grad: (dy, a) => { a.mul(dy); throw new wg.WebgradError('user failure'); }, pattern: [/user failure/] },
    ];
    for (const c of cases) {
      it(c.what, async () => {
        const bad = wg.customGrad((a: Tensor, b: Tensor) => {
          const tmp = a.mul(b);
          return { value: tmp.add(1), grad: (dy: Tensor) => c.grad(dy, tmp) };
        }, { name: 'bad' });
        await expectError(() => {
          const a = leaf([1, 2], [2]);
          const b = leaf([3, 4], [2]);
          const loss = wg.tidy(() => bad(a, b).sum());
          try {
            loss.backward();
          } finally {
            wg.dispose([a, b, loss]);
          }
        }, c.pattern, { device });
      });
    }

    if (device === 'webgpu') {
      it('wrong backend', async () => {
        const bad = wg.customGrad((a: Tensor) => ({ value: a.exp(), grad: () => [wg.ones([2], { device: 'cpu' })] }), { name: 'bad' });
        await expectError(() => {
          const a = leaf([1, 2], [2]);
          const loss = wg.tidy(() => bad(a).sum());
          try {
            loss.backward();
          } finally {
            wg.dispose([a, loss]);
          }
        }, [/customGrad 'bad'/, /gradient for input 0 lives on 'cpu' but the input on 'webgpu'/], { device });
      });
    }

    it('a forward that does not return { value, grad } is refused at the call', async () => {
      const bad = wg.customGrad((a: Tensor) => ({ value: a.exp(), grad: 1 }) as unknown as wg.CustomGradResult, { name: 'bad' });
      const a = leaf([1, 2], [2]);
      await expectError(() => bad(a), [/customGrad 'bad'/, /must return \{ value: Tensor, grad/]);
      a.dispose();
    });
  });

  it('trains: a network with a custom activation follows the built-in one step by step', async () => {
    const dtype = device === 'cpu' ? 'float64' : 'float32';
    const mk = (): Tensor[] => [
      wg.tensor(vals(12, 7, -0.8, 0.8), { device, dtype, shape: [4, 3], requiresGrad: true }),
      wg.tensor(vals(4, 8, -0.5, 0.5), { device, dtype, shape: [1, 4], requiresGrad: true }),
    ];
    const xIn = wg.tensor(vals(24, 9), { device, dtype, shape: [8, 3] });
    const target = wg.tensor(vals(8, 10, 0, 1), { device, dtype, shape: [8, 1] });
    const train = async (act: (h: Tensor) => Tensor): Promise<{ losses: number[]; params: number[][] }> => {
      const params = mk();
      const opt = new wg.optim.SGD(params, { lr: 0.5 });
      const losses: number[] = [];
      for (let step = 0; step < 5; step++) {
        opt.zeroGrad();
        const loss = wg.tidy(() => wg.mse(act(xIn.matmul(params[0]!.transpose(0, 1))).matmul(params[1]!.transpose(0, 1)), target));
        loss.backward();
        losses.push(await loss.item());
        loss.dispose();
        opt.step();
      }
      const out = { losses, params: await Promise.all(params.map(arr)) };
      wg.dispose(params);
      return out;
    };
    await expectNoLeak('training', async () => {
      const custom = await train(customSigmoid);
      const builtin = await train(wg.sigmoid);
      expect(custom.losses[4]!).toBeLessThan(custom.losses[0]!);
      expectClose(custom.losses, builtin.losses, 1e-5, 'losses');
      custom.params.forEach((p, i) => expectClose(p, builtin.params[i]!, 1e-5, `param ${i}`));
    });
    wg.dispose([xIn, target]);
  });
});
