/** Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (PyTorch semantics). */
import type { Tensor } from '../tensor.js';
import { Optimizer, checkNonNegative } from './optimizer.js';
import type { GroupHyper, GroupItem, ParamGroup, Params } from './optimizer.js';
import type { Backend, Storage } from '../backend/types.js';
import { fail } from '../errors.js';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty: adds weightDecay·param to the gradient. */
  weightDecay?: number;
}

/** One group's SGD hyperparameters (momentum is mutable: OneCycleLR cycles it). */
export interface SGDGroup extends GroupHyper {
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

export class SGD extends Optimizer<SGDGroup> {
  protected readonly stateNames = ['momentum_buffer'] as const;

  /** `params`: tensors, or groups such as `[{ params: weights }, { params: biases, weightDecay: 0 }]`. */
  constructor(params: Params<Partial<SGDGroup>>, options: SGDOptions) {
    if (options === null || typeof options !== 'object') fail('SGD', 'options { lr, ... } are required');
    super(params, {
      lr: options.lr,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      nesterov: options.nesterov ?? false,
      weightDecay: options.weightDecay ?? 0,
    }, 'SGD');
  }

  protected override validate(h: SGDGroup, where: string): void {
    super.validate(h, where);
    checkNonNegative('SGD', `${where}momentum`, h.momentum);
    checkNonNegative('SGD', `${where}dampening`, h.dampening);
    checkNonNegative('SGD', `${where}weightDecay`, h.weightDecay);
    if (typeof h.nesterov !== 'boolean') fail('SGD', `${where}nesterov must be a boolean, got ${typeof h.nesterov}`);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) fail('SGD', `${where}nesterov momentum requires momentum > 0 and dampening = 0`);
  }

  /**
   * The group's parameters in multi-tensor routine calls (sgdStepMany: on WebGPU several parameters
   * per dispatch), one call per backend and first-step flag; a lone parameter takes sgdStep.
   */
  protected override updateGroup(items: readonly GroupItem[], g: ParamGroup<SGDGroup>): void {
    if (items.length === 1) {
      super.updateGroup(items, g);
      return;
    }
    const op = 'SGD.step';
    const calls: { backend: Backend; firstStep: boolean; params: Storage[]; grads: Storage[]; velocities: (Storage | null)[] }[] = [];
    for (const { param, grad, index } of items) {
      const velocity = g.momentum !== 0 ? this.stateFor(index, 'momentum_buffer') : null;
      const firstStep = velocity?.fresh ?? false;
      let call = calls.find((c) => c.backend === param.backend && c.firstStep === firstStep);
      if (!call) {
        call = { backend: param.backend, firstStep, params: [], grads: [], velocities: [] };
        calls.push(call);
      }
      call.params.push(param._storage(op));
      call.grads.push(grad._storage(op));
      call.velocities.push(velocity ? velocity.t._storage(op) : null);
    }
    for (const c of calls) {
      c.backend.routine('sgdStepMany', { params: c.params, grads: c.grads, velocities: c.velocities }, {
        lr: g.lr, momentum: g.momentum, dampening: g.dampening, nesterov: g.nesterov, weightDecay: g.weightDecay, firstStep: c.firstStep,
      });
    }
  }

  protected update(param: Tensor, grad: Tensor, index: number, g: ParamGroup<SGDGroup>): void {
    const velocity = g.momentum !== 0 ? this.stateFor(index, 'momentum_buffer') : null;
    const op = 'SGD.step';
    param.backend.routine('sgdStep', { param: param._storage(op), grad: grad._storage(op), velocity: velocity ? velocity.t._storage(op) : null }, {
      lr: g.lr, momentum: g.momentum, dampening: g.dampening, nesterov: g.nesterov,
      // Stryker disable next-line BooleanLiteral: equivalent, without a velocity (momentum 0) the kernel never reads firstStep
      weightDecay: g.weightDecay, firstStep: velocity?.fresh ?? false,
    });
  }
}
