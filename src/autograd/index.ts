/** The `wg.autograd` namespace: custom differentiable functions in PyTorch's class form. */
export { Function, FunctionCtx } from './function.js';
export type { FunctionClass } from './function.js';
export { customGrad } from './custom.js';
