/**
 * Host side of batch norm over [n, c]: statistics, the normalisation, and the fused backward.
 * Column reductions run as (column tile × row chunk) workgroups writing partials, then a
 * workgroup per column tile combines the chunks (see shaders/batchnorm.ts); the partial buffer goes
 * back to the pool at once (it may only be reused as an output within the open batch).
 */

import {
  BN_WG,
  bnApplyShader,
  bnBackwardColumnShader,
  bnBackwardDxShader,
  bnStatsColumnShader,
  bnBackwardFinalizeShader,
  bnBackwardPartialShader,
  bnStatsFinalizeShader,
  bnStatsPartialShader,
} from '../../../../shaders/batchnorm.js';
import { WG_1D } from '../../../../shaders/common.js';
import type { Storage } from '../../types.js';
import { Params, type KernelContext } from '../context.js';
import { fill } from '../elementwise.js';
import type { GpuStorage } from '../storage.js';
import { kernelChoice } from '../kernel-choice.js';
import { checkCount, f32Input, multiOutputKernel } from './kernels.js';

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

function columnLoop(ctx: KernelContext, n: number): boolean {
  const path = kernelChoice().batchNormPath;
  if (path) return path === 'column';
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

export function batchNormStats(ctx: KernelContext, xs: Storage, n: number, c: number): { mean: GpuStorage; variance: GpuStorage } {
  const name = 'batchNormStats';
  checkShape(name, n, c);
  const x = f32Input(ctx, xs, name, 'x', n * c);
  if (c === 0) return { mean: ctx.output(0, 'float32', name), variance: ctx.output(0, 'float32', name) };
  // As the CPU twin: the statistics of no rows are 0/0.
  if (n === 0) return { mean: fill(ctx, c, Number.NaN, 'float32'), variance: fill(ctx, c, Number.NaN, 'float32') };
  if (columnLoop(ctx, n)) {
    const mean = ctx.output(c, 'float32', name);
    const variance = ctx.output(c, 'float32', name);
    const p = new Params(2);
    p.u32.set([n, c]);
    const kernel = multiOutputKernel(ctx, 'bn-stats-column', 1, 2, bnStatsColumnShader);
    ctx.batcher.dispatch(name, kernel, [x.buffer, mean.buffer, variance.buffer], p.u32, Math.ceil(c / 64));
    return { mean, variance };
  }
  const plan = tiledPlan(n, c);
  const partial = ctx.output(2 * plan.chunks * c, 'float32', name);
  const pp = new Params(5);
  pp.u32.set([n, c, plan.chunkRows, plan.chunks, plan.colTiles]);
  const partialKernel = ctx.pipelines.get(`bn-stats-partial:${plan.tc}`, 1, () => bnStatsPartialShader(plan.tc));
  ctx.batcher.dispatch(name, partialKernel, [x.buffer, partial.buffer], pp.u32, plan.colTiles * plan.chunks);

  const mean = ctx.output(c, 'float32', name);
  const variance = ctx.output(c, 'float32', name);
  const fp = new Params(5);
  fp.u32.set([n, c, plan.chunkRows, plan.chunks, plan.combineTiles]);
  const finalKernel = multiOutputKernel(ctx, `bn-stats-final:${plan.combineTc}`, 1, 2, () => bnStatsFinalizeShader(plan.combineTc));
  ctx.batcher.dispatch(name, finalKernel, [partial.buffer, mean.buffer, variance.buffer], fp.u32, plan.combineTiles);
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
  const buffers = [x.buffer, mean.buffer, variance.buffer];
  if (gamma) buffers.push(gamma.buffer);
  if (beta) buffers.push(beta.buffer);
  buffers.push(out.buffer);
  const kernel = ctx.pipelines.get(`bn-apply:${gamma ? 'g' : '-'}${beta ? 'b' : '-'}`, buffers.length - 1, () => bnApplyShader(gamma !== null, beta !== null));
  const p = new Params(3);
  p.u32[0] = total;
  p.u32[1] = c;
  p.f32[2] = eps;
  ctx.batcher.dispatch(name, kernel, buffers, p.u32, Math.ceil(total / WG_1D));
  return out;
}

export function batchNormBackward(
  ctx: KernelContext, xs: Storage, dys: Storage, means: Storage, variances: Storage, gammas: Storage | null,
  n: number, c: number, eps: number,
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
  if (columnLoop(ctx, n)) {
    const dx = ctx.output(n * c, 'float32', name);
    const dgamma = ctx.output(c, 'float32', name);
    const dbeta = ctx.output(c, 'float32', name);
    const inputs = gamma ? [x.buffer, dy.buffer, mean.buffer, variance.buffer, gamma.buffer] : [x.buffer, dy.buffer, mean.buffer, variance.buffer];
    const p = new Params(3);
    p.u32.set([n, c]);
    p.f32[2] = eps;
    const kernel = multiOutputKernel(ctx, `bn-backward-column:${gamma ? 'g' : '-'}`, inputs.length, 3, () => bnBackwardColumnShader(gamma !== null));
    ctx.batcher.dispatch(name, kernel, [...inputs, dx.buffer, dgamma.buffer, dbeta.buffer], p.u32, Math.ceil(c / 64));
    return { dx, dgamma, dbeta };
  }
  const plan = tiledPlan(n, c);
  const partial = ctx.output(2 * plan.chunks * c, 'float32', name);
  const pp = new Params(6);
  pp.u32.set([n, c, plan.chunkRows, plan.chunks, plan.colTiles]);
  pp.f32[5] = eps;
  const partialKernel = ctx.pipelines.get(`bn-backward-partial:${plan.tc}`, 4, () => bnBackwardPartialShader(plan.tc));
  ctx.batcher.dispatch(name, partialKernel, [x.buffer, dy.buffer, mean.buffer, variance.buffer, partial.buffer], pp.u32, plan.colTiles * plan.chunks);

  const dgamma = ctx.output(c, 'float32', name);
  const dbeta = ctx.output(c, 'float32', name);
  const fp = new Params(5);
  fp.u32.set([n, c, plan.chunkRows, plan.chunks, plan.combineTiles]);
  const finalKernel = multiOutputKernel(ctx, `bn-backward-final:${plan.combineTc}`, 1, 2, () => bnBackwardFinalizeShader(plan.combineTc));
  ctx.batcher.dispatch(name, finalKernel, [partial.buffer, dgamma.buffer, dbeta.buffer], fp.u32, plan.combineTiles);
  ctx.releaseStorage(partial);

  const total = n * c;
  const dx = ctx.output(total, 'float32', name);
  const buffers = [x.buffer, dy.buffer, mean.buffer, variance.buffer];
  if (gamma) buffers.push(gamma.buffer);
  buffers.push(dgamma.buffer, dbeta.buffer, dx.buffer);
  const dxKernel = ctx.pipelines.get(`bn-backward-dx:${gamma ? 'g' : '-'}`, buffers.length - 1, () => bnBackwardDxShader(gamma !== null));
  const dp = new Params(4);
  dp.u32[0] = total;
  dp.u32[1] = c;
  dp.f32[2] = n;
  dp.f32[3] = eps;
  ctx.batcher.dispatch(name, dxKernel, buffers, dp.u32, Math.ceil(total / WG_1D));
  return { dx, dgamma, dbeta };
}
