/**
 * The convolutional nn modules (issue 12, part 2): a torch.nn.Sequential CNN's state_dict (Conv2d,
 * BatchNorm2d with its buffers, MaxPool2d, grouped Conv2d, AvgPool2d, Flatten, Linear), made by
 * PyTorch 1.13 (test/fixtures/make_conv_fixtures.py), loads strictly into the same webgrad model and
 * reproduces torch's eval logits, then a train-mode forward reproduces torch's output and its
 * running statistics (num_batches_tracked 3 → 4), on every backend. Also: PyTorch's default
 * initialisation bounds, the state-dict names, and BatchNorm2d eval using the running statistics.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose } from './helpers/compare.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { BackendName } from '../src/backend/types.js';
import { engine } from '../src/engine.js';
import { manualSeed, nn, noGrad, safetensors, tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

const here = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);
interface Arr { shape: number[]; values: number[] }
const TORCH = JSON.parse(readFileSync(here('torch_cnn.json'), 'utf8')) as {
  torch: string; keys: string[]; x: Arr; logits: Arr; xb2: Arr; trainOut: Arr; after: Record<string, Arr>;
};

function onDevice<T>(device: BackendName, fn: () => T): T {
  const prev = engine.defaultBackend;
  engine.defaultBackend = device;
  try {
    return fn();
  } finally {
    engine.defaultBackend = prev;
  }
}

/** The architecture of make_conv_fixtures.py's torch_cnn(). */
const buildCnn = (): nn.Sequential => new nn.Sequential(
  new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 }), new nn.BatchNorm2d(6), new nn.ReLU(),
  new nn.AvgPool2d(2, { stride: 1 }), new nn.Flatten(), new nn.Linear(6 * 2 * 2, 3),
);

it('the CNN fixture was made by PyTorch 1.13', () => {
  expect(TORCH.torch.startsWith('1.13')).toBe(true);
});

describeEachBackend('PyTorch → webgrad: a torch CNN state_dict (safetensors)', (device) => {
  it('has PyTorch\'s state-dict names, loads strictly, gives torch\'s eval logits, then its train-mode output and running statistics', async () => {
    await expectNoLeak('torch cnn', async () => {
      const model = onDevice(device, buildCnn);
      expect([...model.stateDict().keys()].sort()).toEqual([...TORCH.keys].sort());
      safetensors.loadModel(model, readFileSync(here('torch_cnn.safetensors')), { strict: true });
      const bn = model.at(1) as nn.BatchNorm2d;
      expect(Array.from(await bn.numBatchesTracked!.data())).toEqual([3]);
      const tol = { atol: 2e-5, rtol: 1e-4 };

      model.eval();
      const x = tensor(TORCH.x.values, { shape: TORCH.x.shape, device });
      const logits = noGrad(() => model.forward(x));
      assertClose(`eval logits on ${device}`, Array.from(await logits.data()), TORCH.logits.values, TORCH.logits.shape, tol);

      model.train();
      const xb = tensor(TORCH.xb2.values, { shape: TORCH.xb2.shape, device });
      const out = noGrad(() => model.forward(xb));
      assertClose(`train-mode output on ${device}`, Array.from(await out.data()), TORCH.trainOut.values, TORCH.trainOut.shape, tol);
      const sd = model.stateDict();
      for (const [k, v] of Object.entries(TORCH.after)) {
        assertClose(`${k} after a train-mode forward on ${device}`, Array.from(await sd.get(k)!.data()), v.values, v.shape, tol);
      }
      expect(Array.from(await bn.numBatchesTracked!.data())).toEqual([4]);
      dispose([x, logits, xb, out]);
      model.dispose();
    });
  });
});

it('Conv2d default initialisation as PyTorch: weight and bias uniform in ±1/√fan_in, fan_in = in/groups·kh·kw', async () => {
  manualSeed(11);
  const conv = new nn.Conv2d(8, 12, [3, 5], { groups: 2 });
  expect(conv.weight.shape).toEqual([12, 4, 3, 5]);
  const bound = 1 / Math.sqrt(4 * 3 * 5);
  for (const [name, t] of [['weight', conv.weight], ['bias', conv.bias!]] as const) {
    const v = Array.from(await t.data());
    expect(Math.max(...v.map(Math.abs)), `${name} within the bound`).toBeLessThanOrEqual(bound);
    // Uniform on ±bound: the largest |value| of hundreds of draws is close to the bound (not a narrower law).
    if (name === 'weight') expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.97 * bound);
  }
  expect([...conv.stateDict().keys()].sort()).toEqual(['bias', 'weight']);
  expect([...new nn.Conv2d(2, 2, 1, { bias: false }).stateDict().keys()]).toEqual(['weight']);
  expect([...new nn.BatchNorm2d(3).stateDict().keys()].sort()).toEqual(['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']);
  conv.dispose();
});
