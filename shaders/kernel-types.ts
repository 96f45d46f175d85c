/**
 * The op names and element types the WGSL generators specialise on. A leaf module: shaders/
 * imports nothing from src/ (src/backend/types.ts and fused-types.ts re-export these), so the
 * kernels can be built and tested on their own and the dependency runs one way only.
 */

/** float16 is IEEE binary16 (torch.float16); on WebGPU it needs the adapter feature 'shader-f16'. */
export type DType = 'float32' | 'float64' | 'int32' | 'float16';

/** Elementwise one-input ops. `param` is used by leakyRelu (slope), pow (exponent), scalar ops. */
export const UNARY_OPS = [
  'neg', 'exp', 'log', 'sqrt', 'abs', 'square', 'sign', 'reciprocal',
  'sigmoid', 'tanh', 'relu', 'relu6', 'leakyRelu', 'gelu', 'geluTanh', 'softplus',
  'powScalar', 'addScalar', 'mulScalar', 'rsubScalar', 'maxScalar', 'minScalar',
  'isNonFinite',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** The unary ops defined on int32 tensors (wrapping i32 arithmetic); the rest are floating-point only. */
export const INT32_UNARY_OPS = [
  'neg', 'abs', 'square', 'sign', 'relu', 'addScalar', 'mulScalar', 'rsubScalar', 'maxScalar', 'minScalar',
] as const satisfies readonly UnaryOp[];
export type Int32UnaryOp = (typeof INT32_UNARY_OPS)[number];

export function isInt32UnaryOp(op: UnaryOp): op is Int32UnaryOp {
  return (INT32_UNARY_OPS as readonly string[]).includes(op);
}

/** leakyRelu's negative slope when none is given (PyTorch's 0.01), for the op, the layer, init and the matmul epilogue. */
export const DEFAULT_LEAKY_RELU_SLOPE = 0.01;

/** Activations whose gradient dy·f'(x) has a dedicated kernel (one pass instead of several ops). */
export const ACTIVATION_GRAD_OPS = ['sigmoid', 'tanh', 'relu', 'relu6', 'leakyRelu', 'gelu', 'geluTanh', 'softplus'] as const;
export type ActivationGradOp = (typeof ACTIVATION_GRAD_OPS)[number];

export function isActivationGradOp(op: string): op is ActivationGradOp {
  return (ACTIVATION_GRAD_OPS as readonly string[]).includes(op);
}

/** Elementwise two-input ops with NumPy broadcasting. Comparisons return 1 or 0 in the input dtype. */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow', 'eq', 'gt', 'ge'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const REDUCE_OPS = ['sum', 'max'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/** Activations a fused matmul epilogue may apply. */
export type EpilogueActivation = 'none' | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'leakyRelu' | 'gelu' | 'geluTanh';

/** Which distribution a Philox draw produces. 'bits' returns the raw u32 words bit-cast to int32. */
export type RandomKind = 'uniform' | 'normal' | 'bits';

/** Index-returning reductions. */
export type ArgReduceOp = 'argmax' | 'argmin';

/**
 * Where the indices of gather/scatterAdd come from: 'perElement' reads indices laid out like the
 * output [outer, count, inner] (torch.gather); 'shared' reads one list of `count` indices used by
 * every (outer, inner) pair (torch.index_select).
 */
export type IndexLayout = 'perElement' | 'shared';

/** Activations whose derivative can be recovered from the output alone (fused linear layers keep only y). */
export const OUTPUT_GRAD_ACTIVATIONS = ['relu', 'relu6', 'sigmoid', 'tanh', 'leakyRelu'] as const;
export type OutputGradActivation = (typeof OUTPUT_GRAD_ACTIVATIONS)[number];
