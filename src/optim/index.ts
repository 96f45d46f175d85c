/** Optimizers, clipping, penalties and schedules, as `webgrad.optim` (like torch.optim). */
export { Optimizer } from './optimizer.js';
export type { OptimizerState, GroupHyper, ParamGroup, ParamGroupSpec, Params, HyperValue } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions, SGDGroup } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions, AdamGroup } from './adam.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export { l1Penalty, l2Penalty } from './regularizers.js';
export { LRScheduler, StepLR, CosineAnnealingLR, LinearLR, LambdaLR, OneCycleLR, ReduceLROnPlateau } from './schedulers.js';
export type { LinearLROptions, OneCycleLROptions, ReduceLROnPlateauOptions } from './schedulers.js';
