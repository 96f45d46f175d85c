/**
 * CPU reference of the optimizer routines (twin of webgpu/fused/optimizer.ts): PyTorch's SGD and
 * Adam / AdamW updates, in place.
 */
import type { TypedArray } from '../types.js';
import type { AdamStepOptions, SgdStepOptions } from '../fused-types.js';

export function sgdStepKernel(param: TypedArray, grad: TypedArray, velocity: TypedArray | null, o: SgdStepOptions): void {
  for (let i = 0; i < param.length; i++) {
    let g = grad[i]! + o.weightDecay * param[i]!;
    if (velocity && o.momentum !== 0) {
      const buf = o.firstStep ? g : o.momentum * velocity[i]! + (1 - o.dampening) * g;
      velocity[i] = buf;
      g = o.nesterov ? g + o.momentum * buf : buf;
    }
    param[i] = param[i]! - o.lr * g;
  }
}

export function adamStepKernel(param: TypedArray, grad: TypedArray, m: TypedArray, v: TypedArray, o: AdamStepOptions): void {
  for (let i = 0; i < param.length; i++) {
    let p = param[i]!;
    let g = grad[i]!;
    if (o.decoupled) p *= 1 - o.lr * o.weightDecay;
    else g += o.weightDecay * p;
    const mi = o.beta1 * m[i]! + (1 - o.beta1) * g;
    const vi = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const mHat = mi / o.biasCorrection1;
    const vHat = vi / o.biasCorrection2;
    param[i] = p - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
  }
}
