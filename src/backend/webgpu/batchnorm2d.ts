/**
 * Host side of batch norm on NCHW (BatchNorm2d): statistics, the normalisation and the fused
 * backward straight on [n, c, hw], with no permute (see shaders/batchnorm2d.ts). The reduction
 * passes write (channel × chunk) partials that the combine kernels of shaders/batchnorm.ts merge.
 */

import { bnBackwardFinalizeKernel, bnStatsFinalizeKernel } from '../../../shaders/batchnorm.js';
import {
  BN2D_LANE_WG, BN2D_WG, bn2dApplyKernel, bn2dBackwardDxKernel, bn2dBackwardLaneKernel, bn2dBackwardPartialKernel,
  bn2dStatsLaneKernel, bn2dStatsPartialKernel,
} from '../../../shaders/batchnorm2d.js';
import { WG_1D } from '../../../shaders/common.js';
import type { Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import { fill } from './elementwise.js';
import type { GpuStorage } from './storage.js';
import { checkCount, f32Input } from './fused/kernels.js';
import { kernelChoice } from './kernel-choice.js';

/** Elements each lane reads per chunk, at least (longer loops amortise the tree). */
const MIN_PER_LANE = 8;
/** At most this many chunks per channel. */
const MAX_CHUNKS = 1024;
/** Chunks each lane of the combine pass reads, about. */
const COMBINE_PER_LANE = 8;

/** Elements per chunk of the lane forms (one invocation each; a short in-order float32 sum). */
const LANE_CHUNK = 256;

export interface Bn2dPlan {
  /** One invocation per (channel, chunk) walking it (no barriers), or a workgroup tree per chunk. */
  lane: boolean;
  chunkRows: number;
  chunks: number;
  /** Channels per workgroup of the combine kernels (a power of two dividing 256). */
  combineTc: number;
  combineTiles: number;
}

/**
 * How each channel's count = n·hw elements (count, c > 0) are split into chunks, by shape: the
 * lane form (software adapters, where barriers are dear) takes chunks of LANE_CHUNK, the tree
 * form chunks of at least BN2D_WG·MIN_PER_LANE.
 */
export function bn2dPlan(count: number, c: number, lane: boolean): Bn2dPlan {
  const perLane = Math.max(MIN_PER_LANE, Math.ceil(count / (MAX_CHUNKS * BN2D_WG)));
  const chunkRows = lane ? LANE_CHUNK : BN2D_WG * perLane;
  const chunks = Math.ceil(count / chunkRows);
  // The combine's lanes stride over the chunks: about COMBINE_PER_LANE each, the rest of the 256
  // lanes spread over channels (at most 8 per workgroup, fewer when there are fewer channels).
  const lanes = 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(chunks / COMBINE_PER_LANE))));
  const combineTc = Math.max(1, Math.min(8, 256 / Math.min(lanes, 256), 2 ** Math.floor(Math.log2(c))));
  return { lane, chunkRows, chunks, combineTc, combineTiles: Math.ceil(c / combineTc) };
}

/** The lane form on software adapters; kernel-choice's batchNormPath forces it ('column') or the tree ('tiled'). */
function laneForm(ctx: KernelContext): boolean {
  const path = kernelChoice().batchNormPath;
  if (path) return path === 'column';
  return ctx.softwareAdapter;
}

/** Workgroups of a partial pass. */
const partialGroups = (plan: Bn2dPlan, c: number): number => (plan.lane ? Math.ceil((c * plan.chunks) / BN2D_LANE_WG) : c * plan.chunks);

function checkShape(op: string, n: number, c: number, hw: number): void {
  checkCount(op, 'n', n);
  checkCount(op, 'c', c);
  checkCount(op, 'hw', hw);
}

export function batchNorm2dStats(ctx: KernelContext, xs: Storage, n: number, c: number, hw: number): { mean: GpuStorage; variance: GpuStorage } {
  const name = 'batchNorm2dStats';
  checkShape(name, n, c, hw);
  const x = f32Input(ctx, xs, name, 'x', n * c * hw);
  if (c === 0) return { mean: ctx.output(0, 'float32', name), variance: ctx.output(0, 'float32', name) };
  const count = n * hw;
  // As the CPU twin: the statistics of no elements are 0/0.
  if (count === 0) return { mean: fill(ctx, c, Number.NaN, 'float32'), variance: fill(ctx, c, Number.NaN, 'float32') };
  const plan = bn2dPlan(count, c, laneForm(ctx));
  // Stryker disable next-line StringLiteral: the partials' dtype is never read (the kernels declare their bindings; 4 bytes an element for any dtype but float16)
  const partial = ctx.output(2 * plan.chunks * c, 'float32', name);
  const values = { count, c, hw, chw: c * hw, chunkRows: plan.chunkRows, chunks: plan.chunks };
  dispatchKernel(ctx, name, plan.lane ? bn2dStatsLaneKernel : bn2dStatsPartialKernel, { X: x.buffer, out: partial.buffer }, values, partialGroups(plan, c));
  const mean = ctx.output(c, 'float32', name);
  const variance = ctx.output(c, 'float32', name);
  const combine = { n: count, c, chunkRows: plan.chunkRows, chunks: plan.chunks, colTiles: plan.combineTiles };
  dispatchKernel(ctx, name, bnStatsFinalizeKernel(plan.combineTc), { S: partial.buffer, mean: mean.buffer, variance: variance.buffer }, combine, plan.combineTiles);
  ctx.releaseStorage(partial);
  return { mean, variance };
}

export function batchNorm2dApply(
  ctx: KernelContext, xs: Storage, means: Storage, variances: Storage, gammas: Storage | null, betas: Storage | null,
  n: number, c: number, hw: number, eps: number,
): GpuStorage {
  const name = 'batchNorm2dApply';
  checkShape(name, n, c, hw);
  const total = n * c * hw;
  const x = f32Input(ctx, xs, name, 'x', total);
  const mean = f32Input(ctx, means, name, 'mean', c);
  const variance = f32Input(ctx, variances, name, 'variance', c);
  const gamma = gammas ? f32Input(ctx, gammas, name, 'gamma', c) : null;
  const beta = betas ? f32Input(ctx, betas, name, 'beta', c) : null;
  const out = ctx.output(total, 'float32', name);
  if (total === 0) return out;
  const buffers = { X: x.buffer, M: mean.buffer, V: variance.buffer, ...(gamma ? { G: gamma.buffer } : {}), ...(beta ? { B: beta.buffer } : {}), out: out.buffer };
  dispatchKernel(ctx, name, bn2dApplyKernel(gamma !== null, beta !== null), buffers, { total, c, hw, eps }, Math.ceil(total / WG_1D));
  return out;
}

export function batchNorm2dBackward(
  ctx: KernelContext, xs: Storage, dys: Storage, means: Storage, variances: Storage, gammas: Storage | null,
  n: number, c: number, hw: number, eps: number,
): { dx: GpuStorage; dgamma: GpuStorage; dbeta: GpuStorage } {
  const name = 'batchNorm2dBackward';
  checkShape(name, n, c, hw);
  const total = n * c * hw;
  const x = f32Input(ctx, xs, name, 'x', total);
  const dy = f32Input(ctx, dys, name, 'dy', total);
  const mean = f32Input(ctx, means, name, 'mean', c);
  const variance = f32Input(ctx, variances, name, 'variance', c);
  const gamma = gammas ? f32Input(ctx, gammas, name, 'gamma', c) : null;
  const count = n * hw;
  if (count === 0 || c === 0) {
    // Sums over no elements are 0; dx has no elements.
    return { dx: ctx.output(0, 'float32', name), dgamma: fill(ctx, c, 0, 'float32'), dbeta: fill(ctx, c, 0, 'float32') };
  }
  const plan = bn2dPlan(count, c, laneForm(ctx));
  // Stryker disable next-line StringLiteral: as in batchNorm2dStats, the partials' dtype is never read
  const partial = ctx.output(2 * plan.chunks * c, 'float32', name);
  const values = { count, c, hw, chw: c * hw, chunkRows: plan.chunkRows, chunks: plan.chunks, eps };
  const partialBuffers = { X: x.buffer, DY: dy.buffer, M: mean.buffer, V: variance.buffer, out: partial.buffer };
  dispatchKernel(ctx, name, plan.lane ? bn2dBackwardLaneKernel : bn2dBackwardPartialKernel, partialBuffers, values, partialGroups(plan, c));
  const dgamma = ctx.output(c, 'float32', name);
  const dbeta = ctx.output(c, 'float32', name);
  const combine = { n: count, c, chunkRows: plan.chunkRows, chunks: plan.chunks, colTiles: plan.combineTiles };
  dispatchKernel(ctx, name, bnBackwardFinalizeKernel(plan.combineTc), { S: partial.buffer, dgamma: dgamma.buffer, dbeta: dbeta.buffer }, combine, plan.combineTiles);
  ctx.releaseStorage(partial);

  const dx = ctx.output(total, 'float32', name);
  const buffers = {
    X: x.buffer, DY: dy.buffer, M: mean.buffer, V: variance.buffer, ...(gamma ? { G: gamma.buffer } : {}),
    DG: dgamma.buffer, DB: dbeta.buffer, out: dx.buffer,
  };
  dispatchKernel(ctx, name, bn2dBackwardDxKernel(gamma !== null), buffers, { total, c, hw, count, eps }, Math.ceil(total / WG_1D));
  return { dx, dgamma, dbeta };
}
