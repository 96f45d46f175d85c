/**
 * autocast(fn): runs fn with mixed precision, as torch.autocast(device_type, dtype=torch.float16):
 * linear layers (nn.Linear, Sequential's fused Linear+activation, the linear op) cast their float32
 * input, weight and bias to float16 and compute in float16 with float32 accumulation, so
 * activations and products are float16 while the weights stay float32 (their gradients come back
 * in float32 through the casts); losses (crossEntropy, mse) widen float16 predictions to float32;
 * batch norm and dropout compute on a float16 activation in float32 and return float16
 * (src/amp/cast.ts, inFloat32). Everything else runs in the dtype it is given. Run only the forward pass and the loss inside;
 * call backward() and the optimizer outside, as with PyTorch.
 */
import { autocastDepth } from './state.js';
import { fail } from '../errors.js';

export function autocast<T>(fn: () => T): T {
  autocastDepth(1);
  try {
    const r = fn();
    if (r instanceof Promise) fail('autocast', 'fn must be synchronous (the forward pass and the loss); await outside it');
    return r;
  } finally {
    autocastDepth(-1);
  }
}
