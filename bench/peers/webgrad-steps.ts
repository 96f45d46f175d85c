/**
 * The timed training loop both webgrad training workloads (the MLP and the CNN) run: k steps of
 * forward, softmax cross-entropy, backward and an optimizer step, each in a tidy, with no read until
 * the last step's loss (which ends the repetition, so queued GPU work is included).
 */
import * as wg from '../../src/index.js';

export interface StepParts {
  readonly model: wg.nn.Sequential;
  readonly opt: wg.optim.SGD;
  readonly x: wg.Tensor;
  readonly y: wg.Tensor;
}

/** One step; returns its loss (the caller disposes it). */
export function trainStep({ model, opt, x, y }: StepParts): wg.Tensor {
  const loss = wg.tidy(() => {
    const l = wg.nn.crossEntropy(model.forward(x), y);
    l.backward();
    opt.step();
    return l;
  });
  opt.zeroGrad();
  return loss;
}

/** Runs k steps (k ≥ 1) and returns the last loss. */
export async function trainSteps(parts: StepParts, k: number): Promise<number> {
  let last: wg.Tensor | null = null;
  for (let i = 0; i < k; i++) {
    last?.dispose();
    last = trainStep(parts);
  }
  const v = await last!.item();
  last!.dispose();
  return v;
}
