/**
 * Gradients at ties and kinks against PyTorch 1.13 (test/fixtures/ties.json, made by
 * test/fixtures/make_ties.py): clamp at its bounds, maximum/minimum of equal elements, max over
 * repeated maxima, and relu/relu6/leaky_relu/abs at their kinks. Finite-difference gradient checks
 * stay away from these points on purpose, so only an exact comparison with the oracle pins the
 * rule (a rule that drops ties, or splits them the wrong way, fails here).
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import type { BackendName } from '../src/backend/types.js';
import { abs, clamp, leakyRelu, max, maximum, minimum, mul, relu, relu6, sum, tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import type { Tensor } from '../src/tensor.js';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose, type Tol } from './helpers/compare.js';

interface Arr { shape: number[]; data: number[] }
interface TieCase {
  op: 'clamp' | 'maximum' | 'minimum' | 'amax' | 'relu' | 'relu6' | 'leakyRelu' | 'abs';
  min?: number | null; max?: number | null; axis?: number | null; keepdim?: boolean; slope?: number;
  inputs: Arr[]; out: Arr; weight: number[]; grads: number[][];
}
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/ties.json', import.meta.url), 'utf8')) as { torch: string; cases: Record<string, TieCase> };

function apply(c: TieCase, xs: Tensor[]): Tensor {
  const [a, b] = xs as [Tensor, Tensor];
  switch (c.op) {
    case 'clamp': return clamp(a, c.min ?? null, c.max ?? null);
    case 'maximum': return maximum(a, b);
    case 'minimum': return minimum(a, b);
    case 'amax': return max(a, c.axis ?? undefined, c.keepdim ?? false);
    case 'relu': return relu(a);
    case 'relu6': return relu6(a);
    case 'leakyRelu': return leakyRelu(a, c.slope);
    case 'abs': return abs(a);
  }
}

it('the fixture comes from PyTorch and covers every tie rule', () => {
  expect(FIXTURE.torch).toMatch(/^1\.13/);
  const ops = new Set(Object.values(FIXTURE.cases).map((c) => c.op));
  expect([...ops].sort()).toEqual(['abs', 'amax', 'clamp', 'leakyRelu', 'maximum', 'minimum', 'relu', 'relu6']);
});

describeEachBackend('gradients at ties and kinks, as PyTorch', (device: BackendName) => {
  const dtype = device === 'cpu' ? 'float64' : 'float32';
  // Inputs, weights and results are multiples of 1/8 or thirds of them: exact in float64,
  // one rounding in float32.
  const tol: Tol = device === 'cpu' ? { atol: 1e-15, rtol: 1e-15 } : { atol: 1e-7, rtol: 1e-6 };
  for (const [name, c] of Object.entries(FIXTURE.cases)) {
    it(name, async () => {
      const xs = c.inputs.map((i) => tensor(i.data, { shape: i.shape, dtype, device, requiresGrad: true }));
      const out = apply(c, xs);
      expect(out.shape).toEqual(c.out.shape);
      assertClose(`${name}: forward`, Array.from(await out.data()), c.out.data, c.out.shape, tol);
      const w = tensor(c.weight, { shape: c.out.shape, dtype, device });
      const weighted = mul(out, w);
      const loss = sum(weighted);
      loss.backward();
      for (const [k, x] of xs.entries()) {
        expect(x.grad, `${name}: input ${k} has a gradient`).not.toBeNull();
        assertClose(`${name}: gradient of input ${k}`, Array.from(await x.grad!.data()), c.grads[k]!, c.inputs[k]!.shape, tol);
      }
      dispose([...xs, out, w, weighted, loss]);
    });
  }
});
