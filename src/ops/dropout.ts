/**
 * Dropout with PyTorch semantics: p is the probability of zeroing, survivors are scaled by
 * 1/(1−p), and outside training it is the identity. The keep decisions come from the Philox
 * stream at (seed, offset), so CPU and GPU drop the same elements. When the op is recorded for
 * backward, the forward also stores them as a bit-packed mask (1 bit per element) that the
 * backward applies, instead of running Philox again.
 */
import { Tensor } from '../tensor.js';
import { needsGrad, record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { fail } from '../errors.js';
import { checkFloat, checkTensor } from './checks.js';
import { drawPosition } from './creation.js';
import { reshape } from './shape-ops.js';
import { autocastWidens, inFloat32 } from '../amp/cast.js';

export interface DropoutOptions {
  /** Identity when false (evaluation). Default true. */
  training?: boolean;
  /** A fixed seed (the mask then starts at offset 0 of that seed's stream); default: the global stream. */
  seed?: number;
}

export function dropout(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  checkTensor('dropout', 'input', x);
  checkFloat('dropout', 'input', x);
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) fail('dropout', `p (the probability of zeroing) must be in [0, 1), got ${String(p)}`);
  if (options.training === false || p === 0) return reshape(x, x.shape); // identity, still on the tape
  // A float16 activation under autocast: the mask is applied in float32 (the same Philox mask as
  // for a float32 input), the output float16 again.
  if (autocastWidens(x)) return inFloat32(x, (x32) => dropout(x32, p, options));
  const { seed, offset } = drawPosition('uniform', x.size, options.seed);
  const backend = x.backend;
  if (!needsGrad([x])) return Tensor._fromStorage(backend, backend.routine('dropout', { x: x._storage('dropout') }, { p, seed, offset }), x.shape, 'dropout');
  const r = backend.routine('dropoutWithMask', { x: x._storage('dropout') }, { p, seed, offset });
  const out = Tensor._fromStorage(backend, r.out, x.shape, 'dropout');
  const mask = Tensor._fromStorage(backend, r.mask, [r.mask.length], 'dropout');
  const result = record('dropout', [x], out, (save) => ({ p, mask: save(mask) }));
  mask.dispose(); // the record keeps its own handle
  return result;
}

export const dropoutGrads: GradRules<'dropout'> = {
  dropout: (dy, { p, mask }) => [Tensor._fromStorage(dy.backend, dy.backend.routine('dropoutApplyMask', { dy: dy._storage('dropout'), mask: mask._storage('dropout') }, { p }), dy.shape, 'dropout (backward)')],
};
