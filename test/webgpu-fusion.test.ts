/**
 * Sequential fuses a Linear followed by a fusable activation into one dispatch (matmul + bias +
 * activation): counted here with the WebGPU backend's dispatch counter, so switching the fusion
 * off (or a layer that silently stops being fusable) fails, not only gets slower.
 */
import { expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { getBackend } from '../src/engine.js';
import { nn, noGrad, tensor } from '../src/index.js';
import type { Tensor } from '../src/tensor.js';
import { describeEachBackend } from './helpers/backends.js';
import { dispose } from '../src/lifetime.js';

describeEachBackend('Sequential fuses Linear + activation', (device) => {
  it(device === 'webgpu' ? 'one dispatch per Linear + activation in the forward, the same values as unfused' : 'the same values as unfused', async () => {
    const opts = { device, dtype: 'float32' as const };
    const layers = [new nn.Linear(9, 7, opts), new nn.ReLU(), new nn.Linear(7, 5, opts), new nn.Tanh(), new nn.Linear(5, 3, opts), new nn.Sigmoid()];
    const model = new nn.Sequential(...layers);
    const x = tensor(Array.from({ length: 4 * 9 }, (_, i) => Math.sin(i)), { shape: [4, 9], ...opts });
    const gpu = device === 'webgpu' ? (getBackend('webgpu') as WebGPUBackend) : null;
    gpu?.flush();
    const before = gpu?.stats().dispatches ?? 0;
    const y = model.forward(x);
    if (gpu) {
      gpu.flush();
      expect(gpu.stats().dispatches - before, 'dispatches of a 3 × (Linear + activation) forward').toBe(3);
    }
    // The layers one by one (no fusion) give the same values.
    const unfused = noGrad(() => {
      let h: Tensor = x;
      const owned: Tensor[] = [];
      for (const l of layers) {
        h = l.forward(h);
        owned.push(h);
      }
      return { h, owned };
    });
    const got = await y.data();
    const expected = await unfused.h.data();
    for (let i = 0; i < expected.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(expected[i]!));
    dispose([x, y, ...unfused.owned]);
    model.dispose?.();
  });
});
