/**
 * Batch norm (1-D and 2-D) and dropout under autocast: a float16 activation is normalised / masked
 * in float32 and comes out float16 (PyTorch keeps the input dtype), bit-identical to doing the
 * widening and narrowing by hand; the running statistics move exactly as for the widened input;
 * gradients reach float32 master weights; outside autocast float16 input is still refused. The
 * CLI's default MLP shape (Linear, BatchNorm1d, ReLU, Dropout) trains under autocast + GradScaler.
 */
import { beforeEach, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { describeEachBackend } from './helpers/backends.js';
import { engine, getBackend } from '../src/engine.js';
import type { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { buildMlp } from '../src/train/mlp.js';

async function bits(t: wg.Tensor): Promise<number[]> {
  return Array.from(await t.cast('float32').data());
}

describeEachBackend('amp: batch norm and dropout', (device) => {
  if (device === 'webgpu') {
    // float16 needs 'shader-f16' (lavapipe, the CI driver, has it); test/float16.test.ts checks the refusal elsewhere.
    beforeEach((ctx) => {
      if (!(getBackend('webgpu') as WebGPUBackend).shaderF16) ctx.skip();
    });
  }

  it('BatchNorm1d: float16 in, float16 out, equal to normalising the widened input in float32; running statistics too', async () => {
    wg.manualSeed(11);
    const x16 = wg.randn([9, 5], { device }).mul(3).add(1).cast('float16');
    const a = new wg.nn.BatchNorm1d(5, { device });
    const b = new wg.nn.BatchNorm1d(5, { device });
    const y = wg.amp.autocast(() => a.forward(x16));
    expect(y.dtype).toBe('float16');
    const ref = b.forward(x16.cast('float32')).cast('float16');
    expect(await bits(y)).toEqual(await bits(ref));
    expect(Array.from(await a.runningMean!.data())).toEqual(Array.from(await b.runningMean!.data()));
    expect(Array.from(await a.runningVar!.data())).toEqual(Array.from(await b.runningVar!.data()));
    expect(a.runningMean!.dtype).toBe('float32');
    // Evaluation mode under autocast uses the running statistics, also in float32.
    a.eval();
    b.eval();
    const ye = wg.amp.autocast(() => a.forward(x16));
    expect(ye.dtype).toBe('float16');
    expect(await bits(ye)).toEqual(await bits(b.forward(x16.cast('float32')).cast('float16')));
  });

  it('BatchNorm2d: float16 NCHW in, float16 out, equal to the widened computation', async () => {
    wg.manualSeed(12);
    const x16 = wg.randn([2, 3, 4, 5], { device }).mul(2).cast('float16');
    const a = new wg.nn.BatchNorm2d(3, { device });
    const b = new wg.nn.BatchNorm2d(3, { device });
    const y = wg.amp.autocast(() => a.forward(x16));
    expect(y.dtype).toBe('float16');
    expect(y.shape).toEqual([2, 3, 4, 5]);
    expect(await bits(y)).toEqual(await bits(b.forward(x16.cast('float32')).cast('float16')));
    expect(Array.from(await a.runningVar!.data())).toEqual(Array.from(await b.runningVar!.data()));
  });

  it('dropout: the same Philox mask as for float32 input, float16 out; identity in eval without a cast', async () => {
    const x16 = wg.randn([7, 13], { device }).add(2).cast('float16');
    const y = wg.amp.autocast(() => wg.dropout(x16, 0.4, { seed: 5 }));
    expect(y.dtype).toBe('float16');
    const ref = wg.dropout(x16.cast('float32'), 0.4, { seed: 5 }).cast('float16');
    const [got, want] = [await bits(y), await bits(ref)];
    expect(got).toEqual(want);
    const zeros = got.filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(10); // the mask really drops (x + 2 is almost never exactly 0)
    expect(zeros).toBeLessThan(80);
    const ident = wg.amp.autocast(() => wg.dropout(x16, 0.4, { training: false }));
    expect(ident.dtype).toBe('float16');
    expect(await bits(ident)).toEqual(await bits(x16));
  });

  it('gradients pass through to float32 weights and agree with the float32 model to float16 precision', async () => {
    wg.manualSeed(13);
    const model = new wg.nn.Sequential(new wg.nn.Linear(6, 8, { device }), new wg.nn.BatchNorm1d(8, { device }), new wg.nn.ReLU(), new wg.nn.Linear(8, 3, { device }));
    const x = wg.randn([16, 6], { device });
    const target = wg.randn([16, 3], { device });
    const loss16 = wg.amp.autocast(() => wg.mse(model.forward(x), target));
    expect(loss16.dtype).toBe('float32');
    loss16.backward();
    const params = model.parameters();
    const g16 = await Promise.all(params.map(async (p) => { expect(p.grad!.dtype).toBe('float32'); return Array.from(await p.grad!.data()); }));
    for (const p of params) p.grad = null;
    const fresh = new wg.nn.Sequential(new wg.nn.Linear(6, 8, { device }), new wg.nn.BatchNorm1d(8, { device }), new wg.nn.ReLU(), new wg.nn.Linear(8, 3, { device }));
    fresh.loadStateDict(model.stateDict()); // the running statistics as before the autocast step don't matter in training mode
    wg.mse(fresh.forward(x), target).backward();
    const g32 = await Promise.all(fresh.parameters().map(async (p) => Array.from(await p.grad!.data())));
    let nonzero = 0;
    for (let k = 0; k < g16.length; k++) {
      for (let i = 0; i < g16[k]!.length; i++) {
        const [a, b] = [g16[k]![i]!, g32[k]![i]!];
        expect(Math.abs(a - b)).toBeLessThanOrEqual(2e-2 * (1 + Math.abs(b)));
        if (a !== 0) nonzero++;
      }
    }
    expect(nonzero).toBeGreaterThan(50);
  });

  it('outside autocast a float16 activation with float32 batch-norm weights is still refused, naming the op', () => {
    const x16 = wg.randn([4, 3], { device }).cast('float16');
    const bn = new wg.nn.BatchNorm1d(3, { device });
    expect(() => bn.forward(x16)).toThrow(/batchNorm: dtype mismatch: float16 and float32/);
    expect(() => wg.dropout(x16, 0.5)).toThrow(/dropout/);
  });

  it("the CLI's default MLP shape (BatchNorm1d, ReLU, dropout) trains under autocast + GradScaler", async () => {
    wg.manualSeed(21);
    // buildMlp builds on the default backend, as the CLI's trainer uses it.
    const prev = engine.defaultBackend;
    engine.defaultBackend = device;
    let model: wg.nn.Sequential;
    try {
      model = buildMlp({ inputs: 12, hidden: [32, 32], outputs: 4, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' });
    } finally {
      engine.defaultBackend = prev;
    }
    const opt = new wg.optim.Adam(model.parameters(), { lr: 1e-2 });
    const scaler = new wg.amp.GradScaler();
    // A learnable task: the class is the argmax of the first four features.
    const x = wg.randn([64, 12], { device });
    const y = x.slice(1, 0, 4).argmax(1);
    const losses: number[] = [];
    for (let step = 0; step < 40; step++) {
      opt.zeroGrad();
      const loss = wg.amp.autocast(() => wg.crossEntropy(model.forward(x), y));
      losses.push((await loss.data())[0]!);
      scaler.scale(loss).backward();
      await scaler.step(opt);
      scaler.update();
    }
    for (const p of model.parameters()) expect(p.dtype).toBe('float32');
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
  });
});
