/**
 * Dynamic loss scaling for float16 training, with torch.cuda.amp.GradScaler's semantics:
 *
 *   const scaler = new wg.amp.GradScaler();
 *   const loss = wg.amp.autocast(() => wg.crossEntropy(model.forward(x), y));
 *   scaler.scale(loss).backward();
 *   await scaler.step(opt);   // unscales the grads; skips opt.step() if any is inf/NaN
 *   scaler.update();          // ×0.5 after a skipped step, ×2 after growthInterval clean steps
 *
 * Why: float16 gradients below 2^-24 flush to zero; multiplying the loss by a large scale keeps
 * them representable, and the f32 master gradients are divided by it again before the update.
 * The inf/NaN check needs one scalar read per step (PyTorch syncs there too), hence the async step.
 */
import { fail } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { isNonFinite } from '../ops/unary.js';
import { sum } from '../ops/reduce.js';
import { add, mul } from '../ops/binary.js';
import { keep, noGrad, tidy } from '../lifetime.js';

export interface GradScalerOptions {
  /** Starting scale (PyTorch: 2^16). */
  initScale?: number;
  /** Multiplier after growthInterval consecutive steps without inf/NaN (2). */
  growthFactor?: number;
  /** Multiplier after a step with inf/NaN gradients (0.5). */
  backoffFactor?: number;
  /** Clean steps between growths (2000). */
  growthInterval?: number;
  /** false makes every method a pass-through (scale 1, step = optimizer.step()), as in PyTorch. */
  enabled?: boolean;
}

/** What the scaler needs of an optimizer: its parameters and a step. */
export interface ScalableOptimizer {
  readonly params: readonly Tensor[];
  step(): void;
}

interface OptimizerState {
  unscaled: boolean;
  foundInf: boolean;
}

export class GradScaler {
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  private _scale: number;
  private growthTracker = 0;
  private perOptimizer = new Map<ScalableOptimizer, OptimizerState>();

  constructor(options: GradScalerOptions = {}) {
    const op = 'GradScaler';
    this._scale = options.initScale ?? 2 ** 16;
    this.growthFactor = options.growthFactor ?? 2;
    this.backoffFactor = options.backoffFactor ?? 0.5;
    this.growthInterval = options.growthInterval ?? 2000;
    this.enabled = options.enabled ?? true;
    if (!(this._scale > 0 && Number.isFinite(this._scale))) fail(op, `initScale must be a positive finite number, got ${this._scale}`);
    if (!(this.growthFactor > 1)) fail(op, `growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1)) fail(op, `backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1) fail(op, `growthInterval must be a positive integer, got ${this.growthInterval}`);
  }

  /** The current scale (1 when disabled). */
  getScale(): number {
    return this.enabled ? this._scale : 1;
  }

  /** Clean steps since the last growth or backoff. */
  getGrowthTracker(): number {
    return this.growthTracker;
  }

  /** loss · scale (a new tensor; call backward() on it). */
  scale(loss: Tensor): Tensor {
    if (!this.enabled) return loss;
    return mul(loss, this._scale);
  }

  /**
   * Divides the optimizer's gradients by the scale in place (each .grad replaced by grad/scale)
   * and records whether any is inf or NaN. At most once per optimizer between updates, as PyTorch.
   */
  async unscale_(optimizer: ScalableOptimizer): Promise<void> {
    if (!this.enabled) return;
    if (this.perOptimizer.get(optimizer)?.unscaled) fail('GradScaler.unscale_', 'unscale_() was already called on this optimizer since the last update()');
    const inv = 1 / this._scale;
    const grads = optimizer.params.filter((p) => p.grad !== null);
    let bad = 0;
    if (grads.length > 0) {
      const count = noGrad(() => tidy(() => {
        let total: Tensor | null = null;
        for (const p of grads) {
          const g = p.grad!;
          const scaled = mul(g, inv);
          const n = sum(isNonFinite(scaled.dtype === 'float32' ? scaled : scaled.cast('float32')));
          total = total ? add(total, n) : n;
          g.dispose();
          p.grad = keep(scaled); // outlives the tidy scope
        }
        return total!;
      }));
      bad = await count.item();
      count.dispose();
    }
    this.perOptimizer.set(optimizer, { unscaled: true, foundInf: bad > 0 });
  }

  /**
   * Unscales (unless unscale_ already did) and runs optimizer.step() only if no gradient is inf or
   * NaN. Returns whether the step ran.
   */
  async step(optimizer: ScalableOptimizer): Promise<boolean> {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    if (!this.perOptimizer.get(optimizer)?.unscaled) await this.unscale_(optimizer);
    const state = this.perOptimizer.get(optimizer)!;
    if (state.foundInf) return false;
    optimizer.step();
    return true;
  }

  /**
   * Adjusts the scale after the step(s) of this iteration: ×backoffFactor if any optimizer saw
   * inf/NaN (and the growth count restarts), else ×growthFactor once growthInterval clean steps in
   * a row have passed. `newScale` sets it outright instead.
   */
  update(newScale?: number): void {
    if (!this.enabled) return;
    if (newScale !== undefined) {
      if (!(newScale > 0 && Number.isFinite(newScale))) fail('GradScaler.update', `newScale must be a positive finite number, got ${newScale}`);
      this._scale = newScale;
    } else {
      if (this.perOptimizer.size === 0) fail('GradScaler.update', 'no inf checks were recorded: call scaler.step(optimizer) (or unscale_) before update()');
      const foundInf = [...this.perOptimizer.values()].some((s) => s.foundInf);
      if (foundInf) {
        this._scale *= this.backoffFactor;
        this.growthTracker = 0;
      } else if (++this.growthTracker === this.growthInterval) {
        this._scale *= this.growthFactor;
        this.growthTracker = 0;
      }
    }
    this.perOptimizer.clear();
  }

  /** PyTorch's state_dict keys. */
  stateDict(): { scale: number; growth_factor: number; backoff_factor: number; growth_interval: number; _growth_tracker: number } {
    return { scale: this._scale, growth_factor: this.growthFactor, backoff_factor: this.backoffFactor, growth_interval: this.growthInterval, _growth_tracker: this.growthTracker };
  }
}
