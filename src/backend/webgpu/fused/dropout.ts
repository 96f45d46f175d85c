/**
 * Host side of dropout (shaders/dropout.ts): the forward draws the keep decisions from Philox
 * (seed, offset) and, when asked, stores them as a bit-packed mask that the backward applies.
 */

import { DROPOUT_APPLY_WG, DROPOUT_WG, dropoutApplyKernel, dropoutKernel, dropoutMaskKernel, dropoutMaskWords } from '../../../../shaders/dropout.js';
import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import { dispatchKernel } from '../dispatch.js';
import type { GpuStorage } from '../storage.js';
import { f32Input } from './kernels.js';

const TWO32 = 4294967296;
const TWO53 = 2 ** 53;

function checkU53(op: string, what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`webgpu: ${op}: ${what} must be a non-negative safe integer, got ${v}`);
}

function checkP(op: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`webgpu: ${op}: p must be in [0, 1), got ${p}`);
}

function run(ctx: KernelContext, op: string, xs: Storage, p: number, seed: number, offset: number, withMask: boolean): { out: GpuStorage; mask: GpuStorage | null } {
  const x = f32Input(ctx, xs, op, 'x', xs.length);
  checkP(op, p);
  checkU53(op, 'seed', seed);
  checkU53(op, 'offset', offset);
  if (offset + x.length > TWO53) throw new Error(`webgpu: ${op}: offset + length must be at most 2^53, got ${offset} + ${x.length}`);
  const n = x.length;
  const out = ctx.output(n, 'float32', op);
  const words = dropoutMaskWords(n);
  const mask = withMask ? ctx.output(words, 'int32', op) : null;
  if (n === 0) return { out, mask };
  // Block q0 holds words 4q0..4q0+3; the first `skip` of them precede the offset.
  const q0 = Math.floor(offset / 4);
  const skip = offset - q0 * 4;
  const values = {
    n,
    threads: words,
    q0lo: q0 % TWO32,
    q0hi: Math.floor(q0 / TWO32),
    skip,
    keylo: seed % TWO32,
    keyhi: Math.floor(seed / TWO32),
    // u = k·2^-24 >= p  <=>  k >= ceil(p·2^24) (p·2^24 is exact in float64): the CPU's test, exactly.
    threshold: Math.ceil(p * 2 ** 24),
    // The CPU twin rounds the scale to float32 the same way (pack writes it as f32).
    scale: 1 / (1 - p),
  };
  const vec4 = n % 4 === 0;
  const groups = Math.ceil(words / DROPOUT_WG);
  if (mask) dispatchKernel(ctx, op, dropoutMaskKernel(vec4), { X: x.buffer, out: out.buffer, MASK: mask.buffer }, values, groups);
  else dispatchKernel(ctx, op, dropoutKernel(vec4), { X: x.buffer, out: out.buffer }, values, groups);
  return { out, mask };
}

/** Inverted dropout, the keep decisions regenerated from (seed, offset); no mask kept. */
export function dropout(ctx: KernelContext, xs: Storage, p: number, seed: number, offset: number): GpuStorage {
  return run(ctx, 'dropout', xs, p, seed, offset, false).out;
}

/** Dropout that also returns its bit-packed keep mask (int32 storage of ceil(n / 32) words). */
export function dropoutWithMask(ctx: KernelContext, xs: Storage, p: number, seed: number, offset: number): { out: GpuStorage; mask: GpuStorage } {
  const r = run(ctx, 'dropoutWithMask', xs, p, seed, offset, true);
  return { out: r.out, mask: r.mask! };
}

/** out = mask ? dy·(1/(1−p)) : 0 with the mask dropoutWithMask wrote (the dropout backward). */
export function dropoutApplyMask(ctx: KernelContext, dys: Storage, masks: Storage, p: number): GpuStorage {
  const op = 'dropoutApplyMask';
  const dy = f32Input(ctx, dys, op, 'dy', dys.length);
  checkP(op, p);
  const mask = ctx.input(masks, op);
  const n = dy.length;
  if (mask.dtype !== 'int32' || mask.length !== dropoutMaskWords(n)) {
    throw new Error(`webgpu: ${op}: mask must be ${dropoutMaskWords(n)} int32 words for ${n} elements, got ${mask.length} ${mask.dtype}`);
  }
  const out = ctx.output(n, 'float32', op);
  if (n === 0) return out;
  const vec4 = n % 4 === 0;
  const lanes = vec4 ? n / 4 : n;
  dispatchKernel(ctx, op, dropoutApplyKernel(vec4), { DY: dy.buffer, MASK: mask.buffer, out: out.buffer }, { n: lanes, scale: 1 / (1 - p) }, Math.ceil(lanes / DROPOUT_APPLY_WG));
  return out;
}
