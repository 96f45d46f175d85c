/**
 * Dropout with PyTorch semantics: p is the probability of zeroing, survivors are scaled by
 * 1/(1−p), and outside training it is the identity. The Philox mask is regenerated from
 * (seed, offset) in the backward instead of being stored, so CPU and GPU masks are identical.
 */
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
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
  const out = Tensor._fromStorage(x.backend, x.backend.routine('dropout', { x: x._storage('dropout') }, { p, seed, offset }), x.shape, 'dropout');
  return record('dropout', [x], out, () => ({ p, seed, offset }));
}

export const dropoutGrads: GradRules<'dropout'> = {
  dropout: (dy, { p, seed, offset }) => [Tensor._fromStorage(dy.backend, dy.backend.routine('dropout', { x: dy._storage('dropout') }, { p, seed, offset }), dy.shape, 'dropout (backward)')],
};
