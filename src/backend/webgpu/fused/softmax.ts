/**
 * Host side of the row kernels: softmax / logSoftmax, their gradients, softmax cross-entropy and
 * its gradient, over [rows, cols]. The shape rule: short rows run one invocation per row; rows of
 * TREE_MIN_COLS or more one workgroup per row with tree reductions (see shaders/softmax.ts). Rows
 * of TREE_MIN_COLS or more may instead run the tune's measured choice (reduce-tune.ts: loop, tree
 * or subgroup, per row-length bucket, timed on softmax), and the test hook forces any of them.
 */

import { WG_1D } from '../../../../shaders/common.js';
import { kernelChoice } from '../kernel-choice.js';
import {
  softmaxCrossEntropyGradKernel,
  softmaxCrossEntropyKernel,
  softmaxGradKernel,
  softmaxKernel,
  type RowMode,
} from '../../../../shaders/softmax.js';
import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import { dispatchKernel } from '../dispatch.js';
import { fill } from '../elementwise.js';
import type { GpuStorage } from '../storage.js';
import { checkCount, f32Input } from './kernels.js';

/** Rows at least this long get a workgroup each. */
export const TREE_MIN_COLS = 64;
/** Rows at least this long get workgroups of 256 invocations (else 64). */
const WIDE_COLS = 1024;

/** The tune's bucket for rows of `cols` (reduce-tune.ts), or null below TREE_MIN_COLS (never tuned). */
export function softmaxTuneKey(cols: number): string | null {
  return cols < TREE_MIN_COLS ? null : `softmax:${cols >= WIDE_COLS ? 'long' : 'mid'}`;
}

export type SoftmaxPath = 'loop' | 'tree' | 'subgroup';

/**
 * The row mode: `path` when given (the tune measuring), else the test hook's, else the tune's
 * choice for the row bucket, else the shape rule. A workgroup design takes wg = 64 or 256 but never
 * more than cols (each invocation starts from one element of its row); a forced workgroup design on
 * rows shorter than 64 takes the largest power of two <= cols (rows of one column: the loop).
 */
export function rowMode(cols: number, ctx?: Pick<KernelContext, 'reduceChoices' | 'subgroups'>, path?: SoftmaxPath): RowMode {
  const forced = path ?? kernelChoice().softmaxPath;
  if (forced === 'subgroup' && !ctx?.subgroups) {
    throw new Error("webgpu: softmax: softmaxPath 'subgroup' was forced but the device has no 'subgroups' feature");
  }
  const key = softmaxTuneKey(cols);
  const tuned = key === null ? undefined : ctx?.reduceChoices?.get(key);
  const kind = forced ?? (tuned && (tuned !== 'subgroup' || ctx?.subgroups) ? tuned : cols < TREE_MIN_COLS ? 'loop' : 'tree');
  // One column leaves no tree to build (a tree of 1 invocation has no halving step): the loop.
  if (kind === 'loop' || cols < 2) return { kind: 'loop' };
  const wg = cols >= WIDE_COLS ? 256 : cols >= TREE_MIN_COLS ? 64 : 2 ** Math.floor(Math.log2(cols));
  return { kind, wg };
}

function rowGroups(mode: RowMode, rows: number): number {
  return mode.kind === 'loop' ? Math.ceil(rows / WG_1D) : rows;
}

function checkShape(op: string, rows: number, cols: number): void {
  checkCount(op, 'rows', rows);
  checkCount(op, 'cols', cols);
}

export function softmax(ctx: KernelContext, xs: Storage, rows: number, cols: number, log: boolean, path?: SoftmaxPath): GpuStorage {
  const name = log ? 'logSoftmax' : 'softmax';
  checkShape(name, rows, cols);
  const x = f32Input(ctx, xs, name, 'x', rows * cols);
  const out = ctx.output(rows * cols, 'float32', name);
  if (rows * cols === 0) return out;
  const mode = rowMode(cols, ctx, path);
  dispatchKernel(ctx, name, softmaxKernel(log, mode), { X: x.buffer, out: out.buffer }, { rows, cols }, rowGroups(mode, rows));
  return out;
}

export function softmaxGrad(ctx: KernelContext, ys: Storage, dys: Storage, rows: number, cols: number, log: boolean): GpuStorage {
  const name = log ? 'logSoftmaxGrad' : 'softmaxGrad';
  checkShape(name, rows, cols);
  const y = f32Input(ctx, ys, name, 'y', rows * cols);
  const dy = f32Input(ctx, dys, name, 'dy', rows * cols);
  const out = ctx.output(rows * cols, 'float32', name);
  if (rows * cols === 0) return out;
  const mode = rowMode(cols, ctx);
  dispatchKernel(ctx, name, softmaxGradKernel(log, mode), { Y: y.buffer, DY: dy.buffer, out: out.buffer }, { rows, cols }, rowGroups(mode, rows));
  return out;
}

function labelsInput(ctx: KernelContext, s: Storage, op: string, n: number): GpuStorage {
  const l = ctx.input(s, op);
  if (l.dtype !== 'int32' || l.length !== n) throw new Error(`webgpu: ${op}: labels must be ${n} int32 values, got ${l.length} ${l.dtype}`);
  return l;
}

export function softmaxCrossEntropy(ctx: KernelContext, logitss: Storage, labelss: Storage, n: number, c: number): GpuStorage {
  const name = 'softmaxCrossEntropy';
  checkShape(name, n, c);
  const logits = f32Input(ctx, logitss, name, 'logits', n * c);
  const labels = labelsInput(ctx, labelss, name, n);
  if (n === 0) return ctx.output(0, 'float32', name);
  // A label outside [0, c) makes its row NaN below and is reported, with its row, by the next read.
  ctx.asserts.checkLabels(ctx, 'crossEntropy', labels, n, c);
  // No class holds any label: every row is NaN.
  if (c === 0) return fill(ctx, n, Number.NaN, 'float32');
  const out = ctx.output(n, 'float32', name);
  const mode = rowMode(c, ctx);
  const buffers = { X: logits.buffer, L: labels.buffer, out: out.buffer };
  dispatchKernel(ctx, name, softmaxCrossEntropyKernel(mode), buffers, { rows: n, cols: c }, rowGroups(mode, n));
  return out;
}

export function softmaxCrossEntropyGrad(ctx: KernelContext, logitss: Storage, labelss: Storage, dLosss: Storage, n: number, c: number): GpuStorage {
  const name = 'softmaxCrossEntropyGrad';
  checkShape(name, n, c);
  const logits = f32Input(ctx, logitss, name, 'logits', n * c);
  const labels = labelsInput(ctx, labelss, name, n);
  const dLoss = f32Input(ctx, dLosss, name, 'dLoss', n);
  const out = ctx.output(n * c, 'float32', name);
  if (n * c === 0) return out;
  const mode = rowMode(c, ctx);
  const buffers = { X: logits.buffer, L: labels.buffer, DL: dLoss.buffer, out: out.buffer };
  dispatchKernel(ctx, name, softmaxCrossEntropyGradKernel(mode), buffers, { rows: n, cols: c }, rowGroups(mode, n));
  return out;
}
