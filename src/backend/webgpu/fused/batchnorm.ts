/**
 * Host side of batch norm over [n, c]: statistics, the normalisation, and the fused backward.
 * Column reductions run as (column tile × row chunk) workgroups writing partials, then a
 * workgroup per column tile combines the chunks (see shaders/batchnorm.ts); the partial buffer goes
 * back to the pool at once (it may only be reused as an output within the open batch).
 */

import {
  BN_COLUMN_WG,
  BN_WG,
  bnApplyKernel,
  bnApplyVec4Kernel,
  bnBackwardColumnKernel,
  bnBackwardDxKernel,
  bnBackwardFinalizeKernel,
  bnBackwardPartialKernel,
  bnRunningStatsKernel,
  bnStatsColumnKernel,
  bnStatsFinalizeKernel,
  bnStatsPartialKernel,
} from '../../../../shaders/batchnorm.js';
import { WG_1D } from '../../../../shaders/common.js';
import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import { dispatchKernel } from '../dispatch.js';
import { fill } from '../elementwise.js';
import type { GpuStorage } from '../storage.js';
import { kernelChoice } from '../kernel-choice.js';
import { checkCount, checkDistinct, f32Input } from './kernels.js';

/** Rows each row lane handles per chunk, at least (longer loops amortise the tree reduction). */
const MIN_ROWS_PER_LANE = 8;
/** At most this many row chunks (more give more workgroups to the partial pass, longer combines). */
const MAX_CHUNKS = 1024;
/** Chunks each lane of the combine pass reads, about. */
const COMBINE_PER_LANE = 8;

export interface ColumnPlan {
  /** Columns per workgroup tile of the partial pass (a power of two dividing BN_WG). */
  tc: number;
  colTiles: number;
  chunkRows: number;
  chunks: number;
  /** Columns per workgroup tile of the combine pass (more lanes over the chunks). */
  combineTc: number;
  combineTiles: number;
}

/**
 * How [n, c] (n, c > 0) is split into (column tile, row chunk) workgroups; `tile` (a power of two
 * dividing BN_WG) replaces the tile width chosen from c.
 */
export function columnPlan(n: number, c: number, tile?: number): ColumnPlan {
  const tc = tile ?? (c >= 64 ? 64 : c >= 16 ? 16 : c >= 4 ? 4 : 1);
  const tr = BN_WG / tc;
  const perLane = Math.max(MIN_ROWS_PER_LANE, Math.ceil(n / (MAX_CHUNKS * tr)));
  const chunkRows = tr * perLane;
  const chunks = Math.ceil(n / chunkRows);
  // The combine pass: enough lanes that each reads about COMBINE_PER_LANE chunks, but tiles at least
  // 8 columns wide (32-byte segments of a partial row) unless the partial pass's were narrower.
  const lanes = 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(chunks / COMBINE_PER_LANE))));
  const combineTc = Math.min(tc, Math.max(BN_WG / Math.min(lanes, BN_WG), Math.min(tc, 8)));
  return { tc, colTiles: Math.ceil(c / tc), chunkRows, chunks, combineTc, combineTiles: Math.ceil(c / combineTc) };
}

/**
 * Software adapters (lavapipe, SwiftShader) run the column-loop kernels for batches up to this many
 * rows: workgroup barriers are costly there, and an in-order sum of up to 4096 float32 terms stays
 * well inside the tolerances the tree form meets.
 */
const COLUMN_LOOP_MAX_ROWS = 4096;

export type BatchNormPath = 'column' | 'tiled';
export type BatchNormOp = 'stats' | 'backward';
/** Rows up to which the tune's 'short' choice applies (batchnorm-tune.ts); above, its 'tall' one. */
export const SHORT_MAX_ROWS = 1024;

/** The key of a tuned choice: which reduction, and the row bucket of n. */
export function batchNormTuneKey(op: BatchNormOp, n: number): string {
  return `bn-${op}:${n <= SHORT_MAX_ROWS ? 'short' : 'tall'}`;
}

/**
 * Which design runs: `path` when given (the tune measuring), else the test hook's forced one, else
 * the tune's measured choice for this reduction and row bucket (batchnorm-tune.ts), else (no tune
 * run: autotune off) the rule above.
 */
function columnLoop(ctx: KernelContext, n: number, op: BatchNormOp, path?: BatchNormPath): boolean {
  const chosen = path ?? kernelChoice().batchNormPath ?? ctx.batchNormChoices?.get(batchNormTuneKey(op, n));
  if (chosen) return chosen === 'column';
  return ctx.softwareAdapter && n <= COLUMN_LOOP_MAX_ROWS;
}

/** The tiled plan, with the test hook's tile width when one is forced. */
function tiledPlan(n: number, c: number): ColumnPlan {
  return columnPlan(n, c, kernelChoice().batchNormTile);
}

function checkShape(op: string, n: number, c: number): void {
  checkCount(op, 'n', n);
  checkCount(op, 'c', c);
}

export function batchNormStats(ctx: KernelContext, xs: Storage, n: number, c: number, path?: BatchNormPath): { mean: GpuStorage; variance: GpuStorage } {
  const name = 'batchNormStats';
  checkShape(name, n, c);
  const x = f32Input(ctx, xs, name, 'x', n * c);
  if (c === 0) return { mean: ctx.output(0, 'float32', name), variance: ctx.output(0, 'float32', name) };
  // As the CPU twin: the statistics of no rows are 0/0.
  if (n === 0) return { mean: fill(ctx, c, Number.NaN, 'float32'), variance: fill(ctx, c, Number.NaN, 'float32') };
  if (columnLoop(ctx, n, 'stats', path)) {
    const mean = ctx.output(c, 'float32', name);
    const variance = ctx.output(c, 'float32', name);
    const buffers = { X: x.buffer, MEAN: mean.buffer, VAR: variance.buffer };
    dispatchKernel(ctx, name, bnStatsColumnKernel, buffers, { n, c }, Math.ceil(c / BN_COLUMN_WG));
    return { mean, variance };
  }
  const plan = tiledPlan(n, c);
  const partial = ctx.output(2 * plan.chunks * c, 'float32', name);
  const tiled = { n, c, chunkRows: plan.chunkRows, chunks: plan.chunks };
  const partialValues = { ...tiled, colTiles: plan.colTiles };
  dispatchKernel(ctx, name, bnStatsPartialKernel(plan.tc), { X: x.buffer, out: partial.buffer }, partialValues, plan.colTiles * plan.chunks);

  const mean = ctx.output(c, 'float32', name);
  const variance = ctx.output(c, 'float32', name);
  const finalBuffers = { S: partial.buffer, mean: mean.buffer, variance: variance.buffer };
  dispatchKernel(ctx, name, bnStatsFinalizeKernel(plan.combineTc), finalBuffers, { ...tiled, colTiles: plan.combineTiles }, plan.combineTiles);
  ctx.releaseStorage(partial);
  return { mean, variance };
}

export function batchNormApply(
  ctx: KernelContext, xs: Storage, means: Storage, variances: Storage, gammas: Storage | null, betas: Storage | null,
  n: number, c: number, eps: number,
): GpuStorage {
  const name = 'batchNormApply';
  checkShape(name, n, c);
  const x = f32Input(ctx, xs, name, 'x', n * c);
  const mean = f32Input(ctx, means, name, 'mean', c);
  const variance = f32Input(ctx, variances, name, 'variance', c);
  const gamma = gammas ? f32Input(ctx, gammas, name, 'gamma', c) : null;
  const beta = betas ? f32Input(ctx, betas, name, 'beta', c) : null;
  const total = n * c;
  const out = ctx.output(total, 'float32', name);
  if (total === 0) return out;
  // The kernel binds G / B exactly when gamma / beta are given (the same tests pick both).
  const buffers = { X: x.buffer, M: mean.buffer, V: variance.buffer, ...(gamma ? { G: gamma.buffer } : {}), ...(beta ? { B: beta.buffer } : {}), out: out.buffer };
  if (c % 4 === 0) {
    // Whole vec4s of one row per invocation (see bnApplyVec4Kernel).
    const values = { total: total / 4, c4: c / 4, eps };
    dispatchKernel(ctx, name, bnApplyVec4Kernel(gamma !== null, beta !== null), buffers, values, Math.ceil(total / 4 / WG_1D));
  } else {
    dispatchKernel(ctx, name, bnApplyKernel(gamma !== null, beta !== null), buffers, { total, c, eps }, Math.ceil(total / WG_1D));
  }
  return out;
}

export function batchNormBackward(
  ctx: KernelContext, xs: Storage, dys: Storage, means: Storage, variances: Storage, gammas: Storage | null,
  n: number, c: number, eps: number, path?: BatchNormPath,
): { dx: GpuStorage; dgamma: GpuStorage; dbeta: GpuStorage } {
  const name = 'batchNormBackward';
  checkShape(name, n, c);
  const x = f32Input(ctx, xs, name, 'x', n * c);
  const dy = f32Input(ctx, dys, name, 'dy', n * c);
  const mean = f32Input(ctx, means, name, 'mean', c);
  const variance = f32Input(ctx, variances, name, 'variance', c);
  const gamma = gammas ? f32Input(ctx, gammas, name, 'gamma', c) : null;
  if (n === 0 || c === 0) {
    // Sums over no rows are 0; dx has no elements.
    return { dx: ctx.output(0, 'float32', name), dgamma: fill(ctx, c, 0, 'float32'), dbeta: fill(ctx, c, 0, 'float32') };
  }
  if (columnLoop(ctx, n, 'backward', path)) {
    const dx = ctx.output(n * c, 'float32', name);
    const dgamma = ctx.output(c, 'float32', name);
    const dbeta = ctx.output(c, 'float32', name);
    const buffers = {
      X: x.buffer, DY: dy.buffer, MEAN: mean.buffer, VAR: variance.buffer, ...(gamma ? { GAMMA: gamma.buffer } : {}),
      DX: dx.buffer, DGAMMA: dgamma.buffer, DBETA: dbeta.buffer,
    };
    dispatchKernel(ctx, name, bnBackwardColumnKernel(gamma !== null), buffers, { n, c, eps }, Math.ceil(c / BN_COLUMN_WG));
    return { dx, dgamma, dbeta };
  }
  const plan = tiledPlan(n, c);
  const partial = ctx.output(2 * plan.chunks * c, 'float32', name);
  const tiled = { n, c, chunkRows: plan.chunkRows, chunks: plan.chunks };
  const partialBuffers = { X: x.buffer, DY: dy.buffer, M: mean.buffer, V: variance.buffer, out: partial.buffer };
  const partialValues = { ...tiled, colTiles: plan.colTiles, eps };
  dispatchKernel(ctx, name, bnBackwardPartialKernel(plan.tc), partialBuffers, partialValues, plan.colTiles * plan.chunks);

  const dgamma = ctx.output(c, 'float32', name);
  const dbeta = ctx.output(c, 'float32', name);
  const finalBuffers = { S: partial.buffer, dgamma: dgamma.buffer, dbeta: dbeta.buffer };
  dispatchKernel(ctx, name, bnBackwardFinalizeKernel(plan.combineTc), finalBuffers, { ...tiled, colTiles: plan.combineTiles }, plan.combineTiles);
  ctx.releaseStorage(partial);

  const total = n * c;
  const dx = ctx.output(total, 'float32', name);
  const buffers = {
    X: x.buffer, DY: dy.buffer, M: mean.buffer, V: variance.buffer, ...(gamma ? { G: gamma.buffer } : {}),
    DG: dgamma.buffer, DB: dbeta.buffer, out: dx.buffer,
  };
  dispatchKernel(ctx, name, bnBackwardDxKernel(gamma !== null), buffers, { total, c, n, eps }, Math.ceil(total / WG_1D));
  return { dx, dgamma, dbeta };
}

/** In place: the running statistics' momentum step (see bnRunningStatsKernel). */
export function batchNormRunningStats(
  ctx: KernelContext, runningMeans: Storage, runningVars: Storage, means: Storage, variances: Storage,
  o: { c: number; keep: number; momentum: number; varScale: number },
): void {
  const name = 'batchNormRunningStats';
  checkCount(name, 'c', o.c);
  const rm = f32Input(ctx, runningMeans, name, 'runningMean', o.c);
  const rv = f32Input(ctx, runningVars, name, 'runningVar', o.c);
  const mean = f32Input(ctx, means, name, 'mean', o.c);
  const variance = f32Input(ctx, variances, name, 'variance', o.c);
  checkDistinct(name, [['runningMean', rm], ['runningVar', rv], ['mean', mean], ['variance', variance]]);
  if (o.c === 0) return;
  const buffers = { MEAN: mean.buffer, VAR: variance.buffer, RM: rm.buffer, RV: rv.buffer };
  dispatchKernel(ctx, name, bnRunningStatsKernel, buffers, { c: o.c, keep: o.keep, momentum: o.momentum, varScale: o.varScale }, Math.ceil(o.c / WG_1D));
}
