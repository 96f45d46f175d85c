/**
 * GradientHealthMonitor on gradients and updates that are exactly zero (a dead layer, a step that
 * underflowed): their norms are 0 and the update ratio 0, never 0/0. The norm divides by max(|t|, floor); the floor must be a NORMAL
 * float32, since drivers may flush subnormals (SwiftShader turns 1e-38 into 0, and 0/0 = NaN).
 */
import { expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { GradientHealthMonitor } from '../src/train/health.js';
import { describeEachBackend } from './helpers/backends.js';

describeEachBackend('gradient health with an all-zero update', (device) => {
  it('a zero gradient gives gradient norm 0 and update ratio 0 (not NaN); the weight norm stays finite', async () => {
    const model = new wg.nn.Sequential(new wg.nn.Linear(3, 4, { device }), new wg.nn.ReLU(), new wg.nn.Linear(4, 2, { device }));
    const monitor = new GradientHealthMonitor(model);
    const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1 });
    const x = wg.tensor([[1, -2, 3], [0.5, 0.25, -1]], { device });
    const y = wg.tensor([0, 1], { dtype: 'int32', device });
    const loss = wg.nn.crossEntropy(model.forward(x), y).mul(0); // every gradient exactly 0
    loss.backward();
    monitor.snapshot();
    opt.step();
    const report = await monitor.record(1, x);
    for (const layer of report.layers) {
      expect(layer.updateRatio, layer.name).toBe(0);
      expect(layer.gradNorm, layer.name).toBe(0);
      expect(Number.isFinite(layer.weightNorm) && layer.weightNorm > 0, layer.name).toBe(true);
    }
    wg.dispose([x, y, loss]);
    opt.zeroGrad();
  });
});
