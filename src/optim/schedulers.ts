/**
 * Learning-rate schedules with PyTorch's semantics (checked against torch 1.13 fixtures): each
 * sets every parameter group's lr from that group's initial lr, as a closed form of the epoch (or
 * step) count. Constructing one applies its value for epoch 0, as PyTorch does; call step() after
 * each optimizer.step() (per batch for OneCycleLR, usually per epoch for the others).
 * ReduceLROnPlateau is driven by a metric instead: step(validationLoss).
 */
import { Optimizer } from './optimizer.js';
import type { GroupHyper, ParamGroup } from './optimizer.js';
import { fail } from '../errors.js';

function checkOptimizer(name: string, optimizer: unknown): Optimizer {
  if (!(optimizer instanceof Optimizer)) fail(name, `expected an optimizer, got ${optimizer === null ? 'null' : typeof optimizer}`);
  return optimizer;
}

function perGroup(name: string, what: string, v: number | readonly number[], groups: number): number[] {
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

  protected abstract lrAt(epoch: number, baseLr: number, group: number): number;

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
      if (typeof lr !== 'number' || !Number.isFinite(lr)) fail(`${this.name}.step`, `epoch ${epoch} gives group ${i} an lr of ${String(lr)} (expected a finite number)`);
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

function positiveInt(name: string, what: string, v: number): void {
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
  protected lrAt(epoch: number, base: number): number {
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
  protected lrAt(epoch: number, base: number): number {
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
  protected lrAt(epoch: number, base: number): number {
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
  protected lrAt(epoch: number, base: number, group: number): number {
    return base * this.lambdas[group]!(epoch);
  }
}

export interface OneCycleLROptions {
  /** Total steps; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr (default 0.3). */
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (SGD) or beta1 (Adam) inversely to the lr (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number;
  maxMomentum?: number;
  /** initial lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** min lr = initial lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, back down to the initial lr, then annihilate) instead of two. */
  threePhase?: boolean;
}

interface Phase { endStep: number; startLr: 'initial' | 'max' | 'min'; endLr: 'initial' | 'max' | 'min'; startM: 'max' | 'base'; endM: 'max' | 'base' }

/** The 1cycle policy (Smith & Topor 2017), as torch.optim.lr_scheduler.OneCycleLR: step() once per batch. */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: Phase[];
  private readonly lrs: { initial: number; max: number; min: number }[];
  private readonly anneal: (start: number, end: number, pct: number) => number;
  private readonly momenta: { base: number; max: number } | null;

  constructor(optimizer: Optimizer, maxLr: number | readonly number[], options: OneCycleLROptions = {}) {
    // OneCycleLR defines each group's initial lr itself (maxLr / divFactor), as PyTorch does.
    const name = 'OneCycleLR';
    const opt = checkOptimizer(name, optimizer);
    const div = options.divFactor ?? 25;
    const finalDiv = options.finalDivFactor ?? 1e4;
    if (!(div > 0) || !(finalDiv > 0)) fail(name, `divFactor and finalDivFactor must be positive, got ${div} and ${finalDiv}`);
    const maxLrs = perGroup(name, 'maxLr', maxLr, opt.paramGroups.length);
    maxLrs.forEach((v, i) => {
      if (!(v > 0) || !Number.isFinite(v)) fail(name, `maxLr of group ${i} must be a positive finite number, got ${v}`);
    });
    let total: number;
    if (options.totalSteps !== undefined) {
      positiveInt(name, 'totalSteps', options.totalSteps);
      total = options.totalSteps;
    } else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) {
      positiveInt(name, 'epochs', options.epochs);
      positiveInt(name, 'stepsPerEpoch', options.stepsPerEpoch);
      total = options.epochs * options.stepsPerEpoch;
    } else {
      total = fail(name, 'give totalSteps, or epochs and stepsPerEpoch');
    }
    const pct = options.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) fail(name, `pctStart must be in [0, 1], got ${pct}`);
    const strategy = options.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') fail(name, `annealStrategy must be 'cos' or 'linear', got ${JSON.stringify(strategy)}`);
    const cycle = options.cycleMomentum ?? true;
    const baseM = options.baseMomentum ?? 0.85;
    const maxM = options.maxMomentum ?? 0.95;
    if (cycle) {
      if (!(baseM >= 0 && maxM >= baseM && maxM < 1)) fail(name, `momentum bounds must satisfy 0 ≤ baseMomentum ≤ maxMomentum < 1, got ${baseM} and ${maxM}`);
      for (const g of opt.paramGroups) if (!('momentum' in g) && !('betas' in g)) fail(name, 'cycleMomentum is on but the optimizer has neither momentum nor betas; pass cycleMomentum: false');
    }
    for (const [i, g] of opt.paramGroups.entries()) g.initialLr = maxLrs[i]! / div;
    super(opt, name);
    this.totalSteps = total;
    this.lrs = maxLrs.map((max) => ({ initial: max / div, max, min: max / div / finalDiv }));
    this.phases = options.threePhase
      ? [
          { endStep: pct * total - 1, startLr: 'initial', endLr: 'max', startM: 'max', endM: 'base' },
          { endStep: 2 * pct * total - 2, startLr: 'max', endLr: 'initial', startM: 'base', endM: 'max' },
          { endStep: total - 1, startLr: 'initial', endLr: 'min', startM: 'max', endM: 'max' },
        ]
      : [
          { endStep: pct * total - 1, startLr: 'initial', endLr: 'max', startM: 'max', endM: 'base' },
          { endStep: total - 1, startLr: 'max', endLr: 'min', startM: 'base', endM: 'max' },
        ];
    this.anneal = strategy === 'cos'
      ? (start, end, p) => end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1)
      : (start, end, p) => (end - start) * p + start;
    this.momenta = cycle ? { base: baseM, max: maxM } : null;
    this.start();
  }

  override step(): void {
    if (this.lastEpoch + 1 > this.totalSteps) fail('OneCycleLR.step', `tried to step ${this.lastEpoch + 1} times, but totalSteps is ${this.totalSteps}`);
    super.step();
  }

  /** The phase holding `step` and how far into it (PyTorch's search: the last phase takes the rest). */
  private where(step: number): { phase: Phase; pct: number } {
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const phase = this.phases[i]!;
      if (step <= phase.endStep || i === this.phases.length - 1) return { phase, pct: (step - start) / (phase.endStep - start) };
      start = phase.endStep;
    }
    throw new Error('unreachable');
  }

  protected lrAt(step: number, _base: number, group: number): number {
    const { phase, pct } = this.where(step);
    const lrs = this.lrs[group]!;
    if (this.momenta) {
      const m = this.anneal(this.momenta[phase.startM], this.momenta[phase.endM], pct);
      setMomentum(this.optimizer.paramGroups[group]!, m);
    }
    return this.anneal(lrs[phase.startLr], lrs[phase.endLr], pct);
  }
}

function setMomentum(g: ParamGroup<GroupHyper>, m: number): void {
  const h = g as unknown as { betas?: [number, number]; momentum?: number };
  if (h.betas) h.betas = [m, h.betas[1]];
  else h.momentum = m;
}

export interface ReduceLROnPlateauOptions {
  /** 'min': lower is better (a loss); 'max': higher is better (an accuracy). */
  mode?: 'min' | 'max';
  /** lr ← lr·factor on a plateau (default 0.1, must be < 1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** What counts as an improvement (default 1e-4, relative). */
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lower bound on each group's lr (default 0). */
  minLr?: number | readonly number[];
  /** Reductions smaller than this are skipped (default 1e-8). */
  eps?: number;
}

/** Reduces the lr when a metric stops improving, as torch.optim.lr_scheduler.ReduceLROnPlateau. */
export class ReduceLROnPlateau {
  readonly optimizer: Optimizer;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    const name = 'ReduceLROnPlateau';
    this.optimizer = checkOptimizer(name, optimizer);
    this.mode = options.mode ?? 'min';
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    if (this.mode !== 'min' && this.mode !== 'max') fail(name, `mode must be 'min' or 'max', got ${JSON.stringify(this.mode)}`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') fail(name, `thresholdMode must be 'rel' or 'abs', got ${JSON.stringify(this.thresholdMode)}`);
    if (!(this.factor >= 0 && this.factor < 1)) fail(name, `factor must be in [0, 1), got ${this.factor}`);
    for (const [k, v] of [['patience', this.patience], ['cooldown', this.cooldown]] as const) {
      if (!Number.isInteger(v) || v < 0) fail(name, `${k} must be a non-negative integer, got ${v}`);
    }
    if (!(this.threshold >= 0) || !(this.eps >= 0)) fail(name, `threshold and eps must be non-negative, got ${this.threshold} and ${this.eps}`);
    this.minLrs = perGroup(name, 'minLr', options.minLr ?? 0, this.optimizer.paramGroups.length);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  private isBetter(a: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < this.best * (1 - this.threshold) : a < this.best - this.threshold;
    return this.thresholdMode === 'rel' ? a > this.best * (this.threshold + 1) : a > this.best + this.threshold;
  }

  /** Records this epoch's metric (e.g. the validation loss) and reduces the lr after a plateau. */
  step(metric: number): void {
    if (typeof metric !== 'number') fail('ReduceLROnPlateau.step', `metric must be a number (read a tensor with await t.item()), got ${typeof metric}`);
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const newLr = Math.max(g.lr * this.factor, this.minLrs[i]!);
        if (g.lr - newLr > this.eps) g.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
  }

  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}
