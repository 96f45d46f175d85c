/**
 * A 3-layer MLP with batch norm and dropout, trained a few SGD steps on WebGPU and on the CPU
 * reference from the same seed, ends with the same weights (within float32 tolerance), and both
 * backends draw exactly the same dropout masks at exactly the same stream positions.
 */
import { expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { engine, getBackend } from '../src/engine.js';
import type { BackendName } from '../src/backend/types.js';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose } from './helpers/compare.js';
import { readFileSync } from 'node:fs';

/** Dropout that records where in the random stream each of its masks was drawn. */
class RecordingDropout extends wg.nn.Dropout {
  readonly positions: { seed: number; offset: number; size: number }[] = [];
  override forward(x: wg.Tensor): wg.Tensor {
    if (this.training) this.positions.push({ seed: engine.seed, offset: engine.randomOffset, size: x.size });
    return super.forward(x);
  }
}

async function train(device: BackendName, steps: number) {
  wg.manualSeed(2024);
  const drops = [new RecordingDropout(0.3), new RecordingDropout(0.5)];
  const model = new wg.nn.Sequential(
    new wg.nn.Linear(20, 33, { device }), new wg.nn.BatchNorm1d(33, { device }), new wg.nn.ReLU(), drops[0]!,
    new wg.nn.Linear(33, 17, { device }), new wg.nn.BatchNorm1d(17, { device }), new wg.nn.Tanh(), drops[1]!,
    new wg.nn.Linear(17, 5, { device }),
  );
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
  const x = wg.randn([24, 20], { device, seed: 77 });
  const y = wg.tensor(Array.from({ length: 24 }, (_, i) => (i * 7) % 5), { dtype: 'int32', device });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = wg.tidy(() => {
      const l = wg.crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l;
    });
    losses.push(await loss.item());
    loss.dispose();
  }
  const weights = new Map<string, Float32Array | Float64Array | Int32Array>();
  for (const [name, t] of model.stateDict()) weights.set(name, await t.data());
  const positions = drops.map((d) => d.positions);
  opt.dispose();
  model.dispose();
  wg.dispose([x, y]);
  return { weights, losses, positions };
}

describeEachBackend('MLP training parity with the CPU reference', (device) => {
  // On the CPU this would compare a run with itself: the CPU is checked against PyTorch below.
  it.skipIf(device === 'cpu')('same weights after 5 SGD steps, same dropout masks exactly', async () => {
    const steps = 5;
    const ref = await train('cpu', steps);
    const got = device === 'cpu' ? ref : await train(device, steps);
    // The same draws at the same positions of the stream...
    expect(got.positions).toEqual(ref.positions);
    expect(ref.positions.flat()).toHaveLength(2 * steps);
    // ...and the masks drawn there are bit-identical on both backends.
    const gpu = getBackend(device);
    const cpu = getBackend('cpu');
    for (const { seed, offset, size } of ref.positions.flat()) {
      const ones = new Float32Array(size).fill(1);
      for (const p of [0.3, 0.5]) {
        const a = gpu.routine('dropout', { x: gpu.upload(ones, 'float32') }, { p, seed, offset });
        const b = cpu.routine('dropout', { x: cpu.upload(ones, 'float32') }, { p, seed, offset });
        expect(Array.from(await gpu.read(a))).toEqual(Array.from(await cpu.read(b)));
        gpu.release(a);
        cpu.release(b);
      }
    }
    // Weights agree within float32 training noise: 5 steps of momentum SGD through batch norm.
    for (const [name, expected] of ref.weights) {
      const actual = got.weights.get(name)!;
      const scale = Math.max(1e-3, ...Array.from(expected, Math.abs));
      for (let i = 0; i < expected.length; i++) {
        expect(Math.abs(actual[i]! - expected[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-4 * scale + 1e-5);
      }
    }
    for (let s = 0; s < steps; s++) expect(Math.abs(got.losses[s]! - ref.losses[s]!)).toBeLessThan(1e-4 * Math.max(1, ref.losses[s]!));
    // Training did something: the loss moved.
    expect(ref.losses[steps - 1]).not.toBe(ref.losses[0]);
  });
});

interface MlpFixture {
  torch: string;
  x: number[];
  labels: number[];
  losses: number[];
  initial: Record<string, { shape: number[]; data: number[] }>;
  final: Record<string, { shape: number[]; data: number[] }>;
}
const MLP = JSON.parse(readFileSync(new URL('./fixtures/mlp.json', import.meta.url), 'utf8')) as MlpFixture;

/** This engine's state-dict name for PyTorch's: the same (running_mean, num_batches_tracked...); null would skip one. */
function ours(torchName: string): string | null {
  return torchName;
}

describeEachBackend('MLP training against PyTorch (test/fixtures/make_mlp.py)', (device) => {
  it('the same losses, weights and running statistics after 5 nesterov SGD steps through batch norm', async () => {
    const dtype = device === 'cpu' ? 'float64' : 'float32';
    const opts = { device, dtype } as const;
    const model = new wg.nn.Sequential(
      new wg.nn.Linear(20, 33, opts), new wg.nn.BatchNorm1d(33, opts), new wg.nn.ReLU(),
      new wg.nn.Linear(33, 17, opts), new wg.nn.BatchNorm1d(17, opts), new wg.nn.Tanh(),
      new wg.nn.Linear(17, 5, opts),
    );
    const own = model.stateDict();
    const state = new Map<string, wg.Tensor>();
    for (const [torchName, v] of Object.entries(MLP.initial)) {
      const name = ours(torchName);
      if (name === null) continue;
      state.set(name, wg.tensor(v.data, { shape: v.shape, dtype: own.get(name)!.dtype, device }));
    }
    expect(state.size).toBe(own.size);
    model.loadStateDict(state);
    wg.dispose([...state.values()]);
    const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 });
    const x = wg.tensor(MLP.x, { shape: [24, 20], ...opts });
    const y = wg.tensor(MLP.labels, { dtype: 'int32', device });
    const tol = device === 'cpu' ? { atol: 1e-10, rtol: 1e-9 } : { atol: 2e-5, rtol: 2e-4 };
    for (let s = 0; s < MLP.losses.length; s++) {
      const loss = wg.tidy(() => {
        const l = wg.crossEntropy(model.forward(x), y);
        l.backward();
        opt.step();
        opt.zeroGrad();
        return l;
      });
      assertClose(`loss at step ${s}`, [await loss.item()], [MLP.losses[s]!], [], tol);
      loss.dispose();
    }
    for (const [torchName, e] of Object.entries(MLP.final)) {
      const name = ours(torchName);
      if (name === null) continue;
      const t = model.stateDict().get(name)!;
      assertClose(`${name} after ${MLP.losses.length} steps`, Array.from(await t.data()), e.data, e.shape, tol);
    }
    opt.dispose();
    model.dispose();
    wg.dispose([x, y]);
  });
});
