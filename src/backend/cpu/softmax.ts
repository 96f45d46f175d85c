/**
 * CPU reference of the softmax routines (twin of webgpu/fused/softmax.ts): softmax / logSoftmax
 * and their gradient, and the fused softmax cross-entropy with integer labels (max subtracted).
 */
import type { TypedArray } from '../types.js';
import { WebgradError } from '../../errors.js';

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
