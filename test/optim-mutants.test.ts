/**
 * src/optim behaviour a user relies on, pinned exactly on the float64 CPU backend (closed forms and
 * PyTorch 1.13 semantics): lr = 0 accepted as PyTorch does, each optimizer's update rule, scheduler
 * closed forms at their edges, ReduceLROnPlateau's bookkeeping, clipping and penalties, and the
 * refusals with their messages. Written from the mutation-testing survivors (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import type { Tensor } from '../src/tensor.js';
import { optim, tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

const f64 = { dtype: 'float64' as const, device: 'cpu' as const };

/** A float64 CPU parameter with a gradient set directly. */
function param(values: number[], grad: number[]): Tensor {
  const p = tensor(values, f64).requiresGrad_(true);
  p.grad = tensor(grad, f64);
  return p;
}

async function vals(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

describe('lr = 0 (accepted, as PyTorch: only lr < 0 is an error)', () => {
  it('SGD with momentum keeps the parameters but builds its momentum buffer', async () => {
    const p = param([1, -2], [0.5, 3]);
    const opt = new optim.SGD([p], { lr: 0, momentum: 0.9 });
    expect(opt.lr).toBe(0);
    opt.step();
    expect(await vals(p)).toEqual([1, -2]);
    expect(await vals(opt.stateDict().tensors.get('0.momentum_buffer')!)).toEqual([0.5, 3]);
    opt.dispose();
    dispose([p.grad!, p]);
  });

  it('Adam and AdamW (with weight decay) keep the parameters and update their moments', async () => {
    for (const Ctor of [optim.Adam, optim.AdamW]) {
      const p = param([1, -2], [0.5, 3]);
      const opt = new Ctor([p], { lr: 0, weightDecay: 0.1 });
      opt.step();
      expect(await vals(p)).toEqual([1, -2]);
      const m = await vals(opt.stateDict().tensors.get('0.exp_avg')!);
      // Adam's L2 decay enters the gradient (g + 0.1·p); AdamW's decoupled one does not.
      const g = Ctor === optim.Adam ? [0.5 + 0.1, 3 - 0.2] : [0.5, 3];
      m.forEach((v, i) => expect(v).toBeCloseTo(0.1 * g[i]!, 14));
      opt.dispose();
      dispose([p.grad!, p]);
    }
  });

  it('a group may be frozen with lr = 0 while another trains', async () => {
    const a = param([1], [1]);
    const b = param([1], [1]);
    const opt = new optim.SGD([{ params: [a], lr: 0 }, { params: [b] }], { lr: 0.5 });
    opt.step();
    expect(await vals(a)).toEqual([1]);
    expect(await vals(b)).toEqual([0.5]);
    dispose([a.grad!, a, b.grad!, b]);
  });

  it('a negative lr is still refused, naming the optimizer and the group', () => {
    const p = param([1], [1]);
    const q = param([1], [1]);
    expectErrorSync(() => new optim.SGD([p], { lr: -1e-3 }), /SGD: lr must be a non-negative finite number, got -0\.001/);
    expectErrorSync(() => new optim.Adam([{ params: [p] }, { params: [q], lr: -1 }], {}), /Adam: group 1: lr must be a non-negative finite number, got -1/);
    dispose([p.grad!, p, q.grad!, q]);
  });
});

describe('clipGradValue', () => {
  it('clamps every gradient element to [-clipValue, clipValue] and skips parameters without a gradient', async () => {
    const a = param([0, 0, 0, 0], [-3, -0.5, 0.5, 3]);
    const b = param([0], [2]);
    const none = tensor([1], f64).requiresGrad_(true);
    optim.clipGradValue([a, b, none], 1);
    expect(await vals(a.grad!)).toEqual([-1, -0.5, 0.5, 1]);
    expect(await vals(b.grad!)).toEqual([1]);
    expect(none.grad).toBeNull();
    dispose([a.grad!, a, b.grad!, b, none]);
  });

  it('refuses a clipValue that is not a positive finite number', () => {
    const a = param([0], [1]);
    for (const v of [0, -1, Number.NaN, Infinity]) {
      expectErrorSync(() => optim.clipGradValue([a], v), new RegExp(`clipGradValue: clipValue must be a positive finite number, got ${v}`));
    }
    dispose([a.grad!, a]);
  });
});

describe('refusals name the class, the argument and what was expected', () => {
  it('optimizer constructors: params and per-group options', () => {
    const p = param([1], [1]);
    const q = param([1], [1]);
    const frozen = tensor([1], f64);
    const gone = tensor([1], f64).requiresGrad_(true);
    gone.dispose();
    const bad = (v: unknown) => v as never;
    expectErrorSync(() => new optim.SGD(bad(null), { lr: 0.1 }), /SGD: params must be an iterable of tensors or of parameter groups, got null/);
    expectErrorSync(() => new optim.SGD(bad(5), { lr: 0.1 }), /SGD: params must be an iterable of tensors or of parameter groups, got number/);
    expectErrorSync(() => new optim.SGD(bad([p, { params: [q] }]), { lr: 0.1 }), /SGD: params must be all tensors, or all parameter groups .*got a mix or something else/);
    expectErrorSync(() => new optim.SGD(bad([{ params: 3 }]), { lr: 0.1 }), /SGD: group 0: params must be an iterable of tensors/);
    expectErrorSync(() => new optim.SGD(bad([{ params: null }]), { lr: 0.1 }), /SGD: group 0: params must be an iterable of tensors/);
    expectErrorSync(() => new optim.SGD(bad([{ params: [p] }, { params: [[1]] }]), { lr: 0.1 }), /SGD: group 1, parameter 0 is not a Tensor \(got an array\)/);
    expectErrorSync(() => new optim.SGD(bad([{ params: [q, 'w'] }]), { lr: 0.1 }), /SGD: parameter 1 is not a Tensor \(got string\)/);
    expectErrorSync(() => new optim.SGD([gone], { lr: 0.1 }), /SGD: parameter 0 was disposed/);
    expectErrorSync(() => new optim.SGD([p, frozen], { lr: 0.1 }), /SGD: parameter 1 \(shape \[1\]\) does not require grad/);
    expectErrorSync(() => new optim.SGD([{ params: [p] }, { params: [q, p] }], { lr: 0.1 }), /SGD: group 1, parameter 1 is the same tensor as group 0, parameter 0; each parameter may appear only once/);
    expectErrorSync(() => new optim.SGD([{ params: [p], momentom: 0.9 } as never], { lr: 0.1 }), /SGD: group 0 has an unknown option 'momentom' \(known: lr, momentum, dampening, nesterov, weightDecay\)/);
    expectErrorSync(() => new optim.SGD(bad(undefined), bad(null)), /SGD: options \{ lr, \.\.\. \} are required/);
    expectErrorSync(() => new optim.SGD([p], { lr: 0.1, dampening: -0.5 }), /SGD: dampening must be a non-negative finite number, got -0\.5/);
    expectErrorSync(() => new optim.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: bad('yes') }), /SGD: nesterov must be a boolean, got string/);
    expectErrorSync(() => new optim.SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /SGD: nesterov momentum requires momentum > 0 and dampening = 0/);
    expectErrorSync(() => new optim.SGD([{ params: [p] }, { params: [q], momentum: -1 }], { lr: 0.1 }), /SGD: group 1: momentum must be a non-negative finite number, got -1/);
    expectErrorSync(() => new optim.Adam([p], bad(null)), /Adam: options must be an object/);
    expectErrorSync(() => new optim.AdamW([p], bad(7)), /AdamW: options must be an object/);
    expectErrorSync(() => new optim.Adam([p], { betas: bad([0.9]) }), /Adam: betas must be a pair \[beta1, beta2\], got \[0\.9\]/);
    expectErrorSync(() => new optim.Adam([p], { betas: bad('0.9') }), /Adam: betas must be a pair \[beta1, beta2\], got "0\.9"/);
    expectErrorSync(() => new optim.Adam([p], { betas: bad([0.9, '0.99']) }), /Adam: betas\[1\] must be in \[0, 1\), got 0\.99/);
    expectErrorSync(() => new optim.Adam([p], { betas: [-0.1, 0.99] }), /Adam: betas\[0\] must be in \[0, 1\), got -0\.1/);
    expectErrorSync(() => new optim.AdamW([p], { weightDecay: -0.01 }), /AdamW: weightDecay must be a non-negative finite number, got -0\.01/);
    expectErrorSync(() => new optim.AdamW([p], { eps: Infinity }), /AdamW: eps must be a positive finite number, got Infinity/);
    expectErrorSync(() => new optim.Adam([p], { amsgrad: bad(1) }), /Adam: amsgrad must be a boolean, got number/);
    dispose([p.grad!, p, q.grad!, q, frozen]);
  });

  it('betas at the edges of [0, 1) and a zero weight decay are accepted', () => {
    const p = param([1], [1]);
    expect(() => new optim.Adam([p], { betas: [0, 0], weightDecay: 0 }).dispose()).not.toThrow();
    expect(() => new optim.SGD([p], { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0 }).dispose()).not.toThrow();
    dispose([p.grad!, p]);
  });
});

describe('defaults are PyTorch\'s', () => {
  it('Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay, no amsgrad; AdamW: weight decay 0.01', () => {
    const p = param([1], [1]);
    const adam = new optim.Adam([p]);
    const { params: _a, ...ha } = adam.paramGroups[0]!;
    expect(ha).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false });
    const adamw = new optim.AdamW([p]);
    expect(adamw.paramGroups[0]!.weightDecay).toBe(0.01);
    expect(adamw.name).toBe('AdamW');
    const sgd = new optim.SGD([p], { lr: 0.1 });
    const { params: _s, ...hs } = sgd.paramGroups[0]!;
    expect(hs).toEqual({ lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
    for (const o of [adam, adamw, sgd]) o.dispose();
    dispose([p.grad!, p]);
  });

  it('betas passed in are copied, so cycling beta1 does not write into the caller\'s array', () => {
    const p = param([1], [1]);
    const betas: [number, number] = [0.8, 0.9];
    const adam = new optim.Adam([p], { betas });
    adam.paramGroups[0]!.betas[0] = 0.5;
    expect(betas).toEqual([0.8, 0.9]);
    adam.dispose();
    dispose([p.grad!, p]);
  });
});

/** A one-parameter SGD (lr 1) for scheduler tests; `groups` parameter groups with lrs 1, 2, ... */
function sgd(groups = 1): { opt: optim.SGD; free: () => void } {
  const ps = Array.from({ length: groups }, () => param([0], [0]));
  const opt = new optim.SGD(ps.map((p, i) => ({ params: [p], lr: i + 1 })), { lr: 1 });
  return { opt, free: () => dispose(ps.flatMap((p) => [p.grad!, p])) };
}

/** The first group's lr at epochs 0..n (constructing applies epoch 0, each step() the next). */
function lrs(s: { step(): void }, opt: optim.Optimizer, n: number): number[] {
  const out = [opt.lr];
  for (let i = 0; i < n; i++) {
    s.step();
    out.push(opt.lr);
  }
  return out;
}

function close(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v, `epoch ${i}`).toBeCloseTo(expected[i]!, 12));
}

describe('schedulers: closed forms at their edges', () => {
  it('StepLR: base·gamma^floor(epoch/stepSize); default gamma 0.1', () => {
    const { opt, free } = sgd();
    const s = new optim.StepLR(opt, 2, 0.5);
    expect(s.baseLr).toBe(1);
    close(lrs(s, opt, 5), [1, 1, 0.5, 0.5, 0.25, 0.25]);
    expect(s.lastEpoch).toBe(5);
    expect(s.getLastLr()).toEqual([0.25]);
    const { opt: o2, free: f2 } = sgd();
    close(lrs(new optim.StepLR(o2, 1), o2, 2), [1, 0.1, 0.01]);
    free();
    f2();
  });

  it('CosineAnnealingLR: etaMin + (base − etaMin)(1 + cos(π·epoch/tMax))/2, default etaMin 0', () => {
    const { opt, free } = sgd();
    const s = new optim.CosineAnnealingLR(opt, 4, 0.2);
    const want = [0, 1, 2, 3, 4].map((e) => 0.2 + (0.8 * (1 + Math.cos((Math.PI * e) / 4))) / 2);
    close(lrs(s, opt, 4), want);
    expect(opt.lr).toBeCloseTo(0.2, 14);
    const { opt: o2, free: f2 } = sgd();
    close(lrs(new optim.CosineAnnealingLR(o2, 2), o2, 2), [1, 0.5, 0]);
    free();
    f2();
  });

  it('LinearLR: from startFactor to endFactor over totalIters, then constant; defaults 1/3, 1, 5', () => {
    const { opt, free } = sgd();
    close(lrs(new optim.LinearLR(opt, { startFactor: 0.5, endFactor: 0.1, totalIters: 2 }), opt, 4), [0.5, 0.3, 0.1, 0.1, 0.1]);
    const { opt: o2, free: f2 } = sgd();
    close(lrs(new optim.LinearLR(o2), o2, 6), [1 / 3, 1 / 3 + (2 / 3) / 5, 1 / 3 + (4 / 3) / 5, 1 / 3 + 2 / 5, 1 / 3 + (8 / 3) / 5, 1, 1]);
    free();
    f2();
  });

  it('LambdaLR: one function for all groups, or one per group, each from its own base lr', () => {
    const { opt, free } = sgd(2);
    const s = new optim.LambdaLR(opt, [(e) => 1 / (e + 1), (e) => e + 1]);
    s.step();
    s.step();
    expect(s.getLastLr()).toEqual([1 / 3, 6]);
    expect(s.baseLrs).toEqual([1, 2]);
    const { opt: o2, free: f2 } = sgd(2);
    const s2 = new optim.LambdaLR(o2, (e) => 0.5 ** e);
    s2.step();
    expect(s2.getLastLr()).toEqual([0.5, 1]);
    free();
    f2();
  });

  it('a second scheduler starts from the initial lr the first recorded, not the current one', () => {
    const { opt, free } = sgd();
    const a = new optim.StepLR(opt, 1, 0.5);
    a.step();
    expect(opt.lr).toBe(0.5);
    const b = new optim.StepLR(opt, 10, 0.5);
    expect(b.baseLr).toBe(1);
    expect(opt.paramGroups[0]!.initialLr).toBe(1);
    free();
  });

  it('SequentialLR switches at each milestone and restarts the next scheduler at its epoch 0', () => {
    const { opt, free } = sgd();
    const warm = new optim.LinearLR(opt, { startFactor: 0.25, totalIters: 2 });
    const decay = new optim.StepLR(opt, 1, 0.5);
    const flat = new optim.LambdaLR(opt, () => 0.1);
    const s = new optim.SequentialLR(opt, [warm, decay, flat], [3, 5]);
    close(lrs(s, opt, 6), [0.25, 0.625, 1, 1, 0.5, 0.1, 0.1]);
    free();
  });

  it('refusals', () => {
    const { opt, free } = sgd();
    const { opt: other, free: f2 } = sgd();
    const bad = (v: unknown) => v as never;
    expectErrorSync(() => new optim.StepLR(bad(null), 1), /StepLR: expected an optimizer, got null/);
    expectErrorSync(() => new optim.CosineAnnealingLR(bad({}), 1), /CosineAnnealingLR: expected an optimizer, got object/);
    expectErrorSync(() => new optim.StepLR(opt, 0), /StepLR: stepSize must be a positive integer, got 0/);
    expectErrorSync(() => new optim.StepLR(opt, 1.5), /StepLR: stepSize must be a positive integer, got 1\.5/);
    expectErrorSync(() => new optim.StepLR(opt, 1, 0), /StepLR: gamma must be positive, got 0/);
    expectErrorSync(() => new optim.CosineAnnealingLR(opt, 0), /CosineAnnealingLR: tMax must be a positive integer, got 0/);
    expectErrorSync(() => new optim.CosineAnnealingLR(opt, 3, -0.1), /CosineAnnealingLR: etaMin must be non-negative, got -0\.1/);
    expectErrorSync(() => new optim.LinearLR(opt, { startFactor: 0 }), /LinearLR: startFactor must be in \(0, 1\], got 0/);
    expectErrorSync(() => new optim.LinearLR(opt, { startFactor: 1.5 }), /LinearLR: startFactor must be in \(0, 1\], got 1\.5/);
    expectErrorSync(() => new optim.LinearLR(opt, { endFactor: -0.5 }), /LinearLR: endFactor must be in \[0, 1\], got -0\.5/);
    expectErrorSync(() => new optim.LinearLR(opt, { endFactor: 1.1 }), /LinearLR: endFactor must be in \[0, 1\], got 1\.1/);
    expectErrorSync(() => new optim.LinearLR(opt, { totalIters: 0 }), /LinearLR: totalIters must be a positive integer, got 0/);
    expectErrorSync(() => new optim.LambdaLR(opt, bad(2)), /LambdaLR: lrLambda must be a function or an array of functions, got number/);
    expectErrorSync(() => new optim.LambdaLR(opt, [() => 1, () => 1]), /LambdaLR: expected 1 functions \(one per parameter group\), got 2/);
    expectErrorSync(() => new optim.LambdaLR(opt, bad([1])), /LambdaLR: expected 1 functions \(one per parameter group\), got 1/);
    expectErrorSync(() => new optim.LambdaLR(opt, () => Number.NaN), /LambdaLR\.step: epoch 0 gives group 0 an lr of NaN \(expected a finite number\)/);
    const late = new optim.LambdaLR(opt, (e) => (e < 1 ? 1 : Infinity));
    const before = opt.lr;
    expectErrorSync(() => late.step(), /LambdaLR\.step: epoch 1 gives group 0 an lr of Infinity/);
    expect(opt.lr).toBe(before);
    expect(late.lastEpoch).toBe(0);
    const a = new optim.StepLR(opt, 1);
    const b = new optim.StepLR(opt, 1);
    expectErrorSync(() => new optim.SequentialLR(opt, [], []), /SequentialLR: schedulers must be a non-empty array of LRSchedulers/);
    expectErrorSync(() => new optim.SequentialLR(opt, bad([a, {}]), [1]), /SequentialLR: schedulers must be a non-empty array of LRSchedulers/);
    expectErrorSync(() => new optim.SequentialLR(opt, [a, new optim.StepLR(other, 1)], [1]), /SequentialLR: every scheduler must belong to the same optimizer/);
    const inner = new optim.SequentialLR(opt, [a, b], [1]);
    expectErrorSync(() => new optim.SequentialLR(opt, [a, inner], [1]), /SequentialLR: a SequentialLR cannot contain another/);
    expectErrorSync(() => new optim.SequentialLR(opt, [a, b], []), /SequentialLR: expected 1 milestone\(s\) for 2 schedulers, got 0/);
    expectErrorSync(() => new optim.SequentialLR(opt, [a, b], bad(3)), /SequentialLR: expected 1 milestone\(s\) for 2 schedulers, got number/);
    expectErrorSync(() => new optim.SequentialLR(opt, [a, b], [0]), /SequentialLR: milestones must be increasing positive integers, got \[0\]/);
    expectErrorSync(() => new optim.SequentialLR(opt, [a, b, a], [2, 2]), /SequentialLR: milestones must be increasing positive integers, got \[2, 2\]/);
    expectErrorSync(() => new optim.SequentialLR(opt, [a, b], [1.5]), /milestones must be increasing positive integers/);
    free();
    f2();
  });
});

describe('ReduceLROnPlateau (torch 1.13 semantics)', () => {
  it('defaults: min mode, factor 0.1, patience 10, rel threshold 1e-4, no cooldown, minLr 0, eps 1e-8', () => {
    const { opt, free } = sgd();
    const s = new optim.ReduceLROnPlateau(opt);
    expect([s.mode, s.factor, s.patience, s.threshold, s.thresholdMode, s.cooldown, s.minLrs, s.eps]).toEqual(['min', 0.1, 10, 1e-4, 'rel', 0, [0], 1e-8]);
    expect(s.best).toBe(Infinity);
    for (let i = 0; i < 11; i++) s.step(1);
    expect(opt.lr).toBe(1); // 1 improvement, then 10 bad epochs = patience: not yet
    s.step(1);
    expect(opt.lr).toBeCloseTo(0.1, 15);
    expect(s.lastEpoch).toBe(12);
    expect(s.getLastLr()).toEqual([opt.lr]);
    free();
  });

  it('min/rel: an improvement must beat best·(1 − threshold); equal to it is a bad epoch', () => {
    const { opt, free } = sgd();
    const s = new optim.ReduceLROnPlateau(opt, { patience: 0, threshold: 0.1, factor: 0.5 });
    s.step(10);
    s.step(9.5); // not < 9: bad, patience 0 → reduce
    expect(opt.lr).toBe(0.5);
    expect(s.best).toBe(10);
    s.step(8.9); // < 9: improvement
    expect(s.best).toBe(8.9);
    expect(s.numBadEpochs).toBe(0);
    expect(opt.lr).toBe(0.5);
    free();
  });

  it('min/abs: an improvement must beat best − threshold', () => {
    const { opt, free } = sgd();
    const s = new optim.ReduceLROnPlateau(opt, { patience: 0, threshold: 1, thresholdMode: 'abs', factor: 0.5 });
    s.step(10);
    s.step(9); // not < 9
    expect(opt.lr).toBe(0.5);
    s.step(7.9);
    expect(s.best).toBe(7.9);
    expect(opt.lr).toBe(0.5);
    free();
  });

  it('max/rel and max/abs: higher is better, by best·(1 + threshold) or best + threshold', () => {
    const { opt, free } = sgd();
    const rel = new optim.ReduceLROnPlateau(opt, { mode: 'max', patience: 0, threshold: 0.1, factor: 0.5 });
    expect(rel.best).toBe(-Infinity);
    rel.step(10);
    rel.step(11); // not > 11
    expect(opt.lr).toBe(0.5);
    rel.step(11.5);
    expect(rel.best).toBe(11.5);
    const { opt: o2, free: f2 } = sgd();
    const abs = new optim.ReduceLROnPlateau(o2, { mode: 'max', patience: 0, threshold: 1, thresholdMode: 'abs', factor: 0.5 });
    abs.step(10);
    abs.step(11);
    expect(o2.lr).toBe(0.5);
    abs.step(12.5);
    expect(abs.best).toBe(12.5);
    expect(o2.lr).toBe(0.5);
    free();
    f2();
  });

  it('cooldown: after a reduction, that many epochs do not count as bad', () => {
    const { opt, free } = sgd();
    const s = new optim.ReduceLROnPlateau(opt, { patience: 0, cooldown: 2, factor: 0.5 });
    s.step(1);
    s.step(1);
    expect(opt.lr).toBe(0.5);
    expect(s.cooldownCounter).toBe(2);
    s.step(1);
    s.step(1);
    expect(opt.lr).toBe(0.5);
    expect(s.cooldownCounter).toBe(0);
    s.step(1);
    expect(opt.lr).toBe(0.25);
    free();
  });

  it('minLr per group bounds the lr; a reduction not larger than eps is skipped', () => {
    const { opt, free } = sgd(2);
    const s = new optim.ReduceLROnPlateau(opt, { patience: 0, factor: 0.1, minLr: [0.5, 0] });
    s.step(1);
    s.step(1);
    expect(s.getLastLr()).toEqual([0.5, 0.2]);
    const { opt: o2, free: f2 } = sgd();
    const e = new optim.ReduceLROnPlateau(o2, { patience: 0, factor: 0.5, eps: 0.5 });
    e.step(1);
    e.step(1); // 1 − 0.5 = 0.5, not > eps: skipped
    expect(o2.lr).toBe(1);
    const { opt: o3, free: f3 } = sgd();
    const e3 = new optim.ReduceLROnPlateau(o3, { patience: 0, factor: 0.4, eps: 0.5 });
    e3.step(1);
    e3.step(1); // 1 − 0.4 = 0.6 > eps: applied
    expect(o3.lr).toBe(0.4);
    free();
    f2();
    f3();
  });

  it('refusals', () => {
    const { opt, free } = sgd();
    const bad = (v: unknown) => v as never;
    expectErrorSync(() => new optim.ReduceLROnPlateau(bad(undefined)), /ReduceLROnPlateau: expected an optimizer, got undefined/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { mode: bad('least') }), /ReduceLROnPlateau: mode must be 'min' or 'max', got "least"/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { thresholdMode: bad('pct') }), /ReduceLROnPlateau: thresholdMode must be 'rel' or 'abs', got "pct"/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { factor: 1 }), /ReduceLROnPlateau: factor must be in \[0, 1\), got 1/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { factor: -0.1 }), /ReduceLROnPlateau: factor must be in \[0, 1\), got -0\.1/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { patience: -1 }), /ReduceLROnPlateau: patience must be a non-negative integer, got -1/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { cooldown: 0.5 }), /ReduceLROnPlateau: cooldown must be a non-negative integer, got 0\.5/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { threshold: -1 }), /ReduceLROnPlateau: threshold and eps must be non-negative, got -1 and 1e-8/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { eps: -1 }), /ReduceLROnPlateau: threshold and eps must be non-negative, got 0\.0001 and -1/);
    expectErrorSync(() => new optim.ReduceLROnPlateau(opt, { minLr: [0, 0] }), /ReduceLROnPlateau: minLr has 2 values but the optimizer has 1 parameter groups/);
    const s = new optim.ReduceLROnPlateau(opt, { factor: 0, patience: 0, cooldown: 0, threshold: 0, eps: 0 });
    expectErrorSync(() => s.step(bad('0.5')), /ReduceLROnPlateau\.step: metric must be a number \(read a tensor with await t\.item\(\)\), got string/);
    expect(s.lastEpoch).toBe(0);
    free();
  });
});

describe('OneCycleLR refusals', () => {
  it('names each bad option', () => {
    const { opt, free } = sgd();
    const p = param([0], [0]);
    const adam = new optim.Adam([p]);
    const bad = (v: unknown) => v as never;
    const T = { totalSteps: 10 };
    expectErrorSync(() => new optim.OneCycleLR(bad(null), 1, T), /OneCycleLR: expected an optimizer, got null/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, divFactor: 0 }), /OneCycleLR: divFactor and finalDivFactor must be positive, got 0 and 10000/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, finalDivFactor: -1 }), /OneCycleLR: divFactor and finalDivFactor must be positive, got 25 and -1/);
    expectErrorSync(() => new optim.OneCycleLR(opt, [1, 2], T), /OneCycleLR: maxLr has 2 values but the optimizer has 1 parameter groups/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 0, T), /OneCycleLR: maxLr of group 0 must be a positive finite number, got 0/);
    expectErrorSync(() => new optim.OneCycleLR(opt, Infinity, T), /OneCycleLR: maxLr of group 0 must be a positive finite number, got Infinity/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { totalSteps: 0 }), /OneCycleLR: totalSteps must be a positive integer, got 0/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { epochs: 0, stepsPerEpoch: 2 }), /OneCycleLR: epochs must be a positive integer, got 0/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { epochs: 2, stepsPerEpoch: -2 }), /OneCycleLR: stepsPerEpoch must be a positive integer, got -2/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { epochs: 2 }), /OneCycleLR: give totalSteps, or epochs and stepsPerEpoch/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, pctStart: 1.5 }), /OneCycleLR: pctStart must be in \[0, 1\], got 1\.5/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, pctStart: -0.1 }), /OneCycleLR: pctStart must be in \[0, 1\], got -0\.1/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, annealStrategy: bad('exp') }), /OneCycleLR: annealStrategy must be 'cos' or 'linear', got "exp"/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, baseMomentum: 0.9, maxMomentum: 0.8 }), /OneCycleLR: momentum bounds must satisfy 0 ≤ baseMomentum ≤ maxMomentum < 1, got 0\.9 and 0\.8/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, maxMomentum: 1 }), /momentum bounds must satisfy .* got 0\.85 and 1/);
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { ...T, baseMomentum: -0.1 }), /momentum bounds must satisfy .* got -0\.1 and 0\.95/);
    expect(opt.paramGroups[0]!.initialLr).toBeUndefined();
    expect(() => new optim.OneCycleLR(adam, 1, { ...T, baseMomentum: 0.9, maxMomentum: 0.9 })).not.toThrow();
    expect(adam.paramGroups[0]!.betas[0]).toBe(0.9);
    adam.dispose();
    dispose([p.grad!, p]);
    free();
  });

  it('epochs × stepsPerEpoch gives totalSteps; a step past it is refused', () => {
    const { opt, free } = sgd();
    const s = new optim.OneCycleLR(opt, 1, { epochs: 2, stepsPerEpoch: 3, cycleMomentum: false });
    expect(s.totalSteps).toBe(6);
    expect(opt.lr).toBeCloseTo(1 / 25, 15);
    expect(opt.paramGroups[0]!.momentum).toBe(0);
    for (let i = 0; i < 6; i++) s.step();
    expectErrorSync(() => s.step(), /OneCycleLR\.step: tried to step 7 times, but totalSteps is 6/);
    free();
  });
});

describe('clipGradNorm and penalties: refusals', () => {
  it('clipGradNorm', () => {
    const a = param([0], [1]);
    const empty = tensor([], f64).requiresGrad_(true);
    empty.grad = tensor([], f64);
    const none = tensor([1], f64).requiresGrad_(true);
    expectErrorSync(() => optim.clipGradNorm([a], 0), /clipGradNorm: maxNorm must be a positive finite number, got 0/);
    expectErrorSync(() => optim.clipGradNorm([a], 1, { normType: 3 }), /clipGradNorm: normType must be 1, 2 or Infinity, got 3/);
    expectErrorSync(() => optim.clipGradNorm([none], 1), /clipGradNorm: no parameter has a gradient; call backward\(\) first/);
    expectErrorSync(() => optim.clipGradNorm([empty], 1), /clipGradNorm: every gradient is empty/);
    dispose([a.grad!, a, empty.grad!, empty, none]);
  });

  it('clipGradNorm skips empty gradients and leaves gradients under the bound bit for bit', async () => {
    const a = param([0, 0], [0.3, 0.4]);
    const empty = tensor([], f64).requiresGrad_(true);
    empty.grad = tensor([], f64);
    for (const normType of [1, 2, Infinity]) {
      const n = optim.clipGradNorm([a, empty], 10, { normType });
      expect(await n.item()).toBeCloseTo(normType === 1 ? 0.7 : normType === 2 ? 0.5 : 0.4, 14);
      n.dispose();
      expect(await vals(a.grad!)).toEqual([0.3, 0.4]);
    }
    const n = optim.clipGradNorm([a], 0.25);
    expect(await n.item()).toBeCloseTo(0.5, 14);
    const g = await vals(a.grad!);
    expect(g[0]!).toBeCloseTo(0.15, 6);
    expect(g[1]!).toBeCloseTo(0.2, 6);
    dispose([n, a.grad!, a, empty.grad!, empty]);
  });

  it('l1Penalty and l2Penalty', async () => {
    const a = tensor([1, -2], f64).requiresGrad_(true);
    const b = tensor([3], f64).requiresGrad_(true);
    const l1 = optim.l1Penalty([a, b], 0.5);
    const l2 = optim.l2Penalty([a, b], 0.5);
    expect(await l1.item()).toBe(3);
    expect(await l2.item()).toBe(7);
    expectErrorSync(() => optim.l1Penalty([a], -1), /l1Penalty: strength must be a non-negative finite number, got -1/);
    expectErrorSync(() => optim.l2Penalty([], 1), /l2Penalty: got an empty parameter list/);
    dispose([l1, l2, a, b]);
  });
});

/** torch.optim.SGD's update (1.13, _single_tensor_sgd) on plain numbers, for two steps. */
function sgdRef(p: number[], grads: number[][], o: { lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number }): number[] {
  let buf: number[] | null = null;
  for (const g of grads) {
    const d = p.map((w, i) => g[i]! + o.weightDecay * w);
    let step = d;
    if (o.momentum !== 0) {
      buf = buf === null ? [...d] : buf.map((b, i) => o.momentum * b + (1 - o.dampening) * d[i]!);
      step = o.nesterov ? d.map((x, i) => x + o.momentum * buf![i]!) : buf;
    }
    p = p.map((w, i) => w - o.lr * step[i]!);
  }
  return p;
}

/** torch.optim.Adam / AdamW (1.13, _single_tensor_adam(w)) on plain numbers. */
function adamRef(p: number[], grads: number[][], o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean; amsgrad: boolean }): number[] {
  let m = p.map(() => 0);
  let v = p.map(() => 0);
  let vmax = p.map(() => 0);
  grads.forEach((g0, k) => {
    const t = k + 1;
    if (o.decoupled) p = p.map((w) => w * (1 - o.lr * o.wd));
    const g = o.decoupled ? g0 : g0.map((x, i) => x + o.wd * p[i]!);
    m = m.map((x, i) => o.b1 * x + (1 - o.b1) * g[i]!);
    v = v.map((x, i) => o.b2 * x + (1 - o.b2) * g[i]! * g[i]!);
    vmax = vmax.map((x, i) => Math.max(x, v[i]!));
    const bc1 = 1 - o.b1 ** t;
    const bc2 = 1 - o.b2 ** t;
    const vv = o.amsgrad ? vmax : v;
    p = p.map((w, i) => w - (o.lr / bc1) * (m[i]! / (Math.sqrt(vv[i]!) / Math.sqrt(bc2) + o.eps)));
  });
  return p;
}

async function run(opt: optim.Optimizer, p: Tensor, grads: number[][]): Promise<number[]> {
  for (const g of grads) {
    p.grad?.dispose();
    p.grad = tensor(g, f64);
    opt.step();
  }
  return vals(p);
}

describe('update rules against PyTorch\'s, three steps in float64', () => {
  const start = [0.5, -1.5, 2];
  const grads = [[0.1, -0.4, 0.3], [-0.2, 0.5, 0.05], [0.3, 0.1, -0.6]];
  const sgdCases = [
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.1, momentum: 0.9, dampening: 0.3, nesterov: false, weightDecay: 0.05 },
    { lr: 0.2, momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 0.01 },
  ];
  for (const o of sgdCases) {
    it(`SGD ${JSON.stringify(o)}`, async () => {
      const p = tensor(start, f64).requiresGrad_(true);
      const opt = new optim.SGD([p], o);
      const got = await run(opt, p, grads);
      const want = sgdRef(start, grads, o);
      got.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 13));
      opt.dispose();
      dispose([p.grad!, p]);
    });
  }
  const adamCases = [
    { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false, amsgrad: false },
    { lr: 0.05, b1: 0.8, b2: 0.9, eps: 1e-3, wd: 0.1, decoupled: false, amsgrad: false },
    { lr: 0.05, b1: 0.8, b2: 0.9, eps: 1e-3, wd: 0.1, decoupled: true, amsgrad: false },
    { lr: 0.05, b1: 0.7, b2: 0.5, eps: 1e-3, wd: 0.1, decoupled: false, amsgrad: true },
    { lr: 0.05, b1: 0.7, b2: 0.5, eps: 1e-3, wd: 0.1, decoupled: true, amsgrad: true },
  ];
  for (const o of adamCases) {
    it(`${o.decoupled ? 'AdamW' : 'Adam'} ${JSON.stringify(o)}`, async () => {
      const p = tensor(start, f64).requiresGrad_(true);
      const Ctor = o.decoupled ? optim.AdamW : optim.Adam;
      const opt = new Ctor([p], { lr: o.lr, betas: [o.b1, o.b2], eps: o.eps, weightDecay: o.wd, amsgrad: o.amsgrad });
      const got = await run(opt, p, grads);
      const want = adamRef(start, grads, o);
      got.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 13));
      opt.dispose();
      dispose([p.grad!, p]);
    });
  }

  it('a parameter without a gradient is skipped and its own step count (bias correction) does not advance', async () => {
    const a = tensor([1], f64).requiresGrad_(true);
    const b = tensor([1], f64).requiresGrad_(true);
    const opt = new optim.Adam([a, b], { lr: 0.1 });
    a.grad = tensor([0.5], f64);
    opt.step();
    expect(await vals(b)).toEqual([1]);
    b.grad = tensor([0.5], f64);
    opt.step();
    const s = opt.stateDict();
    expect(s.step).toBe(2);
    expect(s.paramSteps).toEqual([2, 1]);
    // b's first update uses bias correction for step 1: a full lr-sized move.
    expect((await vals(b))[0]!).toBeCloseTo(adamRef([1], [[0.5]], { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0, decoupled: false, amsgrad: false })[0]!, 13);
    expect([...s.tensors.keys()].sort()).toEqual(['0.exp_avg', '0.exp_avg_sq', '1.exp_avg', '1.exp_avg_sq']);
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    expect(b.grad).toBeNull();
    opt.dispose();
    dispose([a, b]);
  });

  it('setting lr sets every group\'s; stateDict lists every group\'s hyperparameters', () => {
    const { opt, free } = sgd(2);
    expect(opt.lr).toBe(1);
    opt.lr = 0.3;
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.3, 0.3]);
    const s = opt.stateDict();
    expect(s.lr).toBe(0.3);
    expect(s.paramGroups).toEqual([
      { lr: 0.3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
      { lr: 0.3, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    ]);
    free();
  });
});

describe('more edges from the mutation survivors', () => {
  const bad = (v: unknown) => v as never;

  it('params: odd containers are refused with a WebgradError, a single tensor as a group\'s params and initialLr are accepted', async () => {
    const p = param([1], [1]);
    const q = param([1], [1]);
    expectErrorSync(() => new optim.SGD(bad({}), { lr: 0.1 }), /SGD: params must be an iterable of tensors or of parameter groups, got object/);
    expectErrorSync(() => new optim.SGD(bad([null]), { lr: 0.1 }), /SGD: params must be all tensors, or all parameter groups/);
    expectErrorSync(() => new optim.SGD(bad([5]), { lr: 0.1 }), /SGD: params must be all tensors, or all parameter groups/);
    expectErrorSync(() => new optim.SGD(bad([{ lr: 1 }]), { lr: 0.1 }), /SGD: params must be all tensors, or all parameter groups/);
    expectErrorSync(() => new optim.SGD(bad([{ params: {} }]), { lr: 0.1 }), /SGD: group 0: params must be an iterable of tensors/);
    const opt = new optim.SGD(bad([{ params: p }, { params: new Set([q]), initialLr: 0.5 }]), { lr: 1 });
    expect(opt.params).toEqual([p, q]);
    expect(opt.paramGroups[1]!.initialLr).toBe(0.5);
    // A scheduler starts from a group's initialLr when one is given.
    expect(new optim.StepLR(opt, 1).baseLrs).toEqual([1, 0.5]);
    opt.step();
    expect(await vals(p)).toEqual([0]);
    dispose([p.grad!, p, q.grad!, q]);
  });

  it('SGD without momentum keeps no momentum buffer (PyTorch keeps None)', () => {
    const p = param([1], [1]);
    const opt = new optim.SGD([p], { lr: 0.1 });
    opt.step();
    expect([...opt.stateDict().tensors.keys()]).toEqual([]);
    dispose([p.grad!, p]);
  });

  it('a step marks printed values stale (the optimizer writes in place), and a disposed parameter is named', async () => {
    for (const make of [(t: Tensor) => new optim.SGD([t], { lr: 1 }), (t: Tensor) => new optim.Adam([t], { lr: 1 })]) {
      const p = param([1.25], [1]);
      const opt = make(p);
      await p.data();
      expect(String(p)).toContain('1.25');
      opt.step();
      expect(String(p)).not.toContain('1.25');
      p.dispose();
      p.grad = tensor([1], f64);
      expectErrorSync(() => opt.step(), new RegExp(`^${opt.name}\\.step: parameter 0 \\(shape \\[1\\]\\) was disposed; a parameter must outlive its optimizer$`));
      p.grad.dispose();
      opt.dispose();
    }
  });

  it('clipGradNorm on float64 keeps float64\'s range: norms of 1e300 and 1e-300 are exact', async () => {
    const big = param([0, 0], [3e300, 4e300]);
    const n = optim.clipGradNorm([big], 1);
    expect((await n.item()) / 5e300).toBeCloseTo(1, 12);
    const got = await vals(big.grad!);
    expect(got[0]! / 0.6).toBeCloseTo(1, 10);
    expect(got[1]! / 0.8).toBeCloseTo(1, 10);
    const tiny = param([0, 0], [3e-300, 4e-300]);
    const m = optim.clipGradNorm([tiny], 1);
    expect((await m.item()) / 5e-300).toBeCloseTo(1, 12);
    expect(await vals(tiny.grad!)).toEqual([3e-300, 4e-300]);
    dispose([n, m, big.grad!, big, tiny.grad!, tiny]);
  });

  it('clipGradNorm errorIfNonfinite on the CPU throws at the call with the gradients unchanged', async () => {
    const a = param([0, 0], [Infinity, 1]);
    expectErrorSync(() => optim.clipGradNorm([a], 1, { errorIfNonfinite: true }), (() => {
      const msg = 'clipGradNorm: the total norm of order 2 of the gradients is Infinity, so it cannot be clipped (errorIfNonfinite). To scale the gradients by the non-finite norm anyway, leave errorIfNonfinite false';
      return new RegExp(`^${msg.replace(/[().]/g, '\\$&')}$`);
    })());
    expect(await vals(a.grad!)).toEqual([Infinity, 1]);
    dispose([a.grad!, a]);
  });

  it('OneCycleLR: pctStart 0 and 1, finalDivFactor 0 refused, baseMomentum 0, bounds unchecked without cycling, initialLr = maxLr/divFactor', () => {
    const { opt, free } = sgd();
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { totalSteps: 10, finalDivFactor: 0 }), /OneCycleLR: divFactor and finalDivFactor must be positive, got 25 and 0/);
    const z = new optim.OneCycleLR(opt, 1, { totalSteps: 4, pctStart: 0, annealStrategy: 'linear' });
    // pctStart 0: the (empty) first phase ends at step −1, so step 0 is 1/4 into the decay from max.
    const min = 1 / 25 / 1e4;
    expect(opt.lr).toBeCloseTo((min - 1) * 0.25 + 1, 14);
    expect(z.totalSteps).toBe(4);
    new optim.OneCycleLR(opt, 1, { totalSteps: 4, pctStart: 1 });
    expect(opt.lr).toBeCloseTo(1 / 25, 14);
    new optim.OneCycleLR(opt, 2, { totalSteps: 4, baseMomentum: 0, maxMomentum: 0.5, divFactor: 4 });
    expect(opt.paramGroups[0]!.initialLr).toBe(0.5);
    expect(opt.paramGroups[0]!.momentum).toBe(0.5);
    expect(() => new optim.OneCycleLR(opt, 1, { totalSteps: 4, cycleMomentum: false, baseMomentum: 0.99, maxMomentum: 0.5 })).not.toThrow();
    free();
  });

  it('OneCycleLR refuses to cycle momentum on an optimizer that has neither momentum nor betas', () => {
    class Frozen extends optim.Optimizer {
      protected readonly stateNames = [] as const;
      protected update(): void {}
    }
    const p = param([1], [1]);
    const opt = new Frozen([p], { lr: 1 }, 'Frozen');
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { totalSteps: 4 }), /OneCycleLR: cycleMomentum is on but the optimizer has neither momentum nor betas; pass cycleMomentum: false/);
    expect(() => new optim.OneCycleLR(opt, 1, { totalSteps: 4, cycleMomentum: false })).not.toThrow();
    dispose([p.grad!, p]);
  });

  it('each scheduler names itself when given no optimizer', () => {
    expectErrorSync(() => new optim.LinearLR(bad(null)), /^LinearLR: expected an optimizer, got null$/);
    expectErrorSync(() => new optim.LambdaLR(bad(1), () => 1), /^LambdaLR: expected an optimizer, got number$/);
    expectErrorSync(() => new optim.SequentialLR(bad(null), [], []), /^SequentialLR: expected an optimizer, got null$/);
    expectErrorSync(() => new optim.OneCycleLR(bad('sgd'), 1, { totalSteps: 1 }), /^OneCycleLR: expected an optimizer, got string$/);
  });
});

describe('loadStateDict: what it accepts and what it refuses', () => {
  const bad = (v: unknown) => v as never;

  it('restores step, per-parameter steps and group hyperparameters; step 0 and paramSteps of 0 are valid', () => {
    const p = param([1], [1]);
    const q = param([1], [1]);
    const opt = new optim.Adam([{ params: [p] }, { params: [q], lr: 0.5 }]);
    opt.loadStateDict({ step: 3, lr: 0.1, paramSteps: [3, 0], tensors: new Map(), paramGroups: [{ lr: 0.2, initialLr: 0.4 }, { betas: [0.5, 0.6] }] });
    const s = opt.stateDict();
    expect(s.step).toBe(3);
    expect(s.paramSteps).toEqual([3, 0]);
    expect(opt.paramGroups[0]!.lr).toBe(0.2);
    expect(opt.paramGroups[0]!.initialLr).toBe(0.4);
    expect(opt.paramGroups[1]!.betas).toEqual([0.5, 0.6]);
    expect(opt.paramGroups[1]!.lr).toBe(0.5);
    opt.loadStateDict({ step: 0, lr: 0, tensors: new Map() });
    expect(opt.stateDict().paramSteps).toEqual([0, 0]);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0, 0]);
    opt.loadStateDict({ step: 2, lr: 0.1, tensors: new Map() });
    expect(opt.stateDict().paramSteps).toEqual([2, 2]);
    dispose([p.grad!, p, q.grad!, q]);
  });

  it('a parameter index of two digits is read whole', async () => {
    const ps = Array.from({ length: 11 }, () => param([1], [1]));
    const opt = new optim.SGD(ps, { lr: 0.1, momentum: 0.9 });
    const buf = tensor([7], f64);
    opt.loadStateDict({ step: 1, lr: 0.1, tensors: new Map([['10.momentum_buffer', buf]]) });
    expect(await vals(opt.stateDict().tensors.get('10.momentum_buffer')!)).toEqual([7]);
    opt.dispose();
    dispose([buf, ...ps.flatMap((p) => [p.grad!, p])]);
  });

  it('refusals leave the optimizer as it was', () => {
    const p = param([1, 2], [1, 1]);
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    const ok = tensor([0, 0], f64);
    const f32 = tensor([0, 0], { dtype: 'float32', device: 'cpu' });
    const gone = tensor([0, 0], f64);
    gone.dispose();
    const L = 'SGD\\.loadStateDict: ';
    const cases: [unknown, string][] = [
      [null, 'expected \\{ step, lr, tensors \\}, got null'],
      ['state', 'expected \\{ step, lr, tensors \\}, got string'],
      [{ step: -1, lr: 0.1, tensors: new Map() }, 'step must be a non-negative integer, got -1'],
      [{ step: 1.5, lr: 0.1, tensors: new Map() }, 'step must be a non-negative integer, got 1\\.5'],
      [{ step: 1, lr: 0.1, tensors: [] }, 'tensors must be a Map of "<param index>\\.<name>" → Tensor, got an array'],
      [{ step: 1, lr: 0.1, tensors: {} }, 'tensors must be a Map .* got object'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramSteps: 'x' }, 'paramSteps must hold 1 integers in \\[0, step = 1\\], got "x"'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramSteps: [1, 1] }, 'paramSteps must hold 1 integers in \\[0, step = 1\\], got \\[1,1\\]'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramSteps: [2] }, 'paramSteps must hold 1 integers .* got \\[2\\]'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramSteps: [-1] }, 'paramSteps must hold 1 integers .* got \\[-1\\]'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramSteps: [0.5] }, 'paramSteps must hold 1 integers .* got \\[0\\.5\\]'],
      [{ step: 1, lr: 0.1, tensors: new Map([['x0.momentum_buffer', ok]]) }, 'state key "x0\\.momentum_buffer" is not "<param index>\\.<name>"'],
      [{ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer.', ok]]) }, "state '0\\.momentum_buffer\\.': SGD keeps no 'momentum_buffer\\.' \\(it keeps momentum_buffer\\)"],
      [{ step: 1, lr: 0.1, tensors: new Map([[0, ok]]) }, 'state key 0 is not "<param index>\\.<name>"'],
      [{ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer', [0, 0]]]) }, "state '0\\.momentum_buffer' must be a Tensor, got a plain array"],
      [{ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer', null]]) }, "state '0\\.momentum_buffer' must be a Tensor, got null"],
      [{ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer', 3]]) }, "state '0\\.momentum_buffer' must be a Tensor, got number"],
      [{ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer', gone]]) }, "state '0\\.momentum_buffer' was disposed"],
      [{ step: 1, lr: 0.1, tensors: new Map([['1.momentum_buffer', ok]]) }, "state '1\\.momentum_buffer' names parameter 1, but there is no such parameter \\(there are 1\\)"],
      [{ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer', f32]]) }, "state '0\\.momentum_buffer' has dtype float32 but parameter 0 is float64"],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [null] }, 'paramGroups\\[0\\] must be an object, got null'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [3] }, 'paramGroups\\[0\\] must be an object, got number'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: {} }, 'paramGroups must be an array of 1 group\\(s\\), got object'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{}, {}] }, 'paramGroups must be an array of 1 group\\(s\\), got 2'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ params: [] }] }, 'paramGroups\\[0\\]\\.params = \\[\\] does not fit this SGD'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ betas: [0.9, 0.9] }] }, 'paramGroups\\[0\\]\\.betas = \\[0\\.9,0\\.9\\] does not fit this SGD'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ momentum: '0.9' }] }, 'paramGroups\\[0\\]\\.momentum = "0\\.9" does not fit this SGD'],
      [{ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ initialLr: '1' }] }, 'paramGroups\\[0\\]\\.initialLr = "1" does not fit this SGD'],
    ];
    for (const [state, msg] of cases) expectErrorSync(() => opt.loadStateDict(bad(state)), new RegExp(`^${L}${msg}$`));
    // A saved group is validated as the constructor validates one (the message names the optimizer).
    expectErrorSync(() => opt.loadStateDict({ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ lr: -1 }] }), /^SGD: paramGroups\[0\]\.lr must be a non-negative finite number, got -1$/);
    expect(opt.stepCount).toBe(0);
    expect(opt.lr).toBe(0.1);
    dispose([ok, f32, p.grad!, p]);
  });

  it('Adam\'s betas must come back as a pair of numbers', () => {
    const p = param([1], [1]);
    const opt = new optim.Adam([p]);
    for (const betas of [[0.9], [0.9, '0.9'], 0.9]) {
      expectErrorSync(() => opt.loadStateDict(bad({ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ betas }] })), new RegExp(`paramGroups\\[0\\]\\.betas = ${JSON.stringify(betas).replace(/[[\].]/g, '\\$&')} does not fit this Adam`));
    }
    dispose([p.grad!, p]);
  });
});

describe('edges left by the second mutation run', () => {
  const bad = (v: unknown) => v as never;

  it('SGD options must be an object; OneCycleLR needs epochs and stepsPerEpoch together', () => {
    const p = param([1], [1]);
    expectErrorSync(() => new optim.SGD([p], bad(7)), /^SGD: options \{ lr, \.\.\. \} are required$/);
    const { opt, free } = sgd();
    expectErrorSync(() => new optim.OneCycleLR(opt, 1, { stepsPerEpoch: 3 }), /^OneCycleLR: give totalSteps, or epochs and stepsPerEpoch$/);
    free();
    dispose([p.grad!, p]);
  });

  it('schedulers: endFactor 0 is valid; every lambda must be a function', () => {
    const { opt, free } = sgd(2);
    const s = new optim.LinearLR(opt, { startFactor: 1, endFactor: 0, totalIters: 1 });
    s.step();
    expect(s.getLastLr()).toEqual([0, 0]);
    expectErrorSync(() => new optim.LambdaLR(opt, bad([() => 1, 5])), /^LambdaLR: expected 2 functions \(one per parameter group\), got 2$/);
    free();
  });

  it('ReduceLROnPlateau (min, rel): a metric exactly at best·(1 − threshold) is not an improvement', () => {
    const { opt, free } = sgd();
    const s = new optim.ReduceLROnPlateau(opt, { patience: 5, threshold: 0.5 });
    s.step(10);
    s.step(5);
    expect(s.best).toBe(10);
    expect(s.numBadEpochs).toBe(1);
    free();
  });

  it('loadStateDict: paramSteps checked for every parameter; keys matched whole; a group\'s params and unknown keys refused', () => {
    const p = param([1], [1]);
    const q = param([1], [1]);
    const opt = new optim.SGD([p, q], { lr: 0.1, momentum: 0.9 });
    const ok = tensor([0], f64);
    const L = '^SGD\\.loadStateDict: ';
    expectErrorSync(() => opt.loadStateDict({ step: 1, lr: 0.1, tensors: new Map(), paramSteps: [1, -1] }), new RegExp(`${L}paramSteps must hold 2 integers in \\[0, step = 1\\], got \\[1,-1\\]$`));
    expectErrorSync(() => opt.loadStateDict({ step: 1, lr: 0.1, tensors: new Map([['0.momentum_buffer\n', ok]]) }), new RegExp(`${L}state key "0\\.momentum_buffer\\\\n" is not`));
    const objKey = { toString: () => '0.momentum_buffer' };
    expectErrorSync(() => opt.loadStateDict(bad({ step: 1, lr: 0.1, tensors: new Map([[objKey, ok]]) })), new RegExp(`${L}state key \\{\\} is not`));
    expectErrorSync(() => opt.loadStateDict(bad({ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ params: [5, 6] }] })), new RegExp(`${L}paramGroups\\[0\\]\\.params = \\[5,6\\] does not fit this SGD$`));
    expectErrorSync(() => opt.loadStateDict(bad({ step: 1, lr: 0.1, tensors: new Map(), paramGroups: [{ foo: undefined }] })), new RegExp(`${L}paramGroups\\[0\\]\\.foo = undefined does not fit this SGD$`));
    expect(opt.paramGroups[0]!.params).toEqual([p, q]);
    dispose([ok, p.grad!, p, q.grad!, q]);
  });

  it('an SGD step marks a printed momentum buffer stale too', async () => {
    const p = param([1], [1.25]);
    const opt = new optim.SGD([p], { lr: 1, momentum: 0.5 });
    opt.step();
    const buf = opt.stateDict().tensors.get('0.momentum_buffer')!;
    await buf.data();
    expect(String(buf)).toContain('1.25');
    opt.step();
    expect(String(buf)).not.toContain('1.25');
    opt.dispose();
    dispose([p.grad!, p]);
  });
});
