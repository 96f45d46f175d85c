/** Adam and AdamW (decoupled weight decay), PyTorch semantics, one fused kernel per parameter. */
import type { Tensor } from '../tensor.js';
import { Optimizer, checkNonNegative, checkPositive } from './optimizer.js';
import { fail } from '../errors.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}, name = 'Adam', defaultWeightDecay = 0) {
    super(params, options.lr ?? 1e-3, name);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? defaultWeightDecay;
    for (const [n, b] of [['betas[0]', this.beta1], ['betas[1]', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) fail(name, `${n} must be in [0, 1), got ${b}`);
    }
    checkPositive(name, 'eps', this.eps);
    checkNonNegative(name, 'weightDecay', this.weightDecay);
  }

  protected update(param: Tensor, grad: Tensor, index: number): void {
    const m = this.stateFor(index, 'expAvg').t;
    const v = this.stateFor(index, 'expAvgSq').t;
    const op = `${this.name}.step`;
    param.backend.adamStep(param._storage(op), grad._storage(op), m._storage(op), v._storage(op), {
      lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      biasCorrection1: 1 - this.beta1 ** this.stepCount,
      biasCorrection2: 1 - this.beta2 ** this.stepCount,
    });
  }
}

/** Adam with decoupled weight decay (default 0.01, as torch.optim.AdamW). */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, options, 'AdamW', 0.01);
  }
}
