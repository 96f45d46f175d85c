/**
 * CPU reference of the NCHW batch-norm routines (twin of webgpu/batchnorm2d.ts): per-channel
 * statistics, apply and the fused backward over x [n, c, hw], float64 loops next to their formulas.
 */
import type { TypedArray } from '../types.js';

/** Calls f(e) for each element index e of channel j of [n, c, hw]. */
function forChannel(n: number, c: number, hw: number, j: number, f: (e: number) => void): void {
  for (let b = 0; b < n; b++) {
    const base = (b * c + j) * hw;
    for (let s = 0; s < hw; s++) f(base + s);
  }
}

export function batchNorm2dStatsKernel(x: TypedArray, n: number, c: number, hw: number, mean: TypedArray, variance: TypedArray): void {
  const count = n * hw;
  for (let j = 0; j < c; j++) {
    let s = 0;
    forChannel(n, c, hw, j, (e) => { s += x[e]!; });
    const m = s / count;
    let ss = 0;
    forChannel(n, c, hw, j, (e) => { ss += (x[e]! - m) ** 2; });
    mean[j] = m;
    variance[j] = ss / count; // biased, as PyTorch normalises with
  }
}

export function batchNorm2dApplyKernel(
  x: TypedArray, mean: TypedArray, variance: TypedArray, gamma: TypedArray | null, beta: TypedArray | null,
  n: number, c: number, hw: number, eps: number, out: TypedArray,
): void {
  for (let j = 0; j < c; j++) {
    const rstd = 1 / Math.sqrt(variance[j]! + eps);
    const g = gamma ? gamma[j]! : 1;
    const b = beta ? beta[j]! : 0;
    const m = mean[j]!;
    forChannel(n, c, hw, j, (e) => { out[e] = (x[e]! - m) * rstd * g + b; });
  }
}

export function batchNorm2dBackwardKernel(
  x: TypedArray, dy: TypedArray, mean: TypedArray, variance: TypedArray, gamma: TypedArray | null,
  n: number, c: number, hw: number, eps: number, dx: TypedArray, dgamma: TypedArray, dbeta: TypedArray,
): void {
  const count = n * hw;
  for (let j = 0; j < c; j++) {
    const rstd = 1 / Math.sqrt(variance[j]! + eps);
    const m = mean[j]!;
    let sumDy = 0;
    let sumDyXhat = 0;
    forChannel(n, c, hw, j, (e) => {
      sumDy += dy[e]!;
      sumDyXhat += dy[e]! * (x[e]! - m) * rstd;
    });
    dgamma[j] = sumDyXhat;
    dbeta[j] = sumDy;
    const k = (gamma ? gamma[j]! : 1) * rstd / count;
    forChannel(n, c, hw, j, (e) => { dx[e] = k * (count * dy[e]! - sumDy - (x[e]! - m) * rstd * sumDyXhat); });
  }
}
