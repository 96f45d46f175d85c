/**
 * Optimizer base: holds the parameters, per-parameter state tensors and the step count, updates
 * parameters in place with one fused kernel per parameter, and exposes its state for checkpoints.
 */
import type { Tensor } from '../tensor.js';
import { fail, shapeStr } from '../errors.js';
import { keep } from '../lifetime.js';
import { zeros } from '../ops/creation.js';
import { clone } from '../ops/shape-ops.js';

export interface OptimizerState {
  step: number;
  lr: number;
  /** Per-parameter state tensors, keyed "<param index>.<name>" (e.g. "0.momentum"). */
  tensors: Map<string, Tensor>;
}

export abstract class Optimizer {
  readonly params: readonly Tensor[];
  /** The learning rate used by the next step (schedulers change it). */
  lr: number;
  /** Steps taken so far. */
  stepCount = 0;
  protected readonly state = new Map<string, Tensor>();

  constructor(params: Iterable<Tensor>, lr: number, readonly name: string) {
    this.params = [...params];
    if (this.params.length === 0) fail(name, 'got an empty parameter list');
    this.params.forEach((p, i) => {
      if (!p.requiresGrad) fail(name, `parameter ${i} (shape ${shapeStr(p.shape)}) does not require grad`);
    });
    checkPositive(name, 'lr', lr);
    this.lr = lr;
  }

  /** Applies one update from the parameters' current `.grad` (parameters without a grad are skipped). */
  step(): void {
    // A schedule may reach 0 (cosine annealing's last epoch); only a user-set lr must be positive.
    checkNonNegative(this.name, 'lr', this.lr);
    this.stepCount++;
    this.params.forEach((p, i) => {
      if (p.grad) this.update(p, p.grad, i);
    });
  }

  protected abstract update(param: Tensor, grad: Tensor, index: number): void;

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** A state tensor for a parameter, created as zeros on first use. */
  protected stateFor(index: number, name: string): { t: Tensor; fresh: boolean } {
    const key = `${index}.${name}`;
    let t = this.state.get(key);
    const fresh = !t;
    if (!t) {
      const p = this.params[index]!;
      t = keep(zeros(p.shape, { dtype: p.dtype, device: p.device }));
      this.state.set(key, t);
    }
    return { t, fresh };
  }

  stateDict(): OptimizerState {
    return { step: this.stepCount, lr: this.lr, tensors: new Map(this.state) };
  }

  /** Restores state saved by stateDict (copies the tensors). Checks shapes before changing anything. */
  loadStateDict(s: OptimizerState): void {
    for (const [key, t] of s.tensors) {
      const index = Number(key.split('.')[0]);
      const p = this.params[index];
      if (!p || p.shape.join() !== t.shape.join()) {
        fail(`${this.name}.loadStateDict`, `state '${key}' of shape ${shapeStr(t.shape)} does not match parameter ${index}${p ? ` of shape ${shapeStr(p.shape)}` : ' (no such parameter)'}`);
      }
    }
    // Copy first: `s` may hold this optimizer's own live tensors (loadStateDict(stateDict())).
    const copies = [...s.tensors].map(([key, t]) => [key, keep(clone(t))] as const);
    for (const t of this.state.values()) t.dispose();
    this.state.clear();
    for (const [key, t] of copies) this.state.set(key, t);
    this.stepCount = s.step;
    this.lr = s.lr;
  }

  dispose(): void {
    for (const t of this.state.values()) t.dispose();
    this.state.clear();
  }
}

export function checkPositive(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(op, `${name} must be a positive finite number, got ${String(v)}`);
}

export function checkNonNegative(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) fail(op, `${name} must be a non-negative finite number, got ${String(v)}`);
}
