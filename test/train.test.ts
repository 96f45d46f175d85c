/**
 * Training (CPU backend, a small subset of the embedded digits, batch norm and dropout on so the
 * dropout random stream matters): determinism per seed, a resumed run equal to an uninterrupted
 * one (Adam and SGD), checkpoints that do not fit or are corrupt refused before anything changes,
 * a non-finite loss stopping the run, atomic checkpoint writes, the gradient-health study, and the
 * GradientHealthMonitor's dead-unit fractions and update ratios.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedDigits } from '../src/data/mnist-node.js';
import { subset } from '../src/data/dataset.js';
import type { Dataset } from '../src/data/dataset.js';
import { Trainer, NonFiniteLossError } from '../src/train/trainer.js';
import type { TrainConfig, EpochMetrics } from '../src/train/trainer.js';
import { encodeCheckpoint, restoreCheckpoint, readCheckpointMeta, CHECKPOINT_FORMAT } from '../src/train/checkpoint.js';
import { runGradientStudy, formatStudy, STUDY_VARIANTS } from '../src/train/study.js';
import { GradientHealthMonitor, formatHealth } from '../src/train/health.js';
import { writeFileAtomic, readFileBytes } from '../src/io/files-node.js';
import { tensorsToSafetensors } from '../src/io/state-io.js';
import { engine } from '../src/engine.js';
import { manualSeed, tensor, full, zeros } from '../src/ops/creation.js';
import { crossEntropy } from '../src/ops/loss.js';
import { Sequential, Linear, ReLU } from '../src/nn/layers.js';
import { SGD } from '../src/optim/sgd.js';
import { WebgradError } from '../src/errors.js';
import type { Tensor } from '../src/tensor.js';

const digits = loadEmbeddedDigits();
/** Rows spread over the whole set, so every class is present. */
function spread(d: Dataset, n: number): Dataset {
  const stride = Math.floor(d.n / n);
  return subset(d, Array.from({ length: n }, (_, i) => i * stride));
}
const DATA = { train: spread(digits.train, 640), test: spread(digits.test, 200) };

function config(over: Partial<TrainConfig> = {}, hidden = [32]): TrainConfig {
  const optimizer = over.optimizer ?? 'adam';
  return {
    epochs: 2, batchSize: 64, lr: optimizer === 'adam' ? 2e-3 : 0.05, optimizer, momentum: 0.9, weightDecay: 0, seed: 7,
    model: { inputs: 784, hidden, outputs: 10, activation: 'relu', batchNorm: true, dropout: 0.25, init: 'he' },
    ...over,
  };
}

const hex = (a: ArrayBufferView): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** Every model tensor and optimizer state tensor, as bytes. */
async function state(t: Trainer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, x] of t.model.stateDict()) out[`model.${name}`] = `[${x.shape.join(',')}] ${hex(await x.data())}`;
  const opt = t.optimizer.stateDict();
  for (const [key, x] of opt.tensors) out[`optim.${key}`] = `[${x.shape.join(',')}] ${hex(await x.data())}`;
  out.step = String(opt.step);
  out.lr = String(opt.lr);
  return out;
}

/** The metrics without wall-clock timings (and optionally without the health report). */
function metrics(m: EpochMetrics, health = true): Partial<EpochMetrics> {
  const { examplesPerSecond: _a, seconds: _b, health: h, ...rest } = m;
  return health ? { ...rest, health: h } : rest;
}

async function expectRejects(p: Promise<unknown> | (() => unknown), type: Function, ...patterns: RegExp[]): Promise<Error> {
  let caught: unknown = null;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeInstanceOf(type);
  for (const re of patterns) expect((caught as Error).message).toMatch(re);
  return caught as Error;
}

const tmpRoot = mkdtempSync(join(tmpdir(), 'webgrad-train-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

describe('Trainer determinism', () => {
  it('the same seed twice gives identical metrics and parameters; another seed does not', async () => {
    const runs: { m: EpochMetrics[]; s: Record<string, string> }[] = [];
    for (const seed of [7, 7, 8]) {
      const t = new Trainer(config({ seed }), DATA, 'cpu');
      const m = [await t.runEpoch(), await t.runEpoch()];
      runs.push({ m, s: await state(t) });
      t.dispose();
    }
    const [a, b, c] = runs as [typeof runs[0], typeof runs[0], typeof runs[0]];
    expect(b.m.map((m) => metrics(m))).toEqual(a.m.map((m) => metrics(m)));
    expect(b.s).toEqual(a.s);
    expect(c.s['model.0.weight']).not.toBe(a.s['model.0.weight']);
    // It learned something: well above chance on held-out digits.
    expect(a.m[1]!.testAccuracy).toBeGreaterThan(0.5);
    expect(a.m[1]!.loss).toBeLessThan(a.m[0]!.loss);
    expect(a.m[1]!.health?.layers.map((l) => l.name)).toEqual(['0.weight', '4.weight']);
  });
});

describe('resume from a checkpoint equals an uninterrupted run', () => {
  for (const optimizer of ['adam', 'sgd'] as const) {
    it(`${optimizer}: 2 epochs straight = 1 epoch, checkpoint bytes, new Trainer, restore, 1 epoch`, async () => {
      const straight = new Trainer(config({ optimizer }), DATA, 'cpu');
      await straight.runEpoch();
      await straight.runEpoch();
      const expected = await state(straight);
      const expectedHistory = straight.history.map((m) => metrics(m));
      const expectedHistoryNoHealth = straight.history.map((m) => metrics(m, false));
      straight.dispose();

      const first = new Trainer(config({ optimizer }), DATA, 'cpu');
      await first.runEpoch();
      const bytes = await encodeCheckpoint(first);
      const atCheckpoint = await state(first);
      first.dispose();

      const meta = readCheckpointMeta(bytes, 'ckpt');
      expect(meta.format).toBe(CHECKPOINT_FORMAT);
      expect(meta.epoch).toBe(1);
      expect(meta.config).toEqual(config({ optimizer }));

      // A fresh trainer, then a different global stream: the checkpoint must restore it.
      const resumed = new Trainer(config({ optimizer }), DATA, 'cpu');
      manualSeed(987654);
      restoreCheckpoint(resumed, bytes, 'ckpt');
      expect(resumed.epoch).toBe(1);
      expect(await state(resumed)).toEqual(atCheckpoint);
      const m2 = await resumed.runEpoch();
      expect(m2.epoch).toBe(2);
      expect(await state(resumed)).toEqual(expected);
      expect(metrics(m2)).toEqual(expectedHistory[1]);
      expect(resumed.history.map((m) => metrics(m, false))).toEqual(expectedHistoryNoHealth);
      resumed.dispose();

      // Control: without the restored random stream, dropout draws other masks and the run differs.
      const control = new Trainer(config({ optimizer }), DATA, 'cpu');
      restoreCheckpoint(control, bytes, 'ckpt');
      manualSeed(987654);
      await control.runEpoch();
      expect((await state(control))['model.0.weight']).not.toBe(expected['model.0.weight']);
      control.dispose();
    });
  }
});

describe('resume restores the history exactly', () => {
  it('the restored history equals the uninterrupted one, health reports included (NaN fields stay numbers)', async () => {
    const first = new Trainer(config(), DATA, 'cpu');
    await first.runEpoch();
    const original = first.history.map((m) => metrics(m));
    // The head layer has no ReLU after it: its deadFraction is NaN, a number.
    expect(Number.isNaN(original[0]!.health!.layers[1]!.deadFraction)).toBe(true);
    const bytes = await encodeCheckpoint(first);
    first.dispose();
    const resumed = new Trainer(config(), DATA, 'cpu');
    restoreCheckpoint(resumed, bytes, 'ckpt');
    expect(resumed.history.map((m) => metrics(m))).toEqual(original);
    expect(typeof resumed.history[0]!.health!.layers[1]!.deadFraction).toBe('number');
    resumed.dispose();
  });
});

describe('checkpoints that do not fit or are corrupt are refused before anything changes', () => {
  async function snapshotAll(t: Trainer) {
    return { s: await state(t), epoch: t.epoch, history: JSON.stringify(t.history), seed: engine.seed, offset: engine.randomOffset };
  }

  it('a checkpoint from hidden [32] into hidden [16] names the tensor and both shapes', async () => {
    const source = new Trainer(config({}, [32]), DATA, 'cpu');
    await source.runEpoch();
    const trained = await encodeCheckpoint(source);
    source.dispose();

    const target = new Trainer(config({}, [16]), DATA, 'cpu');
    await target.runEpoch();
    const before = await snapshotAll(target);
    await expectRejects(() => restoreCheckpoint(target, trained, 'big.ckpt'), WebgradError, /big\.ckpt/, /0\.weight|'0\.exp_avg'/, /\[32, 784\]/, /\[16, 784\]/);
    expect(await snapshotAll(target)).toEqual(before);
    target.dispose();
  });

  it('a checkpoint without optimizer state (before any step): the model check names the parameter and both shapes', async () => {
    const source = new Trainer(config({}, [32]), DATA, 'cpu');
    const untrained = await encodeCheckpoint(source);
    source.dispose();
    const target = new Trainer(config({}, [16]), DATA, 'cpu');
    const before = await snapshotAll(target);
    await expectRejects(() => restoreCheckpoint(target, untrained, 'ckpt'), WebgradError, /'0\.weight' has shape \[32, 784\] but the model expects \[16, 784\]/);
    expect(await snapshotAll(target)).toEqual(before);
    target.dispose();
  });

  it('truncated, corrupted, or not a checkpoint: a clear message and nothing changed', async () => {
    const source = new Trainer(config(), DATA, 'cpu');
    await source.runEpoch();
    const good = await encodeCheckpoint(source);
    const modelOnly = await tensorsToSafetensors(source.model.stateDict(), { format: 'webgrad-model-1' });
    source.dispose();

    const target = new Trainer(config({ seed: 3 }), DATA, 'cpu');
    await target.runEpoch();
    const before = await snapshotAll(target);

    await expectRejects(() => restoreCheckpoint(target, good.subarray(0, good.length - 100), 'cut.ckpt'), WebgradError, /cut\.ckpt is not a valid safetensors file/, /truncated/);
    await expectRejects(() => restoreCheckpoint(target, good.subarray(0, 5), 'tiny.ckpt'), WebgradError, /tiny\.ckpt is not a valid safetensors file: only 5 bytes/);
    const garbled = good.slice();
    garbled.fill(0x20, 8, 40); // spaces over the start of the JSON header
    await expectRejects(() => restoreCheckpoint(target, garbled, 'garbled.ckpt'), WebgradError, /garbled\.ckpt is not a valid safetensors file/);
    await expectRejects(() => restoreCheckpoint(target, modelOnly, 'model.safetensors'), WebgradError, /model\.safetensors is not a webgrad checkpoint/);
    expect(() => readCheckpointMeta(good.subarray(0, good.length - 1), 'x')).toThrow(/not a valid safetensors file/);

    expect(await snapshotAll(target)).toEqual(before);
    target.dispose();
  });
});

describe('a non-finite loss stops training', () => {
  it('data containing NaN: NonFiniteLossError with a clear message, no epoch recorded', async () => {
    const x = DATA.train.x.slice();
    x.fill(NaN, 5 * 784, 6 * 784);
    const t = new Trainer(config(), { train: { ...DATA.train, x }, test: DATA.test }, 'cpu');
    const e = await expectRejects(t.runEpoch(), NonFiniteLossError, /loss became NaN during epoch 1/, /lr 0\.002/, /smaller learning rate/);
    expect(e.name).toBe('NonFiniteLossError');
    expect(e).toBeInstanceOf(WebgradError);
    expect(t.epoch).toBe(0);
    expect(t.history).toEqual([]);
    t.dispose();
  });

  it('lr = 1e6 (SGD): the loss blows up and NonFiniteLossError is thrown', async () => {
    const t = new Trainer(config({ optimizer: 'sgd', lr: 1e6 }), DATA, 'cpu');
    await expectRejects(t.runEpoch(), NonFiniteLossError, /loss became (NaN|Infinity|-Infinity) during epoch 1 \(lr 1000000\)/);
    expect(t.epoch).toBe(0);
    t.dispose();
  });
});

describe('a batch size larger than the training set', () => {
  it('is refused with a message about the batch size, not reported as a NaN loss', async () => {
    // With dropLast and batchSize > n an epoch has no step at all; the loss is 0/0.
    let caught: unknown = null;
    try {
      const t = new Trainer(config({ batchSize: 1000 }), DATA, 'cpu');
      try {
        await t.runEpoch();
      } finally {
        t.dispose();
      }
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WebgradError);
    expect(caught).not.toBeInstanceOf(NonFiniteLossError);
    expect((caught as Error).message).toMatch(/batch/i);
    expect((caught as Error).message).toMatch(/1000/);
    expect((caught as Error).message).toMatch(/640/);
  });
});

describe('writeFileAtomic', () => {
  it('a crash during the second write leaves the first checkpoint byte-identical and no temp file', async () => {
    const dir = mkdtempSync(join(tmpRoot, 'atomic-'));
    const path = join(dir, 'checkpoint.safetensors');
    const t = new Trainer(config(), DATA, 'cpu');
    await t.runEpoch();
    const first = await encodeCheckpoint(t);
    writeFileAtomic(path, first);
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);
    expect(Buffer.compare(readFileSync(path), Buffer.from(first))).toBe(0);

    await t.runEpoch();
    const second = await encodeCheckpoint(t);
    expect(Buffer.compare(Buffer.from(second), Buffer.from(first))).not.toBe(0);
    let sawTemp: string[] = [];
    expect(() => writeFileAtomic(path, second, () => {
      sawTemp = readdirSync(dir);
      throw new Error('simulated crash');
    })).toThrow('simulated crash');
    expect(sawTemp.length).toBe(2); // the new bytes were complete in a temporary file
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);
    expect(Buffer.compare(Buffer.from(readFileBytes(path, 'resume')), Buffer.from(first))).toBe(0);

    // The surviving checkpoint still restores.
    const fresh = new Trainer(config(), DATA, 'cpu');
    restoreCheckpoint(fresh, readFileBytes(path, 'resume'), path);
    expect(fresh.epoch).toBe(1);
    fresh.dispose();

    // Without a crash the replacement lands.
    writeFileAtomic(path, second);
    expect(Buffer.compare(readFileSync(path), Buffer.from(second))).toBe(0);
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);
    t.dispose();
  });

  it('readFileBytes names a missing file', () => {
    expect(() => readFileBytes(join(tmpRoot, 'missing.ckpt'), 'resume')).toThrow(/resume: file not found: .*missing\.ckpt/);
  });
});

describe('gradient-health study', () => {
  it('sigmoid + naive init vanishes; ReLU + He + batch norm stays within one order of magnitude', async () => {
    const data = spread(digits.train, 512);
    const results = await runGradientStudy(data, { depth: 12, width: 32, batchSize: 32, recordAt: [1, 5], lr: 0.05, seed: 3, device: 'cpu' });
    expect(results.map((r) => r.variant.name)).toEqual(STUDY_VARIANTS.map((v) => v.name));
    for (const r of results) {
      expect(r.reports.map((x) => x.step)).toEqual([1, 5]);
      expect(r.reports[1]!.layers.length).toBe(13);
    }

    const naive = results.find((r) => r.variant.name.startsWith('sigmoid, naive'))!;
    const lastNaive = naive.reports[naive.reports.length - 1]!;
    expect(lastNaive.firstToLastRatio).toBeLessThan(1e-3);
    expect(lastNaive.vanishing).toBe(true);
    expect(lastNaive.exploding).toBe(false);
    expect(formatHealth(lastNaive)).toMatch(/VANISHING/);

    const bn = results.find((r) => r.variant.name === 'ReLU, He init, batch norm')!;
    const lastBn = bn.reports[bn.reports.length - 1]!;
    const norms = lastBn.layers.map((l) => l.gradNorm);
    for (const v of norms) expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(Math.max(...norms) / Math.min(...norms)).toBeLessThan(10);
    expect(lastBn.vanishing).toBe(false);
    expect(lastBn.exploding).toBe(false);

    const text = formatStudy(results);
    for (const v of STUDY_VARIANTS) expect(text).toContain(v.name);
    expect(text).toMatch(/VANISHING/);
    expect(text).toMatch(/step 5/);
  });
});

describe('GradientHealthMonitor', () => {
  async function values(t: Tensor): Promise<number[]> {
    return Array.from(await t.data());
  }
  const norm = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

  function model(bias: number): Sequential {
    manualSeed(5);
    const m = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2));
    if (bias !== 0) {
      const w = zeros([4, 3]);
      const b = full([4], bias);
      m.loadStateDict(new Map([['0.weight', w], ['0.bias', b]]), { strict: false });
      w.dispose();
      b.dispose();
    }
    return m;
  }
  const probe = () => tensor(Float32Array.from([0.5, -1, 2, 1.5, 0.25, -0.75, -2, 1, 0.1, 3, -3, 0.3]), { shape: [4, 3] });
  const labels = () => tensor(Int32Array.from([0, 1, 1, 0]), { shape: [4] });

  it('deadFraction is 1 when every unit is negative and 0 when every unit is positive', async () => {
    for (const [bias, expected] of [[-1, 1], [1, 0]] as const) {
      const m = model(bias);
      const monitor = new GradientHealthMonitor(m);
      const x = probe();
      const r = await monitor.record(1, x);
      expect(r.layers.map((l) => l.name)).toEqual(['0.weight', '2.weight']);
      expect(r.layers[0]!.deadFraction).toBe(expected);
      expect(Number.isNaN(r.layers[1]!.deadFraction)).toBe(true); // no activation after the head
      expect(Number.isNaN(r.layers[0]!.gradNorm)).toBe(true); // no gradient yet
      expect(m.training).toBe(true);
      x.dispose();
      monitor.dispose();
      m.dispose();
    }
  });

  it('gradient norms are accurate for tiny and huge (finite) gradients (no float32 underflow/overflow of the squares)', async () => {
    // sqrt(sum(x²)) in float32 turns 1e-25 into 0 and 1e20 into Infinity although both norms are
    // ordinary float32 numbers; a scaled norm (as hypot/BLAS nrm2 do) gets them right.
    for (const v of [1e-25, 1e20]) {
      const m = model(0);
      const first = m.at(0) as Linear;
      const head = m.at(2) as Linear;
      first.weight.grad = full([4, 3], v);
      head.weight.grad = full([2, 4], 1);
      const monitor = new GradientHealthMonitor(m);
      const r = await monitor.record(1);
      const expected = Math.sqrt(12) * v;
      expect(r.layers[0]!.gradNorm / expected, `gradNorm for elements ${v}`).toBeCloseTo(1, 4);
      expect(r.firstToLastRatio / (expected / Math.sqrt(8))).toBeCloseTo(1, 4);
      monitor.dispose();
      m.dispose();
    }
  });

  it('update ratio, gradient norm and weight norm match a hand computation after one SGD step', async () => {
    const m = model(0);
    const monitor = new GradientHealthMonitor(m);
    const opt = new SGD(m.parameters(), { lr: 0.1 });
    const x = probe();
    const y = labels();
    const loss = crossEntropy(m.forward(x), y);
    loss.backward();
    loss.dispose();
    const linears = [m.at(0) as Linear, m.at(2) as Linear];
    const w0 = await Promise.all(linears.map((l) => values(l.weight)));
    const g = await Promise.all(linears.map((l) => values(l.weight.grad!)));
    monitor.snapshot();
    opt.step();
    const w1 = await Promise.all(linears.map((l) => values(l.weight)));
    const r = await monitor.record(1, x);
    linears.forEach((_, i) => {
      const delta = w1[i]!.map((v, j) => v - w0[i]![j]!);
      const layer = r.layers[i]!;
      expect(norm(delta)).toBeGreaterThan(0);
      expect(layer.updateRatio).toBeCloseTo(norm(delta) / norm(w0[i]!), 6);
      expect(layer.updateRatio / (norm(delta) / norm(w0[i]!))).toBeCloseTo(1, 4);
      expect(layer.updateRatio / (0.1 * norm(g[i]!) / norm(w0[i]!))).toBeCloseTo(1, 4);
      expect(layer.gradNorm / norm(g[i]!)).toBeCloseTo(1, 5);
      expect(layer.weightNorm / norm(w1[i]!)).toBeCloseTo(1, 5);
    });
    // Without a snapshot the next report has no update ratio.
    const again = await monitor.record(2);
    expect(Number.isNaN(again.layers[0]!.updateRatio)).toBe(true);
    expect(monitor.history.length).toBe(2);
    opt.zeroGrad();
    opt.dispose();
    x.dispose();
    y.dispose();
    monitor.dispose();
    m.dispose();
  });
});
