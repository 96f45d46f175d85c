/** Optimizers, clipping, penalties and schedules, as `webgrad.optim` (like torch.optim). */
export { Optimizer } from './optimizer.js';
export type { OptimizerState } from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export type { ClipGradNormOptions } from './clip.js';
export { l1Penalty, l2Penalty } from './regularizers.js';
export { LRScheduler, StepLR, CosineAnnealingLR } from './schedulers.js';
