/**
 * Initialisers, drawn on the tensor's own backend from the Philox stream (so they are reproducible
 * and identical on CPU and GPU). Each fills a tensor in place and returns it, like torch.nn.init.
 *
 * He/Kaiming suits ReLU-family layers (variance 2/fan_in keeps activations' scale through depth);
 * Xavier/Glorot suits sigmoid and tanh (variance 2/(fan_in + fan_out)).
 */
import type { Tensor } from '../tensor.js';
import { DEFAULT_LEAKY_RELU_SLOPE } from '../backend/types.js';
import { rand, randn, full } from '../ops/creation.js';
import { noGrad, tidy } from '../lifetime.js';
import { fail, shapeStr } from '../errors.js';

export type Nonlinearity = 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'leakyRelu';

export interface InitOptions {
  /** A fixed seed for this draw; default: the global stream (see manualSeed). */
  seed?: number;
}

/** fan_in and fan_out of a weight stored [out, in] (PyTorch's Linear layout). */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  if (t.rank < 2) fail('init', `fan in/out need a tensor of rank >= 2, got ${shapeStr(t.shape)}`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/** The recommended gain for a nonlinearity (as torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, negativeSlope = DEFAULT_LEAKY_RELU_SLOPE): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leakyRelu':
      return Math.sqrt(2 / (1 + negativeSlope ** 2));
  }
}

function fill(t: Tensor, make: () => Tensor): Tensor {
  // tidy frees the draw and every temporary; t keeps the final values' storage.
  noGrad(() => tidy(() => t._assign(make())));
  return t;
}

function draw(kind: 'uniform' | 'normal', t: Tensor, opts: InitOptions): Tensor {
  const o = { dtype: t.dtype, device: t.device, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) };
  return kind === 'uniform' ? rand(t.shape, o) : randn(t.shape, o);
}

/** Uniform in [low, high). */
export function uniform_(t: Tensor, low = 0, high = 1, opts: InitOptions = {}): Tensor {
  return fill(t, () => {
    return draw('uniform', t, opts).mul(high - low).add(low);
  });
}

/** Normal with the given mean and standard deviation. */
export function normal_(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  return fill(t, () => {
    return draw('normal', t, opts).mul(std).add(mean);
  });
}

export function constant_(t: Tensor, value: number): Tensor {
  return fill(t, () => full(t.shape, value, { dtype: t.dtype, device: t.device }));
}
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

export interface KaimingOptions extends InitOptions {
  /** 'fanIn' (default) preserves the forward pass's variance, 'fanOut' the backward's. */
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: Nonlinearity;
  /** Negative slope for leakyRelu. */
  a?: number;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = fans(t);
  const fan = (o.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  // PyTorch's kaiming functions default a to 0 (calculate_gain alone defaults to 0.01).
  return calculateGain(o.nonlinearity ?? 'relu', o.a ?? 0) / Math.sqrt(fan);
}

/** He normal: N(0, gain²/fan). */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, o), o);
}

/** He uniform: U(−b, b) with b = gain·sqrt(3/fan). */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return uniform_(t, -bound, bound, o);
}

export interface XavierOptions extends InitOptions {
  gain?: number;
}

/** Glorot normal: N(0, gain²·2/(fan_in + fan_out)). */
export function xavierNormal_(t: Tensor, o: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  return normal_(t, 0, (o.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), o);
}

/** Glorot uniform: U(−b, b) with b = gain·sqrt(6/(fan_in + fan_out)). */
export function xavierUniform_(t: Tensor, o: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = (o.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, o);
}
