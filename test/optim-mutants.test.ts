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
