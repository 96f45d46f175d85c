/**
 * Gradient clipping, the remedy for exploding gradients. clipGradNorm computes the global norm and
 * the scale on the device (no readback), so a training step stays free of GPU syncs.
 */
import type { Tensor } from '../tensor.js';
import { tidy, noGrad } from '../lifetime.js';
import { fail } from '../errors.js';
import { sum } from '../ops/reduce.js';
import { square, sqrt, clamp, applyUnary } from '../ops/unary.js';
import { add, mul } from '../ops/binary.js';
import { checkPositive } from './optimizer.js';

function withGrad(params: Iterable<Tensor>): Tensor[] {
  return [...params].filter((p) => p.grad !== null);
}

/**
 * Scales all gradients together so their global L2 norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_). Returns the norm before clipping, as a scalar tensor.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  checkPositive('clipGradNorm', 'maxNorm', maxNorm);
  const list = withGrad(params);
  if (list.length === 0) fail('clipGradNorm', 'no parameter has a gradient; call backward() first');
  return noGrad(() => tidy(() => {
    let total: Tensor | null = null;
    for (const p of list) {
      const s = sum(square(p.grad!));
      total = total ? add(total, s) : s;
    }
    const norm = sqrt(total!);
    // scale = min(1, maxNorm / (norm + 1e-6)), computed on the device.
    const scale = clamp(applyUnary('reciprocal', 'clipGradNorm', mul(add(norm, 1e-6), 1 / maxNorm)), null, 1);
    for (const p of list) {
      const g = mul(p.grad!, scale);
      p.grad!._assign(g);
    }
    return norm;
  }));
}

/** Clamps every gradient element to [−clipValue, clipValue]. */
export function clipGradValue(params: Iterable<Tensor>, clipValue: number): void {
  checkPositive('clipGradValue', 'clipValue', clipValue);
  noGrad(() => tidy(() => {
    for (const p of withGrad(params)) p.grad!._assign(clamp(p.grad!, -clipValue, clipValue));
  }));
}
