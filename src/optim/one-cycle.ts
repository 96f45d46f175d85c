/** The 1cycle policy, as torch.optim.lr_scheduler.OneCycleLR (torch 1.13), with momentum / beta1 cycling. */
import type { Optimizer, GroupHyper, ParamGroup } from './optimizer.js';
import { fail } from '../errors.js';
import { LRScheduler, checkOptimizer, perGroup, positiveInt } from './schedulers.js';

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
    for (const [i, phase] of this.phases.entries()) {
      const last = i === this.phases.length - 1;
      // Stryker disable next-line EqualityOperator: '<' is equivalent: at step = endStep the next phase starts (pct 0) where this one ends (pct 1), at the same lr and momentum
      if (step <= phase.endStep || last) return { phase, pct: (step - start) / (phase.endStep - start) };
      start = phase.endStep;
    }
    // Stryker disable next-line StringLiteral: unreachable, the last phase always returns
    throw new Error('unreachable');
  }

  lrAt(step: number, _base: number, group: number): number {
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
