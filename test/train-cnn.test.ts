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
import { manualSeed } from '../src/ops/creation.js';
import { WebgradError } from '../src/errors.js';

const digits = loadEmbeddedDigits();
function spread(d: Dataset, n: number): Dataset {
  const stride = Math.floor(d.n / n);
  return subset(d, Array.from({ length: n }, (_, i) => i * stride));
}
const DATA = { train: spread(digits.train, 384), test: spread(digits.test, 200) };
const SPEC: CnnSpec = { kind: 'cnn', imageSize: 28, channels: [4, 8], outputs: 10, dropout: 0.25 };
const config = (): TrainConfig => ({ epochs: 2, batchSize: 32, lr: 3e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0, seed: 3, model: SPEC });

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

  it('--model cnn selects the CNN, mlp stays the default, anything else is refused', () => {
    expect(parseTrainArgs(['--model', 'cnn'])!.config.model).toEqual(DEFAULT_CNN);
    expect(parseTrainArgs([])!.config.model).toMatchObject({ inputs: 784, hidden: [256, 128] });
    expect(() => parseTrainArgs(['--model', 'resnet'])).toThrow(WebgradError);
    expect(() => parseTrainArgs(['--model', 'resnet'])).toThrow(/--model must be mlp or cnn, got 'resnet'/);
  });

  it('buildCnn refuses specs that do not fit', () => {
    expect(() => buildCnn({ ...SPEC, channels: [4, 4, 4, 4, 4, 4] })).toThrow(/buildCnn: 6 pooling blocks do not fit a 28×28 image/);
    expect(() => buildCnn({ ...SPEC, dropout: 1 })).toThrow(/buildCnn: dropout must be in \[0, 1\)/);
  });
});
