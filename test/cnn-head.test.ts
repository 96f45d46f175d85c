/**
 * CnnSpec.hidden: hidden layers in the CNN's head (Dropout → Linear → ReLU each, before the last
 * Dropout → Linear), with the state-dict names of the same torch nn.Sequential; a spec without the
 * field builds the single-linear head as before; a checkpoint's config.model.hidden is validated and
 * one without it reads as no hidden layer.
 */
import { describe, expect, it } from 'vitest';
import { loadEmbeddedDigits } from '../src/data/mnist-node.js';
import { subset, type Dataset } from '../src/data/dataset.js';
import { Trainer, type TrainConfig } from '../src/train/trainer.js';
import { encodeCheckpoint, readCheckpointMeta } from '../src/train/checkpoint.js';
import { buildCnn, describeCnn, type CnnSpec } from '../src/train/cnn.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { Linear, ReLU, Dropout } from '../src/nn/layers.js';
import { parseTrainArgs } from '../src/cli/main.js';
import { rand } from '../src/ops/creation.js';

const SPEC: CnnSpec = { kind: 'cnn', imageSize: 28, channels: [4, 8], outputs: 10, dropout: 0.25 };
const shapes = (spec: CnnSpec): Record<string, number[]> =>
  Object.fromEntries([...buildCnn(spec).stateDict()].map(([k, v]) => [k, [...v.shape]]));

/** The checkpoint re-encoded with its config.model.hidden set to `hidden` (or removed, for undefined). */
function withHidden(bytes: Uint8Array, hidden: unknown): Uint8Array {
  const { arrays, metadata } = decodeSafetensors(bytes, 'good');
  const meta = JSON.parse(metadata.webgrad!) as { config: { model: Record<string, unknown> } };
  if (hidden === undefined) delete meta.config.model.hidden;
  else meta.config.model.hidden = hidden;
  return encodeSafetensors(new Map(arrays), { ...metadata, webgrad: JSON.stringify(meta) });
}

describe('the CNN head\'s hidden layers (CnnSpec.hidden)', () => {
  it('without hidden the head is Flatten → Dropout → Linear as before; with it, torch\'s Sequential indices', () => {
    const old = shapes(SPEC);
    expect(old['11.weight']).toEqual([10, 8 * 7 * 7]);
    expect(Object.keys(old).filter((k) => k.endsWith('.weight') && !/^(1|2|5|6)\./.test(k))).toEqual(['11.weight']);
    expect(shapes({ ...SPEC, hidden: [] })).toEqual(old);
    // torch: Unflatten, conv, bn, relu, pool, conv, bn, relu, pool, Flatten, Dropout, Linear(392, 16), ReLU, Dropout, Linear(16, 10)
    const two = shapes({ ...SPEC, hidden: [16] });
    expect(two['11.weight']).toEqual([16, 392]);
    expect(two['11.bias']).toEqual([16]);
    expect(two['14.weight']).toEqual([10, 16]);
    expect(two['14.bias']).toEqual([10]);
    const layers = buildCnn({ ...SPEC, hidden: [16, 12] }).modules();
    expect(layers.slice(10).map((m) => m.constructor)).toEqual([Dropout, Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear]);
    expect(buildCnn({ ...SPEC, dropout: 0, hidden: [16] }).modules().slice(10).map((m) => m.constructor)).toEqual([Linear, ReLU, Linear]);
    expect(describeCnn({ ...SPEC, hidden: [16] })).toMatch(/maxpool2 → dropout 0\.25 → linear\(16\)-relu → dropout 0\.25 → linear\(10\)$/);
    expect(describeCnn(SPEC)).toMatch(/maxpool2 → dropout 0\.25 → linear\(10\)$/);
  });

  it('the CLI default (three blocks 16/32/64 on 28×28) pools to 3×3: a 576-input head, [B, 10] logits', async () => {
    const spec = parseTrainArgs(['--model', 'cnn'])!.config.model as CnnSpec;
    const sd = shapes(spec);
    expect(sd['9.weight']).toEqual([64, 32, 3, 3]);
    expect(sd['15.weight']).toEqual([10, 64 * 3 * 3]);
    const model = buildCnn(spec);
    model.eval();
    const y = model.forward(rand([2, 784], { device: 'cpu' }));
    expect(y.shape).toEqual([2, 10]);
    expect([...(await y.data())].every(Number.isFinite)).toBe(true);
  });

  it('buildCnn refuses hidden widths that are not positive integers', () => {
    for (const bad of [[0], [1.5], [-3], 'wide' as unknown as number[]]) {
      expect(() => buildCnn({ ...SPEC, hidden: bad })).toThrow(/buildCnn: hidden must be an array of positive integers/);
    }
  });

  it('a checkpoint records hidden; a bad one is refused; one without it reads as no hidden layer', async () => {
    const digits = loadEmbeddedDigits();
    const pick = (d: Dataset, n: number): Dataset => subset(d, Array.from({ length: n }, (_, i) => i * Math.floor(d.n / n)));
    const spec: CnnSpec = { ...SPEC, channels: [2], hidden: [8] };
    const config: TrainConfig = { epochs: 1, batchSize: 16, lr: 3e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0, seed: 1, schedule: 'onecycle', model: spec };
    const t = new Trainer(config, { train: pick(digits.train, 32), test: pick(digits.test, 16) }, 'cpu');
    await t.runEpoch();
    const bytes = await encodeCheckpoint(t);
    t.dispose();
    expect(readCheckpointMeta(bytes, 'ckpt').config.model).toEqual(spec);
    for (const bad of [[0], [2.5], 'x', [8, -1]]) {
      expect(() => readCheckpointMeta(withHidden(bytes, bad), 'bad.ckpt')).toThrow(/'config\.model\.hidden'.*absent or an array of positive integers/);
    }
    expect(readCheckpointMeta(withHidden(bytes, undefined), 'old.ckpt').config.model).not.toHaveProperty('hidden');
  }, 120_000);
});
