/**
 * L1 and L2 penalties as loss terms: add them to the loss and backward() does the rest. The L1
 * subgradient at 0 is 0 (sign(0) = 0), as PyTorch's abs.
 */
import type { Tensor } from '../tensor.js';
import { tidy } from '../lifetime.js';
import { sum } from '../ops/reduce.js';
import { abs, square } from '../ops/unary.js';
import { add, mul } from '../ops/binary.js';
import { fail } from '../errors.js';
import { checkNonNegative } from './optimizer.js';

function penalty(op: string, params: Iterable<Tensor>, strength: number, term: (p: Tensor) => Tensor): Tensor {
  checkNonNegative(op, 'strength', strength);
  const list = [...params];
  if (list.length === 0) fail(op, 'got an empty parameter list');
  return tidy(() => {
    let total: Tensor | null = null;
    for (const p of list) {
      const s = sum(term(p));
      total = total ? add(total, s) : s;
    }
    return mul(total!, strength);
  });
}

/** strength · Σ|w|. */
export const l1Penalty = (params: Iterable<Tensor>, strength: number): Tensor => penalty('l1Penalty', params, strength, abs);
/** strength · Σw² (note: SGD's weightDecay = λ matches a penalty of strength λ/2). */
export const l2Penalty = (params: Iterable<Tensor>, strength: number): Tensor => penalty('l2Penalty', params, strength, square);
