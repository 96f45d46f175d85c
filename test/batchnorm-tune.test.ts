/**
 * The batch-norm reduction tune (src/backend/webgpu/batchnorm-tune.ts): the column loop or the
 * tiled tree chosen by measurement per adapter and row bucket, cached like the matmul tune (a
 * temporary XDG_CACHE_HOME here), a planted record ignored, and the choice actually steering the
 * kernels (counted dispatches), under the test hook's forced design. Timing is never a pass
 * condition: the chosen design is checked against the tune's own medians and margin.
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { tuneBatchNorm, type BatchNormTuneObservation } from '../src/backend/webgpu/batchnorm-tune.js';
import { batchNormStats, batchNormTuneKey } from '../src/backend/webgpu/fused/batchnorm.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { TUNE_CACHE_VERSION, tuneStore } from '../src/backend/webgpu/tune-cache.js';
import { assertClose } from './helpers/kernel-harness.js';

const home = mkdtempSync(join(tmpdir(), 'webgrad-bn-tune-'));
const savedXdg = process.env.XDG_CACHE_HOME;
let gpu: WebGPUBackend;
beforeAll(async () => {
  process.env.XDG_CACHE_HOME = home;
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => {
  gpu?.destroy();
  if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedXdg;
  rmSync(home, { recursive: true, force: true });
});

const KEYS = ['bn-stats:short', 'bn-stats:tall', 'bn-backward:short', 'bn-backward:tall'];

describe('batch-norm reduction tune', () => {
  it('measures both designs per reduction and row bucket, picks by its medians, caches the result', async () => {
    const seen: BatchNormTuneObservation[] = [];
    const choices = await tuneBatchNorm(gpu, 'test adapter A', (o) => seen.push(o), 400);
    expect([...choices.keys()].sort()).toEqual([...KEYS].sort());
    expect(seen.map((o) => o.key).sort()).toEqual([...KEYS].sort());
    for (const o of seen) {
      expect(Number.isFinite(o.medianMs.column) && o.medianMs.column > 0).toBe(true);
      expect(Number.isFinite(o.medianMs.tiled) && o.medianMs.tiled > 0).toBe(true);
      expect(o.chosen).toBe(o.medianMs.tiled < 0.9 * o.medianMs.column ? 'tiled' : 'column');
      expect(choices.get(o.key)).toBe(o.chosen);
    }
    // A second start on the same adapter reads the cache: nothing is measured.
    const again: BatchNormTuneObservation[] = [];
    const cached = await tuneBatchNorm(gpu, 'test adapter A', (o) => again.push(o), 400);
    expect(again).toEqual([]);
    expect([...cached].sort()).toEqual([...choices].sort());
  });

  it('a planted or malformed record is ignored and re-tuned', async () => {
    const key = 'test adapter B #batchnorm';
    const planted = Object.fromEntries(KEYS.map((k) => [k, { design: 'bogus', shape: [1, 1] }]));
    await tuneStore('batchnorm').set(key, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: key, designs: 'column,tiled', choices: planted }));
    const seen: BatchNormTuneObservation[] = [];
    const choices = await tuneBatchNorm(gpu, 'test adapter B', (o) => seen.push(o), 400);
    expect(seen.length).toBe(4);
    for (const v of choices.values()) expect(['column', 'tiled']).toContain(v);
  });

  it('the tuned choice steers the kernels (1 dispatch: column loop, 2: tiled), the forced one overrides it, results match the CPU', async () => {
    const n = 33;
    const c = 70;
    const xs = Float32Array.from({ length: n * c }, (_, i) => Math.sin(i) * 3 + 1);
    const cpu = new CpuBackend();
    const ref = cpu.routine('batchNormStats', { x: cpu.upload(xs, 'float32') }, { n, c });
    const want = { mean: Float32Array.from(await cpu.read(ref.mean)), variance: Float32Array.from(await cpu.read(ref.variance)) };
    const x = gpu.upload(xs, 'float32');
    const run = async (): Promise<number> => {
      const d0 = gpu.stats().dispatches;
      const r = batchNormStats(gpu, x, n, c);
      const d = gpu.stats().dispatches - d0;
      assertClose('mean', Float32Array.from(await gpu.read(r.mean)), want.mean, { atol: 1e-5, rtol: 1e-5 });
      assertClose('variance', Float32Array.from(await gpu.read(r.variance)), want.variance, { atol: 1e-4, rtol: 1e-4 });
      gpu.release(r.mean);
      gpu.release(r.variance);
      return d;
    };
    const saved = gpu.batchNormChoices;
    try {
      expect(batchNormTuneKey('stats', n)).toBe('bn-stats:short');
      gpu.batchNormChoices = new Map(KEYS.map((k) => [k, 'tiled' as const]));
      expect(await run()).toBe(2);
      gpu.batchNormChoices = new Map(KEYS.map((k) => [k, 'column' as const]));
      expect(await run()).toBe(1);
      const restore = forceKernelChoice({ batchNormPath: 'tiled' });
      try {
        expect(await run()).toBe(2);
      } finally {
        restore();
      }
    } finally {
      gpu.batchNormChoices = saved;
      gpu.release(x);
    }
  });
});
