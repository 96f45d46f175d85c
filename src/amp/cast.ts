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

