/**
 * CPU reference of the activationGradFromOutput routine (twin of webgpu/fused/activation-output.ts):
 * dy·f'(x) computed from the saved output y = f(x), as fused linear layers keep only y.
 */
import type { TypedArray } from '../types.js';
import type { OutputGradActivation } from '../fused-types.js';

/** f'(x) expressed through y = f(x). */
export const OUTPUT_DERIVATIVE: { [K in OutputGradActivation]: (y: number, p: number) => number } = {
  relu: (y) => (y <= 0 ? 0 : 1), // PyTorch's threshold_backward(dy, y, 0): dy passes at y = NaN
  relu6: (y) => (y > 0 && y < 6 ? 1 : 0),
  sigmoid: (y) => y * (1 - y),
  tanh: (y) => 1 - y * y,
  leakyRelu: (y, p) => (y > 0 ? 1 : p),
};

export function activationGradFromOutputKernel(op: OutputGradActivation, y: TypedArray, dy: TypedArray, out: TypedArray, p: number): void {
  const d = OUTPUT_DERIVATIVE[op];
  for (let i = 0; i < y.length; i++) out[i] = dy[i]! * d(y[i]!, p);
}
