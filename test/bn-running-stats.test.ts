/**
 * The running statistics' in-place update (routine batchNormRunningStats, one dispatch on WebGPU)
 * and what it is for: a training step with batch norm binds the same buffers every step, so once
 * warm it creates no bind group (before, the six elementwise ops and `_assign` moved the running
 * buffers through the pool and about 1–3 bind groups were created per step of the bench's MLP).
 *
 * Checked: the routine on WebGPU against the CPU routine, both against the formula in float64; the
 * fused path (float32) and the elementwise fallback (float16 on the CPU) against the same formula
 * through batchNorm(); and the steady state of an MLP step with batch norm and dropout, reading the
 * loss every step.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { getBackend } from '../src/engine.js';
import type { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { requireWebGPU, webgpuAvailability } from './helpers/backends.js';
import { assertClose } from './helpers/compare.js';
import { trainStep } from '../bench/peers/webgrad-steps.js';

function values(n: number, seed: number, lo: number, hi: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return lo + ((hi - lo) * s) / 2 ** 31;
  });
}

/** The formula in float64: what PyTorch's running-statistics update computes. */
function expected(rm: number[], rv: number[], mean: number[], variance: number[], momentum: number, count: number): { rm: number[]; rv: number[] } {
  const scale = (momentum * count) / (count - 1);
  return {
    rm: rm.map((v, j) => (1 - momentum) * v + momentum * mean[j]!),
    rv: rv.map((v, j) => (1 - momentum) * v + scale * variance[j]!),
  };
}

const TOL = { atol: 1e-6, rtol: 1e-6 };

describe('batchNormRunningStats', () => {
  let gpu = false;
  beforeAll(async () => {
    const a = await webgpuAvailability();
    gpu = a.available;
    if (!a.available && requireWebGPU) throw new Error(`WebGPU is required here (CI) but no adapter was found: ${a.reason}`);
  });

  for (const device of ['cpu', 'webgpu'] as const) {
    it(`routine on ${device}: in place, both vectors, odd length`, async (ctx) => {
      if (device === 'webgpu' && !gpu) ctx.skip();
      const c = 333;
      const rm0 = values(c, 1, -2, 2);
      const rv0 = values(c, 2, 0.1, 3);
      const mean = values(c, 3, -1, 1);
      const variance = values(c, 4, 0, 2);
      const momentum = 0.3;
      const count = 17;
      const t = (v: number[]): wg.Tensor => wg.tensor(v, { device });
      const [trm, trv, tm, tv] = [t(rm0), t(rv0), t(mean), t(variance)];
      const be = getBackend(device);
      be.routine(
        'batchNormRunningStats',
        { runningMean: trm._storage('test'), runningVar: trv._storage('test'), mean: tm._storage('test'), variance: tv._storage('test') },
        { c, keep: 1 - momentum, momentum, varScale: (momentum * count) / (count - 1) },
      );
      const want = expected(rm0, rv0, mean, variance, momentum, count);
      assertClose(`running mean (${device})`, await trm.data(), want.rm, [c], TOL);
      assertClose(`running var (${device})`, await trv.data(), want.rv, [c], TOL);
      // The batch statistics are read only.
      assertClose('mean untouched', await tm.data(), Float32Array.from(mean), [c], { atol: 0, rtol: 0 });
      for (const x of [trm, trv, tm, tv]) x.dispose();
    });
  }

  it('webgpu routine refuses a running buffer of the wrong length, naming it', async (ctx) => {
    if (!gpu) ctx.skip();
    const t = (n: number): wg.Tensor => wg.zeros([n], { device: 'webgpu' });
    const [a, b, m, v] = [t(4), t(5), t(4), t(4)];
    const be = getBackend('webgpu');
    expect(() =>
      be.routine('batchNormRunningStats', { runningMean: a._storage('t'), runningVar: b._storage('t'), mean: m._storage('t'), variance: v._storage('t') }, { c: 4, keep: 0.9, momentum: 0.1, varScale: 0.2 }),
    ).toThrow(/runningVar has 5 elements, expected 4/);
    for (const x of [a, b, m, v]) x.dispose();
  });

  // The two paths of batchNorm's training tail: the fused routine (four distinct float32 storages)
  // and the elementwise fallback (taken when the running buffers share one storage; it updates the
  // mean first, then the variance from that result, as the elementwise ops always did).
  for (const device of ['cpu', 'webgpu'] as const) {
    for (const shared of [false, true]) {
      it(`batchNorm training updates the running statistics (${device}, ${shared ? 'one shared running buffer: elementwise path' : 'fused path'})`, async (ctx) => {
        if (device === 'webgpu' && !gpu) ctx.skip();
        const n = 9;
        const c = 7;
        const momentum = 0.25;
        const xs = values(n * c, 5, -3, 3);
        const rm0 = values(c, 6, -1, 1);
        const rv0 = shared ? rm0 : values(c, 7, 0.5, 2);
        const x = wg.tensor(xs, { shape: [n, c], device });
        const rm = wg.tensor(rm0, { device });
        const rv = shared ? rm : wg.tensor(rv0, { device });
        const y = wg.batchNorm(x, rm, rv, null, null, { training: true, momentum });
        const mean = Array.from({ length: c }, (_, j) => xs.filter((_, i) => i % c === j).reduce((s, v) => s + v, 0) / n);
        const variance = mean.map((m, j) => xs.filter((_, i) => i % c === j).reduce((s, v) => s + (v - m) ** 2, 0) / n);
        const want = expected(rm0, rv0, mean, variance, momentum, n);
        if (shared) {
          const twice = expected(want.rm, want.rm, mean, variance, momentum, n).rv;
          assertClose(`shared running buffer (${device})`, await rm.data(), twice, [c], TOL);
        } else {
          assertClose(`running mean (${device})`, await rm.data(), want.rm, [c], TOL);
          assertClose(`running var (${device})`, await rv.data(), want.rv, [c], TOL);
        }
        for (const t of new Set([x, rm, rv, y])) t.dispose();
      });
    }
  }

  it('an MLP step with batch norm and dropout, loss read every step, creates no bind group once warm', async (ctx) => {
    if (!gpu) ctx.skip();
    const device = 'webgpu';
    const { nn } = wg;
    wg.manualSeed(3);
    const model = new nn.Sequential(
      new nn.Linear(48, 64, { device }), new nn.BatchNorm1d(64, { device }), new nn.ReLU(), new nn.Dropout(0.5),
      new nn.Linear(64, 32, { device }), new nn.BatchNorm1d(32, { device }), new nn.ReLU(), new nn.Dropout(0.5),
      new nn.Linear(32, 10, { device }),
    );
    model.train();
    const opt = new wg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const x = wg.tensor(values(16 * 48, 8, 0, 1), { shape: [16, 48], device });
    const y = wg.tensor(Array.from({ length: 16 }, (_, i) => i % 10), { dtype: 'int32', device });
    const be = getBackend('webgpu') as WebGPUBackend;
    const step = async (): Promise<number> => {
      const loss = trainStep({ model, opt, x, y });
      const v = await loss.item();
      loss.dispose();
      return v;
    };
    try {
      for (let i = 0; i < 4; i++) await step();
      const s0 = be.stats();
      const losses: number[] = [];
      for (let i = 0; i < 12; i++) losses.push(await step());
      const s1 = be.stats();
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(s1.dispatches - s0.dispatches).toBeGreaterThan(0);
      expect(s1.bindGroupsCreated - s0.bindGroupsCreated, 'bind groups created in 12 warm steps').toBe(0);
    } finally {
      model.dispose();
      opt.dispose();
      x.dispose();
      y.dispose();
    }
  });
});
