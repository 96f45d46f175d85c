/**
 * The tape (src/autograd) where the other suites leave a gap: the order and bookkeeping of
 * backward (diamonds, accumulation into leaves and nodes, retainGraph, the freed-graph refusal, a
 * leaf as the root, a leaf disposed before backward, tidy and noGrad around backward), what it
 * leaves alive (memory() before and after), the internal shape guard, node reference counting, and
 * customGrad / autograd.Function's checks with their messages. CPU, float64.
 * Written from the mutation-testing survivors (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import type { Tensor } from '../src/tensor.js';
import * as wg from '../src/index.js';
import { dispose, noGrad, tidy } from '../src/lifetime.js';
import { record } from '../src/autograd/node.js';

const f64 = { dtype: 'float64' as const, device: 'cpu' as const };
const bad = (v: unknown) => v as never;

async function vals(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

const live = () => {
  const m = wg.memory();
  return [m.liveTensors, m.liveStorages, m.liveBytes];
};

const leaf = (v: number[]) => wg.tensor(v, f64).requiresGrad_(true);

describe('backward: order and accumulation', () => {
  it('a diamond (x used by two branches that meet again) gets each path once', async () => {
    const x = leaf([2, 3]);
    const a = x.mul(3); // 3x
    const b = x.square(); // x²
    const c = a.mul(b); // 3x³
    const d = c.add(a); // 3x³ + 3x
    const loss = d.sum();
    loss.backward();
    expect(await vals(x.grad!)).toEqual([9 * 4 + 3, 9 * 9 + 3]);
    dispose([x, a, b, c, d, loss]);
  });

  it('a deep chain (no recursion limit) and a node feeding many consumers', async () => {
    const x = leaf([1]);
    let y: Tensor = x;
    const made: Tensor[] = [];
    for (let i = 0; i < 5000; i++) {
      y = y.add(1);
      made.push(y);
    }
    const z = y.mul(y); // (x + 5000)²
    z.sum().backward();
    expect(await vals(x.grad!)).toEqual([2 * 5001]);
    dispose([x, z, ...made]);
    const w = leaf([1, 2]);
    const h = w.mul(2);
    const parts = [h.mul(1), h.mul(2), h.mul(3), h.add(h)];
    const total = parts.reduce((s, p) => s.add(p));
    total.sum().backward();
    expect(await vals(w.grad!)).toEqual([16, 16]);
  });

  it('gradients accumulate across backward calls into .grad, and retainGraph allows a second pass', async () => {
    const x = leaf([1, -2]);
    const y = x.mul(x).sum();
    y.backward({ retainGraph: true });
    expect(await vals(x.grad!)).toEqual([2, -4]);
    const first = x.grad!;
    y.backward();
    expect(await vals(x.grad!)).toEqual([4, -8]);
    expect(first.isDisposed).toBe(true); // the old gradient was replaced, not leaked
    const before = live();
    expectErrorSync(
      () => y.backward(),
      /^backward: the graph through '(sum|mul)' was already freed by an earlier backward\(\); call backward\(\{ retainGraph: true \}\) the first time to differentiate twice$/,
    );
    expect(live()).toEqual(before);
    expect(await vals(x.grad!)).toEqual([4, -8]);
    dispose([x, y]);
  });

  it('a graph freed midway refuses before any work: no leaf gradient changes', async () => {
    const x = leaf([1, 2]);
    const w = leaf([3, 4]);
    const h = x.mul(w);
    const y1 = h.sum();
    const h2 = h.mul(2);
    const a = h2.add(x); // x gets a gradient from this node before h's freed node is reached
    const y2 = a.sum();
    y1.backward(); // frees h's node (not y2's own)
    expect(await vals(x.grad!)).toEqual([3, 4]);
    expectErrorSync(() => y2.backward(), /^backward: the graph through 'mul' was already freed/);
    expect(await vals(x.grad!)).toEqual([3, 4]);
    expect(await vals(w.grad!)).toEqual([1, 2]);
    dispose([x, w, h, y1, h2, a, y2]);
  });

  it('a leaf as the root: its gradient is the seed', async () => {
    const x = leaf([5]);
    x.backward();
    expect(await vals(x.grad!)).toEqual([1]);
    x.backward();
    expect(await vals(x.grad!)).toEqual([2]);
    const v = leaf([1, 2]);
    const g = wg.tensor([3, 4], f64);
    v.backward(g);
    expect(await vals(v.grad!)).toEqual([3, 4]);
    expect(v.grad).not.toBe(g);
    dispose(g);
    expect(await vals(v.grad!)).toEqual([3, 4]);
    dispose([x, v]);
  });

  it('gradients are plain tensors: not recorded, not requiring grad, grad mode restored', async () => {
    const x = leaf([1, 2]);
    const w = leaf([3, 4]);
    const y = x.mul(w).exp().sum();
    y.backward();
    expect(x.grad!.requiresGrad).toBe(false);
    expect(w.grad!.requiresGrad).toBe(false);
    expect(x.mul(2).requiresGrad).toBe(true); // grad mode back on after backward
    noGrad(() => {
      const z = x.mul(w).sum();
      expect(z.requiresGrad).toBe(false);
    });
    // backward under noGrad (on a graph recorded outside it) still works, and leaves noGrad on
    const y2 = x.mul(w).sum();
    noGrad(() => {
      y2.backward();
      expect(x.mul(2).requiresGrad).toBe(false);
    });
    expect(await vals(x.grad!)).toEqual([3 * Math.exp(3) + 3, 4 * Math.exp(8) + 4]);
  });

  it('only inputs that require grad get one; a root that does not is refused', () => {
    const x = leaf([1, 2]);
    const c = wg.tensor([3, 4], f64);
    const y = x.mul(c).sum();
    y.backward();
    expect(c.grad).toBeNull();
    expect(c.requiresGrad).toBe(false);
    const z = c.mul(2).sum();
    expectErrorSync(() => z.backward(), /^backward: this tensor does not require grad/);
    dispose([x, c, y, z]);
  });

  it('a gradient computed inside tidy belongs to the leaf (survives the scope)', async () => {
    const x = leaf([1, 2]);
    tidy(() => {
      x.mul(x).sum().backward();
    });
    expect(x.grad!.isDisposed).toBe(false);
    expect(await vals(x.grad!)).toEqual([2, 4]);
    tidy(() => {
      x.mul(3).sum().backward(); // accumulated inside another scope
    });
    expect(await vals(x.grad!)).toEqual([5, 7]);
    dispose(x);
  });

  it('a leaf disposed before backward is skipped and nothing leaks', async () => {
    const before = live();
    const x = leaf([1, 2]);
    const w = leaf([3, 4]);
    const p = x.mul(w);
    const y = p.sum();
    dispose(x);
    y.backward();
    expect(x.grad).toBeNull();
    expect(await vals(w.grad!)).toEqual([1, 2]);
    dispose([w, p, y]);
    expect(live()).toEqual(before);
  });

  it('backward leaves only the gradients behind (and retainGraph keeps the saved tensors)', () => {
    const x = leaf([1, 2, 3]);
    const w = leaf([4, 5, 6]);
    const h = x.mul(w);
    const q = h.add(x).div(w).add(h); // h feeds two nodes: its gradients are summed in the map
    const y = q.sum();
    const before = live();
    y.backward();
    // two new gradients; the saved handles of the graph are released
    const afterFirst = live();
    expect(afterFirst[0]).toBe(before[0] + 2);
    dispose([x.grad!, w.grad!]);
    x.grad = null;
    w.grad = null;
    dispose([h, q, y]);
    const z = x.mul(w).sum();
    const mid = live();
    z.backward({ retainGraph: true });
    expect(live()[0]).toBe(mid[0] + 2);
    dispose([z, x, w]);
  });
});

describe('backward: the internal shape guard', () => {
  it('a rule giving a gradient of the wrong shape fails naming the rule and both shapes, and leaks nothing', async () => {
    const x = leaf([1, 2, 3, 4]);
    const before = live();
    // A node recorded with a wrong inShape: its rule reshapes dy to [2, 2], not x's [4].
    const m = noGrad(() => x.reshape([2, 2]));
    const out = record('reshape', [x], m, () => ({ inShape: [2, 2] }));
    const seed = wg.onesLike(out);
    expectErrorSync(
      () => out.backward(seed),
      /^backward: internal: rule 'reshape' gave a gradient of shape \[2, 2\] for an input of shape \[4\]$/,
    );
    expect(x.grad).toBeNull();
    dispose([out, seed]);
    expect(live()).toEqual(before);
    dispose(x);
  });
});

describe('backward: the internal shape guard with a second gradient pending', () => {
  it('the gradients not yet handed over are disposed too', () => {
    const x = leaf([1, 2, 3, 4]);
    const w = leaf([5, 6]);
    const before = live();
    // An 'add' node whose saved aShape is wrong for x: x's gradient comes out [2, 2]; w's ([2]) is still pending.
    const out = record('add', [x, w], noGrad(() => x.reshape([2, 2])), () => ({ aShape: [2, 2], bShape: [2] }));
    const seed = wg.onesLike(out);
    expectErrorSync(() => out.backward(seed), /^backward: internal: rule 'add' gave a gradient of shape \[2, 2\] for an input of shape \[4\]$/);
    expect(w.grad).toBeNull();
    dispose([out, seed]);
    expect(live()).toEqual(before);
    dispose([x, w]);
  });
});

describe('nodes: reference counting', () => {
  it('a graph never differentiated releases its saved tensors when its tensors are disposed', () => {
    const x = leaf([1, 2]);
    const before = live();
    const a = x.mul(x);
    const b = a.mul(a);
    const c = b.exp();
    dispose(a); // b still holds a's node
    dispose(b);
    expect(live()).not.toEqual(before);
    dispose(c);
    expect(live()).toEqual(before);
    dispose(x);
  });

  it('a shared node is released once, after its last consumer', async () => {
    const x = leaf([1, 2]);
    const before = live();
    const a = x.exp();
    const b = a.mul(2);
    const c = a.mul(3);
    dispose([a, b]);
    // c's graph still works through a's node
    const cs = c.sum();
    cs.backward();
    expect(await vals(x.grad!)).toEqual([3 * Math.exp(1), 3 * Math.exp(2)]);
    dispose([x.grad!, cs]);
    x.grad = null;
    dispose(c);
    expect(live()).toEqual(before);
    dispose(x);
  });

  it('noGrad records nothing, and an op on inputs not requiring grad records nothing', () => {
    const x = leaf([1, 2]);
    const before = live();
    const y = noGrad(() => x.mul(x));
    expect(y.requiresGrad).toBe(false);
    expect(live()[0]).toBe(before[0] + 1); // no saved handles
    const c = wg.tensor([1, 2], f64);
    const z = c.mul(c);
    expect(z.requiresGrad).toBe(false);
    dispose([x, y, c, z]);
  });
});

describe('customGrad', () => {
  const scale = wg.customGrad((x: Tensor, k: number) => ({
    value: x.mul(k),
    grad: (dy: Tensor) => [dy.mul(k), null],
  }), { name: 'scale' });

  it('gradients per tensor argument or per argument; non-tensor arguments are passed through', async () => {
    const x = leaf([1, 2]);
    const y = scale(x, 3).sum();
    y.backward();
    expect(await vals(x.grad!)).toEqual([3, 3]);
    const pair = wg.customGrad((a: Tensor, k: number, b: Tensor) => ({
      value: a.mul(b).mul(k),
      grad: (dy: Tensor) => [dy.mul(b).mul(k), dy.mul(a).mul(k)],
    }));
    const a = leaf([1, 2]);
    const b = leaf([3, 4]);
    pair(a, 2, b).sum().backward();
    expect(await vals(a.grad!)).toEqual([6, 8]);
    expect(await vals(b.grad!)).toEqual([2, 4]);
    // one entry per argument (the number's slot ignored)
    const perArg = wg.customGrad((p: Tensor, k: number, q: Tensor) => ({
      value: p.add(q).mul(k),
      grad: (dy: Tensor) => [dy.mul(k), bad('ignored'), dy.mul(-k)],
    }));
    const p = leaf([1]);
    const q = leaf([1]);
    perArg(p, 5, q).sum().backward();
    expect(await vals(p.grad!)).toEqual([5]);
    expect(await vals(q.grad!)).toEqual([-5]);
    // a single Tensor for a single input
    const single = wg.customGrad((t: Tensor) => ({ value: t.mul(2), grad: (dy: Tensor) => dy.mul(7) }));
    const s = leaf([1, 1]);
    single(s).sum().backward();
    expect(await vals(s.grad!)).toEqual([7, 7]);
  });

  it('needs says which inputs require grad, and only those get a gradient', async () => {
    const seen: boolean[][] = [];
    const f = wg.customGrad((a: Tensor, b: Tensor) => ({
      value: a.add(b),
      grad: (dy: Tensor, needs: readonly boolean[]) => {
        seen.push([...needs]);
        return [dy.mul(1), dy.mul(1)];
      },
    }));
    const a = leaf([1]);
    const b = wg.tensor([2], f64);
    f(a, b).sum().backward();
    f(b, a).sum().backward();
    expect(seen).toEqual([[true, false], [false, true]]);
    expect(b.grad).toBeNull();
    expect(await vals(a.grad!)).toEqual([2]);
  });

  it('without recording (noGrad, or no input requiring grad) nothing is kept', () => {
    const x = wg.tensor([1, 2], f64);
    const before = live();
    const y = scale(x, 2);
    expect(y.requiresGrad).toBe(false);
    expect(live()[0]).toBe(before[0] + 1);
    const r = leaf([1]);
    const before2 = live();
    const z = noGrad(() => scale(r, 2));
    expect(z.requiresGrad).toBe(false);
    expect(live()[0]).toBe(before2[0] + 1);
    dispose([x, y, r, z]);
  });

  it('what the forward creates lives until the graph is freed, then is released', async () => {
    const x = leaf([1, 2]);
    const before = live();
    const f = wg.customGrad((t: Tensor) => {
      const e = t.exp();
      const tmp = e.add(1); // an intermediate the closure keeps
      return { value: e.mul(1), grad: (dy: Tensor) => [dy.mul(tmp).sub(dy)] };
    });
    const y = f(x);
    const s = y.sum();
    dispose(x.grad); // none yet
    s.backward();
    expect(await vals(x.grad!)).toEqual([Math.exp(1), Math.exp(2)]);
    dispose([x.grad!]);
    x.grad = null;
    dispose([y, s]);
    expect(live()).toEqual(before);
    dispose(x);
  });

  it('forward refusals name the op', () => {
    const x = leaf([1, 2]);
    const notResult = wg.customGrad(bad(() => 3), { name: 'three' });
    expectErrorSync(() => notResult(x), /^customGrad 'three': the forward must return \{ value: Tensor, grad: \(dy\) => gradients \}$/);
    const noGradFn = wg.customGrad(bad((t: Tensor) => ({ value: t.mul(1), grad: 1 })));
    expectErrorSync(() => noGradFn(x), /^customGrad 'customGrad': the forward must return/);
    const noValue = wg.customGrad(bad(() => ({ grad: () => [] })));
    expectErrorSync(() => noValue(x), /^customGrad 'customGrad': the forward must return/);
    // a function carrying value and grad is not the { value, grad } object the contract asks for
    const fnResult = wg.customGrad(bad((t: Tensor) => Object.assign(() => 0, { value: t.mul(1), grad: () => [] })));
    expectErrorSync(() => fnResult(x), /^customGrad 'customGrad': the forward must return/);
    const nullResult = wg.customGrad(bad(() => null));
    expectErrorSync(() => nullResult(x), /^customGrad 'customGrad': the forward must return/);
    const ints = wg.customGrad((t: Tensor) => ({ value: t.cast('int32'), grad: (dy: Tensor) => [dy] }), { name: 'toInt' });
    expectErrorSync(() => ints(x), /^customGrad 'toInt': the forward's value must be floating-point to be differentiated, got int32$/);
    // not recording: an int32 value is fine
    const plain = wg.tensor([1.5, 2], f64);
    const iv = ints(plain);
    expect(iv.dtype).toBe('int32');
    const disposedValue = wg.customGrad((t: Tensor) => {
      const v = t.mul(1);
      v.dispose();
      return { value: v, grad: (dy: Tensor) => [dy] };
    }, { name: 'gone' });
    expectErrorSync(() => disposedValue(x), /^customGrad 'gone' \(value\): tensor #\d+ \(shape \[2\]\) was disposed and cannot be used$/);
    const y = wg.tensor([1], f64);
    y.dispose();
    expectErrorSync(() => scale(y, 2), /^customGrad 'scale' \(argument 0\): tensor #\d+ \(shape \[1\]\) was disposed/);
    expectErrorSync(() => wg.customGrad((a: number, t: Tensor) => ({ value: t.mul(a), grad: (dy: Tensor) => [dy] }))(1, y), /^customGrad 'customGrad' \(argument 1\): tensor/);
    dispose([x, plain, iv]);
  });

  it('backward refusals name the op, the input and the argument, and leak nothing', () => {
    const check = (gradOut: (dy: Tensor, a: Tensor) => unknown, pattern: RegExp) => {
      const f = wg.customGrad((a: Tensor, k: number, b: Tensor) => ({
        value: a.mul(b).mul(k),
        grad: (dy: Tensor) => gradOut(dy, a) as never,
      }), { name: 'g' });
      const a = leaf([1, 2]);
      const b = leaf([3, 4]);
      const y = f(a, 2, b);
      const seed = wg.onesLike(y);
      expectErrorSync(() => y.backward(seed), pattern);
      expect(a.grad).toBeNull();
      expect(b.grad).toBeNull();
      dispose([a, b, y, seed]);
    };
    check(() => 5, /^customGrad 'g' \(backward\): the gradient function must return a Tensor or an array of gradients, got number$/);
    check(() => null, /^customGrad 'g' \(backward\): the gradient function must return a Tensor or an array of gradients, got null$/);
    check(() => ({ a: 1 }), /^customGrad 'g' \(backward\): the gradient function must return a Tensor or an array of gradients, got Object$/);
    check(() => Object.create(null), /got an object$/);
    check((dy) => [dy], /^customGrad 'g' \(backward\): the gradient function returned 1 gradient\(s\), expected 2 \(one per tensor argument\) or 3 \(one per argument\)$/);
    check((dy) => [dy, 1], /^customGrad 'g' \(backward\): gradient for input 1 \(argument 2\) must be a Tensor or null, got number$/);
    check((dy) => [[dy], null], /^customGrad 'g' \(backward\): gradient for input 0 must be a Tensor or null, got an array$/);
    check((dy) => [dy.sum(), null], /^customGrad 'g' \(backward\): gradient for input 0 has shape \[\] but the input has shape \[2\]$/);
    check((dy) => [null, dy.cast('float32')], /^customGrad 'g' \(backward\): gradient for input 1 \(argument 2\) has dtype float32 but the input has dtype float64$/);
    check((dy) => {
      const g = dy.mul(1);
      g.dispose();
      return [g, null];
    }, /^customGrad 'g' \(backward\): gradient for input 0 \(tensor #\d+\) was disposed$/);
    // with as many tensors as arguments, no "or N (one per argument)" clause
    const one = wg.customGrad((t: Tensor) => ({ value: t.mul(1), grad: (dy: Tensor) => [dy, dy] }), { name: 'one' });
    const x = leaf([1]);
    const y = one(x);
    expectErrorSync(() => y.backward(), /^customGrad 'one' \(backward\): the gradient function returned 2 gradient\(s\), expected 1 \(one per tensor argument\)$/);
    dispose([x, y]);
  });

  it('backward runs with recording off: a closure using a tensor that requires grad gives a plain gradient', async () => {
    const w = leaf([2, 3]);
    let recorded: boolean | undefined;
    const f = wg.customGrad((t: Tensor) => ({
      value: t.mul(1),
      grad: (dy: Tensor) => {
        const g = dy.mul(w);
        recorded = g.requiresGrad; // as torch without create_graph: ops in a backward are not recorded
        return [g];
      },
    }));
    const x = leaf([1, 1]);
    const y = f(x).sum();
    y.backward();
    expect(recorded).toBe(false);
    expect(await vals(x.grad!)).toEqual([2, 3]);
    expect(x.grad!.requiresGrad).toBe(false);
    expect(w.grad).toBeNull();
    dispose([w, x, y]);
  });

  it('the forward runs with recording off too (its own backward is the gradient)', async () => {
    const w = leaf([2, 3]);
    let recorded: boolean | undefined;
    const f = wg.customGrad((t: Tensor) => {
      const v = t.mul(w);
      recorded = v.requiresGrad;
      return { value: v, grad: (dy: Tensor) => [dy.mul(5)] };
    });
    const x = leaf([1, 1]);
    const y = f(x);
    expect(recorded).toBe(false);
    expect(y.requiresGrad).toBe(true);
    const s = y.sum();
    s.backward();
    expect(await vals(x.grad!)).toEqual([5, 5]); // the user's rule, not d(x·w)/dx
    expect(w.grad).toBeNull();
    dispose([w, x, y, s]);
  });

  it('an intermediate node that receives no gradient is skipped', async () => {
    const f = wg.customGrad((a: Tensor, b: Tensor) => ({ value: a.add(b), grad: (dy: Tensor) => [null, dy.mul(2)] }));
    const a = leaf([1]);
    const b = leaf([1]);
    const h = a.exp(); // a node whose only consumer gives it no gradient
    const y = f(h, b).sum();
    y.backward();
    expect(a.grad).toBeNull();
    expect(await vals(b.grad!)).toEqual([2]);
    dispose([a, b, h, y]);
  });

  it('the output stays the caller\'s after backward, and a custom op built inside tidy differentiates after it', async () => {
    const f = wg.customGrad((t: Tensor) => {
      const e = t.exp();
      return { value: e.mul(2), grad: (dy: Tensor) => [dy.mul(e).mul(2)] };
    });
    const x = leaf([0, 1]);
    const y = f(x);
    const s = y.sum();
    s.backward();
    expect(await vals(y)).toEqual([2, 2 * Math.exp(1)]);
    dispose([x.grad!]);
    x.grad = null;
    const loss = tidy(() => f(x).sum());
    loss.backward();
    expect(await vals(x.grad!)).toEqual([2, 2 * Math.exp(1)]);
    dispose([x, y, s, loss]);
  });

  it('null and undefined gradients mean zero: the input gets none from this op', async () => {
    const f = wg.customGrad((a: Tensor, b: Tensor) => ({ value: a.add(b), grad: (dy: Tensor) => [undefined, dy.mul(2)] }));
    const a = leaf([1]);
    const b = leaf([1]);
    f(a, b).sum().backward();
    expect(a.grad).toBeNull();
    expect(await vals(b.grad!)).toEqual([2]);
  });

  it('the gradient handed back is a fresh view: the user closure may return dy or a saved tensor', async () => {
    const x = leaf([1, 2]);
    const ident = wg.customGrad((t: Tensor) => ({ value: t.mul(1), grad: (dy: Tensor) => [dy] }));
    const y = ident(x).mul(3).sum();
    y.backward();
    expect(await vals(x.grad!)).toEqual([3, 3]);
    const k = wg.tensor([5, 6], f64);
    const outside = wg.customGrad((t: Tensor) => ({ value: t.mul(1), grad: () => [k] }));
    outside(x).sum().backward();
    expect(await vals(x.grad!)).toEqual([8, 9]);
    expect(k.isDisposed).toBe(false);
    expect(await vals(k)).toEqual([5, 6]);
  });
});

describe('autograd.Function', () => {
  it('ctx carries saved tensors, extra state and needsInputGrad; the class name appears in errors', async () => {
    const seen: boolean[][] = [];
    class Cube extends wg.autograd.Function {
      static forward(ctx: wg.autograd.FunctionCtx, x: Tensor, k: number): Tensor {
        ctx.saveForBackward(x);
        ctx.k = k;
        return x.mul(x).mul(x).mul(k);
      }
      static backward(ctx: wg.autograd.FunctionCtx, dy: Tensor): Tensor[] {
        seen.push([...ctx.needsInputGrad]);
        const [x] = ctx.savedTensors;
        return [dy.mul(x!.square()).mul(3 * (ctx.k as number))];
      }
    }
    const ctx = new wg.autograd.FunctionCtx();
    expect(ctx.savedTensors).toEqual([]);
    expect(ctx.needsInputGrad).toEqual([]);
    const x = leaf([1, 2]);
    const y = Cube.apply(x, 2);
    expect(await vals(y)).toEqual([2, 16]);
    y.sum().backward();
    expect(await vals(x.grad!)).toEqual([6, 24]);
    expect(seen).toEqual([[true]]);
    class Broken extends wg.autograd.Function {
      static forward(_ctx: wg.autograd.FunctionCtx, x: Tensor): Tensor {
        return x.mul(1);
      }
      static backward(): Tensor[] {
        return bad(7);
      }
    }
    const z = Broken.apply(x).sum();
    expectErrorSync(() => z.backward(), /^customGrad 'Broken' \(backward\): the gradient function must return a Tensor or an array of gradients, got number$/);
  });
});
