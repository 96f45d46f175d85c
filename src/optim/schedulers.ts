/**
 * Learning-rate schedules with PyTorch's semantics (checked against torch 1.13 fixtures): each
 * sets every parameter group's lr from that group's initial lr, as a closed form of the epoch (or
 * step) count. Constructing one applies its value for epoch 0, as PyTorch does; call step() after
 * each optimizer.step() (per batch for OneCycleLR, usually per epoch for the others).
 * OneCycleLR is in one-cycle.ts; ReduceLROnPlateau (driven by a metric) in plateau.ts.
 */
import { Optimizer } from './optimizer.js';
import { fail } from '../errors.js';

export function checkOptimizer(name: string, optimizer: unknown): Optimizer {
  if (!(optimizer instanceof Optimizer)) fail(name, `expected an optimizer, got ${optimizer === null ? 'null' : typeof optimizer}`);
  return optimizer;
}

export function perGroup(name: string, what: string, v: number | readonly number[], groups: number): number[] {
  const list = typeof v === 'number' ? new Array<number>(groups).fill(v) : [...v];
  if (list.length !== groups) fail(name, `${what} has ${list.length} values but the optimizer has ${groups} parameter groups`);
  return list;
}

export abstract class LRScheduler {
  /** Each group's starting lr (PyTorch's base_lrs, from the group's initialLr). */
  readonly baseLrs: number[];
  lastEpoch = 0;
  readonly optimizer: Optimizer;

  constructor(optimizer: Optimizer, readonly name: string) {
    this.optimizer = checkOptimizer(name, optimizer);
    // The first scheduler records each group's lr as initialLr; a later one starts from it too.
    for (const g of this.optimizer.paramGroups) g.initialLr ??= g.lr;
    this.baseLrs = this.optimizer.paramGroups.map((g) => g.initialLr!);
  }

  /** The first group's starting lr. */
  get baseLr(): number {
    return this.baseLrs[0]!;
  }

  /** Group `group`'s lr at `epoch` from its starting lr `baseLr` (a closed form; SequentialLR composes these). */
  abstract lrAt(epoch: number, baseLr: number, group: number): number;

  /** Subclasses call this at the end of their constructor: PyTorch's initial step (epoch 0). */
  protected start(): void {
    this.apply(0);
  }

  private apply(epoch: number): void {
    // Compute every group's value first, so a bad value (from a user's lambda) changes nothing.
    const lrs = this.optimizer.paramGroups.map((_, i) => {
      const lr = this.lrAt(epoch, this.baseLrs[i]!, i);
      // Only finiteness here: PyTorch lets a schedule go negative (OneCycleLR's linear last phase
      // does at step == totalSteps, a value no step uses); optimizer.step() refuses a negative lr.
      // Number.isFinite is false for every non-number (a lambda returning a string or undefined).
      if (!Number.isFinite(lr)) fail(`${this.name}.step`, `epoch ${epoch} gives group ${i} an lr of ${String(lr)} (expected a finite number)`);
      return lr;
    });
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
  }

  step(): void {
    this.apply(this.lastEpoch + 1);
    this.lastEpoch++;
  }

  /** The lr of each group after the last step (PyTorch's get_last_lr()). */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

export function positiveInt(name: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) fail(name, `${what} must be a positive integer, got ${v}`);
}

/** lr = base · gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer, 'StepLR');
    positiveInt('StepLR', 'stepSize', stepSize);
    if (!(gamma > 0)) fail('StepLR', `gamma must be positive, got ${gamma}`);
    this.start();
  }
  lrAt(epoch: number, base: number): number {
    return base * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = etaMin + (base − etaMin)·(1 + cos(π·epoch/tMax))/2. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer, 'CosineAnnealingLR');
    positiveInt('CosineAnnealingLR', 'tMax', tMax);
    if (!(etaMin >= 0)) fail('CosineAnnealingLR', `etaMin must be non-negative, got ${etaMin}`);
    this.start();
  }
  lrAt(epoch: number, base: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

export interface LinearLROptions {
  /** Factor at epoch 0 (default 1/3), in (0, 1]. */
  startFactor?: number;
  /** Factor from epoch totalIters on (default 1), in [0, 1]. */
  endFactor?: number;
  /** Epochs to go from startFactor to endFactor (default 5). */
  totalIters?: number;
}

/** Linear warmup (or decay): lr = base · (start + (end − start)·min(epoch, totalIters)/totalIters). */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(optimizer: Optimizer, options: LinearLROptions = {}) {
    super(optimizer, 'LinearLR');
    this.startFactor = options.startFactor ?? 1 / 3;
    this.endFactor = options.endFactor ?? 1;
    this.totalIters = options.totalIters ?? 5;
    if (!(this.startFactor > 0 && this.startFactor <= 1)) fail('LinearLR', `startFactor must be in (0, 1], got ${this.startFactor}`);
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) fail('LinearLR', `endFactor must be in [0, 1], got ${this.endFactor}`);
    positiveInt('LinearLR', 'totalIters', this.totalIters);
    this.start();
  }
  lrAt(epoch: number, base: number): number {
    return base * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(epoch, this.totalIters)) / this.totalIters);
  }
}

/** lr = base · lrLambda(epoch); one function for every group, or one per group. */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];
  constructor(optimizer: Optimizer, lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[]) {
    super(optimizer, 'LambdaLR');
    const n = this.optimizer.paramGroups.length;
    const list = typeof lrLambda === 'function' ? new Array(n).fill(lrLambda) as ((e: number) => number)[] : Array.isArray(lrLambda) ? [...lrLambda] : fail('LambdaLR', `lrLambda must be a function or an array of functions, got ${typeof lrLambda}`);
    if (list.length !== n || !list.every((f) => typeof f === 'function')) fail('LambdaLR', `expected ${n} functions (one per parameter group), got ${list.length}`);
    this.lambdas = list;
    this.start();
  }
  lrAt(epoch: number, base: number, group: number): number {
    return base * this.lambdas[group]!(epoch);
  }
}
