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
  it('same weights after 5 SGD steps, same dropout masks exactly', async () => {
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
        const a = gpu.dropout(gpu.upload(ones, 'float32'), p, seed, offset);
        const b = cpu.dropout(cpu.upload(ones, 'float32'), p, seed, offset);
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
