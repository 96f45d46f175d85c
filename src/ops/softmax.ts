/**
 * softmax and logSoftmax along an axis, in the stable form (the max is subtracted before exp).
 * Written with ops, so autograd differentiates them through their parts.
 */
import type { Tensor } from '../tensor.js';
import { checkFloat, checkTensor } from './checks.js';
import { max, sum } from './reduce.js';
import { exp, log } from './unary.js';
import { div, sub } from './binary.js';
import { tidy } from '../lifetime.js';

function shifted(x: Tensor, axis: number): Tensor {
  // The max is a constant shift: it does not change the result, so it is taken off the tape.
  const m = max(x.detach(), axis, true);
  return sub(x, m);
}

export function softmax(x: Tensor, axis = -1): Tensor {
  checkTensor('softmax', 'input', x);
  checkFloat('softmax', 'input', x);
  return tidy(() => {
    const e = exp(shifted(x, axis));
    return div(e, sum(e, axis, true));
  });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkTensor('logSoftmax', 'input', x);
  checkFloat('logSoftmax', 'input', x);
  return tidy(() => {
    const z = shifted(x, axis);
    return sub(z, log(sum(exp(z), axis, true)));
  });
}
