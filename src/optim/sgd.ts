/** Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (PyTorch semantics). */
import type { Tensor } from '../tensor.js';
import { Optimizer, checkNonNegative } from './optimizer.js';
import { fail } from '../errors.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty: adds weightDecay·param to the gradient. */
  weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    super(params, options.lr, 'SGD');
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    checkNonNegative('SGD', 'momentum', this.momentum);
    checkNonNegative('SGD', 'dampening', this.dampening);
    checkNonNegative('SGD', 'weightDecay', this.weightDecay);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) fail('SGD', 'nesterov momentum requires momentum > 0 and dampening = 0');
  }

  protected update(param: Tensor, grad: Tensor, index: number): void {
    const velocity = this.momentum !== 0 ? this.stateFor(index, 'momentum') : null;
    param.backend.sgdStep(param._storage('SGD.step'), grad._storage('SGD.step'), velocity ? velocity.t._storage('SGD.step') : null, {
      lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov,
      weightDecay: this.weightDecay, firstStep: velocity?.fresh ?? false,
    });
  }
}
