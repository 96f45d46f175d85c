/**
 * A PyTorch-style training loop written without tidy or dispose must not grow without bound:
 * tensors that became unreachable are reclaimed (FinalizationRegistry, a collection asked for at an
 * async safe point when live tensors or bytes have grown), and a loop that leaks with nothing
 * reclaimed (a fully synchronous one) gets one warning naming the remedy. A healthy loop gets none.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MockInstance } from 'vitest';
import { requireWebGPU, webgpuAvailability } from './helpers/backends.js';
import type { BackendName } from '../src/backend/types.js';
import * as wg from '../src/index.js';
import { reclaimStats, resetReclaimWatch } from '../src/reclaim.js';

function setup(device: BackendName) {
  const model = new wg.nn.Sequential(new wg.nn.Linear(8, 16, { device }), new wg.nn.ReLU(), new wg.nn.Linear(16, 3, { device }));
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.05 });
  const x = wg.randn([32, 8], { seed: 1, device });
  const y = wg.tensor(Int32Array.from({ length: 32 }, (_, i) => i % 3), { shape: [32], device });
  const dispose = (): void => {
    opt.dispose();
    model.dispose();
    wg.dispose([x, y]);
  };
  return { model, opt, x, y, dispose };
}

let warn: MockInstance<typeof console.warn>;
const growthWarnings = (): string[] => warn.mock.calls.map((c) => String(c[0])).filter((m) => m.includes('live tensors grew'));

beforeEach(() => {
  warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  resetReclaimWatch();
});
afterEach(() => warn.mockRestore());

describe('the untidy loop', () => {
  it('runs 5,000 steps on WebGPU with live tensors bounded (zeroGrad, forward, loss, backward, step; the loss read every 50 steps)', async () => {
    const gpu = await webgpuAvailability();
    if (!gpu.available) {
      expect(requireWebGPU).toBe(false);
      return;
    }
    const { model, opt, x, y, dispose } = setup('webgpu');
    const start = wg.memory().liveTensors;
    let maxLive = 0;
    let allocatedAt1000 = 0;
    const reclaimedBefore = reclaimStats().reclaimedTensors;
    for (let step = 0; step < 5000; step++) {
      opt.zeroGrad();
      const out = model.forward(x);
      const loss = wg.nn.crossEntropy(out, y);
      loss.backward();
      opt.step();
      if (step % 50 === 0) await loss.item();
      maxLive = Math.max(maxLive, wg.memory().liveTensors);
      if (step === 1000) allocatedAt1000 = wg.memory().backends.webgpu!.allocatedBytes;
    }
    // Without reclamation: 2 tensors per step, 10,000 at the end. With it: a collection each time
    // 1,024 more are live (the threshold), seen at the next read (50 steps, 100 tensors, later).
    expect(maxLive - start).toBeLessThan(1500);
    expect(wg.memory().liveTensors - start).toBeLessThan(1500);
    expect(reclaimStats().reclaimedTensors - reclaimedBefore).toBeGreaterThan(9000);
    // The device memory stops growing too.
    // (Without reclamation: 4,000 more steps of two new buffers of at least 256 bytes each, over 2 MB.)
    expect(wg.memory().backends.webgpu!.allocatedBytes - allocatedAt1000).toBeLessThan(100_000);
    expect(growthWarnings()).toEqual([]);
    dispose();
  });

  it('a healthy synchronous loop (the step in tidy) does not warn', () => {
    const { model, opt, x, y, dispose } = setup('cpu');
    const start = wg.memory().liveTensors;
    for (let step = 0; step < 1500; step++) {
      wg.tidy(() => {
        opt.zeroGrad();
        const loss = wg.nn.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
      });
    }
    opt.zeroGrad(); // the gradients belong to the parameters, not to the step
    expect(wg.memory().liveTensors).toBe(start);
    expect(growthWarnings()).toEqual([]);
    dispose();
  });

  it('an untidy loop that awaits (a DataLoader) is reclaimed and does not warn', async () => {
    const { model, opt, dispose } = setup('cpu');
    const xs = Array.from({ length: 64 }, (_, i) => Array.from({ length: 8 }, (_, j) => Math.sin(i * 8 + j)));
    const ys = Int32Array.from({ length: 64 }, (_, i) => i % 3);
    const loader = new wg.DataLoader([xs, ys], { batchSize: 16, shuffle: true, seed: 1 });
    const start = wg.memory().liveTensors;
    let maxLive = 0;
    for (let epoch = 0; epoch < 400; epoch++) {
      for await (const [x, y] of loader) {
        opt.zeroGrad();
        const loss = wg.nn.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        maxLive = Math.max(maxLive, wg.memory().liveTensors);
      }
    }
    // 1,600 steps leaking 4 tensors each (the batch, the output, the loss): 6,400 without reclamation.
    expect(maxLive - start).toBeLessThan(1500);
    expect(growthWarnings()).toEqual([]);
    dispose();
  });

  it('an untidy loop leaking slowly (1 tensor a step, under the collection threshold) that awaits does not warn', async () => {
    const { model, opt, x, y, dispose } = setup('cpu');
    for (let step = 0; step < 1200; step++) {
      opt.zeroGrad();
      const out = model.forward(x);
      const loss = wg.nn.crossEntropy(out, y); // the loss is dropped without dispose()
      out.dispose();
      loss.backward();
      opt.step();
      if (step % 10 === 0) await loss.item();
    }
    // The growth watch asked for a collection before warning; the loop's next read served it.
    expect(reclaimStats().reclaimedTensors).toBeGreaterThan(0);
    expect(growthWarnings()).toEqual([]);
    dispose();
  });

  // Last: its 3,000 unreclaimed tensors would otherwise sit in the other tests' baselines.
  it('a fully synchronous untidy loop (nothing can be reclaimed) warns once, naming the remedy', () => {
    const { model, opt, x, y, dispose } = setup('cpu');
    for (let step = 0; step < 1500; step++) {
      opt.zeroGrad();
      const loss = wg.nn.crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
    }
    const w = growthWarnings();
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/about 2\.0 per step/);
    expect(w[0]).toMatch(/tidy\(/);
    expect(w[0]).toMatch(/dispose\(\)/);
    expect(reclaimStats().growthWarned).toBe(true);
    dispose();
  });
});

describe('tensors made before init()', () => {
  it('warn once, naming how many and the remedy, when WebGPU tensors appear while they are alive', async () => {
    const gpu = await webgpuAvailability();
    if (!gpu.available) {
      expect(requireWebGPU).toBe(false);
      return;
    }
    const script = `
      const wg = await import('./src/index.ts');
      const model = new wg.nn.Linear(4, 2);             // before init(): on the CPU
      await wg.init({ backend: 'webgpu', autotune: false });
      const x = wg.ones([3, 4]);                        // on WebGPU
      console.log('DEVICES:' + model.weight.device + ',' + x.device);
      wg.ones([1]);                                     // a second WebGPU tensor: no second warning
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 120_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain('DEVICES:cpu,webgpu');
    const warnings = out.split('\n').filter((l) => l.includes('made before `await init()`'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/2 tensors made before `await init\(\)` \(shapes \[2, 4\], \[2\]\) live on the CPU backend/);
    expect(warnings[0]).toMatch(/after `await init\(\)`, or move them with `await t.to\('webgpu'\)`/);
  });
});
