/** Optimizers, clipping, penalties and schedules, as `webgrad.optim` (like torch.optim). */
export { Optimizer } from './optimizer.js';
export type { OptimizerState, GroupHyper, ParamGroup, ParamGroupSpec, Params, HyperValue } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions, SGDGroup } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions, AdamGroup } from './adam.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export { l1Penalty, l2Penalty } from './regularizers.js';
export { LRScheduler, StepLR, CosineAnnealingLR, LinearLR, LambdaLR } from './schedulers.js';
export type { LinearLROptions } from './schedulers.js';
export { OneCycleLR } from './one-cycle.js';
export type { OneCycleLROptions } from './one-cycle.js';
export { ReduceLROnPlateau } from './plateau.js';
export { SequentialLR } from './sequential.js';
export type { ReduceLROnPlateauOptions } from './plateau.js';
