/** webgrad's public API. */
// Tensor implements Symbol.dispose (`using`): consumers' type-checks need the lib that declares it.
/// <reference lib="esnext.disposable" preserve="true" />
export { Tensor } from './tensor.js';
export type { NestedArray, TensorLike } from './tensor.js';
export type { DType, BackendName, TypedArray } from './backend/types.js';
export { init, defaultDevice } from './init.js';
export { setDebug, settle } from './engine.js';
export { precompile } from './precompile.js';
export type { PrecompileOptions, PrecompileResult } from './precompile.js';
export type { InitOptions, InitResult } from './init.js';
export { tidy, keep, dispose, noGrad, memory } from './lifetime.js';
export type { MemoryInfo } from './lifetime.js';
export { WebgradError } from './errors.js';
export type { BackwardOptions } from './autograd/backward.js';
export { customGrad } from './autograd/custom.js';
export type { CustomGradResult, CustomGradOptions, CustomGradients } from './autograd/custom.js';
export * as autograd from './autograd/index.js';
export { tensor, zeros, ones, full, zerosLike, onesLike, arange, rand, randn, manualSeed } from './ops/creation.js';
export type { CreateOptions, RandomOptions } from './ops/creation.js';
export { add, sub, mul, div, maximum, minimum, eq, gt, ge, lt, le } from './ops/binary.js';
export {
  neg, exp, log, sqrt, abs, square, sign, reciprocal, pow, clamp,
  sigmoid, tanh, relu, relu6, leakyRelu, gelu, softplus, isNonFinite,
} from './ops/unary.js';
export { sum, mean, max } from './ops/reduce.js';
export { reshape, permute, transpose, expand } from './ops/shape-ops.js';
export { matmul } from './ops/matmul.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { clone } from './ops/shape-ops.js';
export { linear } from './ops/linear.js';
export type { LinearActivation, LinearOptions } from './ops/linear.js';
export { dropout } from './ops/dropout.js';
export type { DropoutOptions } from './ops/dropout.js';
export { batchNorm } from './ops/batchnorm.js';
export { crossEntropy, mse } from './ops/loss.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export { setNumericsCheck, numericsCheckEnabled, checkNumerics, assertFinite, NonFiniteError } from './numerics.js';
export type { NumericsOffender } from './numerics.js';
// Training helpers (browser-safe; Node-only loaders and file helpers are in 'webgrad/node').
export type { Dataset } from './data/dataset.js';
export { validateDataset, subset } from './data/dataset.js';
export { batches, seededPermutation } from './data/loader.js';
export type { Batch, BatchOptions } from './data/loader.js';
export { DataLoader } from './data/data-loader.js';
export type { DataLoaderOptions, BatchOf } from './data/data-loader.js';
export type { Column } from './data/columns.js';
export { parseIdx } from './data/idx.js';
export type { IdxArray } from './data/idx.js';
export { buildMlp, describeMlp } from './train/mlp.js';
export { buildCnn, describeCnn, DEFAULT_CNN } from './train/cnn.js';
export type { CnnSpec } from './train/cnn.js';
export type { MlpSpec, ActivationName, InitName } from './train/mlp.js';
export { Trainer, NonFiniteLossError } from './train/trainer.js';
export type { TrainConfig, EpochMetrics } from './train/trainer.js';
export { GradientHealthMonitor, formatHealth, VANISHING_RATIO, EXPLODING_RATIO } from './train/health.js';
export type { HealthReport, LayerHealth, HealthMeasurement } from './train/health.js';
// Core tensor ops (issue 12, part 1).
export { argmax, argmin, min, maxDim, minDim, gather, indexSelect } from './ops/index-ops.js';
export type { ValuesAndIndices } from './ops/index-ops.js';
export { where, slice, narrow, cat, concat, stack, split, chunk, pad } from './ops/join-ops.js';
export { variance, std, cumsum, oneHot } from './ops/stats.js';
export type { VarOptions } from './ops/stats.js';
export { binaryCrossEntropyWithLogits, nllLoss, smoothL1Loss, huberLoss, crossEntropyWithSmoothing } from './ops/losses-extra.js';
export type { LossReduction } from './ops/losses-extra.js';
export { conv2d, maxPool2d, maxPool2dWithIndices, avgPool2d, adaptiveAvgPool2d, flatten } from './ops/conv.js';
export { batchNorm2d } from './ops/batchnorm2d.js';
export type { Conv2dOptions, Pool2dOptions, AvgPool2dOptions, Size2 } from './ops/conv.js';
export { randomShift } from './ops/augment.js';
export type { RandomShiftOptions } from './ops/augment.js';
// Saving and loading (safetensors bytes, IndexedDB, downloads; files are in 'webgrad/node').
export * as safetensors from './io/safetensors-namespace.js';
export * as amp from './amp/index.js';
