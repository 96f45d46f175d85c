/**
 * SequentialLR (torch 1.13 semantics): runs schedulers one after another, switching at the given
 * milestones, each restarting from its own epoch 0 (e.g. LinearLR warmup, then cosine decay).
 */
import type { Optimizer } from './optimizer.js';
import { fail } from '../errors.js';
import { LRScheduler } from './schedulers.js';

export class SequentialLR extends LRScheduler {
  private readonly schedulers: LRScheduler[];
  private readonly milestones: number[];

  /** `schedulers` were built on `optimizer`; scheduler i+1 takes over at epoch milestones[i]. */
  constructor(optimizer: Optimizer, schedulers: readonly LRScheduler[], milestones: readonly number[]) {
    super(optimizer, 'SequentialLR');
    if (!Array.isArray(schedulers) || schedulers.length === 0 || !schedulers.every((s) => s instanceof LRScheduler)) fail('SequentialLR', 'schedulers must be a non-empty array of LRSchedulers');
    if (schedulers.some((s) => s.optimizer !== optimizer)) fail('SequentialLR', 'every scheduler must belong to the same optimizer as SequentialLR');
    if (schedulers.some((s) => s instanceof SequentialLR)) fail('SequentialLR', 'a SequentialLR cannot contain another');
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) fail('SequentialLR', `expected ${schedulers.length - 1} milestone(s) for ${schedulers.length} schedulers, got ${Array.isArray(milestones) ? milestones.length : typeof milestones}`);
    milestones.forEach((m, i) => {
      if (!Number.isInteger(m) || m <= (milestones[i - 1] ?? 0)) fail('SequentialLR', `milestones must be increasing positive integers, got [${milestones.join(', ')}]`);
    });
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    // As PyTorch: the sub-schedulers' own initial steps are undone; the first one's epoch 0 applies.
    this.start();
  }

  lrAt(epoch: number, _base: number, group: number): number {
    let idx = 0;
    while (epoch >= (this.milestones[idx] ?? Infinity)) idx++;
    const local = idx === 0 ? epoch : epoch - this.milestones[idx - 1]!;
    const s = this.schedulers[idx]!;
    return s.lrAt(local, s.baseLrs[group]!, group);
  }
}
