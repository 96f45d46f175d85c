/**
 * A fully dead network (every hidden ReLU unit off for the whole batch): no gradient reaches the
 * first or the last weight matrix, so the first-to-last ratio is 0/0 = NaN. That is the limit of
 * vanishing (nothing flows back at all), not health: the report says vanishing, not exploding.
 */
import { expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { GradientHealthMonitor, formatHealth } from '../src/train/health.js';
import { describeEachBackend } from './helpers/backends.js';

describeEachBackend('gradient health of a dead network', (device) => {
  it('0/0 (no gradient in the first and last layers) is vanishing, not healthy', async () => {
    const first = new wg.nn.Linear(3, 4, { device });
    const last = new wg.nn.Linear(4, 2, { device });
    // Every pre-activation is -1: each ReLU is off for every example, so both weight gradients are 0.
    wg.nn.init.zeros_(first.weight);
    wg.nn.init.constant_(first.bias!, -1);
    const model = new wg.nn.Sequential(first, new wg.nn.ReLU(), last);
    const monitor = new GradientHealthMonitor(model);
    const x = wg.tensor([[1, -2, 3], [0.5, 0.25, -1]], { device });
    const y = wg.tensor([0, 1], { dtype: 'int32', device });
    const loss = wg.crossEntropy(model.forward(x), y);
    loss.backward();
    const r = await monitor.record(1, x);
    expect(r.layers.map((l) => l.gradNorm)).toEqual([0, 0]);
    expect(r.layers[0]!.deadFraction).toBe(1);
    expect(Number.isNaN(r.firstToLastRatio)).toBe(true);
    expect({ vanishing: r.vanishing, exploding: r.exploding }).toEqual({ vanishing: true, exploding: false });
    expect(formatHealth(r)).toMatch(/VANISHING/);
    // The last layer's bias still gets a gradient: the loss is not flat, only the weights are cut off.
    expect(Array.from(await last.bias!.grad!.data()).some((v) => v !== 0)).toBe(true);
    wg.dispose([x, y, loss]);
    for (const p of model.parameters()) p.grad?.dispose();
    model.dispose();
  });
});
