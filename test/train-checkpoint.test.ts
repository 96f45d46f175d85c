/**
 * Issue 10, item 4: a checkpoint is restored all or nothing. Malformed metadata, a missing optimizer
 * tensor, or one of the wrong dtype or shape is refused with a WebgradError naming the entry, the
 * trainer and the random stream are left exactly as they were, and nothing leaks (expectError).
 */
import { describe, expect, it } from 'vitest';
import { Trainer } from '../src/train/trainer.js';
import type { TrainConfig } from '../src/train/trainer.js';
import { encodeCheckpoint, restoreCheckpoint, readCheckpointMeta } from '../src/train/checkpoint.js';
import { encodeSafetensors, decodeSafetensors } from '../src/io/safetensors.js';
import type { NamedArray } from '../src/io/safetensors.js';
import type { Dataset } from '../src/data/dataset.js';
import { engine } from '../src/engine.js';
import { expectError } from './helpers/expect-error.js';

function synthetic(n: number, seed: number): Dataset {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const x = Float32Array.from({ length: n * 12 }, rnd);
  const labels = Int32Array.from({ length: n }, (_, i) => (x[i * 12]! > 0.5 ? 1 : 0) + (x[i * 12 + 1]! > 0.5 ? 2 : 0));
  return { x, labels, n, features: 12, classes: 4, source: 'synthetic' };
}
const DATA = { train: synthetic(128, 1), test: synthetic(32, 2) };

function config(optimizer: 'adam' | 'sgd'): TrainConfig {
  return {
    epochs: 2, batchSize: 32, lr: optimizer === 'adam' ? 1e-2 : 0.05, optimizer, momentum: 0.9, weightDecay: 0, seed: 3,
    model: { inputs: 12, hidden: [8], outputs: 4, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' },
  };
}

/** Re-encodes a checkpoint after `edit` changed its arrays or its metadata. */
function tamper(bytes: Uint8Array, edit: (arrays: Map<string, NamedArray>, meta: Record<string, unknown>) => void): Uint8Array {
  const { arrays, metadata } = decodeSafetensors(bytes, 'good');
  const meta = JSON.parse(metadata.webgrad!) as Record<string, unknown>;
  const copy = new Map(arrays);
  edit(copy, meta);
  return encodeSafetensors(copy, { ...metadata, webgrad: JSON.stringify(meta) });
}

async function snapshot(t: Trainer): Promise<string> {
  const parts: string[] = [`epoch ${t.epoch}`, `history ${JSON.stringify(t.history)}`, `random ${engine.seed}/${engine.randomOffset}`];
  for (const [name, x] of t.model.stateDict()) parts.push(`${name} ${Array.from(await x.data()).join(',')}`);
  const opt = t.optimizer.stateDict();
  parts.push(`step ${opt.step} lr ${opt.lr}`);
  for (const [key, x] of opt.tensors) parts.push(`${key} ${x.dtype} ${Array.from(await x.data()).join(',')}`);
  return parts.join('\n');
}

for (const optimizer of ['adam', 'sgd'] as const) {
  describe(`restoreCheckpoint validates everything before changing anything (${optimizer})`, () => {
    async function setup(): Promise<{ good: Uint8Array; target: Trainer; before: string; optimKeys: string[] }> {
      const source = new Trainer(config(optimizer), DATA, 'cpu');
      await source.runEpoch();
      const good = await encodeCheckpoint(source);
      source.dispose();
      const optimKeys = [...decodeSafetensors(good).arrays.keys()].filter((k) => k.startsWith('optim.'));
      expect(optimKeys.length).toBeGreaterThan(0);
      // The target has trained too (its own weights, epoch, history, optimizer state) and then moved the global stream.
      const target = new Trainer({ ...config(optimizer), seed: 9 }, DATA, 'cpu');
      await target.runEpoch();
      engine.seed = 12345;
      engine.randomOffset = 678;
      return { good, target, before: await snapshot(target), optimKeys };
    }

    it('malformed metadata (history not an array, optimizer or random state missing, bad epoch) is refused, naming the field', async () => {
      const { good, target, before } = await setup();
      const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
        ['history not an array', (m) => { m.history = { epoch: 1 }; }, /'history' should be an array/],
        ['optimizer missing', (m) => { delete m.optimizer; }, /'optimizer' should be an object, got nothing/],
        ['optimizer.step missing', (m) => { m.optimizer = { lr: 0.01 }; }, /'optimizer\.step' should be a non-negative integer/],
        ['random missing', (m) => { delete m.random; }, /'random' should be an object/],
        ['random.offset negative', (m) => { m.random = { seed: 1, offset: -4 }; }, /'random\.offset'.*got -4/],
        ['epoch a string', (m) => { m.epoch = '1'; }, /'epoch' should be a non-negative integer, got "1"/],
        ['config.model.hidden wrong', (m) => { (m.config as { model: { hidden: unknown } }).model.hidden = 'big'; }, /'config\.model\.hidden'/],
      ];
      for (const [what, edit, pattern] of cases) {
        const bytes = tamper(good, (_a, m) => edit(m));
        await expectError(() => restoreCheckpoint(target, bytes, 'bad.ckpt'), [/^resume: bad\.ckpt has malformed webgrad metadata/, pattern]);
        expect(await snapshot(target), what).toBe(before);
        // readCheckpointMeta (what the CLI reads first) refuses it the same way.
        await expectError(() => readCheckpointMeta(bytes, 'bad.ckpt'), [pattern]);
      }
      target.dispose();
    });

    it('a missing optimizer tensor, or one of the wrong dtype or shape, is refused naming the entry', async () => {
      const { good, target, before, optimKeys } = await setup();
      const victim = optimKeys[optimKeys.length - 1]!;
      const missing = tamper(good, (a) => a.delete(victim));
      await expectError(() => restoreCheckpoint(target, missing, 'cut.ckpt'), [/^resume: cut\.ckpt is missing the optimizer tensor/, new RegExp(`'${victim.replace('.', '\\.')}'`), new RegExp(`'${optimizer}'`)]);
      expect(await snapshot(target)).toBe(before);

      const wrongDtype = tamper(good, (a) => {
        const v = a.get(victim)!;
        a.set(victim, { ...v, dtype: 'float64', data: Float64Array.from(v.data) });
      });
      await expectError(() => restoreCheckpoint(target, wrongDtype, 'f64.ckpt'), [/^resume: f64\.ckpt/, new RegExp(victim.slice(6).replace('.', '\\.')), /dtype float64/, /expects float32/]);
      expect(await snapshot(target)).toBe(before);

      const wrongShape = tamper(good, (a) => {
        const v = a.get(victim)!;
        a.set(victim, { dtype: v.dtype, shape: [1, v.data.length], data: v.data });
      });
      await expectError(() => restoreCheckpoint(target, wrongShape, 'flat.ckpt'), [/flat\.ckpt/, /has shape \[1, \d+\] but/]);
      expect(await snapshot(target)).toBe(before);

      const extra = tamper(good, (a) => a.set('optim.0.surprise', a.get(victim)!));
      await expectError(() => restoreCheckpoint(target, extra, 'extra.ckpt'), [/'optim\.0\.surprise'/, /does not keep/]);
      expect(await snapshot(target)).toBe(before);

      const modelDtype = tamper(good, (a) => {
        const v = a.get('model.0.weight')!;
        a.set('model.0.weight', { ...v, dtype: 'float64', data: Float64Array.from(v.data) });
      });
      await expectError(() => restoreCheckpoint(target, modelDtype, 'm.ckpt'), [/m\.ckpt/, /'0\.weight' has dtype float64 but the model expects float32/]);
      expect(await snapshot(target)).toBe(before);

      // The untampered checkpoint still restores (the checks refuse only what is wrong).
      restoreCheckpoint(target, good, 'good.ckpt');
      expect(target.epoch).toBe(1);
      target.dispose();
    });
  });
}
