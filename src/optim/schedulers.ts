/** Learning-rate schedules (PyTorch's StepLR and CosineAnnealingLR): call step() once per epoch. */
import type { Optimizer } from './optimizer.js';
import { fail } from '../errors.js';

export abstract class LRScheduler {
  readonly baseLr: number;
  lastEpoch = 0;
  constructor(readonly optimizer: Optimizer) {
    this.baseLr = optimizer.lr;
  }
  protected abstract lrAt(epoch: number): number;
  step(): void {
    this.lastEpoch++;
    this.optimizer.lr = this.lrAt(this.lastEpoch);
  }
}

/** lr = baseLr · gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(optimizer);
    if (!Number.isInteger(stepSize) || stepSize <= 0) fail('StepLR', `stepSize must be a positive integer, got ${stepSize}`);
    if (!(gamma > 0)) fail('StepLR', `gamma must be positive, got ${gamma}`);
  }
  protected lrAt(epoch: number): number {
    return this.baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = etaMin + (baseLr − etaMin)·(1 + cos(π·epoch/tMax))/2. */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    super(optimizer);
    if (!Number.isInteger(tMax) || tMax <= 0) fail('CosineAnnealingLR', `tMax must be a positive integer, got ${tMax}`);
  }
  protected lrAt(epoch: number): number {
    return this.etaMin + ((this.baseLr - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}
