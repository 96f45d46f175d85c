/**
 * Host side of reduce: x viewed as [outer, length, inner] -> [outer, inner], in passes that each
 * reduce chunks of the middle axis ([outer, L, inner] -> [outer, ceil(L / chunk), inner]) until one
 * chunk is left. Intermediate results go back to the pool (as outputs of the same batch only).
 *
 * Each pass runs one of three designs (shaders/reduce.ts): 'loop' (an invocation per output),
 * 'tree' (a workgroup per chunk, a tree in workgroup memory), 'subgroup' (the tree's workgroups,
 * one barrier, then a subgroup combine; only with the device feature 'subgroups'). Which one: the
 * test hook's forced path, else the tune's measured choice for the pass's shape bucket
 * (reduce-tune.ts; autotune on), else the documented shape rule.
 */

import { WG_1D, wgslType } from '../../../shaders/common.js';
import {
  COL_TREE_X,
  COL_TREE_Y,
  columnTreeKernel,
  loopReduceKernel,
  subgroupColumnKernel,
  subgroupRowKernel,
  TREE_WG,
  treeReduceKernel,
} from '../../../shaders/reduce.js';
import { kernelChoice } from './kernel-choice.js';
import type { ReduceOp, Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import { fill } from './elementwise.js';
import type { GpuStorage } from './storage.js';

export type ReducePath = 'loop' | 'tree' | 'subgroup';

/** Rows at least this long with inner = 1 use the workgroup tree kernel (the rule; shorter rows are never tuned). */
const TREE_MIN_LENGTH = 128;
/** Elements one tree workgroup reduces (16 per invocation). */
const TREE_CHUNK = TREE_WG * 16;
/** Rows up to this long are reduced by one invocation each in a single pass. */
const LOOP_MAX_SINGLE = 1024;
/**
 * inner > 1: the column tree (a workgroup per column block and chunk) replaces the column loop when
 * the axis is at least this long and there are at most COL_TREE_MAX_COLUMNS columns (outer·inner):
 * then the loop runs too few invocations to fill a device, each looping over the whole axis. A
 * shape rule (not an adapter rule), chosen conservatively so that the MLP's shapes (bias gradients
 * over a 128-row batch) keep the column loop they were tuned with; kernel-choice forces either.
 */
const COL_TREE_MIN_LENGTH = 1024;
const COL_TREE_MAX_COLUMNS = 256;
/** Rows one column-tree workgroup reduces (64 per row-slice). */
const COL_TREE_CHUNK = COL_TREE_Y * 64;
/** Columns of an axis shorter than this always run the column loop (never tuned: a workgroup per few rows is waste). */
const COL_TUNE_MIN_LENGTH = 64;
/** Rows at least this long are the tune's 'long' row bucket. */
export const ROW_LONG = 2048;

/**
 * The tune's bucket for a pass (reduce-tune.ts times one shape per bucket), or null where the rule
 * always decides (short rows, short columns).
 */
export function reduceTuneKey(outer: number, len: number, inner: number): string | null {
  if (inner === 1) return len < TREE_MIN_LENGTH ? null : `reduce-row:${len >= ROW_LONG ? 'long' : 'mid'}`;
  if (len < COL_TUNE_MIN_LENGTH) return null;
  return `reduce-col:${outer * inner <= COL_TREE_MAX_COLUMNS ? 'few' : 'many'}`;
}

/** The shape rule (exported for the tests): what runs with no forced path and no tuned choice. */
export function ruleReducePath(outer: number, len: number, inner: number): ReducePath {
  if (inner === 1) return len >= TREE_MIN_LENGTH ? 'tree' : 'loop';
  return len >= COL_TREE_MIN_LENGTH && outer * inner <= COL_TREE_MAX_COLUMNS ? 'tree' : 'loop';
}

/** Which design reduces a pass (exported for the tests): forced, else tuned, else the rule. */
export function reducePath(ctx: Pick<KernelContext, 'reduceChoices' | 'subgroups'> | null, outer: number, len: number, inner: number): ReducePath {
  const forced = kernelChoice().reducePath;
  if (forced === 'subgroup' && !ctx?.subgroups) {
    throw new Error("webgpu: reduce: reducePath 'subgroup' was forced but the device has no 'subgroups' feature");
  }
  if (forced) return forced;
  const key = reduceTuneKey(outer, len, inner);
  const tuned = key === null ? undefined : ctx?.reduceChoices?.get(key);
  // Stryker disable next-line OptionalChaining: ctx is null only through columnPath, and then tuned is undefined, so ctx?.subgroups is never read
  if (tuned && (tuned !== 'subgroup' || ctx?.subgroups)) return tuned;
  return ruleReducePath(outer, len, inner);
}

/** Which design reduces a pass with inner > 1 when nothing is tuned (kept for the tests). */
export function columnPath(outer: number, len: number, inner: number): ReducePath {
  return reducePath(null, outer, len, inner);
}

export function reduce(ctx: KernelContext, op: ReduceOp, xs: Storage, outer: number, length: number, inner: number, path?: ReducePath): GpuStorage {
  const name = `reduce ${op}`;
  const x = ctx.input(xs, name);
  const t = wgslType(x.dtype);
  if (outer * length * inner !== x.length) {
    throw new Error(`webgpu: ${name}: [outer ${outer}, length ${length}, inner ${inner}] does not match the ${x.length} elements of x`);
  }
  const nOut = outer * inner;
  if (nOut === 0) return ctx.output(0, x.dtype, name);
  if (length === 0) {
    // As the CPU reference: the sum of nothing is 0, the max of nothing -Infinity (int32: -2^31).
    if (op === 'sum') return fill(ctx, nOut, 0, x.dtype);
    return fill(ctx, nOut, x.dtype === 'int32' ? -2147483648 : -Infinity, x.dtype);
  }

  let cur: GpuStorage = x;
  let len = length;
  for (;;) {
    let next: GpuStorage;
    let chunks: number;
    // `path` (the tune measuring one design) applies to the first pass; later passes are short.
    const p = path && cur === x ? path : reducePath(ctx, outer, len, inner);
    if (inner === 1 && p !== 'loop') {
      chunks = Math.ceil(len / TREE_CHUNK);
      const chunk = Math.ceil(len / chunks);
      const groups = outer * chunks;
      next = ctx.output(groups, x.dtype, name);
      const values = { groups, length: len, chunk, nChunks: chunks };
      const kernel = p === 'subgroup' ? subgroupRowKernel(op, t) : treeReduceKernel(op, t);
      dispatchKernel(ctx, name, kernel, { X: cur.buffer, out: next.buffer }, values, groups);
    } else if (inner > 1 && p !== 'loop') {
      chunks = Math.ceil(len / COL_TREE_CHUNK);
      const chunk = Math.ceil(len / chunks);
      const colBlocks = Math.ceil(inner / COL_TREE_X);
      const groups = outer * chunks * colBlocks;
      next = ctx.output(outer * chunks * inner, x.dtype, name);
      const values = { groups, length: len, inner, chunk, nChunks: chunks, colBlocks };
      const kernel = p === 'subgroup' ? subgroupColumnKernel(op, t) : columnTreeKernel(op, t);
      dispatchKernel(ctx, name, kernel, { X: cur.buffer, out: next.buffer }, values, groups);
    } else {
      const chunk = len <= LOOP_MAX_SINGLE ? len : Math.max(256, Math.ceil(Math.sqrt(len)));
      chunks = Math.ceil(len / chunk);
      const n = outer * chunks * inner;
      next = ctx.output(n, x.dtype, name);
      const values = { n, length: len, inner, chunk, nChunks: chunks };
      dispatchKernel(ctx, name, loopReduceKernel(op, t), { X: cur.buffer, out: next.buffer }, values, Math.ceil(n / WG_1D));
    }
    if (cur !== x) ctx.releaseStorage(cur);
    cur = next;
    len = chunks;
    if (chunks === 1) return cur;
  }
}
