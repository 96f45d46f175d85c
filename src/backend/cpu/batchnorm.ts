/**
 * CPU reference for the training kernels (see TrainingKernels in ../training-types.ts): plain loops,
 * float64 arithmetic, written to be read next to the formulas they implement.
 */
import type { TypedArray } from '../types.js';
import type { AdamStepOptions, OutputGradActivation, SgdStepOptions } from '../fused-types.js';
import { uniformFromWord, philoxWords } from '../../random/philox.js';
import { WebgradError } from '../../errors.js';

/** f'(x) expressed through y = f(x). */
export const OUTPUT_DERIVATIVE: { [K in OutputGradActivation]: (y: number, p: number) => number } = {
  relu: (y) => (y <= 0 ? 0 : 1), // PyTorch's threshold_backward(dy, y, 0): dy passes at y = NaN
  relu6: (y) => (y > 0 && y < 6 ? 1 : 0),
  sigmoid: (y) => y * (1 - y),
  tanh: (y) => 1 - y * y,
  leakyRelu: (y, p) => (y > 0 ? 1 : p),
};

export function activationGradFromOutputKernel(op: OutputGradActivation, y: TypedArray, dy: TypedArray, out: TypedArray, p: number): void {
  const d = OUTPUT_DERIVATIVE[op];
  for (let i = 0; i < y.length; i++) out[i] = dy[i]! * d(y[i]!, p);
}

export function dropoutKernel(x: TypedArray, out: TypedArray, p: number, seed: number, offset: number): void {
  const words = philoxWords(seed, offset, x.length);
  // The scale is rounded to float32 first, as the GPU computes it in f32.
  const scale = Math.fround(1 / (1 - p));
  for (let i = 0; i < x.length; i++) out[i] = uniformFromWord(words[i]!) >= p ? x[i]! * scale : 0;
}

export function batchNormStatsKernel(x: TypedArray, n: number, c: number, mean: TypedArray, variance: TypedArray): void {
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i * c + j]!;
    const m = s / n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += (x[i * c + j]! - m) ** 2;
    mean[j] = m;
    variance[j] = ss / n; // biased, as PyTorch normalises with
  }
}

export function batchNormApplyKernel(
  x: TypedArray, mean: TypedArray, variance: TypedArray, gamma: TypedArray | null, beta: TypedArray | null,
  n: number, c: number, eps: number, out: TypedArray,
): void {
  for (let j = 0; j < c; j++) {
    const rstd = 1 / Math.sqrt(variance[j]! + eps);
    const g = gamma ? gamma[j]! : 1;
    const b = beta ? beta[j]! : 0;
    for (let i = 0; i < n; i++) out[i * c + j] = (x[i * c + j]! - mean[j]!) * rstd * g + b;
  }
}

export function batchNormBackwardKernel(
  x: TypedArray, dy: TypedArray, mean: TypedArray, variance: TypedArray, gamma: TypedArray | null,
  n: number, c: number, eps: number, dx: TypedArray, dgamma: TypedArray, dbeta: TypedArray,
): void {
  for (let j = 0; j < c; j++) {
    const rstd = 1 / Math.sqrt(variance[j]! + eps);
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let i = 0; i < n; i++) {
      const xhat = (x[i * c + j]! - mean[j]!) * rstd;
      sumDy += dy[i * c + j]!;
      sumDyXhat += dy[i * c + j]! * xhat;
    }
    dgamma[j] = sumDyXhat;
    dbeta[j] = sumDy;
    const k = (gamma ? gamma[j]! : 1) * rstd / n;
    for (let i = 0; i < n; i++) {
      const xhat = (x[i * c + j]! - mean[j]!) * rstd;
      dx[i * c + j] = k * (n * dy[i * c + j]! - sumDy - xhat * sumDyXhat);
    }
  }
}

export function softmaxKernel(x: TypedArray, rows: number, cols: number, log: boolean, out: TypedArray): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[o + j]!);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[o + j]! - m);
    const lse = Math.log(s);
    for (let j = 0; j < cols; j++) out[o + j] = log ? x[o + j]! - m - lse : Math.exp(x[o + j]! - m) / s;
  }
}

export function softmaxGradKernel(y: TypedArray, dy: TypedArray, rows: number, cols: number, log: boolean, out: TypedArray): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += log ? dy[o + j]! : dy[o + j]! * y[o + j]!;
    for (let j = 0; j < cols; j++) out[o + j] = log ? dy[o + j]! - Math.exp(y[o + j]!) * s : y[o + j]! * (dy[o + j]! - s);
  }
}

function checkLabel(kernel: string, label: number, row: number, c: number): void {
  if (!Number.isInteger(label) || label < 0 || label >= c) {
    throw new WebgradError(`cpu.${kernel}: label ${label} at row ${row} is outside the ${c} classes [0, ${c})`);
  }
}

export function softmaxCrossEntropyKernel(logits: TypedArray, labels: TypedArray, n: number, c: number, out: TypedArray): void {
  for (let r = 0; r < n; r++) {
    const o = r * c;
    const label = labels[r]!;
    checkLabel('softmaxCrossEntropy', label, r, c);
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, logits[o + j]!);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(logits[o + j]! - m);
    out[r] = m + Math.log(s) - logits[o + label]!;
  }
}

export function softmaxCrossEntropyGradKernel(logits: TypedArray, labels: TypedArray, dLoss: TypedArray, n: number, c: number, out: TypedArray): void {
  for (let r = 0; r < n; r++) {
    const o = r * c;
    const label = labels[r]!;
    checkLabel('softmaxCrossEntropyGrad', label, r, c);
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, logits[o + j]!);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(logits[o + j]! - m);
    for (let j = 0; j < c; j++) out[o + j] = (Math.exp(logits[o + j]! - m) / s - (j === label ? 1 : 0)) * dLoss[r]!;
  }
}

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
