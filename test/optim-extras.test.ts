/**
 * Optimizer extras against PyTorch 1.13 (test/fixtures/optim_extras.json, written by
 * make_optim_extras.py): LinearLR, LambdaLR, OneCycleLR (with momentum / beta1 cycling) and
 * ReduceLROnPlateau on two parameter groups; Adam/AdamW with amsgrad and parameter groups with
 * different lr, weight decay and betas (trajectories on every backend); per-parameter state
 * under PyTorch's names. Then the refusals: duplicates, bad groups, bad loaded states.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeEachBackend, requireWebGPU, webgpuAvailability } from './helpers/backends.js';
import { assertClose } from './helpers/compare.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { Tensor } from '../src/tensor.js';
import type { BackendName } from '../src/backend/types.js';
import { linear, mse, optim, tensor, tidy, zeros, WebgradError } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

interface Arr { shape: number[]; values: number[] }
type Snap = { lr: number[]; momentum?: number[]; beta1?: number[] };
interface SchedCase { name: string; optimizer: 'SGD' | 'Adam'; optimizerOptions: { momentum?: number }; groupLrs: [number, number]; history: Snap[]; metrics?: number[] }
interface TrajCase {
  name: string; optimizer: 'SGD' | 'Adam' | 'AdamW';
  options: { lr: number; momentum?: number; weight_decay?: number; betas?: [number, number]; amsgrad?: boolean };
  biasGroup?: { lr?: number; weight_decay?: number; betas?: [number, number]; amsgrad?: boolean };
  steps: { weight: number[]; bias: number[] }[];
  stateNames: string[];
}
interface Fixture {
  schedules: SchedCase[];
  trajectories: { x: Arr; targets: Arr[]; weight0: Arr; bias0: Arr; cases: TrajCase[] };
}
const FIX = JSON.parse(readFileSync(new URL('./fixtures/optim_extras.json', import.meta.url), 'utf8')) as Fixture;

/** The lambdas of make_optim_extras.py, by name. */
const LAMBDAS: Record<string, (e: number) => number> = {
  'exp0.9': (e) => 0.9 ** e,
  warmup5: (e) => Math.min(1, (e + 1) / 5),
  'warmup3-cos20': (e) => (e < 3 ? (e + 1) / 3 : 0.5 * (1 + Math.cos((Math.PI * (e - 3)) / 17))),
};

interface Stepper { step(metric?: number): void }

function makeScheduler(name: string, opt: optim.Optimizer): Stepper {
  if (name === 'LinearLR default') return new optim.LinearLR(opt);
  if (name === 'LinearLR warmup 0.1->1 over 8') return new optim.LinearLR(opt, { startFactor: 0.1, endFactor: 1, totalIters: 8 });
  if (name === 'LinearLR decay 1->0.05 over 12') return new optim.LinearLR(opt, { startFactor: 1, endFactor: 0.05, totalIters: 12 });
  if (name === 'LambdaLR per group [exp0.9, warmup5]') return new optim.LambdaLR(opt, [LAMBDAS['exp0.9']!, LAMBDAS.warmup5!]);
  if (name.startsWith('LambdaLR ')) return new optim.LambdaLR(opt, LAMBDAS[name.slice(9)]!);
  if (name === 'OneCycleLR cos, SGD momentum') return new optim.OneCycleLR(opt, [0.5, 0.05], { totalSteps: 20 });
  if (name === 'OneCycleLR linear three-phase, Adam') {
    return new optim.OneCycleLR(opt, 0.2, { epochs: 4, stepsPerEpoch: 5, pctStart: 0.25, annealStrategy: 'linear', threePhase: true, divFactor: 10, finalDivFactor: 100, baseMomentum: 0.8, maxMomentum: 0.9 });
  }
  if (name === 'OneCycleLR no momentum cycling, pct 0.4') return new optim.OneCycleLR(opt, 1, { totalSteps: 20, pctStart: 0.4, cycleMomentum: false });
  if (name === 'OneCycleLR to total_steps') return new optim.OneCycleLR(opt, 0.3, { totalSteps: 10 });
  if (name === 'SequentialLR LinearLR warmup 5 then cosine 15') {
    return new optim.SequentialLR(opt, [new optim.LinearLR(opt, { startFactor: 0.1, totalIters: 5 }), new optim.CosineAnnealingLR(opt, 15)], [5]);
  }
  if (name === 'SequentialLR LinearLR, StepLR, cosine past T_max') {
    return new optim.SequentialLR(opt, [new optim.LinearLR(opt, { startFactor: 0.5, totalIters: 3 }), new optim.StepLR(opt, 4, 0.5), new optim.CosineAnnealingLR(opt, 6, 0.001)], [3, 11]);
  }
  if (name === 'ReduceLROnPlateau min rel patience 2 cooldown 1') {
    const s = new optim.ReduceLROnPlateau(opt, { mode: 'min', factor: 0.5, patience: 2, cooldown: 1, minLr: [0.02, 0.001] });
    return { step: (m) => s.step(m!) };
  }
  if (name === 'ReduceLROnPlateau max abs threshold 0.02 patience 1') {
    const s = new optim.ReduceLROnPlateau(opt, { mode: 'max', factor: 0.3, patience: 1, threshold: 0.02, thresholdMode: 'abs' });
    return { step: (m) => s.step(m!) };
  }
  throw new Error(`no scheduler for fixture case '${name}'`);
}

function snap(opt: optim.Optimizer): Snap {
  const groups = opt.paramGroups as unknown as { lr: number; momentum?: number; betas?: [number, number] }[];
  return groups[0]!.betas ? { lr: groups.map((g) => g.lr), beta1: groups.map((g) => g.betas![0]) } : { lr: groups.map((g) => g.lr), momentum: groups.map((g) => g.momentum!) };
}

describe('PyTorch parity: LinearLR, LambdaLR, OneCycleLR, SequentialLR, ReduceLROnPlateau on two parameter groups', () => {
  const TOL = { atol: 1e-15, rtol: 1e-12 };
  for (const c of FIX.schedules) {
    it(`${c.name}: lr${c.optimizer === 'SGD' ? ' and momentum' : ' and beta1'} of both groups over ${c.history.length - 1} steps`, () => {
      const p1 = zeros([1], { dtype: 'float64' }).requiresGrad_(true);
      const p2 = zeros([1], { dtype: 'float64' }).requiresGrad_(true);
      const groups = [{ params: [p1] }, { params: [p2], lr: c.groupLrs[1] }];
      const opt = c.optimizer === 'SGD'
        ? new optim.SGD(groups, { lr: c.groupLrs[0], ...(c.optimizerOptions.momentum !== undefined ? { momentum: c.optimizerOptions.momentum } : {}) })
        : new optim.Adam(groups, { lr: c.groupLrs[0] });
      const sched = makeScheduler(c.name, opt);
      const got = [snap(opt)];
      for (let i = 0; i + 1 < c.history.length; i++) {
        opt.step();
        sched.step(c.metrics?.[i]);
        got.push(snap(opt));
      }
      for (const key of ['lr', 'momentum', 'beta1'] as const) {
        const want = c.history.map((h) => h[key]);
        if (want[0] === undefined) continue;
        assertClose(`${c.name}: ${key}`, got.flatMap((g) => g[key]!), want.flatMap((w) => w!), [want.length, 2], TOL);
      }
      if (c.name === 'OneCycleLR to total_steps') {
        // One step past totalSteps: PyTorch raises ValueError; webgrad a clear error, lr untouched.
        const before = snap(opt);
        expect(() => sched.step()).toThrow(/OneCycleLR\.step: tried to step 11 times, but totalSteps is 10/);
        expect(snap(opt)).toEqual(before);
      }
      opt.dispose();
      dispose([p1, p2]);
    });
  }

  it('a chained scheduler starts from the first one\'s initial lr (PyTorch\'s initial_lr), not the modified one', () => {
    const p = zeros([1], { dtype: 'float64' }).requiresGrad_(true);
    const opt = new optim.SGD([p], { lr: 0.1 });
    new optim.LinearLR(opt, { startFactor: 0.5 });
    expect(opt.lr).toBe(0.05);
    const second = new optim.StepLR(opt, 2);
    expect(second.baseLrs).toEqual([0.1]);
    opt.dispose();
    p.dispose();
  });

  it('bad schedule arguments throw at construction and change nothing', () => {
    const p = zeros([1], { dtype: 'float64' }).requiresGrad_(true);
    const opt = new optim.SGD([p], { lr: 0.1 });
    expect(() => new optim.LinearLR(opt, { startFactor: 0 })).toThrow(/LinearLR: startFactor must be in \(0, 1\], got 0/);
    expect(() => new optim.LambdaLR(opt, [(e) => e, (e) => e])).toThrow(/LambdaLR: expected 1 functions/);
    expect(() => new optim.OneCycleLR(opt, 0.1)).toThrow(/OneCycleLR: give totalSteps, or epochs and stepsPerEpoch/);
    expect(() => new optim.OneCycleLR(opt, [0.1, 0.2], { totalSteps: 5 })).toThrow(/maxLr has 2 values but the optimizer has 1 parameter groups/);
    expect(() => new optim.ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/ReduceLROnPlateau: factor must be in \[0, 1\), got 1/);
    const other = new optim.SGD([p], { lr: 0.1 });
    expect(() => new optim.SequentialLR(opt, [new optim.StepLR(opt, 2), new optim.StepLR(other, 2)], [3])).toThrow(/SequentialLR: every scheduler must belong to the same optimizer/);
    expect(() => new optim.SequentialLR(opt, [new optim.StepLR(opt, 2), new optim.StepLR(opt, 2)], [3, 4])).toThrow(/SequentialLR: expected 1 milestone\(s\) for 2 schedulers, got 2/);
    other.dispose();
    expect(opt.lr).toBe(0.1);
    // A lambda that returns NaN: the step throws and the lr stays.
    const s = new optim.LambdaLR(opt, (e) => (e === 2 ? Number.NaN : 1));
    s.step();
    expect(() => s.step()).toThrow(/LambdaLR\.step: epoch 2 gives group 0 an lr of NaN/);
    expect(opt.lr).toBe(0.1);
    opt.dispose();
    p.dispose();
  });
});

const TR = FIX.trajectories;

function makeTrajOptimizer(c: TrajCase, W: Tensor, b: Tensor): optim.Optimizer {
  const o = c.options;
  const common = {
    lr: o.lr,
    ...(o.weight_decay !== undefined ? { weightDecay: o.weight_decay } : {}),
  };
  const bg = c.biasGroup;
  const bias = bg ? {
    ...(bg.lr !== undefined ? { lr: bg.lr } : {}),
    ...(bg.weight_decay !== undefined ? { weightDecay: bg.weight_decay } : {}),
    ...(bg.betas ? { betas: bg.betas } : {}),
    ...(bg.amsgrad !== undefined ? { amsgrad: bg.amsgrad } : {}),
  } : null;
  if (c.optimizer === 'SGD') {
    return new optim.SGD(bias ? [{ params: [W] }, { params: [b], ...bias }] : [W, b], { ...common, ...(o.momentum !== undefined ? { momentum: o.momentum } : {}) });
  }
  const opts = { ...common, ...(o.betas ? { betas: o.betas } : {}), ...(o.amsgrad !== undefined ? { amsgrad: o.amsgrad } : {}) };
  const params = bias ? [{ params: [W] }, { params: [b], ...bias }] : [W, b];
  return c.optimizer === 'Adam' ? new optim.Adam(params, opts) : new optim.AdamW(params, opts);
}

describeEachBackend('PyTorch parity: amsgrad and parameter groups (mse(linear(x, W, b), target_i))', (device: BackendName) => {
  const dtype = device === 'cpu' ? 'float64' : 'float32';
  const tol = device === 'cpu' ? { atol: 1e-12, rtol: 1e-10 } : { atol: 3e-5, rtol: 2e-4 };
  for (const c of TR.cases) {
    it(`${c.name}: parameters after each of ${c.steps.length} steps; state named ${c.stateNames.join(', ')}`, async () => {
      await expectNoLeak(c.name, async () => {
        const x = tensor(TR.x.values, { shape: TR.x.shape, dtype, device });
        const targets = TR.targets.map((a) => tensor(a.values, { shape: a.shape, dtype, device }));
        const W = tensor(TR.weight0.values, { shape: TR.weight0.shape, dtype, device, requiresGrad: true });
        const b = tensor(TR.bias0.values, { shape: TR.bias0.shape, dtype, device, requiresGrad: true });
        const opt = makeTrajOptimizer(c, W, b);
        for (const [i, expected] of c.steps.entries()) {
          opt.zeroGrad();
          const loss = tidy(() => mse(linear(x, W, b), targets[i]!));
          loss.backward();
          loss.dispose();
          opt.step();
          assertClose(`${c.name} step ${i + 1}: weight`, Array.from(await W.data()), expected.weight, TR.weight0.shape, tol);
          assertClose(`${c.name} step ${i + 1}: bias`, Array.from(await b.data()), expected.bias, TR.bias0.shape, tol);
        }
        const names = [...new Set([...opt.stateDict().tensors.keys()].map((k) => k.split('.').slice(1).join('.')))].sort();
        expect(names).toEqual(c.stateNames);
        opt.dispose();
        dispose([x, ...targets, W, b]);
      });
    });
  }
});

describe('optimizer refusals (each a WebgradError at the call; nothing changed, nothing leaked)', () => {
  const param = (shape: number[] = [2, 3]): Tensor => zeros(shape, { dtype: 'float64' }).requiresGrad_(true);

  it('the same parameter twice (in one list, or in two groups) is refused, as PyTorch does', () => {
    const w = param();
    const b = param([3]);
    expect(() => new optim.SGD([w, b, w], { lr: 0.1 })).toThrow(WebgradError);
    expect(() => new optim.SGD([w, b, w], { lr: 0.1 })).toThrow(/SGD: parameter 2 is the same tensor as parameter 0; each parameter may appear only once/);
    expect(() => new optim.Adam([{ params: [w] }, { params: [b, w] }])).toThrow(/Adam: group 1, parameter 1 is the same tensor as group 0, parameter 0/);
    dispose([w, b]);
  });

  it('bad groups: an unknown option, a bad value in one group, a mix of tensors and groups', () => {
    const w = param();
    const b = param([3]);
    expect(() => new optim.SGD([{ params: [w] }, { params: [b], weight_decay: 0 } as never], { lr: 0.1 })).toThrow(/SGD: group 1 has an unknown option 'weight_decay'/);
    expect(() => new optim.Adam([{ params: [w] }, { params: [b], betas: [0.9, 1] }])).toThrow(/Adam: group 1: betas\[1\] must be in \[0, 1\), got 1/);
    expect(() => new optim.SGD([w, { params: [b] }] as never, { lr: 0.1 })).toThrow(/SGD: params must be all tensors, or all parameter groups/);
    expect(() => new optim.SGD([{ params: [] }], { lr: 0.1 })).toThrow(/SGD: got an empty parameter list/);
    dispose([w, b]);
  });

  it('a NaN lr set on a group: step() throws before updating any parameter', async () => {
    const w = param();
    const b = param([3]);
    const opt = new optim.SGD([{ params: [w] }, { params: [b] }], { lr: 0.1 });
    w.grad = tensor([[1, 1, 1], [1, 1, 1]], { dtype: 'float64' });
    b.grad = tensor([1, 1, 1], { dtype: 'float64' });
    opt.paramGroups[1]!.lr = Number.NaN;
    expect(() => opt.step()).toThrow(/SGD: group 1: lr must be a non-negative finite number, got NaN/);
    expect(Array.from(await w.data())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(opt.stepCount).toBe(0);
    opt.dispose();
    dispose([w, b]);
  });

  it('loadStateDict refuses a wrong dtype, a negative or fractional step, a NaN lr, an unknown state name, plain arrays and bad groups', async () => {
    await expectNoLeak('optimizer loadStateDict refusals', async () => {
      const w = param();
      const opt = new optim.Adam([w], { lr: 0.1 });
      w.grad = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
      opt.step();
      const good = opt.stateDict();
      const before = { step: opt.stepCount, lr: opt.lr, m: Array.from(await good.tensors.get('0.exp_avg')!.data()) };
      const f32 = zeros([2, 3], { dtype: 'float32' });
      const f64 = zeros([2, 3], { dtype: 'float64' });
      const bad: [optim.OptimizerState, RegExp][] = [
        [{ step: 1, lr: 0.1, tensors: new Map([['0.exp_avg', f32]]) }, /Adam\.loadStateDict: state '0\.exp_avg' has dtype float32 but parameter 0 is float64/],
        [{ step: -1, lr: 0.1, tensors: new Map() }, /Adam\.loadStateDict: step must be a non-negative integer, got -1/],
        [{ step: 1.5, lr: 0.1, tensors: new Map() }, /step must be a non-negative integer, got 1\.5/],
        [{ step: 1, lr: Number.NaN, tensors: new Map() }, /Adam\.loadStateDict: lr must be a non-negative finite number, got NaN/],
        [{ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer', f64]]) }, /state '0\.momentum_buffer': Adam keeps no 'momentum_buffer' \(it keeps exp_avg, exp_avg_sq, max_exp_avg_sq\)/],
        [{ step: 1, lr: 0.1, tensors: new Map([['0.exp_avg', [[0, 0, 0], [0, 0, 0]]]]) } as never, /state '0\.exp_avg' must be a Tensor, got a plain array/],
        [{ step: 1, lr: 0.1, tensors: { '0.exp_avg': f64 } } as never, /tensors must be a Map/],
        [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ lr: 0.1 }, { lr: 0.2 }] }, /paramGroups must be an array of 1 group\(s\), got 2/],
        [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ lr: 0.1, betas: [0.9, 2] }] }, /paramGroups\[0\]\.betas\[1\] must be in \[0, 1\), got 2/],
        [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ momentum: 0.9 }] }, /paramGroups\[0\]\.momentum = 0\.9 does not fit this Adam/],
      ];
      for (const [state, message] of bad) {
        expect(() => opt.loadStateDict(state)).toThrow(WebgradError);
        expect(() => opt.loadStateDict(state)).toThrow(message);
        expect({ step: opt.stepCount, lr: opt.lr, m: Array.from(await opt.stateDict().tensors.get('0.exp_avg')!.data()) }).toEqual(before);
      }
      // The good state (with its groups) round-trips.
      opt.paramGroups[0]!.betas = [0.5, 0.9];
      opt.loadStateDict(good);
      expect(opt.paramGroups[0]!.betas).toEqual([0.9, 0.999]);
      dispose([f32, f64, w]);
      opt.dispose();
    });
  });
});

describe('optimizer loadStateDict: state on another backend [webgpu]', () => {
  // Needs two backends: parameters on WebGPU, state on the CPU (skipped visibly without an adapter, failed under CI).
  let available = false;
  beforeAll(async () => {
    const a = await webgpuAvailability();
    available = a.available;
    if (!a.available && requireWebGPU) throw new Error(`WebGPU is required here (CI) but no adapter was found: ${a.reason}`);
  });
  it('is refused naming both backends, and nothing changes', async (ctx) => {
    if (!available) ctx.skip();
    const w = zeros([2, 2], { device: 'webgpu' }).requiresGrad_(true);
    const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.9 });
    const onCpu = zeros([2, 2], { device: 'cpu' });
    expect(() => opt.loadStateDict({ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer', onCpu]]) }))
      .toThrow(/SGD\.loadStateDict: state '0\.momentum_buffer' lives on 'cpu' but parameter 0 on 'webgpu'/);
    expect(opt.stepCount).toBe(0);
    expect(opt.stateDict().tensors.size).toBe(0);
    dispose([w, onCpu]);
    opt.dispose();
  });
});
