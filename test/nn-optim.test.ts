/**
 * nn and optim: Module bookkeeping (parameter order and dotted names, train/eval, state dicts that
 * copy and that refuse a state that does not fit without touching anything), Sequential's fused
 * Linear+activation path against the unfused one, optimizer argument checks, resuming an optimizer
 * exactly from a checkpoint, clipGradNorm's return value, and the L1/L2 penalties' gradients.
 */
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose, type Tol } from './helpers/compare.js';
import { expectNoLeak } from './helpers/oracle.js';
import { expectErrorSync } from './helpers/expect-error.js';
import { U, draw, prng } from './helpers/random-data.js';
import { Tensor } from '../src/tensor.js';
import type { BackendName, DType } from '../src/backend/types.js';
import { clone, crossEntropy, linear, manualSeed, mse, mul, nn, optim, sum, tensor, tidy, zeros } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Reads a tensor's values and disposes it. */
async function take(t: Tensor): Promise<number[]> {
  try {
    return await values(t);
  } finally {
    t.dispose();
  }
}

/** Every named parameter and buffer's values (a snapshot). */
async function snapshot(m: nn.Module): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [name, t] of m.stateDict()) out.set(name, await values(t));
  return out;
}

/** A checkpoint: private copies of a module's state (as saving to disk would make). */
function copyState(state: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  return new Map([...state].map(([k, t]) => [k, clone(t)]));
}

function mlp(opts: { dtype?: DType; device?: BackendName } = {}): nn.Sequential {
  return new nn.Sequential(new nn.Linear(4, 5, opts), new nn.BatchNorm1d(5, opts), new nn.ReLU(), new nn.Dropout(0.5), new nn.Linear(5, 3, opts));
}

// ---------------------------------------------------------------------------------------------

describe('Module: names, order, modes', () => {
  it('parameters() and namedParameters() list Linear/BatchNorm1d parameters in layer order with dotted names', () => {
    const m = mlp();
    const named = [...m.namedParameters()];
    expect(named.map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '4.bias']);
    expect(named.map(([, t]) => t.shape)).toEqual([[5, 4], [5], [5], [5], [3, 5], [3]]);
    const lin0 = m.at(0) as nn.Linear;
    const bn = m.at(1) as nn.BatchNorm1d;
    const lin4 = m.at(4) as nn.Linear;
    const expected = [lin0.weight, lin0.bias, bn.weight, bn.bias, lin4.weight, lin4.bias];
    expect(m.parameters().length).toBe(6);
    m.parameters().forEach((p, i) => expect(p, `parameter ${i} is the layer's own tensor`).toBe(expected[i]));
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect([...m.namedBuffers()].map(([n]) => n)).toEqual(['1.running_mean', '1.running_var', '1.num_batches_tracked']);
    expect([...m.stateDict().keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '4.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    expect(m.at(-1)).toBe(lin4);
    expectErrorSync(() => m.at(5), /index 5 is out of range for 5 layers/);
    m.dispose();
  });

  it('nested Sequential: names nest ("1.0.weight")', () => {
    const m = new nn.Sequential(new nn.Linear(2, 3), new nn.Sequential(new nn.Linear(3, 3, { bias: false }), new nn.Tanh()));
    expect([...m.namedParameters()].map(([n]) => n)).toEqual(['0.weight', '0.bias', '1.0.weight']);
    m.dispose();
  });

  it('train()/eval() reach every descendant and change what Dropout and BatchNorm1d do', async () => {
    // (Modules are built outside the leak check: initialisers have their own leak test below.)
    manualSeed(3);
    const inner = new nn.Sequential(new nn.Dropout(0.5), new nn.BatchNorm1d(4, { dtype: 'float64' }));
    const m = new nn.Sequential(new nn.Linear(4, 4, { dtype: 'float64' }), inner);
    await expectNoLeak('train/eval', async () => {
      const all = [...m.namedModules()].map(([, mod]) => mod);
      expect(all.length, 'Sequential, Linear, Sequential, Dropout, BatchNorm1d').toBe(5);
      expect(all.every((mod) => mod.training)).toBe(true);
      expect(m.eval()).toBe(m);
      expect(all.map((mod) => mod.training)).toEqual([false, false, false, false, false]);
      const x = tensor(draw(U(-1, 1), 32, prng(1), 'float64'), { shape: [8, 4], dtype: 'float64' });
      // eval: deterministic (no dropout; running statistics 0 and 1).
      const a = await take(tidy(() => m.forward(x)));
      const b = await take(tidy(() => m.forward(x)));
      expect(a).toEqual(b);
      const lin = m.at(0) as nn.Linear;
      const pre = await take(tidy(() => linear(x, lin.weight, lin.bias)));
      assertClose('eval = linear then (x − 0)/sqrt(1 + eps)', a, pre.map((v) => v / Math.sqrt(1 + 1e-5)), [8, 4], { atol: 1e-12, rtol: 1e-12 });
      m.train();
      expect(all.map((mod) => mod.training)).toEqual([true, true, true, true, true]);
      inner.eval();
      expect(all.map((mod) => mod.training)).toEqual([true, true, false, false, false]);
      m.train(true);
      const t1 = tidy(() => m.forward(x));
      const c = await values(t1);
      expect(c).not.toEqual(a);
      dispose([x, t1]);
    });
    m.dispose();
  });

  it('BatchNorm1d without running statistics uses batch statistics in eval mode too (as PyTorch)', async () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64', trackRunningStats: false, affine: false });
    expect([...bn.namedBuffers()]).toEqual([]);
    expect(bn.parameters()).toEqual([]);
    const x = tensor([[1, 10], [3, 30]], { dtype: 'float64' });
    const r = 1 / Math.sqrt(1 + 1e-5);
    const rb = 1 / Math.sqrt(100 + 1e-5);
    for (const mode of ['train', 'eval'] as const) {
      bn[mode]();
      const y = bn.forward(x);
      assertClose(`${mode}: batch statistics`, await take(y), [-r, -10 * rb, r, 10 * rb], [2, 2], { atol: 1e-14, rtol: 1e-12 });
    }
    x.dispose();
  });

  it('constructing nn.Linear and running the random initialisers leaks no tensors', async () => {
    const t = zeros([4, 5]);
    await expectNoLeak('init', async () => {
      for (const init of [nn.init.kaimingUniform_, nn.init.kaimingNormal_, nn.init.xavierUniform_, nn.init.xavierNormal_]) init(t, { seed: 1 });
      nn.init.uniform_(t, -1, 1);
      nn.init.normal_(t, 0, 2);
      new nn.Linear(3, 2).dispose();
    });
    t.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

describe('Module.stateDict / loadStateDict', () => {
  it('round-trips: the loaded model has the same values and outputs, as copies (no aliasing either way)', async () => {
    manualSeed(10);
    const a = mlp({ dtype: 'float64' });
    manualSeed(20);
    const b = mlp({ dtype: 'float64' });
    await expectNoLeak('state dict', async () => {
      const before = await snapshot(b);
      expect([...before.values()].flat()).not.toEqual([...(await snapshot(a)).values()].flat());
      b.loadStateDict(a.stateDict());
      const sa = await snapshot(a);
      expect(await snapshot(b)).toEqual(sa);
      for (const [name, t] of b.stateDict()) expect(t, `${name} is b's own tensor`).not.toBe(a.stateDict().get(name));

      // Change the source afterwards: a training step on `a` (in-place updates, running stats).
      const x = tensor(draw(U(-1, 1), 24, prng(2), 'float64'), { shape: [6, 4], dtype: 'float64' });
      const y = tensor(draw(U(-1, 1), 18, prng(3), 'float64'), { shape: [6, 3], dtype: 'float64' });
      const opt = new optim.SGD(a.parameters(), { lr: 0.5, momentum: 0.9 });
      for (let i = 0; i < 2; i++) {
        opt.zeroGrad();
        const loss = tidy(() => mse(a.forward(x), y));
        loss.backward();
        loss.dispose();
        opt.step();
      }
      const changed = await snapshot(a);
      for (const name of ['0.weight', '4.bias', '1.running_mean']) expect(changed.get(name), `${name} changed in a`).not.toEqual(sa.get(name));
      expect(await snapshot(b), 'b did not follow a').toEqual(sa);

      // And the other way round: b's changes do not reach a.
      const optB = new optim.SGD(b.parameters(), { lr: 0.5 });
      b.zeroGrad();
      const lossB = tidy(() => mse(b.forward(x), y));
      lossB.backward();
      lossB.dispose();
      optB.step();
      expect(await snapshot(a)).toEqual(changed);

      // Outputs agree after loading again (eval mode: no dropout).
      b.loadStateDict(a.stateDict());
      a.eval();
      b.eval();
      const oa = tidy(() => a.forward(x));
      const ob = tidy(() => b.forward(x));
      expect(await values(ob)).toEqual(await values(oa));
      opt.dispose();
      optB.dispose();
      a.zeroGrad();
      b.zeroGrad();
      dispose([x, y, oa, ob]);
    });
    a.dispose();
    b.dispose();
  });

  it('a state with a wrong shape throws naming the key and both shapes, and changes nothing', async () => {
    manualSeed(1);
    const a = mlp({ dtype: 'float64' });
    manualSeed(2);
    const b = mlp({ dtype: 'float64' });
    const before = await snapshot(b);
    // Every other entry is valid (and differs from b's), so a partial load would show.
    const state = copyState(a.stateDict());
    state.get('4.weight')!.dispose();
    state.set('4.weight', zeros([5, 3], { dtype: 'float64' }));
    expectErrorSync(() => b.loadStateDict(state), [/loadStateDict/, /'4\.weight'/, /\[5, 3\]/, /\[3, 5\]/]);
    expect(await snapshot(b), 'no parameter or buffer changed').toEqual(before);
    dispose([...state.values()]);
    a.dispose();
    b.dispose();
  });

  it('a state with a missing key (or an unexpected one) throws naming it, and changes nothing', async () => {
    manualSeed(1);
    const a = mlp({ dtype: 'float64' });
    manualSeed(2);
    const b = mlp({ dtype: 'float64' });
    const before = await snapshot(b);
    const state = copyState(a.stateDict());
    state.get('1.running_var')!.dispose();
    state.delete('1.running_var');
    expectErrorSync(() => b.loadStateDict(state), /missing '1\.running_var'/);
    expect(await snapshot(b)).toEqual(before);
    const extra = new Map(state);
    extra.set('1.running_var', zeros([5], { dtype: 'float64' }));
    extra.set('2.weight', zeros([5], { dtype: 'float64' }));
    expectErrorSync(() => b.loadStateDict(extra), /unexpected '2\.weight'/);
    expect(await snapshot(b)).toEqual(before);
    // strict: false loads what is there and ignores the rest.
    b.loadStateDict(state, { strict: false });
    const after = await snapshot(b);
    expect(after.get('0.weight')).toEqual(await values(a.stateDict().get('0.weight')!));
    expect(after.get('1.running_var')).toEqual(before.get('1.running_var'));
    dispose([...extra.values()]);
    a.dispose();
    b.dispose();
  });

  it('a dtype mismatch throws naming the key and both dtypes', () => {
    const m = new nn.Linear(2, 2, { dtype: 'float64' });
    const state = new Map([['weight', zeros([2, 2], { dtype: 'float32' })], ['bias', zeros([2], { dtype: 'float64' })]]);
    expectErrorSync(() => m.loadStateDict(state), /'weight' has dtype float32 but the model expects float64/);
    dispose([...state.values()]);
    m.dispose();
  });
});

// ---------------------------------------------------------------------------------------------
// Sequential's fused Linear+activation against Linear then the activation module.

const ACT_LAYERS: [string, () => nn.Activation, boolean][] = [
  ['ReLU', () => new nn.ReLU(), true],
  ['ReLU6', () => new nn.ReLU6(), true],
  ['Sigmoid', () => new nn.Sigmoid(), true],
  ['Tanh', () => new nn.Tanh(), true],
  ['LeakyReLU()', () => new nn.LeakyReLU(), true],
  ['LeakyReLU(0.2)', () => new nn.LeakyReLU(0.2), true],
  ['GELU()', () => new nn.GELU(), true],
  ['GELU(tanh) (not fused)', () => new nn.GELU('tanh'), false],
  ['LeakyReLU(-0.1) (not fused)', () => new nn.LeakyReLU(-0.1), false],
];

describeEachBackend('Sequential: fused Linear+activation = Linear then the activation', (device) => {
  const dtype: DType = device === 'cpu' ? 'float64' : 'float32';
  const tol: Tol = device === 'cpu' ? { atol: 1e-13, rtol: 1e-12 } : { atol: 2e-5, rtol: 1e-4 };
  for (const [name, make, fusable] of ACT_LAYERS) {
    it(`${name}: same output and the same grads for x, weight and bias`, async () => {
      const act = make();
      manualSeed(5);
      const lin = new nn.Linear(17, 6, { dtype, device });
      const seq = new nn.Sequential(lin, act);
      await expectNoLeak(name, async () => {
        expect(act.fusable !== null, `${name} fusable`).toBe(fusable);
        // Pre-activations over about ±7 (relu6's upper kink and the saturations are visited).
        const xv = draw(U(-6, 6), 5 * 17, prng(9));
        const gv = draw(U(-1, 1), 5 * 6, prng(10));
        const G = tensor(gv, { shape: [5, 6], dtype, device });
        const run = async (forward: (x: Tensor) => Tensor): Promise<number[][]> => {
          const x = tensor(xv, { shape: [5, 17], dtype, device, requiresGrad: true });
          seq.zeroGrad();
          const y = tidy(() => forward(x));
          const loss = tidy(() => sum(mul(y, G)));
          loss.backward();
          const r = [await values(y), await values(x.grad!), await values(lin.weight.grad!), await values(lin.bias!.grad!)];
          dispose([x, y, loss]);
          return r;
        };
        const fused = await run((x) => seq.forward(x));
        const separate = await run((x) => act.forward(lin.forward(x)));
        const what = ['output', 'x.grad', 'weight.grad', 'bias.grad'];
        const shapes = [[5, 6], [5, 17], [6, 17], [6]];
        fused.forEach((v, i) => assertClose(`${name} on ${device}: ${what[i]}`, v, separate[i]!, shapes[i]!, tol));
        // Not vacuous: some gradient flows.
        expect(fused[2]!.some((v) => v !== 0)).toBe(true);
        seq.zeroGrad();
        G.dispose();
      });
      seq.dispose();
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('optimizer argument checks', () => {
  const p = (): Tensor => zeros([2]).requiresGrad_(true);
  it('negative or non-finite lr and non-positive eps are rejected with a clear message', () => {
    const q = p();
    for (const lr of [-0.1, Number.NaN, Infinity]) {
      expectErrorSync(() => new optim.SGD([q], { lr }), new RegExp(`SGD: lr must be a non-negative finite number, got ${lr}`));
      expectErrorSync(() => new optim.Adam([q], { lr }), new RegExp(`Adam: lr must be a non-negative finite number, got ${lr}`));
      expectErrorSync(() => new optim.AdamW([q], { lr }), new RegExp(`AdamW: lr must be a non-negative finite number, got ${lr}`));
    }
    for (const eps of [0, -1e-8, Number.NaN]) {
      expectErrorSync(() => new optim.Adam([q], { eps }), new RegExp(`Adam: eps must be a positive finite number, got ${eps}`));
      expectErrorSync(() => new optim.AdamW([q], { eps }), new RegExp(`AdamW: eps must be a positive finite number, got ${eps}`));
    }
    q.dispose();
  });

  it('other bad options: negative momentum/weightDecay, betas outside [0, 1), nesterov without momentum, empty or frozen params', () => {
    const q = p();
    const frozen = zeros([2]);
    expectErrorSync(() => new optim.SGD([q], { lr: 0.1, momentum: -0.9 }), /SGD: momentum must be a non-negative/);
    expectErrorSync(() => new optim.SGD([q], { lr: 0.1, weightDecay: -1 }), /SGD: weightDecay must be a non-negative/);
    expectErrorSync(() => new optim.SGD([q], { lr: 0.1, nesterov: true }), /nesterov momentum requires momentum > 0 and dampening = 0/);
    expectErrorSync(() => new optim.Adam([q], { betas: [1, 0.999] }), /Adam: betas\[0\] must be in \[0, 1\), got 1/);
    expectErrorSync(() => new optim.Adam([q], { betas: [0.9, -0.1] }), /betas\[1\] must be in \[0, 1\)/);
    expectErrorSync(() => new optim.Adam([], {}), /Adam: got an empty parameter list/);
    expectErrorSync(() => new optim.SGD([frozen], { lr: 0.1 }), /SGD: parameter 0 \(shape \[2\]\) does not require grad/);
    dispose([q, frozen]);
  });

  it('a scheduled lr that reaches 0 still steps; a negative one is refused', () => {
    const q = p();
    const opt = new optim.SGD([q], { lr: 0.1 });
    opt.lr = 0;
    expect(() => opt.step()).not.toThrow();
    opt.lr = -0.1;
    expectErrorSync(() => opt.step(), /SGD: lr must be a non-negative finite number, got -0.1/);
    q.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

function makeOpt(kind: string, params: Tensor[]): optim.Optimizer {
  switch (kind) {
    case 'SGD momentum nesterov wd':
      return new optim.SGD(params, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    case 'SGD momentum dampening':
      return new optim.SGD(params, { lr: 0.05, momentum: 0.8, dampening: 0.3 });
    case 'Adam':
      return new optim.Adam(params, { lr: 0.01, weightDecay: 0.01 });
    default:
      return new optim.AdamW(params, { lr: 0.01 });
  }
}

describe('optimizer stateDict / loadStateDict: resuming is exact (CPU float64)', () => {
  const xv = draw(U(-1, 1), 8 * 4, prng(40), 'float64');
  const labels = Int32Array.from({ length: 8 }, (_, i) => i % 3);

  for (const kind of ['SGD momentum nesterov wd', 'SGD momentum dampening', 'Adam', 'AdamW']) {
    it(`${kind}: 3 steps, save, 2 steps = restore into a fresh model and optimizer, 2 steps`, async () => {
      const make = (seed: number): nn.Sequential => {
        manualSeed(seed);
        return new nn.Sequential(new nn.Linear(4, 6, { dtype: 'float64' }), new nn.Tanh(), new nn.Linear(6, 3, { dtype: 'float64' }));
      };
      const [m1, m2, m3] = [make(1), make(2), make(3)];
      await expectNoLeak(kind, async () => {
        const x = tensor(xv, { shape: [8, 4], dtype: 'float64' });
        const y = tensor(labels, { shape: [8], dtype: 'int32' });
        const train = (m: nn.Module, o: optim.Optimizer, steps: number): void => {
          for (let i = 0; i < steps; i++) {
            o.zeroGrad();
            const loss = tidy(() => crossEntropy(m.forward(x), y));
            loss.backward();
            loss.dispose();
            o.step();
          }
        };
        const o1 = makeOpt(kind, m1.parameters());
        train(m1, o1, 3);
        // The checkpoint: private copies (stateDict hands out the live tensors, as PyTorch's does).
        const modelCkpt = copyState(m1.stateDict());
        const s = o1.stateDict();
        const optCkpt: optim.OptimizerState = { step: s.step, lr: s.lr, tensors: copyState(s.tensors) };
        expect(optCkpt.step).toBe(3);
        expect(optCkpt.tensors.size, 'per-parameter state saved').toBeGreaterThanOrEqual(4);
        train(m1, o1, 2);

        const o2 = makeOpt(kind, m2.parameters());
        m2.loadStateDict(modelCkpt);
        o2.loadStateDict(optCkpt);
        expect(o2.stepCount).toBe(3);
        train(m2, o2, 2);
        const [a, b] = [await snapshot(m1), await snapshot(m2)];
        expect(b).toEqual(a);
        // Not vacuous: the two extra steps moved the parameters.
        expect(a.get('0.weight')).not.toEqual(await values(modelCkpt.get('0.weight')!));

        // A restore that forgets the optimizer state does not resume exactly (the state matters).
        const o3 = makeOpt(kind, m3.parameters());
        m3.loadStateDict(modelCkpt);
        train(m3, o3, 2);
        expect((await snapshot(m3)).get('0.weight')).not.toEqual(a.get('0.weight'));

        for (const o of [o1, o2, o3]) o.dispose();
        for (const m of [m1, m2, m3]) m.zeroGrad();
        dispose([x, y, [...modelCkpt.values()], [...optCkpt.tensors.values()]]);
      });
      for (const m of [m1, m2, m3]) m.dispose();
    });
  }

  it('loading an optimizer state of the wrong shape throws and keeps the current state', () => {
    const w = zeros([3, 2], { dtype: 'float64' }).requiresGrad_(true);
    const opt = new optim.Adam([w], { lr: 0.1 });
    const bad: optim.OptimizerState = { step: 1, lr: 0.1, tensors: new Map([['0.exp_avg', zeros([2, 3], { dtype: 'float64' })]]) };
    expectErrorSync(() => opt.loadStateDict(bad), /state '0.exp_avg' of shape \[2, 3\] does not match parameter 0 of shape \[3, 2\]/);
    const none: optim.OptimizerState = { step: 1, lr: 0.1, tensors: new Map([['1.exp_avg', zeros([3, 2], { dtype: 'float64' })]]) };
    expectErrorSync(() => opt.loadStateDict(none), /no such parameter/);
    expect(opt.stepCount).toBe(0);
    dispose([[...bad.tensors.values()], [...none.tensors.values()], w]);
    opt.dispose();
  });

  it('loading the optimizer\'s own live stateDict() back is a no-op (as in PyTorch), not a use-after-dispose', async () => {
    const w = tensor([1, -2, 3], { dtype: 'float64', requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.9 });
    w.grad = tensor([0.5, 0.5, -1], { dtype: 'float64' });
    opt.step();
    const velocity = await values(opt.stateDict().tensors.get('0.momentum_buffer')!);
    let error: unknown = null;
    try {
      opt.loadStateDict(opt.stateDict());
    } catch (e) {
      error = e;
    }
    expect(error === null ? null : String(error)).toBeNull();
    expect(await values(opt.stateDict().tensors.get('0.momentum_buffer')!)).toEqual(velocity);
    opt.dispose();
    w.dispose();
  });
});

// ---------------------------------------------------------------------------------------------

describeEachBackend('clipGradNorm and the L1/L2 penalties', (device) => {
  const dtype: DType = device === 'cpu' ? 'float64' : 'float32';
  const tol: Tol = device === 'cpu' ? { atol: 1e-14, rtol: 1e-12 } : { atol: 1e-6, rtol: 1e-5 };

  for (const maxNorm of [0.5, 1000]) {
    it(`clipGradNorm(maxNorm ${maxNorm}) returns the pre-clip global norm (a scalar tensor) and scales by min(1, maxNorm/(norm + 1e-6))`, async () => {
      await expectNoLeak('clip', async () => {
        const g1 = [3, -4, 0, 1];
        const g2 = [[2], [-2]];
        const p1 = zeros([4], { dtype, device }).requiresGrad_(true);
        const p2 = zeros([2, 1], { dtype, device }).requiresGrad_(true);
        const p3 = zeros([3], { dtype, device }).requiresGrad_(true); // no grad: skipped
        p1.grad = tensor(g1, { dtype, device });
        p2.grad = tensor(g2, { dtype, device });
        const norm = optim.clipGradNorm([p1, p2, p3], maxNorm);
        expect(norm).toBeInstanceOf(Tensor);
        expect([norm.shape, norm.device]).toEqual([[], device]);
        const total = Math.sqrt(9 + 16 + 0 + 1 + 4 + 4);
        assertClose('norm', [await norm.item()], [total], [], tol);
        const scale = Math.min(1, maxNorm / (total + 1e-6));
        assertClose('p1.grad', await values(p1.grad!), g1.map((v) => v * scale), [4], tol);
        assertClose('p2.grad', await values(p2.grad!), g2.flat().map((v) => v * scale), [2, 1], tol);
        expect(p3.grad).toBeNull();
        dispose([norm, p1, p2, p3]);
      });
    });
  }

  it('clipGradNorm argument checks', () => {
    const p = zeros([2], { dtype, device }).requiresGrad_(true);
    expectErrorSync(() => optim.clipGradNorm([p], 1), /no parameter has a gradient/);
    p.grad = zeros([2], { dtype, device });
    expectErrorSync(() => optim.clipGradNorm([p], 0), /clipGradNorm: maxNorm must be a positive/);
    p.dispose();
  });

  it('l1Penalty: value strength·Σ|w|, gradient strength·sign(w) (0 at w = 0)', async () => {
    await expectNoLeak('l1', async () => {
      const wv = [0.5, -1.5, 0, 2, -0.25];
      const vv = [[-3], [0.75]];
      const w = tensor(wv, { dtype, device, requiresGrad: true });
      const v = tensor(vv, { dtype, device, requiresGrad: true });
      const pen = optim.l1Penalty([w, v], 0.3);
      assertClose('l1 value', [await pen.item()], [0.3 * (0.5 + 1.5 + 0 + 2 + 0.25 + 3 + 0.75)], [], tol);
      pen.backward();
      assertClose('l1 grad w', await values(w.grad!), wv.map((x) => 0.3 * Math.sign(x)), [5], tol);
      assertClose('l1 grad v', await values(v.grad!), vv.flat().map((x) => 0.3 * Math.sign(x)), [2, 1], tol);
      dispose([w, v, pen]);
    });
  });

  it('l2Penalty: value strength·Σw², gradient 2·strength·w', async () => {
    await expectNoLeak('l2', async () => {
      const wv = [0.5, -1.5, 0, 2, -0.25];
      const vv = [[-3], [0.75]];
      const w = tensor(wv, { dtype, device, requiresGrad: true });
      const v = tensor(vv, { dtype, device, requiresGrad: true });
      const pen = optim.l2Penalty([w, v], 0.3);
      assertClose('l2 value', [await pen.item()], [0.3 * [...wv, ...vv.flat()].reduce((s, x) => s + x * x, 0)], [], tol);
      pen.backward();
      assertClose('l2 grad w', await values(w.grad!), wv.map((x) => 2 * 0.3 * x), [5], tol);
      assertClose('l2 grad v', await values(v.grad!), vv.flat().map((x) => 2 * 0.3 * x), [2, 1], tol);
      dispose([w, v, pen]);
    });
  });

  it('penalties reject a negative strength and an empty list; strength 0 gives 0', async () => {
    const w = tensor([1, 2], { dtype, device, requiresGrad: true });
    expectErrorSync(() => optim.l2Penalty([w], -1), /l2Penalty: strength must be a non-negative/);
    expectErrorSync(() => optim.l1Penalty([], 1), /l1Penalty: got an empty parameter list/);
    const z = optim.l1Penalty([w], 0);
    expect(await z.item()).toBe(0);
    dispose([w, z]);
  });
});
