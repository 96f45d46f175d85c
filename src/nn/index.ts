/** Neural-network building blocks, as `webgrad.nn` (like torch.nn). */
export { Module } from './module.js';
export { Linear, Dropout, BatchNorm1d, Activation, ReLU, ReLU6, Sigmoid, Tanh, LeakyReLU, GELU, Sequential } from './layers.js';
export type { LayerOptions, BatchNormOptions } from './layers.js';
export { Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, Flatten } from './conv-layers.js';
export type { Conv2dLayerOptions, PoolLayerOptions } from './conv-layers.js';
export * as init from './init.js';
export { crossEntropy, mse } from '../ops/loss.js';
export type { Reduction } from '../ops/loss.js';
export { binaryCrossEntropyWithLogits, nllLoss, smoothL1Loss, huberLoss, crossEntropyWithSmoothing } from '../ops/losses-extra.js';
