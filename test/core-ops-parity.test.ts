/**
 * Parity of the core tensor ops (issue 12, part 1) with PyTorch 1.13: expected outputs and
 * gradients of sum(out·W) come from test/fixtures/core_ops.json (written by
 * make_core_ops_fixtures.py; no PyTorch needed here). Runs on the CPU backend in float64 (tight)
 * and on WebGPU in float32 (looser). Among them: PyTorch's tie rules (the gradient of max(x, dim)
 * goes to the first index; amax/amin and min() share it among ties), argmax/argmin returning the
 * first NaN's index, and index_select/gather gradients accumulating repeated indices.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose, type Tol } from './helpers/compare.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { Tensor } from '../src/tensor.js';
import type { BackendName } from '../src/backend/types.js';
import {
  argmax, argmin, binaryCrossEntropyWithLogits, cat, chunk, crossEntropyWithSmoothing, cumsum, gather, huberLoss,
  indexSelect, logSoftmax, max, maxDim, min, minDim, mul, narrow, nllLoss, oneHot, pad, slice, smoothL1Loss, split,
  stack, std, sum, tensor, tidy, variance, where,
} from '../src/index.js';
import { dispose } from '../src/lifetime.js';

interface Arr { shape: number[]; values: (number | null)[] }
interface Case {
  name: string;
  op: string;
  params: Record<string, unknown>;
  inputs: Arr[];
  ints: { shape: number[]; values: number[] }[];
  out: Arr & { int: boolean };
  w?: (number | null)[];
  grads?: ((number | null)[] | null)[];
}
const FIXTURE = JSON.parse(readFileSync(new URL('./fixtures/core_ops.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[] };
const nums = (v: (number | null)[]): number[] => v.map((x) => (x === null ? Number.NaN : x));

type Red = 'mean' | 'sum' | 'none';

function run(c: Case, xs: Tensor[], ks: Tensor[]): Tensor {
  const p = c.params as { axis?: number & number[]; keepdim?: boolean; [k: string]: unknown };
  const red = p.reduction as Red;
  const weightedJoin = (pieces: Tensor[], axis: number): Tensor => cat(pieces.map((t, i) => mul(t, i + 1)), axis);
  switch (c.op) {
    case 'argmax': return argmax(xs[0]!, p.axis, p.keepdim ?? false);
    case 'argmin': return argmin(xs[0]!, p.axis, p.keepdim ?? false);
    case 'maxDimValues': return maxDim(xs[0]!, p.axis!, p.keepdim ?? false).values;
    case 'maxDimIndices': return maxDim(xs[0]!, p.axis!, p.keepdim ?? false).indices;
    case 'minDimValues': return minDim(xs[0]!, p.axis!, p.keepdim ?? false).values;
    case 'minDimIndices': return minDim(xs[0]!, p.axis!, p.keepdim ?? false).indices;
    case 'max': return max(xs[0]!, p.axis, p.keepdim ?? false);
    case 'min': return min(xs[0]!, p.axis, p.keepdim ?? false);
    case 'where': return where(ks[0]!, xs[0]!, xs[1]!);
    case 'slice': return slice(xs[0]!, p.axis!, p.start as number, p.stop as number | undefined, p.step as number | undefined);
    case 'narrow': return narrow(xs[0]!, p.axis!, p.start as number, p.length as number);
    case 'cat': return cat(xs, p.axis);
    case 'stack': return stack(xs, p.axis);
    case 'splitJoin': return weightedJoin(split(xs[0]!, p.sizes as number[], p.axis), p.axis!);
    case 'chunkJoin': return weightedJoin(chunk(xs[0]!, p.chunks as number, p.axis), p.axis!);
    case 'var': return variance(xs[0]!, p.axis, { unbiased: p.unbiased as boolean, keepdim: p.keepdim ?? false });
    case 'std': return std(xs[0]!, p.axis, { unbiased: p.unbiased as boolean, keepdim: p.keepdim ?? false });
    case 'cumsum': return cumsum(xs[0]!, p.axis!);
    case 'logSoftmax': return logSoftmax(xs[0]!, p.axis);
    case 'oneHot': return oneHot(ks[0]!, p.numClasses as number);
    case 'pad': return pad(xs[0]!, p.pads as number[], p.value as number);
    case 'indexSelect': return indexSelect(xs[0]!, p.axis!, ks[0]!);
    case 'gather': return gather(xs[0]!, p.axis!, ks[0]!);
    case 'bceWithLogits': return binaryCrossEntropyWithLogits(xs[0]!, xs[1]!, red);
    case 'nll': return nllLoss(xs[0]!, ks[0]!, red);
    case 'smoothL1': return smoothL1Loss(xs[0]!, xs[1]!, p.beta as number, red);
    case 'huber': return huberLoss(xs[0]!, xs[1]!, p.delta as number, red);
    case 'crossEntropySmoothing': return crossEntropyWithSmoothing(xs[0]!, ks[0]!, p.labelSmoothing as number, red);
    default: throw new Error(`unknown fixture op '${c.op}'`);
  }
}

function tolFor(device: BackendName): Tol {
  return device === 'cpu' ? { atol: 1e-12, rtol: 1e-10 } : { atol: 2e-6, rtol: 2e-5 };
}

it('the fixture was made by PyTorch 1.13 and covers every op', () => {
  expect(FIXTURE.torch.startsWith('1.13')).toBe(true);
  expect(new Set(FIXTURE.cases.map((c) => c.op)).size).toBeGreaterThanOrEqual(28);
});

describeEachBackend('core ops vs PyTorch 1.13', (device) => {
  const dtype = device === 'cpu' ? 'float64' : 'float32';
  for (const c of FIXTURE.cases) {
    it(c.name, async () => {
      await expectNoLeak(c.name, async () => {
        const withGrad = c.grads !== undefined;
        const xs = c.inputs.map((a) => tensor(nums(a.values), { shape: a.shape, dtype, device, requiresGrad: withGrad }));
        const ks = c.ints.map((a) => tensor(a.values, { shape: a.shape, dtype: 'int32', device }));
        try {
          const out = tidy(() => run(c, xs, ks));
          try {
            expect(out.shape, `${c.name}: shape`).toEqual(c.out.shape);
            expect(out.dtype, `${c.name}: dtype`).toBe(c.out.int ? 'int32' : dtype);
            assertClose(`${c.name} on ${device}: output`, await out.data(), nums(c.out.values), c.out.shape, c.out.int ? { atol: 0, rtol: 0 } : tolFor(device));
            if (withGrad) {
              const W = tensor(nums(c.w!), { shape: c.out.shape, dtype, device });
              const loss = tidy(() => sum(mul(out, W)));
              loss.backward();
              loss.dispose();
              W.dispose();
              for (const [i, g] of c.grads!.entries()) {
                if (g === null) continue;
                expect(xs[i]!.grad, `${c.name}: gradient of input ${i}`).not.toBeNull();
                assertClose(`${c.name} on ${device}: gradient of input ${i}`, await xs[i]!.grad!.data(), nums(g), c.inputs[i]!.shape, tolFor(device));
              }
            }
          } finally {
            out.dispose();
          }
        } finally {
          dispose(xs);
          dispose(ks);
        }
      });
    });
  }
});
