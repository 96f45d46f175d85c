/**
 * Option types of the fused routines (the pieces of a training step fused into one or a few
 * kernels: activation gradients from saved outputs, dropout, batch norm, softmax and its
 * cross-entropy, optimizer updates). Their contracts are in routines.ts; kernels in webgpu/fused/
 * and their CPU twins in cpu/{activation-output,dropout,batchnorm,softmax,optimizer}.ts.
 */

export { OUTPUT_GRAD_ACTIVATIONS, type OutputGradActivation } from '../../shaders/kernel-types.js';

export interface SgdStepOptions {
  lr: number;
  /** 0 disables the velocity buffer. */
  momentum: number;
  dampening: number;
  nesterov: boolean;
  /** L2 penalty added to the gradient (PyTorch's weight_decay). */
  weightDecay: number;
  /** PyTorch sets the velocity to the gradient on the first step (no dampening): pass true then. */
  firstStep: boolean;
}

export interface AdamStepOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the weights directly (param *= 1 - lr·wd) instead of adding wd·param to the gradient. */
  decoupled: boolean;
  /** 1 - beta1^t and 1 - beta2^t for the step t about to be taken (computed on the host). */
  biasCorrection1: number;
  biasCorrection2: number;
}
