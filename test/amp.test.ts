/**
 * Mixed precision (src/amp): autocast runs linear layers in float16 with float32 master weights
 * and float32 gradients; GradScaler follows torch.cuda.amp.GradScaler (scale, unscale, skip on
 * inf/NaN with the scale halved, growth after growthInterval clean steps); a small mixed-precision
 * run on a subset of the digits trains.
 */
import { beforeEach, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { describeEachBackend } from './helpers/backends.js';
import { getBackend } from '../src/engine.js';
import type { WebGPUBackend } from '../src/backend/webgpu/backend.js';

describeEachBackend('amp', (device) => {
  if (device === 'webgpu') {
    // autocast computes in float16, which WebGPU offers only with 'shader-f16' (lavapipe, the CI
    // driver, has it; SwiftShader does not): without it these cases are reported as skipped, and
    // test/float16.test.ts checks the refusal.
    beforeEach((ctx) => {
      if (!(getBackend('webgpu') as WebGPUBackend).shaderF16) ctx.skip();
    });
  }
  it('autocast: linear layers compute in float16, weights and their grads stay float32, the loss is float32', async () => {
    wg.manualSeed(3);
    const layer = new wg.nn.Linear(5, 3, { device });
    const x = wg.randn([4, 5], { device });
    const y = wg.amp.autocast(() => layer.forward(x));
    expect(y.dtype).toBe('float16');
    expect(wg.amp.autocastEnabled()).toBe(false);
    const loss = wg.amp.autocast(() => wg.mse(y, wg.zeros([4, 3], { device })));
    expect(loss.dtype).toBe('float32');
    loss.backward();
    expect(layer.weight.dtype).toBe('float32');
    expect(layer.weight.grad!.dtype).toBe('float32');
    // Against the float32 computation: agreement to float16 precision.
    const ref = layer.forward(x);
    const [a, b] = [await y.data(), await ref.data()];
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(2e-3 * (1 + Math.abs(b[i]!)));
    const g16 = await layer.weight.grad!.data();
    layer.weight.grad = null;
    wg.mse(ref, wg.zeros([4, 3], { device })).backward();
    const g32 = await layer.weight.grad!.data();
    for (let i = 0; i < g16.length; i++) expect(Math.abs(g16[i]! - g32[i]!)).toBeLessThanOrEqual(5e-3 * (1 + Math.abs(g32[i]!)));
  });

  it('GradScaler: an inf gradient skips the step and halves the scale; clean steps unscale and grow after growthInterval', async () => {
    const p = wg.tensor([1, 2, 3], { device }).requiresGrad_();
    const opt = new wg.optim.SGD([p], { lr: 0.1 });
    const scaler = new wg.amp.GradScaler({ growthInterval: 2 });
    expect(scaler.getScale()).toBe(2 ** 16);
    // A clean step: the loss is scaled, the gradient unscaled before the update.
    scaler.scale(p.sum()).backward();
    expect(Array.from(await p.grad!.data())).toEqual([65536, 65536, 65536]);
    expect(await scaler.step(opt)).toBe(true);
    expect(Array.from(await p.grad!.data())).toEqual([1, 1, 1]);
    expect(Array.from(await p.data()).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0.9, 1.9, 2.9]);
    scaler.update();
    expect(scaler.getScale()).toBe(2 ** 16);
    expect(scaler.getGrowthTracker()).toBe(1);
    // An injected inf gradient: no update, the scale halves, the growth count restarts.
    opt.zeroGrad();
    p.grad = wg.tensor([0, Infinity, 0], { device });
    const before = Array.from(await p.data());
    expect(await scaler.step(opt)).toBe(false);
    expect(Array.from(await p.data())).toEqual(before);
    scaler.update();
    expect(scaler.getScale()).toBe(2 ** 15);
    expect(scaler.getGrowthTracker()).toBe(0);
    // NaN too.
    p.grad = wg.tensor([NaN, 0, 0], { device });
    expect(await scaler.step(opt)).toBe(false);
    scaler.update();
    expect(scaler.getScale()).toBe(2 ** 14);
    // Two clean steps in a row (growthInterval 2): the scale doubles.
    for (let k = 0; k < 2; k++) {
      opt.zeroGrad();
      scaler.scale(p.sum()).backward();
      expect(await scaler.step(opt)).toBe(true);
      scaler.update();
    }
    expect(scaler.getScale()).toBe(2 ** 15);
    expect(() => scaler.update()).toThrow(/call scaler.step/);
  });

  it('a mixed-precision run on a digits-like subset trains (loss falls), with float32 master weights', async () => {
    wg.manualSeed(11);
    // 10 Gaussian blobs in 64-D: a stand-in for a digits subset, small enough for the test suite.
    const n = 240;
    const centers = wg.randn([10, 64], { device });
    const labelsArr = Int32Array.from({ length: n }, (_, i) => i % 10);
    const labels = wg.tensor(labelsArr, { device });
    const cs = await centers.data();
    const noise = await wg.randn([n, 64], { device }).data();
    const xs = new Float32Array(n * 64);
    for (let i = 0; i < n; i++) for (let j = 0; j < 64; j++) xs[i * 64 + j] = cs[labelsArr[i]! * 64 + j]! + 0.8 * noise[i * 64 + j]!;
    const x = wg.tensor(xs, { device, shape: [n, 64] });
    // Sequential fuses Linear+ReLU: the path the CLI's MLP takes.
    const model = new wg.nn.Sequential(new wg.nn.Linear(64, 32, { device }), new wg.nn.ReLU(), new wg.nn.Linear(32, 10, { device }));
    const opt = new wg.optim.Adam(model.parameters(), { lr: 1e-2 });
    const scaler = new wg.amp.GradScaler();
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      opt.zeroGrad();
      const loss = wg.amp.autocast(() => wg.crossEntropy(model.forward(x), labels));
      scaler.scale(loss).backward();
      await scaler.step(opt);
      scaler.update();
      losses.push(await loss.item());
    }
    for (const p of model.parameters()) expect(p.dtype).toBe('float32');
    expect(losses[0]!).toBeGreaterThan(1.5);
    expect(losses[losses.length - 1]!).toBeLessThan(0.5 * losses[0]!);
  });
});
