/**
 * `webgrad train --model cnn` (issue 12, part 4), on the CPU backend with a small subset of the
 * embedded digits and a narrow CNN (conv, batch norm, ReLU, max-pool, dropout, linear head):
 * it learns (held-out accuracy well above chance, 0.1, after two short epochs), a resumed run equals an
 * uninterrupted one bit for bit (dropout's random stream included), the checkpoint records the
 * CNN spec, and the CLI parses --model. The ≥ 98.5 % target is measured with the command, not here.
 */
import { describe, expect, it } from 'vitest';
import { loadEmbeddedDigits } from '../src/data/mnist-node.js';
import { subset, type Dataset } from '../src/data/dataset.js';
import { Trainer, type TrainConfig } from '../src/train/trainer.js';
import { encodeCheckpoint, readCheckpointMeta, restoreCheckpoint } from '../src/train/checkpoint.js';
import { buildCnn, DEFAULT_CNN, type CnnSpec } from '../src/train/cnn.js';
import { parseTrainArgs } from '../src/cli/main.js';
import { CNN_DEFAULTS } from '../src/train/cnn.js';
import { Adam } from '../src/optim/adam.js';
import { OneCycleLR } from '../src/optim/one-cycle.js';
import { manualSeed } from '../src/ops/creation.js';
import { WebgradError } from '../src/errors.js';

const digits = loadEmbeddedDigits();
function spread(d: Dataset, n: number): Dataset {
  const stride = Math.floor(d.n / n);
  return subset(d, Array.from({ length: n }, (_, i) => i * stride));
}
const DATA = { train: spread(digits.train, 384), test: spread(digits.test, 200) };
const SPEC: CnnSpec = { kind: 'cnn', imageSize: 28, channels: [4, 8], outputs: 10, dropout: 0.25 };
// With the OneCycle schedule, as `--model cnn` trains by default: the resume test then also covers
// the schedule's position (lr and beta1) after a restored checkpoint.
const config = (): TrainConfig => ({ epochs: 2, batchSize: 32, lr: 3e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0, seed: 3, schedule: 'onecycle', model: SPEC });

const hex = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
async function state(t: Trainer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, x] of t.model.stateDict()) out[`model.${name}`] = hex(await x.data());
  const opt = t.optimizer.stateDict();
  for (const [key, x] of opt.tensors) out[`optim.${key}`] = hex(await x.data());
  out.step = String(opt.step);
  return out;
}

describe('train --model cnn', () => {
  it('the CNN has PyTorch\'s layer names and learns; a resumed run equals an uninterrupted one', async () => {
    const straight = new Trainer(config(), DATA, 'cpu');
    expect([...straight.model.stateDict().keys()]).toContain('2.running_mean');
    expect(straight.describe()).toMatch(/^CNN 28×28: conv3x3\(4\)-bn-relu-maxpool2 → conv3x3\(8\)/);
    const m1 = await straight.runEpoch();
    const m2 = await straight.runEpoch();
    expect(m2.testAccuracy).toBeGreaterThan(0.3); // chance is 0.1; 24 steps of a narrow net
    expect(m2.loss).toBeLessThan(m1.loss);
    const expected = await state(straight);
    straight.dispose();

    const first = new Trainer(config(), DATA, 'cpu');
    await first.runEpoch();
    const bytes = await encodeCheckpoint(first);
    first.dispose();
    expect(readCheckpointMeta(bytes, 'ckpt').config.model).toEqual(SPEC);

    const resumed = new Trainer(readCheckpointMeta(bytes, 'ckpt').config, DATA, 'cpu');
    manualSeed(424242); // a different global stream: the checkpoint must restore dropout's
    restoreCheckpoint(resumed, bytes, 'ckpt');
    const r2 = await resumed.runEpoch();
    expect(await state(resumed)).toEqual(expected);
    expect(r2.testAccuracy).toBe(m2.testAccuracy);
    resumed.dispose();
  }, 240_000);

  it('--model cnn selects the CNN with its own defaults (Adam, OneCycle); mlp stays the default, unchanged; anything else is refused', () => {
    const c = parseTrainArgs(['--model', 'cnn'])!.config;
    expect(c.model).toEqual({ ...DEFAULT_CNN, channels: [16, 32, 64], shift: CNN_DEFAULTS.shift });
    expect(c).toMatchObject({ optimizer: 'adam', schedule: 'onecycle', lr: CNN_DEFAULTS.lr, epochs: CNN_DEFAULTS.epochs, batchSize: 128 });
    expect(c.epochs).toBe(12); // the 3-block recipe's epochs (CNN_DEFAULTS)
    expect(parseTrainArgs(['--model', 'cnn', '--optimizer', 'sgd'])!.config).toMatchObject({ lr: CNN_DEFAULTS.sgdLr, schedule: 'onecycle' });
    expect(parseTrainArgs(['--model', 'cnn', '--schedule', 'constant', '--lr', '0.002', '--epochs', '3'])!.config).toMatchObject({ lr: 0.002, epochs: 3, schedule: 'constant' });
    const mlp = parseTrainArgs([])!.config;
    expect(mlp.model).toMatchObject({ inputs: 784, hidden: [256, 128] });
    expect(mlp).toMatchObject({ optimizer: 'adam', lr: 1e-3, epochs: 10, batchSize: 128 });
    expect(mlp.schedule).toBeUndefined(); // the MLP's config (and so its checkpoint and metrics.json) is as before
    expect(parseTrainArgs(['--schedule', 'onecycle'])!.config.schedule).toBe('onecycle');
    expect(() => parseTrainArgs(['--schedule', 'cosine'])).toThrow(/--schedule must be constant or onecycle, got 'cosine'/);
    expect(() => parseTrainArgs(['--model', 'resnet'])).toThrow(WebgradError);
    expect(() => parseTrainArgs(['--model', 'resnet'])).toThrow(/--model must be mlp or cnn, got 'resnet'/);
  });

  it('the OneCycle schedule follows OneCycleLR step by step over the whole run; an unknown schedule is refused', async () => {
    const small = { train: spread(digits.train, 64), test: spread(digits.test, 20) };
    const cfg: TrainConfig = { ...config(), epochs: 2, batchSize: 16, model: { ...SPEC, channels: [2] } };
    const t = new Trainer(cfg, small, 'cpu');
    // The same schedule on a stand-alone optimizer: lr and beta1 after each of the 8 steps.
    manualSeed(0);
    const probe = new Adam([buildCnn(cfg.model as CnnSpec).parameters()[0]!], { lr: cfg.lr });
    const ref = new OneCycleLR(probe, cfg.lr, { totalSteps: 8 });
    const expected: number[][] = [];
    for (let i = 0; i < 4; i++) {
      ref.step();
      expected.push([probe.lr, (probe.paramGroups[0] as unknown as { betas: [number, number] }).betas[0]]);
    }
    expect(t.optimizer.lr).toBeCloseTo(cfg.lr / 25, 12); // OneCycleLR starts at maxLr / divFactor
    await t.runEpoch();
    const got = [t.optimizer.lr, (t.optimizer.paramGroups[0] as unknown as { betas: [number, number] }).betas[0]];
    expect(got).toEqual(expected[3]);
    expect(t.scheduler!.lastEpoch).toBe(4);
    expect(t.describe()).toMatch(/adam OneCycle lr \(peak 0\.003, 2 epochs\)/);
    t.dispose();
    expect(() => new Trainer({ ...cfg, schedule: 'cosine' as unknown as 'onecycle' }, small, 'cpu')).toThrow(/train: schedule must be 'constant' or 'onecycle', got "cosine"/);
  }, 120_000);

  it('buildCnn refuses specs that do not fit', () => {
    expect(() => buildCnn({ ...SPEC, channels: [4, 4, 4, 4, 4, 4] })).toThrow(/buildCnn: 6 pooling blocks do not fit a 28×28 image/);
    expect(() => buildCnn({ ...SPEC, dropout: 1 })).toThrow(/buildCnn: dropout must be in \[0, 1\)/);
  });
});
