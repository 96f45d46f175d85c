/**
 * Parity of convolution and pooling (issue 12, part 2) with PyTorch 1.13: outputs, max-pool
 * indices and gradients of sum(out·W) from test/fixtures/conv.json (written by
 * make_conv_fixtures.py; no PyTorch needed here). CPU in float64 (tight), WebGPU in float32.
 * Among them: stride, padding, dilation 2, groups 2, depthwise, 1×1; max pooling's tie rule (the
 * first maximum in row-major order gets the gradient) and NaN rule (the last NaN in a window wins);
 * avgPool2d with and without countIncludePad; adaptive pooling to 1×1 and to sizes that do not divide.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose, type Tol } from './helpers/compare.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { Tensor } from '../src/tensor.js';
import type { BackendName } from '../src/backend/types.js';
import { adaptiveAvgPool2d, avgPool2d, conv2d, maxPool2dWithIndices, mul, sum, tensor, tidy, type Size2 } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

interface Arr { shape: number[]; values: (number | null)[] }
interface Case {
  name: string;
  op: 'conv2d' | 'maxPool2d' | 'avgPool2d' | 'adaptiveAvgPool2d';
  params: Record<string, unknown>;
  inputs: Arr[];
  out: Arr;
  indices?: number[];
  w?: (number | null)[];
  grads?: (number | null)[][];
}
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/conv.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };
const nums = (v: (number | null)[]): number[] => v.map((x) => (x === null ? Number.NaN : x));
const tolFor = (device: BackendName): Tol => (device === 'cpu' ? { atol: 1e-10, rtol: 1e-10 } : { atol: 2e-5, rtol: 2e-5 });

function run(c: Case, xs: Tensor[]): { out: Tensor; indices: Tensor | null } {
  const p = c.params as { stride?: Size2; padding?: Size2; dilation?: Size2; groups?: number; kernel_size?: Size2; count_include_pad?: boolean; output_size?: Size2 };
  switch (c.op) {
    case 'conv2d': return { out: conv2d(xs[0]!, xs[1]!, xs[2] ?? null, { stride: p.stride, padding: p.padding, dilation: p.dilation, groups: p.groups }), indices: null };
    case 'maxPool2d': {
      const r = maxPool2dWithIndices(xs[0]!, p.kernel_size!, { stride: p.stride, padding: p.padding });
      return { out: r.values, indices: r.indices };
    }
    case 'avgPool2d': return { out: avgPool2d(xs[0]!, p.kernel_size!, { stride: p.stride, padding: p.padding, countIncludePad: p.count_include_pad }), indices: null };
    case 'adaptiveAvgPool2d': return { out: adaptiveAvgPool2d(xs[0]!, p.output_size!), indices: null };
  }
}

it('the fixture was made by PyTorch 1.13 and covers every op', () => {
  expect(FIXTURE.torch.startsWith('1.13')).toBe(true);
  expect(new Set(FIXTURE.cases.map((c) => c.op))).toEqual(new Set(['conv2d', 'maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d']));
});

describeEachBackend('conv2d and pooling vs PyTorch 1.13', (device) => {
  const dtype = device === 'cpu' ? 'float64' : 'float32';
  for (const c of FIXTURE.cases) {
    it(c.name, async () => {
      await expectNoLeak(c.name, async () => {
        const withGrad = c.grads !== undefined;
        const xs = c.inputs.map((a) => tensor(nums(a.values), { shape: a.shape, dtype, device, requiresGrad: withGrad }));
        try {
          const { out, indices } = run(c, xs);
          try {
            expect(out.shape, `${c.name}: shape`).toEqual(c.out.shape);
            assertClose(`${c.name} on ${device}: output`, await out.data(), nums(c.out.values), c.out.shape, tolFor(device));
            if (c.indices) {
              expect(indices, `${c.name}: indices`).not.toBeNull();
              expect(Array.from(await indices!.data()), `${c.name} on ${device}: indices`).toEqual(c.indices);
            }
            if (withGrad) {
              const W = tensor(nums(c.w!), { shape: c.out.shape, dtype, device });
              const loss = tidy(() => sum(mul(out, W)));
              loss.backward();
              loss.dispose();
              W.dispose();
              for (const [i, g] of c.grads!.entries()) {
                expect(xs[i]!.grad, `${c.name}: gradient of input ${i}`).not.toBeNull();
                assertClose(`${c.name} on ${device}: gradient of input ${i}`, await xs[i]!.grad!.data(), nums(g), c.inputs[i]!.shape, tolFor(device));
              }
            }
          } finally {
            out.dispose();
            indices?.dispose();
          }
        } finally {
          dispose(xs);
        }
      });
    });
  }
});
