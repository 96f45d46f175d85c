/**
 * Batch normalisation over [N, C] with PyTorch semantics: training normalises with the biased batch
 * variance and updates the running variance with the unbiased one (momentum 0.1, eps 1e-5 by
 * default); evaluation uses the running statistics.
 */
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { fail, shapeStr } from '../errors.js';
import { checkFloat, checkSameBackend, checkSameDtype, checkTensor } from './checks.js';
import { noGrad, tidy } from '../lifetime.js';
import * as binary from './binary.js';
import { applyUnary } from './unary.js';
import { autocastWidens, inFloat32 } from '../amp/cast.js';

export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
}

function checkVector(op: string, name: string, t: Tensor | null, x: Tensor, c: number): void {
  if (!t) return;
  checkTensor(op, name, t);
  checkSameBackend(op, x, t);
  checkSameDtype(op, x, t);
  if (t.rank !== 1 || t.shape[0] !== c) fail(op, `${name} must have shape [${c}], got ${shapeStr(t.shape)}`);
}

/** The per-channel vectors and options every batch-norm op checks the same way; returns eps and momentum with their defaults. */
export function checkBatchNormArgs(
  op: string, x: Tensor, c: number,
  vectors: { runningMean: Tensor | null; runningVar: Tensor | null; weight: Tensor | null; bias: Tensor | null },
  options: BatchNormOptions,
): { eps: number; momentum: number } {
  for (const [name, t] of Object.entries(vectors)) checkVector(op, name, t, x, c);
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum ?? 0.1;
  if (!(eps > 0)) fail(op, `eps must be positive, got ${eps}`);
  if (!(momentum >= 0 && momentum <= 1)) fail(op, `momentum must be in [0, 1], got ${momentum}`);
  return { eps, momentum };
}

/**
 * The running statistics are updated in place by one routine when all four vectors are float32 (or
 * float64, CPU only) and distinct storages; otherwise (float16, where each step must round like the
 * elementwise ops, or a running buffer shared with another vector) by elementwise ops.
 */
function inPlaceRunningStats(runningMean: Tensor, runningVar: Tensor, mean: Tensor, variance: Tensor): boolean {
  const dtype = runningMean.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') return false;
  const all = [runningMean, runningVar, mean, variance];
  if (all.some((t) => t.dtype !== dtype || t.backend !== runningMean.backend)) return false;
  const storages = new Set(all.map((t) => t._storage('batchNorm')));
  return storages.size === all.length;
}

/**
 * The end of a training-mode forward shared by the batch-norm ops: the running statistics (if
 * given) move towards the batch's (the variance unbiased over `count` values per channel, as
 * PyTorch), the output is recorded for autograd with what the backward needs, and the batch
 * statistics' own handles are released (the record keeps its saved copies).
 */
export function finishBatchNormTraining<Op extends 'batchNorm' | 'batchNorm2d'>(
  op: Op, x: Tensor, weight: Tensor | null, bias: Tensor | null, out: Tensor,
  stats: { mean: Tensor; variance: Tensor; count: number; eps: number; momentum: number },
  runningMean: Tensor | null, runningVar: Tensor | null,
): Tensor {
  const { mean, variance, count, eps, momentum } = stats;
  if (runningMean && runningVar && inPlaceRunningStats(runningMean, runningVar, mean, variance)) {
    // One in-place routine (one dispatch on WebGPU): the running buffers keep their storage, so a
    // training step binds the same buffers every step (no bind group made per step).
    const step = `${op}.step`; // an in-place write: printed values of the running statistics go stale
    runningMean.backend.routine(
      'batchNormRunningStats',
      { runningMean: runningMean._storage(step), runningVar: runningVar._storage(step), mean: mean._storage(op), variance: variance._storage(op) },
      { c: mean.size, keep: 1 - momentum, momentum, varScale: (momentum * count) / (count - 1) },
    );
  } else if (runningMean && runningVar) {
    noGrad(() => tidy(() => {
      // The new values' storages move into the buffers; the tidy frees every temporary tensor.
      runningMean._assign(binary.add(binary.mul(runningMean, 1 - momentum), binary.mul(mean, momentum)));
      runningVar._assign(binary.add(binary.mul(runningVar, 1 - momentum), binary.mul(variance, (momentum * count) / (count - 1))));
    }));
  }
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const result = record(op, inputs, out, (save) => ({
    x: save(x), mean: save(mean), variance: save(variance), weight: weight ? save(weight) : null, hasBias: bias !== null, eps,
  }));
  mean.dispose();
  variance.dispose();
  return result;
}

/** The gradients in the op's input order (x, then weight and bias when present), null where not needed. */
export function batchNormGradList(needs: readonly boolean[], dx: Tensor, dgamma: Tensor, dbeta: Tensor, hasWeight: boolean, hasBias: boolean): (Tensor | null)[] {
  const grads: (Tensor | null)[] = [needs[0] ? dx : null];
  if (hasWeight) grads.push(needs[1] ? dgamma : null);
  if (hasBias) grads.push(needs[grads.length] ? dbeta : null);
  return grads;
}

/**
 * y = (x − mean)/sqrt(var + eps)·weight + bias. In training the running statistics (if given) are
 * updated in place.
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null, bias: Tensor | null, options: BatchNormOptions,
): Tensor {
  const op = 'batchNorm';
  checkTensor(op, 'input', x);
  // A float16 activation under autocast: normalised in float32, the output float16 again.
  if (autocastWidens(x)) return inFloat32(x, (x32) => batchNorm(x32, runningMean, runningVar, weight, bias, options));
  checkFloat(op, 'input', x);
  if (x.rank !== 2) fail(op, `input must be 2-D [N, C], got ${shapeStr(x.shape)}`);
  const [n, c] = x.shape as [number, number];
  const { eps, momentum } = checkBatchNormArgs(op, x, c, { runningMean, runningVar, weight, bias }, options);

  if (!options.training) {
    if (!runningMean || !runningVar) fail(op, 'evaluation mode needs runningMean and runningVar');
    // Written with ops: a per-channel affine map, differentiable through the usual rules.
    return tidy(() => {
      const scale = applyUnary('powScalar', op, binary.add(runningVar, eps), -0.5);
      let y = binary.mul(binary.sub(x, runningMean), scale);
      if (weight) y = binary.mul(y, weight);
      if (bias) y = binary.add(y, bias);
      return y;
    });
  }
  if (n < 2) fail(op, `training needs more than one value per channel, got input ${shapeStr(x.shape)}`);
  const backend = x.backend;
  const { mean, variance } = backend.routine('batchNormStats', { x: x._storage(op) }, { n, c });
  const meanT = Tensor._fromStorage(backend, mean, [c], op);
  const varT = Tensor._fromStorage(backend, variance, [c], op);
  const out = Tensor._fromStorage(
    backend,
    backend.routine('batchNormApply', { x: x._storage(op), mean, variance, gamma: weight?._storage(op) ?? null, beta: bias?._storage(op) ?? null }, { n, c, eps }),
    [n, c],
    op,
  );
  return finishBatchNormTraining(op, x, weight, bias, out, { mean: meanT, variance: varT, count: n, eps, momentum }, runningMean, runningVar);
}

export const batchNormGrads: GradRules<'batchNorm'> = {
  batchNorm: (dy, { x, mean, variance, weight, hasBias, eps }, needs) => {
    const [n, c] = x.shape as [number, number];
    const b = x.backend;
    const r = b.routine('batchNormBackward', { x: x._storage('batchNorm'), dy: dy._storage('batchNorm'), mean: mean._storage('batchNorm'), variance: variance._storage('batchNorm'), gamma: weight?._storage('batchNorm') ?? null }, { n, c, eps });
    const dx = Tensor._fromStorage(b, r.dx, [n, c], 'batchNorm (backward)');
    const dgamma = Tensor._fromStorage(b, r.dgamma, [c], 'batchNorm (backward)');
    const dbeta = Tensor._fromStorage(b, r.dbeta, [c], 'batchNorm (backward)');
    return batchNormGradList(needs, dx, dgamma, dbeta, weight !== null, hasBias);
  },
};
