/**
 * The trainer never finishes an epoch with non-finite weights: the loss check alone is not enough,
 * because WGSL may drop NaN semantics (a max or a comparison turns NaN into a number), so a WebGPU
 * run over NaN pixels can report a finite loss while the weights fill with NaN. After each epoch the
 * parameters and buffers are tested on the device (one readback) and the epoch fails before
 * anything can be written.
 */
import { describe, expect, it } from 'vitest';
import { Trainer, NonFiniteLossError } from '../src/train/trainer.js';
import type { TrainConfig } from '../src/train/trainer.js';
import type { Dataset } from '../src/data/dataset.js';
import type { BackendName } from '../src/backend/types.js';
import { full } from '../src/ops/creation.js';
import { WebgradError } from '../src/errors.js';
import { memory } from '../src/lifetime.js';
import { describeEachBackend } from './helpers/backends.js';

function synthetic(n: number, seed: number): Dataset {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const x = Float32Array.from({ length: n * 12 }, rnd);
  const labels = Int32Array.from({ length: n }, (_, i) => (x[i * 12]! > 0.5 ? 1 : 0) + (x[i * 12 + 1]! > 0.5 ? 2 : 0));
  return { x, labels, n, features: 12, classes: 4, source: 'synthetic' };
}

const config: TrainConfig = {
  epochs: 2, batchSize: 32, lr: 1e-2, optimizer: 'adam', momentum: 0.9, weightDecay: 0, seed: 3,
  model: { inputs: 12, hidden: [8], outputs: 4, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' },
};

async function expectStopped(t: Trainer, patterns: RegExp[]): Promise<void> {
  let caught: unknown = null;
  try {
    await t.runEpoch();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'runEpoch should have refused to finish the epoch').toBeInstanceOf(NonFiniteLossError);
  expect(caught).toBeInstanceOf(WebgradError);
  for (const p of patterns) expect((caught as Error).message).toMatch(p);
  expect(t.epoch).toBe(0);
  expect(t.history).toEqual([]);
}

describeEachBackend('non-finite weights stop the epoch before anything is written', (device: BackendName) => {
  it('NaN pixels in the training data (Trainer API): the epoch fails, no metrics recorded', async () => {
    const train = synthetic(128, 1);
    train.x.fill(NaN, 40 * 12, 41 * 12); // one image of NaN
    const before = memory().liveTensors;
    const t = new Trainer(config, { train, test: synthetic(32, 2) }, device);
    await expectStopped(t, [/stopping without writing/]);
    t.dispose();
    expect(memory().liveTensors).toBe(before);
  });

  it('a poisoned batch-norm running variance (the loss stays finite): the check names the tensor', async () => {
    const t = new Trainer(config, { train: synthetic(128, 1), test: synthetic(32, 2) }, device);
    const nan = full([8], NaN, { device });
    t.model.loadStateDict(new Map([['1.running_var', nan]]), { strict: false });
    nan.dispose();
    await expectStopped(t, [/after epoch 1/, /'1\.running_var'/, /NaN or Inf/, /stopping without writing/]);
    t.dispose();
  });
});

describe('finite training is unaffected', () => {
  it('a normal epoch passes the check', async () => {
    const t = new Trainer(config, { train: synthetic(128, 1), test: synthetic(32, 2) }, 'cpu');
    const m = await t.runEpoch();
    expect(Number.isFinite(m.loss)).toBe(true);
    expect(t.epoch).toBe(1);
    t.dispose();
  });
});
