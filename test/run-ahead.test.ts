/**
 * Long run-ahead training (issue 10, item 1): a loop that never reads anything back until the end
 * must not crash, must create no bind group per step once warm, must keep the submits in flight
 * bounded, and must hold memory flat. Before the fix every dispatch created a bind group (about 80
 * per step of this MLP) and lavapipe died with SIGSEGV after about a thousand steps.
 *
 * The loop awaits `settle()` once per step: ops are synchronous and cannot wait for the GPU, and
 * settle() is the await point that holds the work in flight to a few submits.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { engine, getBackend } from '../src/engine.js';
import type { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { requireWebGPU, webgpuAvailability } from './helpers/backends.js';

const STEPS = 20_000;
const WARMUP = 100;
const SAMPLE_EVERY = 1000;
/** The batcher's default bound: settle() waits while more than 4 submits are unfinished. */
const MAX_PENDING = 4;

/**
 * 32-64-10 with batch norm and dropout (about 63 dispatches a step with Adam and clipping): small
 * enough that 20,000 steps fit the CI clock on lavapipe, and the same ops as the crashing loop.
 */
function buildModel() {
  const { nn } = wg;
  return new nn.Sequential(new nn.Linear(32, 64), new nn.BatchNorm1d(64), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(64, 10));
}

describe('run-ahead training on WebGPU', () => {
  let available = false;
  beforeAll(async () => {
    const a = await webgpuAvailability();
    available = a.available;
    if (!a.available && requireWebGPU) throw new Error(`WebGPU is required here (CI) but no adapter was found: ${a.reason}`);
    if (!a.available) console.warn('run-ahead: WebGPU not available, tests skipped');
  });

  it(`${STEPS} steps without a readback: no bind group per step, bounded submits, flat memory`, async (ctx) => {
    if (!available) ctx.skip();
    const prev = engine.defaultBackend;
    engine.defaultBackend = 'webgpu';
    const gpu = getBackend('webgpu') as WebGPUBackend;
    wg.manualSeed(7);
    const model = buildModel();
    const params = model.parameters();
    const opt = new wg.optim.Adam(params, { lr: 1e-3 });
    const x = wg.randn([32, 32]);
    const y = wg.tensor(Array.from({ length: 32 }, (_, i) => i % 10), { dtype: 'int32' });
    const lossNow = async (): Promise<number> => {
      const l = wg.noGrad(() => wg.tidy(() => wg.crossEntropy(model.forward(x), y)));
      const v = (await l.data())[0]!;
      l.dispose();
      return v;
    };
    const step = () =>
      wg.tidy(() => {
        opt.zeroGrad();
        const loss = wg.crossEntropy(model.forward(x), y);
        loss.backward();
        wg.optim.clipGradNorm(params, 1.0);
        opt.step();
      });

    try {
      const initial = await lossNow();
      const t0 = performance.now();
      for (let s = 0; s < WARMUP; s++) {
        step();
        await wg.settle();
      }
      await gpu.sync();
      const warm = gpu.stats();
      const mem0 = wg.memory();
      const rss0 = process.memoryUsage().rss;
      let rssMid = rss0;
      let rssMax = rss0;

      for (let s = 1; s <= STEPS; s++) {
        step();
        await wg.settle();
        if (s % SAMPLE_EVERY === 0) {
          const st = gpu.stats();
          // Checked as it runs, so a failure names the step.
          expect(st.bindGroupsCreated - warm.bindGroupsCreated, `bind groups created by step ${s}`).toBe(0);
          expect(st.maxPendingSubmits, `submits pending by step ${s}`).toBeLessThanOrEqual(MAX_PENDING + 1);
          const rss = process.memoryUsage().rss;
          rssMax = Math.max(rssMax, rss);
          if (s === STEPS / 4) rssMid = rss;
        }
      }
      const ms = performance.now() - t0;
      await gpu.sync();
      const end = gpu.stats();
      const mem1 = wg.memory();
      const rss1 = process.memoryUsage().rss;
      const final = await lossNow();
      console.log(
        `run-ahead: ${STEPS} steps in ${(ms / 1000).toFixed(1)} s (${(ms / STEPS).toFixed(2)} ms/step); ` +
          `bind groups created ${warm.bindGroupsCreated} during warm-up, ${end.bindGroupsCreated - warm.bindGroupsCreated} after; ` +
          `submits ${end.submits - warm.submits}, max pending ${end.maxPendingSubmits}, throttle waits ${end.throttleWaits}; ` +
          `rss ${(rss0 / 2 ** 20).toFixed(0)} -> ${(rssMid / 2 ** 20).toFixed(0)} at step ${STEPS / 4} -> max ${(rssMax / 2 ** 20).toFixed(0)} -> ${(rss1 / 2 ** 20).toFixed(0)} MiB at the end; loss ${initial.toFixed(4)} -> ${final.toFixed(4)}`,
      );

      // It trained, and nothing was lost on the way.
      expect(Number.isFinite(final)).toBe(true);
      expect(final).toBeLessThan(initial);
      // No bind group created per step once warm, and none evicted (the cache holds the step).
      expect(end.bindGroupsCreated).toBe(warm.bindGroupsCreated);
      expect(end.bindGroupsEvicted).toBe(warm.bindGroupsEvicted);
      // Work in flight stayed bounded, and the bound was really exercised (settle had to wait).
      expect(end.maxPendingSubmits).toBeLessThanOrEqual(MAX_PENDING + 1);
      expect(end.throttleWaits).toBeGreaterThan(0);
      expect(end.submits - warm.submits).toBeGreaterThanOrEqual(STEPS);
      // Memory flat: the same live tensors and bytes, no new device buffers, the same pool.
      expect(mem1.liveTensors).toBe(mem0.liveTensors);
      expect(mem1.liveBytes).toBe(mem0.liveBytes);
      expect(mem1.backends.webgpu!.buffersCreated).toBe(mem0.backends.webgpu!.buffersCreated);
      expect(mem1.backends.webgpu!.pooledBytes).toBe(mem0.backends.webgpu!.pooledBytes);
      // Host memory roughly flat. Unbounded work in flight grew it by about 80 MB per 1000 steps of
      // the 32-64-64-10 loop (over a gigabyte in this run); a bind group per dispatch crashed it.
      // The allocator and JS heap settle during the first few thousand steps (measured: +60-90 MB,
      // then flat), so growth is judged from a quarter of the way in, with generous slack.
      expect(rssMax - rssMid).toBeLessThan(64 * 2 ** 20);
      expect(rssMax - rss0).toBeLessThan(256 * 2 ** 20);
    } finally {
      wg.dispose([x, y, ...params]);
      engine.defaultBackend = prev;
    }
  }, 600_000);

  it("a synchronous loop creates no bind group per step either once warm, wherever its submits fall", async (ctx) => {
    if (!available) ctx.skip();
    const prev = engine.defaultBackend;
    engine.defaultBackend = 'webgpu';
    const gpu = getBackend('webgpu') as WebGPUBackend;
    wg.manualSeed(11);
    const model = buildModel();
    const params = model.parameters();
    const opt = new wg.optim.Adam(params, { lr: 1e-3 });
    const x = wg.randn([32, 32]);
    const y = wg.tensor(Array.from({ length: 32 }, (_, i) => (i * 3) % 10), { dtype: 'int32' });
    try {
      const step = () =>
        wg.tidy(() => {
          opt.zeroGrad();
          const loss = wg.crossEntropy(model.forward(x), y);
          loss.backward();
          wg.optim.clipGradNorm(params, 1.0);
          opt.step();
        });
      // No await at all: the batcher submits every 256 dispatches, at a different point of each
      // step, so bind groups repeat only if buffer identity and uniform slots do not depend on it.
      // They do a little: a bind group used twice in one batch needs a second uniform slot, so the
      // cache fills up over one full cycle of submit positions (256 steps at most) and then holds.
      for (let s = 0; s < 300; s++) step();
      const warm = gpu.stats();
      for (let s = 0; s < 300; s++) step();
      const end = gpu.stats();
      const probe = wg.tidy(() => wg.crossEntropy(model.forward(x), y));
      expect(Number.isFinite((await probe.data())[0]!)).toBe(true);
      probe.dispose();
      expect(end.submits).toBeGreaterThan(warm.submits + 50);
      expect(end.bindGroupsCreated - warm.bindGroupsCreated).toBe(0);
    } finally {
      wg.dispose([x, y, ...params]);
      engine.defaultBackend = prev;
    }
  }, 300_000);
});
