/**
 * The CPU reference's training kernels (src/backend/cpu/training.ts) where the op suites leave a
 * gap: an out-of-range label names the CPU kernel that found it, and nothing is computed.
 * Written from the mutation-testing survivors (`npm run mutate`).
 */
import { expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { crossEntropy, tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

it('crossEntropy on the CPU names the kernel, the label, its row and the class range', async () => {
  const logits = tensor([[1, 2, 3], [0, 0, 0]], { dtype: 'float64', device: 'cpu' });
  for (const [bad, row] of [[[0, 3], 1], [[-1, 0], 0]] as const) {
    const labels = tensor([...bad], { dtype: 'int32', device: 'cpu' });
    expectErrorSync(() => crossEntropy(logits, labels), new RegExp(`^cpu\\.softmaxCrossEntropy: label ${bad[row]} at row ${row} is outside the 3 classes \\[0, 3\\)$`));
    labels.dispose();
  }
  const ok = tensor([2, 0], { dtype: 'int32', device: 'cpu' });
  const loss = crossEntropy(logits, ok, 'none');
  const [l0, l1] = Array.from(await loss.data());
  expect(l0).toBeCloseTo(Math.log(Math.exp(-2) + Math.exp(-1) + 1), 14);
  expect(l1).toBeCloseTo(Math.log(3), 14);
  dispose([loss, ok, logits]);
});
