/** Mixed precision, opt-in: autocast (float16 linear layers, float32 losses) and GradScaler. */
export { autocast } from './autocast.js';
export { autocastEnabled } from './state.js';
export { castGrad } from './cast.js';
export { GradScaler } from './grad-scaler.js';
export type { GradScalerOptions, ScalableOptimizer } from './grad-scaler.js';
