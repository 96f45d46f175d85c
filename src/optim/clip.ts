/**
 * Gradient clipping, the remedy for exploding gradients. clipGradNorm computes the global norm and
 * the scale on the device (no readback), so a training step stays free of GPU syncs.
 *
 * The norm is computed with scaling, so it is right exactly when gradients explode: every gradient
 * is divided by the largest magnitude m first, the norm of those (at most 1 each, so their squares
 * neither overflow nor underflow) is taken, and m is multiplied back. [1e20, 1e20, 0] gives 1.41e20
 * (squaring in float32 would give Inf and zero the gradients, as PyTorch 1.13 does in float32) and
 * [1e-30, 1e-30, 0] gives 1.41e-30 (not 0). The clip factor maxNorm/(norm + 1e-6) is formed as
 * (maxNorm/(s + 1e-6/m))/m from the scaled norm s, so it is right even where m·s overflows, and
 * applied as two factors √c so that it never is a subnormal (which some drivers flush to 0).
 */
import type { Tensor } from '../tensor.js';
import { tidy, noGrad } from '../lifetime.js';
import { fail } from '../errors.js';
import { max, sum } from '../ops/reduce.js';
import { abs, square, sqrt, clamp, applyUnary } from '../ops/unary.js';
import { add, div, maximum, mul } from '../ops/binary.js';
import { checkPositive } from './optimizer.js';

function withGrad(params: Iterable<Tensor>): Tensor[] {
  return [...params].filter((p) => p.grad !== null);
}

export interface ClipGradNormOptions {
  /** Which norm of all gradients taken together: 2 (default), 1 or Infinity (largest magnitude). */
  normType?: number;
  /**
   * Throw a WebgradError when the total norm is NaN or ±Inf (PyTorch's error_if_nonfinite; default
   * false). The norm lives on the device, so the check runs there: the CPU backend throws at this
   * call with the gradients unchanged; WebGPU records it on the device and throws at the next read
   * of any tensor (`await t.data()`, a loss value...), by which time the gradients were scaled.
   */
  errorIfNonfinite?: boolean;
}

/** Smallest normal and largest finite value of a float dtype: the range the scale m is kept in. */
function scaleRange(dtype: string): [number, number] {
  if (dtype === 'float16') return [2 ** -14, 65504];
  return dtype === 'float64' ? [2.2250738585072014e-308, Number.MAX_VALUE] : [1.1754943508222875e-38, 3.4028234663852886e38];
}

/**
 * Scales all gradients together so their global norm is at most maxNorm (as
 * torch.nn.utils.clip_grad_norm_, with normType and errorIfNonfinite). Returns the norm before
 * clipping, as a scalar tensor. NaN gradients give a NaN norm and NaN gradients; an Inf gradient an
 * Inf norm (as PyTorch).
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, options: ClipGradNormOptions = {}): Tensor {
  const op = 'clipGradNorm';
  checkPositive(op, 'maxNorm', maxNorm);
  const normType = options.normType ?? 2;
  if (normType !== 1 && normType !== 2 && normType !== Infinity) fail(op, `normType must be 1, 2 or Infinity, got ${String(normType)}`);
  const list = withGrad(params);
  if (list.length === 0) fail(op, 'no parameter has a gradient; call backward() first');
  const grads = list.map((p) => p.grad!).filter((g) => g.size > 0);
  if (grads.length === 0) fail(op, 'every gradient is empty');
  return noGrad(() => tidy(() => {
    // m: the largest gradient magnitude (NaN if any gradient is NaN: max propagates it).
    let m: Tensor | null = null;
    for (const g of grads) {
      const mg = max(abs(g));
      m = m ? maximum(m, mg) : mg;
    }
    // The clip factor c = min(1, maxNorm / (norm + 1e-6)) is applied as two factors √c: c itself is
    // a float32 subnormal once norm > maxNorm·8.5e37, which a flushing driver (SwiftShader) would
    // turn into 0; √c stays normal. √c = 1 exactly when nothing is clipped, so gradients keep their bits.
    let norm: Tensor;
    let rootCoef: Tensor;
    if (normType === Infinity) {
      norm = m!;
      rootCoef = div(Math.sqrt(maxNorm), sqrt(add(norm, 1e-6)));
    } else {
      // Kept within the normal range so 0 (all gradients zero) and Inf divide without 0/0 or Inf/Inf.
      const [lo, hi] = scaleRange(m!.dtype);
      const mSafe = clamp(m!, lo, hi);
      let s: Tensor | null = null;
      for (const g of grads) {
        const u = div(g, mSafe);
        const part = sum(normType === 2 ? square(u) : abs(u));
        s = s ? add(s, part) : part;
      }
      const scaled = normType === 2 ? sqrt(s!) : s!;
      norm = mul(scaled, mSafe);
      // maxNorm / (norm + 1e-6) = k / m with k = maxNorm / (s + 1e-6/m), without forming m·s.
      const epsOverM = mul(applyUnary('reciprocal', op, mSafe), 1e-6);
      const k = mul(applyUnary('reciprocal', op, add(scaled, epsOverM)), maxNorm);
      rootCoef = div(sqrt(k), sqrt(mSafe));
    }
    if (options.errorIfNonfinite) {
      norm.backend.assertFinite(norm._storage(op), op, (v) =>
        `${op}: the total norm of order ${normType} of the gradients is ${v}, so it cannot be clipped (errorIfNonfinite). ` +
        'To scale the gradients by the non-finite norm anyway, leave errorIfNonfinite false' +
        (norm.backend.name === 'cpu' ? '' : ' (checked on the device and reported at the first read after the call; the gradients were scaled by then)'));
    }
    const r = clamp(rootCoef, null, 1);
    // Empty gradients were left out of grads: scaling them would change nothing.
    for (const g of grads) g._assign(mul(mul(g, r), r));
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
