/**
 * CPU reference of the batch-norm routines (twin of webgpu/fused/batchnorm.ts): statistics, apply
 * and the fused backward over x viewed as [n, c], float64 loops written next to their formulas.
 */
import type { TypedArray } from '../types.js';

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

/** In place: the running statistics' momentum step (twin of the WebGPU bn-running kernel). */
export function batchNormRunningStatsKernel(
  runningMean: TypedArray, runningVar: TypedArray, mean: TypedArray, variance: TypedArray,
  o: { c: number; keep: number; momentum: number; varScale: number },
): void {
  for (let j = 0; j < o.c; j++) {
    runningMean[j] = o.keep * runningMean[j]! + o.momentum * mean[j]!;
    runningVar[j] = o.keep * runningVar[j]! + o.varScale * variance[j]!;
  }
}
