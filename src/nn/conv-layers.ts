/**
 * Convolutional layers with PyTorch's layouts, default initialisation and state-dict names:
 * Conv2d (weight [out, in / groups, kh, kw], bias), MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
 * BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked), Flatten.
 */
import type { Tensor } from '../tensor.js';
import { Module } from './module.js';
import { empty } from './empty.js';
import { kaimingUniform_, uniform_ } from './init.js';
import { BatchNormBase, type BatchNormOptions, type LayerOptions } from './layers.js';
import { adaptiveAvgPool2d, avgPool2d, conv2d, flatten, maxPool2d, type Conv2dOptions, type Size2 } from '../ops/conv.js';
import { batchNorm2d } from '../ops/batchnorm2d.js';
import { fail } from '../errors.js';

function positive(op: string, name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) fail(op, `${name} must be a positive integer, got ${String(v)}`);
}

function sizePair(op: string, name: string, v: Size2): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isSafeInteger(d) && d > 0)) {
    fail(op, `${name} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0]!, p[1]!];
}

export interface Conv2dLayerOptions extends LayerOptions, Conv2dOptions {
  bias?: boolean;
}

/**
 * 2-D convolution (torch.nn.Conv2d): weight [out, in / groups, kh, kw] from kaiming_uniform with
 * a = √5 (uniform in ±1/√fan_in, fan_in = in / groups · kh · kw) and bias uniform in ±1/√fan_in, as PyTorch.
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly options: Conv2dOptions;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Size2, options: Conv2dLayerOptions = {}) {
    super();
    const op = 'Conv2d';
    positive(op, 'inChannels', inChannels);
    positive(op, 'outChannels', outChannels);
    const [kh, kw] = sizePair(op, 'kernelSize', kernelSize);
    const groups = options.groups ?? 1;
    positive(op, 'groups', groups);
    if (inChannels % groups !== 0) fail(op, `inChannels (${inChannels}) must be divisible by groups (${groups})`);
    if (outChannels % groups !== 0) fail(op, `outChannels (${outChannels}) must be divisible by groups (${groups})`);
    const make = { ...(options.dtype ? { dtype: options.dtype } : {}), ...(options.device ? { device: options.device } : {}) };
    this.options = {
      ...(options.stride !== undefined ? { stride: options.stride } : {}),
      ...(options.padding !== undefined ? { padding: options.padding } : {}),
      ...(options.dilation !== undefined ? { dilation: options.dilation } : {}),
      groups,
    };
    this.weight = this.registerParameter('weight', kaimingUniform_(empty([outChannels, inChannels / groups, kh, kw], make), { a: Math.sqrt(5), nonlinearity: 'leakyRelu' }));
    const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
    this.bias = options.bias === false ? null : this.registerParameter('bias', uniform_(empty([outChannels], make), -bound, bound));
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

export interface PoolLayerOptions {
  /** Default: the kernel size. */
  stride?: Size2;
  padding?: Size2;
}

/** torch.nn.MaxPool2d (without dilation and ceil mode). */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Size2, readonly poolOptions: PoolLayerOptions = {}) {
    super();
    sizePair('MaxPool2d', 'kernelSize', kernelSize);
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.poolOptions);
  }
}

/** torch.nn.AvgPool2d (countIncludePad defaults to true, as PyTorch; no ceil mode). */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Size2, readonly poolOptions: PoolLayerOptions & { countIncludePad?: boolean } = {}) {
    super();
    sizePair('AvgPool2d', 'kernelSize', kernelSize);
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.poolOptions);
  }
}

/** torch.nn.AdaptiveAvgPool2d: any output size. */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Size2) {
    super();
    sizePair('AdaptiveAvgPool2d', 'outputSize', outputSize);
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** torch.nn.Flatten: axes startDim..endDim into one (default 1..-1, keeping the batch axis). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
}

/** Batch normalisation over the channels of [N, C, H, W] (torch.nn.BatchNorm2d), with PyTorch's buffer names. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super('BatchNorm2d', numFeatures, options);
  }
  protected normalize(x: Tensor, training: boolean): Tensor {
    return batchNorm2d(x, this.runningMean, this.runningVar, this.weight, this.bias, { training, eps: this.eps, momentum: this.momentum });
  }
}
