/**
 * Gradient checks of the core tensor ops (issue 12, part 1): backward() against a central
 * difference (h = 1e-6) on the float64 CPU backend, with inputs kept away from ties and kinks
 * (DISTINCT values for min/maxDim/minDim, |d| away from beta/delta for the smooth losses).
 */
import { describe, expect, it } from 'vitest';
import { assertGradcheck, type GradcheckInput } from './helpers/gradcheck.js';
import { expectNoLeak } from './helpers/oracle.js';
import { AVOIDING, BASE_SEED, DISTINCT, U, draw, prng, sizeOf, type Dist } from './helpers/random-data.js';
import type { Tensor } from '../src/tensor.js';
import {
  binaryCrossEntropyWithLogits, cat, chunk, crossEntropyWithSmoothing, cumsum, gather, gt, huberLoss, indexSelect,
  logSoftmax, maxDim, min, minDim, mul, narrow, nllLoss, pad, slice, smoothL1Loss, split, stack, std, sub, tensor,
  variance, where,
} from '../src/index.js';

interface GCase {
  name: string;
  inputs: { shape: number[]; dist: Dist }[];
  fn: (...xs: Tensor[]) => Tensor;
}
const CASES: GCase[] = [];
const c = (name: string, inputs: GCase['inputs'], fn: GCase['fn']): void => void CASES.push({ name, inputs, fn });
const x = (shape: number[], dist: Dist = U(-2, 2)): { shape: number[]; dist: Dist } => ({ shape, dist });
const ix = (values: number[], shape: number[]): Tensor => tensor(values, { shape, dtype: 'int32', device: 'cpu' });

// (a)
c('min [3,5] axis 1', [x([3, 5], DISTINCT())], (p) => min(p, 1));
c('min [2,3,4] axes [0,2] keepdim', [x([2, 3, 4], DISTINCT())], (p) => min(p, [0, 2], true));
c('min [3,4] all', [x([3, 4], DISTINCT())], (p) => min(p));
c('maxDim values [3,5] axis 1', [x([3, 5], DISTINCT())], (p) => maxDim(p, 1).values);
c('maxDim values [2,3,4] axis 0 keepdim', [x([2, 3, 4], DISTINCT())], (p) => maxDim(p, 0, true).values);
c('minDim values [4,3] axis -1', [x([4, 3], DISTINCT())], (p) => minDim(p, -1).values);
// (b)
c('where [3,4] cond from a', [x([3, 4]), x([3, 4])], (a, b) => where(gt(a, 0), a, b));
c('where broadcast [3,1] · [4]', [x([3, 1]), x([4])], (a, b) => where(gt(b, 0), mul(a, 2), b));
c('where scalar branch', [x([5])], (a) => where(gt(a, 0), a, 1.5));
c('slice [4,7] axis 1 1:6:2', [x([4, 7])], (p) => slice(p, 1, 1, 6, 2));
c('slice [5,3,2] axis 0 -3:', [x([5, 3, 2])], (p) => slice(p, 0, -3));
c('narrow [3,5] axis 1 from 2 len 2', [x([3, 5])], (p) => narrow(p, 1, 2, 2));
c('cat 3 axis 1', [x([2, 3]), x([2, 1]), x([2, 2])], (a, b, d) => cat([a, b, d], 1));
c('cat same tensor twice axis 0', [x([2, 3])], (a) => cat([a, mul(a, 3)], 0));
c('stack 2 axis 1', [x([3, 2]), x([3, 2])], (a, b) => stack([a, b], 1));
c('split [3,7] sizes [2,3,2] rejoined weighted', [x([3, 7])], (p) => { const [a, b, d] = split(p, [2, 3, 2], 1); return cat([mul(d!, 3), a!, mul(b!, -2)], 1); });
c('chunk [7,2] 3 rejoined weighted', [x([7, 2])], (p) => { const ps = chunk(p, 3, 0); return cat([ps[2]!, mul(ps[0]!, 2), mul(ps[1]!, -1)], 0); });
c('pad [2,3,4] (1,2,0,1) value 0.5', [x([2, 3, 4])], (p) => pad(p, [1, 2, 0, 1], 0.5));
// (c)
c('var [3,5] axis 1 unbiased', [x([3, 5])], (p) => variance(p, 1));
c('var [3,5] all biased', [x([3, 5])], (p) => variance(p, undefined, { unbiased: false }));
c('std [2,3,4] axes [0,2] keepdim', [x([2, 3, 4])], (p) => std(p, [0, 2], { keepdim: true }));
c('std [4,3] axis 0 biased', [x([4, 3])], (p) => std(p, 0, { unbiased: false }));
c('cumsum [3,5] axis 1', [x([3, 5])], (p) => cumsum(p, 1));
c('cumsum [4,2,3] axis 0', [x([4, 2, 3])], (p) => cumsum(p, 0));
c('logSoftmax [3,4,2] axis 0', [x([3, 4, 2])], (p) => logSoftmax(p, 0));
c('logSoftmax [3,4,2] axis 1', [x([3, 4, 2])], (p) => logSoftmax(p, 1));
// (d)
c('indexSelect [5,3] axis 0 repeated', [x([5, 3])], (p) => indexSelect(p, 0, ix([4, 0, 4, 2, 4, 0], [6])));
c('indexSelect [2,4,3] axis 1 repeated', [x([2, 4, 3])], (p) => indexSelect(p, 1, ix([3, 3, 1], [3])));
c('gather [3,4] axis 1 repeated', [x([3, 4])], (p) => gather(p, 1, ix([0, 0, 3, 1, 2, 2, 2, 0, 1, 3, 3, 3], [3, 4])));
c('gather [3,4] axis 0 index [5,4]', [x([3, 4])], (p) => gather(p, 0, ix([0, 1, 2, 0, 2, 2, 1, 1, 0, 0, 0, 2, 1, 2, 0, 1, 2, 1, 2, 0], [5, 4])));
// (e)
for (const red of ['mean', 'sum', 'none'] as const) {
  c(`binaryCrossEntropyWithLogits ${red}`, [x([3, 4], U(-5, 5)), x([3, 4], U(0, 1))], (a, b) => binaryCrossEntropyWithLogits(a, b, red));
  c(`nllLoss ${red}`, [x([4, 5], U(-4, 0))], (p) => nllLoss(p, ix([4, 0, 4, 2], [4]), red));
  c(`crossEntropyWithSmoothing 0.2 ${red}`, [x([4, 5], U(-3, 3))], (p) => crossEntropyWithSmoothing(p, ix([1, 0, 4, 1], [4]), 0.2, red));
}
// d = a − b with b = 0: kinks of smooth L1 at |d| = beta, of Huber at |d| = delta, and of |d| at 0 avoided.
const AWAY_05 = AVOIDING([-0.5, 0, 0.5], -2, 2, 0.05);
const AWAY_15 = AVOIDING([-1.5, 0, 1.5], -3, 3, 0.05);
c('smoothL1Loss beta 0.5 mean', [x([3, 4], AWAY_05)], (p) => smoothL1Loss(p, sub(p, p), 0.5));
c('smoothL1Loss beta 0.5 two inputs none', [x([3, 4], AWAY_05), x([3, 4], U(-0.01, 0.01))], (a, b) => smoothL1Loss(a, b, 0.5, 'none'));
c('huberLoss delta 1.5 sum', [x([3, 4], AWAY_15), x([3, 4], U(-0.01, 0.01))], (a, b) => huberLoss(a, b, 1.5, 'sum'));

function makeInputs(g: GCase, seed: number): GradcheckInput[] {
  const rnd = prng(seed);
  return g.inputs.map((i) => ({ shape: i.shape, values: draw(i.dist, sizeOf(i.shape), rnd, 'float64') }));
}

describe('gradcheck of the core ops: analytic vs central-difference gradients (float64 CPU)', () => {
  CASES.forEach((g, idx) => {
    const seed = (BASE_SEED + 7919 * (idx + 1)) >>> 0;
    it(`${g.name} · seed ${seed}`, async () => {
      await expectNoLeak(g.name, async () => {
        const r = await assertGradcheck(g.name, g.fn, makeInputs(g, seed), { seed });
        expect(r.checked).toBe(g.inputs.reduce((n, i) => n + sizeOf(i.shape), 0));
      });
    });
  });
});
