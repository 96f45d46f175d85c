/**
 * The training kernels: the fused pieces of a training step (layer activations' gradients from
 * saved outputs, dropout, batch norm, softmax and its cross-entropy, optimizer updates).
 * Part of the Backend interface; split out to keep each file about one thing.
 */
import type { Storage } from './types.js';

export { OUTPUT_GRAD_ACTIVATIONS, type OutputGradActivation } from '../../shaders/kernel-types.js';
import type { OutputGradActivation } from '../../shaders/kernel-types.js';


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

export interface TrainingKernels {
  /** dy·f'(x) computed from y = f(x). leakyRelu needs a positive slope `param` (so sign(y) = sign(x)). */
  activationGradFromOutput(op: OutputGradActivation, y: Storage, dy: Storage, param: number): Storage;
  /**
   * Inverted dropout: out_i = x_i · (u_i >= p ? 1/(1-p) : 0) with u_i = the Philox uniform of word
   * (offset + i) under `seed`. The mask is regenerated, never stored: applied to dy with the same
   * (seed, offset) it is the backward.
   */
  dropout(x: Storage, p: number, seed: number, offset: number): Storage;
  /** Per-column mean and biased variance of x viewed as [n, c]. */
  batchNormStats(x: Storage, n: number, c: number): { mean: Storage; variance: Storage };
  /** y = (x − mean)·rsqrt(variance + eps)·gamma + beta over [n, c]; gamma and beta are null without affine. */
  batchNormApply(x: Storage, mean: Storage, variance: Storage, gamma: Storage | null, beta: Storage | null, n: number, c: number, eps: number): Storage;
  /**
   * Backward of batch norm in training mode (statistics from this batch), fused:
   * dx = gamma·rstd/n · (n·dy − Σdy − x̂·Σ(dy·x̂)), dgamma = Σ dy·x̂, dbeta = Σ dy (sums over rows).
   */
  batchNormBackward(x: Storage, dy: Storage, mean: Storage, variance: Storage, gamma: Storage | null, n: number, c: number, eps: number): { dx: Storage; dgamma: Storage; dbeta: Storage };
  /** softmax, or logSoftmax when `log`, along the last axis of x viewed as [rows, cols]; max subtracted first. */
  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage;
  /** Gradient of softmax (dx = y·(dy − Σ dy·y)) or of logSoftmax (dx = dy − exp(y)·Σ dy) from the output y. */
  softmaxGrad(y: Storage, dy: Storage, rows: number, cols: number, log: boolean): Storage;
  /**
   * Per-row loss −log softmax(logits)[label] over [n, c] with int32 labels [n], stable (log-sum-exp
   * with the max subtracted). A label outside [0, c) gives NaN for its row and is an error: thrown
   * here by the CPU backend, recorded on the device and thrown by the next read on WebGPU.
   */
  softmaxCrossEntropy(logits: Storage, labels: Storage, n: number, c: number): Storage;
  /** (softmax(logits) − onehot(label))·dLoss[row], over [n, c]; dLoss has n elements. */
  softmaxCrossEntropyGrad(logits: Storage, labels: Storage, dLoss: Storage, n: number, c: number): Storage;
  /** In place, PyTorch's SGD: g = grad + wd·param; buf = momentum·buf + (1−dampening)·g; g = nesterov ? g + momentum·buf : buf; param −= lr·g. */
  sgdStep(param: Storage, grad: Storage, velocity: Storage | null, options: SgdStepOptions): void;
  /** In place, PyTorch's Adam / AdamW (bias-corrected moments m and v). */
  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, options: AdamStepOptions): void;
}
