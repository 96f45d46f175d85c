/** The layers: Linear, Dropout, BatchNorm1d, activations, Sequential. */
import type { Tensor } from '../tensor.js';
import { DEFAULT_LEAKY_RELU_SLOPE, type DType, type BackendName } from '../backend/types.js';
import { Module } from './module.js';
import { empty } from './empty.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { linear } from '../ops/linear.js';
import type { LinearActivation } from '../ops/linear.js';
import { dropout } from '../ops/dropout.js';
import { batchNorm } from '../ops/batchnorm.js';
import { relu, relu6, sigmoid, tanh, leakyRelu, gelu } from '../ops/unary.js';
import { zeros, ones } from '../ops/creation.js';
import { fail } from '../errors.js';
import { add } from '../ops/binary.js';
import { noGrad, tidy } from '../lifetime.js';

export interface LayerOptions {
  dtype?: DType;
  device?: BackendName;
}

/**
 * y = x·Wᵀ + b with W of shape [out, in]. Default initialisation as PyTorch's: W and b uniform in
 * ±1/sqrt(in) (kaiming_uniform with a = √5). Use the init functions (kaimingNormal_, xavierUniform_,
 * ...) to choose another.
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LayerOptions & { bias?: boolean } = {}) {
    super();
    for (const [name, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(v) || v <= 0) fail('Linear', `${name} must be a positive integer, got ${v}`);
    }
    this.weight = this.registerParameter('weight', kaimingUniform_(empty([outFeatures, inFeatures], options), { a: Math.sqrt(5), nonlinearity: 'leakyRelu' }));
    const bound = 1 / Math.sqrt(inFeatures);
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniform_(empty([outFeatures], options), -bound, bound));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /** The layer with an activation fused into the same dispatch (Sequential uses this). */
  forwardFused(x: Tensor, activation: LinearActivation, negativeSlope?: number): Tensor {
    return linear(x, this.weight, this.bias, { activation, ...(negativeSlope !== undefined ? { negativeSlope } : {}) });
  }
}

/** Zeroes each element with probability p during training and scales survivors by 1/(1−p); identity in eval. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p < 1)) fail('Dropout', `p (the probability of zeroing) must be in [0, 1), got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training });
  }
}

export interface BatchNormOptions extends LayerOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

/** Batch normalisation over [N, C] (PyTorch's BatchNorm1d on 2-D input). */
/**
 * What BatchNorm1d and BatchNorm2d share: PyTorch's options, parameters and buffers under PyTorch's
 * names (running_mean, running_var, num_batches_tracked) so state dicts move both ways, and the
 * batch counter. A subclass supplies only the normalisation of its layout.
 */
export abstract class BatchNormBase extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  /**
   * Training forward passes seen, as PyTorch counts them. PyTorch holds it as int64; webgrad has no
   * int64, so it is an int32 scalar (written as I32; torch's load_state_dict casts it on copy, and
   * an I64 value read from a PyTorch file is narrowed with a range check).
   */
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(op: string, readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures <= 0) fail(op, `numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    if (!(this.eps > 0)) fail(op, `eps must be positive, got ${this.eps}`);
    if (!(this.momentum >= 0 && this.momentum <= 1)) fail(op, `momentum must be in [0, 1], got ${this.momentum}`);
    const device = options.device ? { device: options.device } : {};
    const o = { ...(options.dtype ? { dtype: options.dtype } : {}), ...device };
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures], o)) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures], o)) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? this.registerBuffer('running_mean', zeros([numFeatures], o)) : null;
    this.runningVar = track ? this.registerBuffer('running_var', ones([numFeatures], o)) : null;
    this.numBatchesTracked = track ? this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int32', ...device })) : null;
  }

  /** The layout's batch-norm op (batch statistics when `training`, running ones otherwise). */
  protected abstract normalize(x: Tensor, training: boolean): Tensor;

  forward(x: Tensor): Tensor {
    const y = this.normalize(x, this.training || this.runningMean === null);
    // After the op, so a call that throws changes nothing; one tiny on-device add, no readback.
    const count = this.numBatchesTracked;
    if (this.training && count) noGrad(() => tidy(() => count._assign(add(count, 1))));
    return y;
  }
}

/** Batch normalisation over the features of [N, C] (torch.nn.BatchNorm1d). */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm1d', numFeatures, options);
  }
  protected normalize(x: Tensor, training: boolean): Tensor {
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, { training, eps: this.eps, momentum: this.momentum });
  }
}

/** An activation layer; `fusable` names what Linear can apply in its own dispatch. */
export abstract class Activation extends Module {
  abstract readonly fusable: LinearActivation | null;
  readonly negativeSlope: number | undefined = undefined;
}

export class ReLU extends Activation {
  readonly fusable = 'relu' as const;
  forward(x: Tensor): Tensor { return relu(x); }
}
export class ReLU6 extends Activation {
  readonly fusable = 'relu6' as const;
  forward(x: Tensor): Tensor { return relu6(x); }
}
export class Sigmoid extends Activation {
  readonly fusable = 'sigmoid' as const;
  forward(x: Tensor): Tensor { return sigmoid(x); }
}
export class Tanh extends Activation {
  readonly fusable = 'tanh' as const;
  forward(x: Tensor): Tensor { return tanh(x); }
}
export class LeakyReLU extends Activation {
  readonly fusable: LinearActivation | null;
  override readonly negativeSlope: number;
  constructor(negativeSlope = DEFAULT_LEAKY_RELU_SLOPE) {
    super();
    this.negativeSlope = negativeSlope;
    this.fusable = negativeSlope > 0 ? 'leakyRelu' : null;
  }
  forward(x: Tensor): Tensor { return leakyRelu(x, this.negativeSlope); }
}
export class GELU extends Activation {
  readonly fusable: LinearActivation | null;
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    this.fusable = approximate === 'none' ? 'gelu' : null;
  }
  forward(x: Tensor): Tensor { return gelu(x, this.approximate); }
}

/**
 * Runs its modules in order. A Linear directly followed by a fusable activation runs as one fused
 * dispatch (matmul + bias + activation), with the same result as running them one by one.
 */
export class Sequential extends Module {
  private readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.registerModule(String(i), m));
  }

  get length(): number {
    return this.layers.length;
  }

  at(i: number): Module {
    const m = this.layers[i < 0 ? this.layers.length + i : i];
    if (!m) fail('Sequential.at', `index ${i} is out of range for ${this.layers.length} layers`);
    return m;
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i]!;
      const next = this.layers[i + 1];
      let out: Tensor;
      if (layer instanceof Linear && next instanceof Activation && next.fusable) {
        out = layer.forwardFused(h, next.fusable, next.negativeSlope);
        i++;
      } else {
        out = layer.forward(h);
      }
      if (h !== x) h.dispose(); // intermediates are owned here; the tape keeps what backward needs
      h = out;
    }
    return h;
  }
}
