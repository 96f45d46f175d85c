/**
 * Adam and AdamW (decoupled weight decay), PyTorch semantics, one fused kernel per parameter.
 * AMSGrad (which divides by the running maximum of the second moment) is composed from ops: it
 * costs a few dispatches more per parameter but needs no kernel of its own.
 */
import type { Tensor } from '../tensor.js';
import { Optimizer, checkNonNegative, checkPositive } from './optimizer.js';
import type { GroupHyper, ParamGroup, Params } from './optimizer.js';
import { fail } from '../errors.js';
import { noGrad, tidy } from '../lifetime.js';
import { add, sub, mul, div, maximum } from '../ops/binary.js';
import { sqrt } from '../ops/unary.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Use the maximum of past second moments (Reddi et al. 2018), as PyTorch's amsgrad. */
  amsgrad?: boolean;
}

/** One group's Adam hyperparameters (betas[0] is mutable: OneCycleLR cycles it). */
export interface AdamGroup extends GroupHyper {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

export class Adam extends Optimizer<AdamGroup> {
  protected readonly decoupled: boolean = false;
  protected readonly stateNames = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const;

  /** `params`: tensors, or groups such as `[{ params: weights }, { params: norms, weightDecay: 0 }]`. */
  constructor(params: Params<Partial<AdamGroup>>, options: AdamOptions = {}, name = 'Adam', defaultWeightDecay = 0) {
    if (options === null || typeof options !== 'object') fail(name, 'options must be an object');
    super(params, {
      lr: options.lr ?? 1e-3,
      // Copied (beta1 may be cycled); a non-array is kept as given so validate() names it.
      betas: options.betas === undefined ? [0.9, 0.999] : Array.isArray(options.betas) ? [...options.betas] as [number, number] : options.betas,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? defaultWeightDecay,
      amsgrad: options.amsgrad ?? false,
    }, name);
  }

  protected override validate(h: AdamGroup, where: string): void {
    super.validate(h, where);
    if (!Array.isArray(h.betas) || h.betas.length !== 2) fail(this.name, `${where}betas must be a pair [beta1, beta2], got ${JSON.stringify(h.betas)}`);
    h.betas.forEach((b, i) => {
      if (typeof b !== 'number' || !(b >= 0 && b < 1)) fail(this.name, `${where}betas[${i}] must be in [0, 1), got ${b}`);
    });
    checkPositive(this.name, `${where}eps`, h.eps);
    checkNonNegative(this.name, `${where}weightDecay`, h.weightDecay);
    if (typeof h.amsgrad !== 'boolean') fail(this.name, `${where}amsgrad must be a boolean, got ${typeof h.amsgrad}`);
  }

  protected update(param: Tensor, grad: Tensor, index: number, g: ParamGroup<AdamGroup>): void {
    const m = this.stateFor(index, 'exp_avg').t;
    const v = this.stateFor(index, 'exp_avg_sq').t;
    const [beta1, beta2] = g.betas;
    // This parameter's own update count, as PyTorch's per-parameter 'step'.
    const step = this.paramSteps[index]!;
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    if (g.amsgrad) {
      this.amsgradUpdate(param, grad, m, v, this.stateFor(index, 'max_exp_avg_sq').t, g, bc1, bc2);
      return;
    }
    const op = `${this.name}.step`;
    param.backend.routine('adamStep', { param: param._storage(op), grad: grad._storage(op), m: m._storage(op), v: v._storage(op) }, {
      lr: g.lr, beta1, beta2, eps: g.eps, weightDecay: g.weightDecay,
      decoupled: this.decoupled, biasCorrection1: bc1, biasCorrection2: bc2,
    });
  }

  /** torch.optim.Adam(amsgrad=True), op for op (torch 1.13, _single_tensor_adam / adamw). */
  private amsgradUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, vmax: Tensor, g: AdamGroup, bc1: number, bc2: number): void {
    const [beta1, beta2] = g.betas;
    noGrad(() => tidy(() => {
      let gr = grad;
      if (g.weightDecay !== 0) {
        if (this.decoupled) param._assign(mul(param, 1 - g.lr * g.weightDecay));
        else gr = add(grad, mul(param, g.weightDecay));
      }
      m._assign(add(mul(m, beta1), mul(gr, 1 - beta1)));
      v._assign(add(mul(v, beta2), mul(mul(gr, gr), 1 - beta2)));
      vmax._assign(maximum(vmax, v));
      const denom = add(div(sqrt(vmax), Math.sqrt(bc2)), g.eps);
      param._assign(sub(param, mul(div(m, denom), g.lr / bc1)));
    }));
  }
}

/** Adam with decoupled weight decay (default 0.01, as torch.optim.AdamW). */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;
  constructor(params: Params<Partial<AdamGroup>>, options: AdamOptions = {}) {
    super(params, options, 'AdamW', 0.01);
  }
}
