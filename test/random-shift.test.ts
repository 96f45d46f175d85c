/**
 * randomShift, the augmentation of `webgrad train --model cnn` (CnnSpec.shift): every image of the
 * batch is its input translated by one whole-pixel (dx, dy) with |dx|, |dy| ≤ s, zero filled, all
 * channels together; the offsets vary between images and cover the range; a seed or the global
 * stream fixes them, and CPU and WebGPU draw the same ones. In the CNN it acts in training mode
 * only, the MLP has none, and a trainer with it resumes from a checkpoint bit for bit.
 */
import { expect, it, describe } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { expectErrorSync } from './helpers/expect-error.js';
import { randomShift } from '../src/ops/augment.js';
import { manualSeed, tensor } from '../src/ops/creation.js';
import { engine } from '../src/engine.js';
import type { BackendName } from '../src/backend/types.js';
import type { Tensor } from '../src/tensor.js';
import { buildCnn, CNN_DEFAULTS, DEFAULT_CNN, ToImage, type CnnSpec } from '../src/train/cnn.js';
import { parseTrainArgs } from '../src/cli/main.js';
import { loadEmbeddedDigits } from '../src/data/mnist-node.js';
import { subset, type Dataset } from '../src/data/dataset.js';
import { Trainer, type TrainConfig } from '../src/train/trainer.js';
import { encodeCheckpoint, readCheckpointMeta, restoreCheckpoint } from '../src/train/checkpoint.js';
import { memory } from '../src/index.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';

/** The checkpoint re-encoded with its config.model.shift set to `shift` (or removed, for undefined). */
function withShift(bytes: Uint8Array, shift: unknown): Uint8Array {
  const { arrays, metadata } = decodeSafetensors(bytes, 'good');
  const meta = JSON.parse(metadata.webgrad!) as { config: { model: Record<string, unknown> } };
  if (shift === undefined) delete meta.config.model.shift;
  else meta.config.model.shift = shift;
  return encodeSafetensors(new Map(arrays), { ...metadata, webgrad: JSON.stringify(meta) });
}

/** Distinct positive values, so a translated copy identifies its offset. */
function images(b: number, c: number, h: number, w: number, device: BackendName): { t: Tensor; v: Float32Array } {
  const v = Float32Array.from({ length: b * c * h * w }, (_, i) => i + 1);
  return { t: tensor(v, { shape: [b, c, h, w], dtype: 'float32', device }), v };
}

/** The (dx, dy) within ±s that maps image `bi` of x onto out, or null if none does. */
function offsetOf(x: Float32Array, out: Float32Array, bi: number, c: number, h: number, w: number, s: number): [number, number] | null {
  const at = (a: Float32Array, ch: number, i: number, j: number): number => a[((bi * c + ch) * h + i) * w + j]!;
  for (let dy = -s; dy <= s; dy++) {
    for (let dx = -s; dx <= s; dx++) {
      let ok = true;
      for (let ch = 0; ch < c && ok; ch++) {
        for (let i = 0; i < h && ok; i++) {
          for (let j = 0; j < w && ok; j++) {
            const si = i + dy;
            const sj = j + dx;
            const want = si >= 0 && si < h && sj >= 0 && sj < w ? at(x, ch, si, sj) : 0;
            if (at(out, ch, i, j) !== want) ok = false;
          }
        }
      }
      if (ok) return [dx, dy];
    }
  }
  return null;
}

async function offsets(device: BackendName, b: number, c: number, h: number, w: number, s: number, seed?: number): Promise<[number, number][]> {
  const { t, v } = images(b, c, h, w, device);
  const out = randomShift(t, s, seed === undefined ? {} : { seed });
  expect(out.shape).toEqual([b, c, h, w]);
  expect(out.device).toBe(device);
  const o = (await out.data()) as Float32Array;
  t.dispose();
  out.dispose();
  return Array.from({ length: b }, (_, bi) => {
    const d = offsetOf(v, o, bi, c, h, w, s);
    expect(d, `image ${bi} is a translated copy of its input`).not.toBeNull();
    return d!;
  });
}

describeEachBackend('randomShift', (device) => {
  it('translates each image by its own offset in [−s, s]², zero filled, all channels together; the offsets cover the range', async () => {
    const d = await offsets(device, 64, 3, 6, 7, 2, 11);
    const seen = new Set(d.map(([dx, dy]) => `${dx},${dy}`));
    // 64 draws from 25 equally likely offsets: far more than 10 distinct ones, each component at both ends.
    expect(seen.size).toBeGreaterThan(10);
    for (const k of [0, 1] as const) {
      expect(Math.min(...d.map((p) => p[k]))).toBe(-2);
      expect(Math.max(...d.map((p) => p[k]))).toBe(2);
    }
  });

  it('a seed fixes the offsets; the global stream advances between calls and manualSeed replays it; s = 0 draws nothing', async () => {
    expect(await offsets(device, 16, 1, 5, 5, 1, 7)).toEqual(await offsets(device, 16, 1, 5, 5, 1, 7));
    manualSeed(5);
    const a = await offsets(device, 16, 1, 5, 5, 2);
    const b = await offsets(device, 16, 1, 5, 5, 2);
    expect(b).not.toEqual(a);
    manualSeed(5);
    expect(await offsets(device, 16, 1, 5, 5, 2)).toEqual(a);
    const before = engine.randomOffset;
    const { t } = images(2, 1, 4, 4, device);
    expect(randomShift(t, 0)).toBe(t);
    expect(engine.randomOffset).toBe(before);
    t.dispose();
  });

  it('frees its temporaries', async () => {
    const { t } = images(8, 1, 6, 6, device);
    const before = memory().liveTensors;
    const out = randomShift(t, 2, { seed: 1 });
    expect(memory().liveTensors).toBe(before + 1);
    out.dispose();
    t.dispose();
  });
});

describe('randomShift', () => {
  it('CPU and WebGPU draw the same offsets from one seed', async () => {
    const { webgpuAvailability, requireWebGPU } = await import('./helpers/backends.js');
    const a = await webgpuAvailability();
    if (!a.available) {
      if (requireWebGPU) throw new Error(`WebGPU is required here (CI) but no adapter was found: ${a.reason}`);
      console.warn('randomShift CPU/WebGPU comparison NOT RUN: no WebGPU adapter');
      return;
    }
    expect(await offsets('webgpu', 40, 2, 8, 8, 3, 99)).toEqual(await offsets('cpu', 40, 2, 8, 8, 3, 99));
  });

  it('refuses bad arguments with a WebgradError naming randomShift, leaking nothing', () => {
    const { t } = images(2, 1, 4, 4, 'cpu');
    const rank3 = tensor([1, 2, 3, 4], { shape: [1, 2, 2] });
    expectErrorSync(() => randomShift(rank3, 1), /randomShift: input must be \[B, C, H, W\], got \[1, 2, 2\]/);
    rank3.dispose();
    expectErrorSync(() => randomShift(t, 4), /randomShift: maxShift must be an integer in \[0, 4\) for 4×4 images, got 4/);
    expectErrorSync(() => randomShift(t, -1), /maxShift must be an integer/);
    expectErrorSync(() => randomShift(t, 1.5), /maxShift must be an integer/);
    expectErrorSync(() => randomShift(t, 1, { seed: -3 }), /randomShift: seed must be an integer/);
    const ints = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2], dtype: 'int32' });
    expectErrorSync(() => randomShift(ints, 1), /randomShift/);
    ints.dispose();
    t.dispose();
  });
});

describe('the CNN\'s shift augmentation', () => {
  it('ToImage shifts in training mode only; buildCnn passes spec.shift; refused when it does not fit', async () => {
    const layer = new ToImage(5, 2);
    const x = tensor(Float32Array.from({ length: 8 * 25 }, (_, i) => i + 1), { shape: [8, 25] });
    manualSeed(3);
    const trained = await layer.forward(x).data();
    expect(Array.from(trained)).not.toEqual(Array.from(await x.data()));
    layer.eval();
    expect(Array.from(await layer.forward(x).data())).toEqual(Array.from(await x.data()));
    const first = buildCnn({ ...DEFAULT_CNN, shift: 2 }).modules()[0] as ToImage;
    expect(first.shift).toBe(2);
    expect((buildCnn({ ...DEFAULT_CNN, shift: undefined }).modules()[0] as ToImage).shift).toBe(0);
    expect(() => buildCnn({ ...DEFAULT_CNN, shift: 28 })).toThrow(/buildCnn: shift must be an integer in \[0, 28\), got 28/);
    expect(() => new ToImage(5, -1)).toThrow(/ToImage: shift must be an integer/);
    x.dispose();
  });

  it('--model cnn shifts by default; the MLP (the default model) has no augmentation', () => {
    expect(parseTrainArgs(['--model', 'cnn'])!.config.model).toEqual({ ...DEFAULT_CNN, channels: [16, 32, 64], shift: CNN_DEFAULTS.shift });
    expect(CNN_DEFAULTS.shift).toBe(2);
    expect(DEFAULT_CNN.shift).toBeUndefined(); // the architecture alone (the lab's CNN) has none
    const mlp = parseTrainArgs([])!.config.model;
    expect('shift' in mlp).toBe(false);
    expect('kind' in mlp).toBe(false);
  });

  it('a trainer with shifts resumes from its checkpoint bit for bit, and the checkpoint records the shift', async () => {
    const digits = loadEmbeddedDigits();
    const pick = (d: Dataset, n: number): Dataset => subset(d, Array.from({ length: n }, (_, i) => i * Math.floor(d.n / n)));
    const data = { train: pick(digits.train, 128), test: pick(digits.test, 40) };
    const spec: CnnSpec = { kind: 'cnn', imageSize: 28, channels: [3], outputs: 10, dropout: 0.25, shift: 2 };
    const config: TrainConfig = { epochs: 2, batchSize: 32, lr: 3e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0, seed: 4, schedule: 'onecycle', model: spec };
    const weights = async (t: Trainer): Promise<number[][]> => Promise.all([...t.model.stateDict().values()].map(async (x) => Array.from(await x.data())));

    const straight = new Trainer(config, data, 'cpu');
    await straight.runEpoch();
    await straight.runEpoch();
    const expected = await weights(straight);
    straight.dispose();

    // Without the shift, the same run ends elsewhere: the augmentation is really in the training path.
    const plain = new Trainer({ ...config, model: { ...spec, shift: 0 } }, data, 'cpu');
    await plain.runEpoch();
    await plain.runEpoch();
    expect(await weights(plain)).not.toEqual(expected);
    plain.dispose();

    const first = new Trainer(config, data, 'cpu');
    await first.runEpoch();
    const bytes = await encodeCheckpoint(first);
    first.dispose();
    const meta = readCheckpointMeta(bytes, 'ckpt');
    expect(meta.config.model).toEqual(spec);
    // A shift that does not fit the image is refused; a checkpoint from before the field existed reads as no shift.
    for (const bad of [28, -1, 1.5, 'two']) {
      expect(() => readCheckpointMeta(withShift(bytes, bad), 'bad.ckpt')).toThrow(/'config\.model\.shift'.*absent or an integer in \[0, imageSize\)/);
    }
    expect(readCheckpointMeta(withShift(bytes, undefined), 'old.ckpt').config.model).not.toHaveProperty('shift');
    const resumed = new Trainer(meta.config, data, 'cpu');
    manualSeed(987654); // another stream: the checkpoint must restore the one the shifts draw from
    restoreCheckpoint(resumed, bytes, 'ckpt');
    await resumed.runEpoch();
    expect(await weights(resumed)).toEqual(expected);
    resumed.dispose();
  }, 240_000);
});
