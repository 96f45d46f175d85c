/**
 * Gradient checks of convolution and pooling (issue 12, part 2): backward() against a central
 * difference (h = 1e-6) on the float64 CPU backend. Max-pool inputs are DISTINCT (no ties, where
 * the derivative is not defined); conv and average pooling are linear in each input, so any values do.
 */
import { describe, it } from 'vitest';
import { assertGradcheck } from './helpers/gradcheck.js';
import { expectNoLeak } from './helpers/oracle.js';
import { BASE_SEED, DISTINCT, U, draw, prng, sizeOf, type Dist } from './helpers/random-data.js';
import type { Tensor } from '../src/tensor.js';
import { adaptiveAvgPool2d, avgPool2d, batchNorm2d, conv2d, flatten, maxPool2d, mul, tanh } from '../src/index.js';

interface GCase { name: string; inputs: { shape: number[]; dist: Dist }[]; fn: (...xs: Tensor[]) => Tensor }
const CASES: GCase[] = [];
const c = (name: string, inputs: GCase['inputs'], fn: GCase['fn']): void => void CASES.push({ name, inputs, fn });
const x = (shape: number[], dist: Dist = U(-2, 2)): { shape: number[]; dist: Dist } => ({ shape, dist });

c('conv2d 3x3 + bias', [x([2, 2, 5, 6]), x([3, 2, 3, 3]), x([3])], (a, w, b) => conv2d(a!, w!, b!));
c('conv2d stride 2 pad 1', [x([1, 2, 7, 6]), x([2, 2, 3, 3]), x([2])], (a, w, b) => conv2d(a!, w!, b!, { stride: 2, padding: 1 }));
c('conv2d dilation 2 pad 2', [x([1, 2, 7, 7]), x([2, 2, 3, 3])], (a, w) => conv2d(a!, w!, null, { dilation: 2, padding: 2 }));
c('conv2d groups 2 rect kernel stride (1,2)', [x([2, 4, 5, 6]), x([4, 2, 2, 3]), x([4])], (a, w, b) => conv2d(a!, w!, b!, { groups: 2, stride: [1, 2], padding: [1, 0] }));
c('conv2d depthwise', [x([1, 3, 6, 5]), x([3, 1, 3, 3]), x([3])], (a, w, b) => conv2d(a!, w!, b!, { groups: 3, padding: 1 }));
c('conv2d 1x1', [x([2, 3, 3, 4]), x([2, 3, 1, 1])], (a, w) => conv2d(a!, w!));
// A non-linear composition: the weight enters twice (tanh keeps the check non-trivial).
c('conv2d → tanh → conv2d (same weight)', [x([1, 2, 6, 6]), x([2, 2, 3, 3], U(-0.5, 0.5))], (a, w) => conv2d(tanh(conv2d(a!, w!, null, { padding: 1 })), w!, null, { stride: 2 }));
c('maxPool2d 2x2', [x([2, 2, 6, 5], DISTINCT())], (a) => maxPool2d(a!, 2));
c('maxPool2d 3x3 stride 2 pad 1 (overlapping)', [x([1, 2, 7, 8], DISTINCT())], (a) => maxPool2d(a!, 3, { stride: 2, padding: 1 }));
c('avgPool2d 3x3 stride 2 pad 1 countIncludePad', [x([1, 2, 7, 6])], (a) => avgPool2d(a!, 3, { stride: 2, padding: 1 }));
c('avgPool2d 3x2 stride 1 pad 1 excluding pad', [x([1, 2, 5, 6])], (a) => avgPool2d(a!, [3, 2], { stride: 1, padding: 1, countIncludePad: false }));
c('adaptiveAvgPool2d -> 1x1', [x([2, 3, 5, 4])], (a) => adaptiveAvgPool2d(a!, 1));
c('adaptiveAvgPool2d 7x5 -> 3x2', [x([1, 2, 7, 5])], (a) => adaptiveAvgPool2d(a!, [3, 2]));
c('batchNorm2d train with weight and bias', [x([3, 2, 3, 4]), x([2], U(0.5, 2)), x([2])], (a, w, b) => batchNorm2d(a!, null, null, w!, b!, { training: true }));
c('flatten then scale', [x([2, 3, 2, 2])], (a) => mul(flatten(a!, 1), 3));

describe('gradcheck: conv and pooling (float64 CPU, central differences)', () => {
  for (const [k, g] of CASES.entries()) {
    it(g.name, async () => {
      const rnd = prng(BASE_SEED + 7919 * (k + 1));
      const inputs = g.inputs.map((s) => ({ shape: s.shape, values: draw(s.dist, sizeOf(s.shape), rnd, 'float64') }));
      await expectNoLeak(g.name, async () => { await assertGradcheck(g.name, g.fn, inputs, { seed: BASE_SEED + k }); });
    });
  }
});
