/**
 * A cast that autograd sees through: the gradient is cast back to the input's dtype. Tensor.cast
 * is not recorded (it is a conversion, like PyTorch's .to() under noGrad); mixed precision needs the
 * f16 copies of f32 master weights to pass their gradients back to the weights in f32.
 */
import { customGrad } from '../autograd/custom.js';
import { castTo } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { autocastEnabled } from './state.js';

const toHalf = customGrad((x: Tensor) => ({ value: castTo(x, 'float16'), grad: (dy: Tensor) => [castTo(dy, x.dtype)] }), { name: 'autocast to float16' });
const toSingle = customGrad((x: Tensor) => ({ value: castTo(x, 'float32'), grad: (dy: Tensor) => [castTo(dy, x.dtype)] }), { name: 'autocast to float32' });

/** x in `dtype` (float16 or float32), differentiable; x itself when it has that dtype already. */
export function castGrad(x: Tensor, dtype: 'float16' | 'float32'): Tensor {
  if (x.dtype === dtype) return x;
  return dtype === 'float16' ? toHalf(x) : toSingle(x);
}

/** Under autocast, a float16 tensor entering an op that runs in float32 (losses) is widened; else x. */
export function autocastToFloat32(x: Tensor): Tensor {
  return autocastEnabled() && x.dtype === 'float16' ? castGrad(x, 'float32') : x;
}


/**
 * Whether an op whose kernels run in float32 only (batch norm, dropout) must widen x: a float16
 * activation under autocast. Such an op then runs on the widened input and narrows its result
 * back (`inFloat32`), so the activation stays float16 as PyTorch's does (its batch norm and dropout
 * keep the input dtype; cuDNN's batch norm computes its statistics in float32 too). Outside
 * autocast a float16 input still meets the op's own dtype checks.
 */
export function autocastWidens(x: Tensor): boolean {
  return autocastEnabled() && x.dtype === 'float16';
}

/** run on x widened to float32, its result narrowed back to float16; gradients flow through both casts. */
export function inFloat32(x: Tensor, run: (x32: Tensor) => Tensor): Tensor {
  return castGrad(run(castGrad(x, 'float32')), 'float16');
}
