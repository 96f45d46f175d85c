/**
 * Parity with PyTorch, the outside oracle. The expected values were computed by PyTorch 1.13 in
 * float64 and committed as JSON (test/fixtures/*.json, written by test/fixtures/make_fixtures.py;
 * see its header to regenerate). No PyTorch is needed here: only the JSON is read.
 *
 * webgrad runs on the CPU backend in float64 (tight tolerances) and, where a device kernel is
 * involved, on WebGPU in float32 (looser tolerances) through describeEachBackend. The fixtures'
 * inputs are float32-representable, so both runs see exactly PyTorch's inputs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose, type Tol } from './helpers/compare.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { Tensor } from '../src/tensor.js';
import type { BackendName, DType } from '../src/backend/types.js';
import {
  crossEntropy, gelu, leakyRelu, linear, manualSeed, mse, mul, nn, optim, rand, randn, relu, relu6, sigmoid, softplus,
  sum, tanh, tensor, tidy, zeros,
} from '../src/index.js';
import { dispose } from '../src/lifetime.js';

function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

interface Arr { shape: number[]; values: number[] }

/** float64 on the CPU, float32 on a device; tolerances to match. */
function setup(device: BackendName): { dtype: DType; tol: (cpu: Tol, dev: Tol) => Tol } {
  return device === 'cpu'
    ? { dtype: 'float64', tol: (cpu) => cpu }
    : { dtype: 'float32', tol: (_, dev) => dev };
}

async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

// ---------------------------------------------------------------------------------------------
// (a) optimizers

interface OptimFixture {
  x: Arr; target: Arr; weight0: Arr; bias0: Arr;
  cases: {
    name: string; optimizer: 'SGD' | 'Adam' | 'AdamW';
    options: { lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weight_decay?: number; betas?: [number, number]; eps?: number };
    losses: number[];
    steps: { weight: number[]; bias: number[] }[];
  }[];
}
const OPTIM = fixture<OptimFixture>('optim.json');

function makeOptimizer(c: OptimFixture['cases'][number], params: Tensor[]): optim.Optimizer {
  const o = c.options;
  const wd = o.weight_decay !== undefined ? { weightDecay: o.weight_decay } : {};
  if (c.optimizer === 'SGD') {
    return new optim.SGD(params, {
      lr: o.lr, ...wd,
      ...(o.momentum !== undefined ? { momentum: o.momentum } : {}),
      ...(o.dampening !== undefined ? { dampening: o.dampening } : {}),
      ...(o.nesterov !== undefined ? { nesterov: o.nesterov } : {}),
    });
  }
  const opts = { lr: o.lr, ...wd, ...(o.betas ? { betas: o.betas } : {}), ...(o.eps !== undefined ? { eps: o.eps } : {}) };
  return c.optimizer === 'Adam' ? new optim.Adam(params, opts) : new optim.AdamW(params, opts);
}

describeEachBackend('PyTorch parity: optimizers on mse(linear(x, W, b), target)', (device) => {
  const { dtype, tol } = setup(device);
  for (const c of OPTIM.cases) {
    it(`${c.name} (${c.optimizer} ${JSON.stringify(c.options)}): parameters after each of ${c.steps.length} steps`, async () => {
      await expectNoLeak(c.name, async () => {
        const x = tensor(OPTIM.x.values, { shape: OPTIM.x.shape, dtype, device });
        const target = tensor(OPTIM.target.values, { shape: OPTIM.target.shape, dtype, device });
        const W = tensor(OPTIM.weight0.values, { shape: OPTIM.weight0.shape, dtype, device, requiresGrad: true });
        const b = tensor(OPTIM.bias0.values, { shape: OPTIM.bias0.shape, dtype, device, requiresGrad: true });
        const opt = makeOptimizer(c, [W, b]);
        const t = tol({ atol: 1e-12, rtol: 1e-10 }, { atol: 2e-5, rtol: 1e-4 });
        for (const [i, expected] of c.steps.entries()) {
          opt.zeroGrad();
          const loss = tidy(() => mse(linear(x, W, b), target));
          loss.backward();
          assertClose(`${c.name} step ${i + 1}: loss`, [await loss.item()], [c.losses[i]!], [], t);
          loss.dispose();
          opt.step();
          assertClose(`${c.name} step ${i + 1}: weight`, await values(W), expected.weight, OPTIM.weight0.shape, t);
          assertClose(`${c.name} step ${i + 1}: bias`, await values(b), expected.bias, OPTIM.bias0.shape, t);
        }
        opt.dispose();
        dispose([x, target, W, b]);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (b) BatchNorm1d

interface BnFixture {
  cases: {
    name: string; n: number; c: number; affine: boolean; momentum: number; eps: number;
    weight: number[] | null; bias: number[] | null;
    train: { x: number[]; out: number[]; runningMean: number[]; runningVar: number[] }[];
    gradOut: number[];
    grads: { x: number[]; weight?: number[]; bias?: number[] };
    eval: { x: number[]; out: number[]; gradX: number[] };
  }[];
}
const BN = fixture<BnFixture>('batchnorm.json');

describeEachBackend('PyTorch parity: BatchNorm1d', (device) => {
  const { dtype, tol } = setup(device);
  for (const c of BN.cases) {
    it(`${c.name}: 3 training steps (output, running_mean, running_var), backward, eval`, async () => {
      const { n, c: ch } = c;
      const bn = new nn.BatchNorm1d(ch, { momentum: c.momentum, eps: c.eps, affine: c.affine, dtype, device });
      const made: Tensor[] = [];
      const mk = (v: number[], shape: number[], requiresGrad = false): Tensor => {
        const t = tensor(v, { shape, dtype, device, requiresGrad });
        made.push(t);
        return t;
      };
      try {
        if (c.affine) bn.loadStateDict(new Map([['weight', mk(c.weight!, [ch])], ['bias', mk(c.bias!, [ch])]]), { strict: false });
        const t = tol({ atol: 1e-12, rtol: 1e-10 }, { atol: 1e-4, rtol: 1e-4 });
        bn.train();
        for (const [i, step] of c.train.entries()) {
          const x = mk(step.x, [n, ch], i === 0);
          const out = bn.forward(x);
          made.push(out);
          assertClose(`step ${i}: output`, await values(out), step.out, [n, ch], t);
          assertClose(`step ${i}: running_mean`, await values(bn.runningMean!), step.runningMean, [ch], t);
          assertClose(`step ${i}: running_var`, await values(bn.runningVar!), step.runningVar, [ch], t);
          if (i === 0) {
            const loss = tidy(() => sum(mul(out, mk(c.gradOut, [n, ch]))));
            loss.backward();
            loss.dispose();
            assertClose('grad x', await values(x.grad!), c.grads.x, [n, ch], t);
            if (c.affine) {
              assertClose('grad weight', await values(bn.weight!.grad!), c.grads.weight!, [ch], t);
              assertClose('grad bias', await values(bn.bias!.grad!), c.grads.bias!, [ch], t);
            }
          }
        }
        bn.eval();
        const xe = mk(c.eval.x, [n, ch], true);
        const ye = bn.forward(xe);
        made.push(ye);
        assertClose('eval output', await values(ye), c.eval.out, [n, ch], t);
        const loss = tidy(() => sum(mul(ye, mk(c.gradOut, [n, ch]))));
        loss.backward();
        loss.dispose();
        assertClose('eval grad x', await values(xe.grad!), c.eval.gradX, [n, ch], t);
      } finally {
        dispose(made);
        bn.dispose();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (c) cross_entropy

interface CeFixture {
  cases: {
    name: string; n: number; c: number; logits: number[]; labels: number[]; noneWeights: number[];
    results: Record<'mean' | 'sum' | 'none', { loss: number[]; grad: number[] }>;
  }[];
}
const CE = fixture<CeFixture>('cross_entropy.json');

describeEachBackend('PyTorch parity: cross_entropy with integer labels', (device) => {
  const { dtype, tol } = setup(device);
  for (const c of CE.cases) {
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      it(`${c.name} ${reduction}: loss and grad`, async () => {
        await expectNoLeak(`ce ${c.name}`, async () => {
          const x = tensor(c.logits, { shape: [c.n, c.c], dtype, device, requiresGrad: true });
          const labels = tensor(c.labels, { shape: [c.n], dtype: 'int32', device });
          const w = tensor(c.noneWeights, { shape: [c.n], dtype, device });
          const loss = crossEntropy(x, labels, reduction);
          const e = c.results[reduction];
          // logits up to ±100: a float32 loss of 200 carries ~1e-5 of rounding.
          const t = tol({ atol: 1e-12, rtol: 1e-10 }, { atol: 2e-5, rtol: 2e-5 });
          assertClose(`${c.name} ${reduction}: loss`, await values(loss), e.loss, loss.shape, t);
          const scalar = reduction === 'none' ? tidy(() => sum(mul(loss, w))) : loss;
          scalar.backward();
          assertClose(`${c.name} ${reduction}: grad`, await values(x.grad!), e.grad, [c.n, c.c], t);
          dispose([x, labels, w, loss, scalar]);
        });
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// (d) activations at extreme values

interface ActFixture { x: number[]; functions: Record<string, { y: number[]; dydx: number[] }> }
const ACT = fixture<ActFixture>('activations.json');
const ACT_FNS: Record<string, (x: Tensor) => Tensor> = {
  gelu: (x) => gelu(x),
  geluTanh: (x) => gelu(x, 'tanh'),
  softplus: (x) => softplus(x),
  leakyRelu: (x) => leakyRelu(x, 0.01),
  'leakyRelu0.2': (x) => leakyRelu(x, 0.2),
  relu: (x) => relu(x),
  relu6: (x) => relu6(x),
  sigmoid: (x) => sigmoid(x),
  tanh: (x) => tanh(x),
};

describeEachBackend('PyTorch parity: activations at ±100 and near their kinks, and their derivatives', (device) => {
  const { dtype, tol } = setup(device);
  it('the fixture covers every activation tested', () => {
    expect(Object.keys(ACT.functions).sort()).toEqual(Object.keys(ACT_FNS).sort());
  });
  for (const [name, fn] of Object.entries(ACT_FNS)) {
    it(`${name}: y and dy/dx at x = ${ACT.x.join(', ')}`, async () => {
      await expectNoLeak(name, async () => {
        const e = ACT.functions[name]!;
        const x = tensor(ACT.x, { shape: [ACT.x.length], dtype, device, requiresGrad: true });
        const y = fn(x);
        // PyTorch's softplus returns x itself above its threshold 20 (and gradient 1): off from the
        // exact log1p(e^x) by e^-x < 2.1e-9 at 20.5, which webgrad computes exactly.
        const cpuTol = name === 'softplus' ? { atol: 2.1e-9, rtol: 1e-12 } : { atol: 1e-15, rtol: 1e-12 };
        const t = tol(cpuTol, { atol: 1e-6, rtol: 2e-5 });
        const got = await values(y);
        for (const v of got) expect(Number.isFinite(v), `${name}: non-finite output ${v}`).toBe(true);
        assertClose(`${name} on ${device}: y`, got, e.y, [ACT.x.length], t);
        const s = sum(y);
        s.backward();
        assertClose(`${name} on ${device}: dy/dx`, await values(x.grad!), e.dydx, [ACT.x.length], t);
        dispose([x, y, s]);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (e) clip_grad_norm_

interface ClipFixture { shapes: number[][]; grads: number[][]; cases: { maxNorm: number; totalNorm: number; clipped: number[][] }[] }
const CLIP = fixture<ClipFixture>('clip_grad_norm.json');

describeEachBackend('PyTorch parity: clip_grad_norm_', (device) => {
  const { dtype, tol } = setup(device);
  for (const c of CLIP.cases) {
    it(`maxNorm ${c.maxNorm}: returns the pre-clip norm ${c.totalNorm.toFixed(6)} and scales the grads like PyTorch`, async () => {
      await expectNoLeak('clip', async () => {
        const ps = CLIP.shapes.map((s, i) => {
          const p = zeros(s, { dtype, device }).requiresGrad_(true);
          p.grad = tensor(CLIP.grads[i]!, { shape: s, dtype, device });
          return p;
        });
        const norm = optim.clipGradNorm(ps, c.maxNorm);
        const t = tol({ atol: 1e-14, rtol: 1e-12 }, { atol: 1e-6, rtol: 1e-5 });
        assertClose('total norm', [await norm.item()], [c.totalNorm], [], t);
        for (const [i, p] of ps.entries()) assertClose(`grad ${i}`, await values(p.grad!), c.clipped[i]!, CLIP.shapes[i]!, t);
        dispose([norm, ps]);
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (f) schedulers (host arithmetic only: CPU)

interface SchedFixture { cases: { scheduler: 'StepLR' | 'CosineAnnealingLR'; options: { step_size?: number; gamma?: number; T_max?: number; eta_min?: number }; baseLr: number; lrs: number[] }[] }
const SCHED = fixture<SchedFixture>('lr_schedulers.json');

describe('PyTorch parity: learning-rate schedules', () => {
  for (const c of SCHED.cases) {
    it(`${c.scheduler} ${JSON.stringify(c.options)} from lr ${c.baseLr}: ${c.lrs.length} epochs`, () => {
      const p = zeros([1], { dtype: 'float64' }).requiresGrad_(true);
      const opt = new optim.SGD([p], { lr: c.baseLr });
      const sched = c.scheduler === 'StepLR'
        ? new optim.StepLR(opt, c.options.step_size!, c.options.gamma)
        : new optim.CosineAnnealingLR(opt, c.options.T_max!, c.options.eta_min);
      const got: number[] = [];
      for (let e = 0; e < c.lrs.length; e++) {
        opt.step();
        sched.step();
        got.push(opt.lr);
      }
      assertClose(`${c.scheduler} lrs`, got, c.lrs, [c.lrs.length], { atol: 1e-15, rtol: 1e-12 });
      opt.dispose();
      p.dispose();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (g) nn.init: gains, bounds and stds. An initialiser with a fixed seed must give exactly the
// seed's rand (or randn) draw mapped through PyTorch's bound (or std): u·2b − b, or z·std.

interface InitFixture {
  gains: { nonlinearity: string; param: number | null; gain: number }[];
  cases: {
    shape: number[]; fanIn: number; fanOut: number;
    entries: { fn: string; mode?: 'fan_in' | 'fan_out'; nonlinearity?: string; a?: number | null; defaults?: boolean; gain?: number; bound?: number; std?: number }[];
  }[];
  linear: { in: number; out: number; weightBound: number; biasBound: number }[];
}
const INIT = fixture<InitFixture>('init.json');
const NL: Record<string, nn.init.Nonlinearity> = { linear: 'linear', sigmoid: 'sigmoid', tanh: 'tanh', relu: 'relu', leaky_relu: 'leakyRelu' };
type InitEntry = InitFixture['cases'][number]['entries'][number];

function entryName(shape: number[], e: InitEntry): string {
  return `${e.fn} [${shape}] ${e.defaults ? 'PyTorch defaults' : JSON.stringify({ mode: e.mode, nonlinearity: e.nonlinearity, a: e.a, gain: e.gain })}`;
}

/** Runs the initialiser with a fixed seed and compares with that seed's draw scaled by PyTorch's bound or std. */
async function checkInit(shape: number[], e: InitEntry, what: string): Promise<void> {
  const seed = 31337;
  const t = zeros(shape, { dtype: 'float64' });
  const opts = {
    seed,
    ...(e.mode ? { mode: e.mode === 'fan_in' ? ('fanIn' as const) : ('fanOut' as const) } : {}),
    ...(e.nonlinearity ? { nonlinearity: NL[e.nonlinearity]! } : {}),
    ...(e.a !== undefined && e.a !== null ? { a: e.a } : {}),
    ...(e.gain !== undefined ? { gain: e.gain } : {}),
  };
  const fn = { kaimingUniform: nn.init.kaimingUniform_, kaimingNormal: nn.init.kaimingNormal_, xavierUniform: nn.init.xavierUniform_, xavierNormal: nn.init.xavierNormal_ }[e.fn]!;
  const uniform = e.bound !== undefined;
  const base = uniform ? rand(shape, { seed, dtype: 'float64' }) : randn(shape, { seed, dtype: 'float64' });
  try {
    fn(t, opts);
    const u = await values(base);
    const expected = uniform ? u.map((v) => v * 2 * e.bound! - e.bound!) : u.map((v) => v * e.std!);
    assertClose(`${what} (${uniform ? `bound ${e.bound}` : `std ${e.std}`})`, await values(t), expected, shape, { atol: 1e-15, rtol: 1e-12 });
  } finally {
    dispose([t, base]);
  }
}

describe('PyTorch parity: nn.init', () => {
  it('calculateGain', () => {
    for (const g of INIT.gains) {
      const got = g.param === null ? nn.init.calculateGain(NL[g.nonlinearity]!) : nn.init.calculateGain(NL[g.nonlinearity]!, g.param);
      expect(got, `${g.nonlinearity} ${g.param}`).toBeCloseTo(g.gain, 14);
    }
  });

  for (const c of INIT.cases) {
    it(`fans of [${c.shape}]`, () => {
      const t = zeros(c.shape, { dtype: 'float64' });
      expect(nn.init.fans(t)).toEqual({ fanIn: c.fanIn, fanOut: c.fanOut });
      t.dispose();
    });
    // Entries with a = null (a not passed) are checked together below.
    for (const e of c.entries.filter((en) => en.a !== null)) {
      const what = entryName(c.shape, e);
      it(`${what}: ${e.bound !== undefined ? `bound ${e.bound}` : `std ${e.std}`}`, async () => {
        await checkInit(c.shape, e, what);
      });
    }
  }

  it("kaiming with nonlinearity 'leakyRelu' and no `a` uses a = 0 (PyTorch's default), i.e. gain √2", async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const c of INIT.cases) {
      for (const e of c.entries.filter((en) => en.a === null)) {
        checked++;
        try {
          await checkInit(c.shape, e, entryName(c.shape, e));
        } catch (err) {
          problems.push(err instanceof Error ? err.message : String(err));
        }
      }
    }
    expect(checked, 'the fixture has entries without `a`').toBe(8);
    expect(problems).toEqual([]);
  });

  for (const l of INIT.linear) {
    it(`nn.Linear(${l.in}, ${l.out}) default init: weight in ±${l.weightBound.toFixed(6)}, bias in ±${l.biasBound.toFixed(6)}`, async () => {
      manualSeed(2024);
      const lin = new nn.Linear(l.in, l.out, { dtype: 'float64' });
      manualSeed(2024);
      const uw = rand([l.out, l.in], { dtype: 'float64' });
      const ub = rand([l.out], { dtype: 'float64' });
      const ew = (await values(uw)).map((v) => v * 2 * l.weightBound - l.weightBound);
      const eb = (await values(ub)).map((v) => v * 2 * l.biasBound - l.biasBound);
      assertClose('weight', await values(lin.weight), ew, [l.out, l.in], { atol: 1e-15, rtol: 1e-12 });
      assertClose('bias', await values(lin.bias!), eb, [l.out], { atol: 1e-15, rtol: 1e-12 });
      dispose([uw, ub]);
      lin.dispose();
    });
  }
});
