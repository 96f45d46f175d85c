/**
 * The core ops (issue 12, part 1) reject bad arguments at the call with a WebgradError naming the
 * op and the argument, leaking nothing; plus behaviour the op suite cannot see: scatter-add on the
 * GPU is deterministic (bit-identical reruns with many repeated indices), and PyTorch-style
 * return shapes of split/chunk.
 */
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { expectNoLeak } from './helpers/oracle.js';
import { expectErrorSync } from './helpers/expect-error.js';
import {
  argmax, argmin, cat, chunk, crossEntropyWithSmoothing, cumsum, gather, huberLoss, indexSelect, maxDim,
  min, minDim, narrow, nllLoss, oneHot, pad, slice, smoothL1Loss, split, stack, std, sum, tensor, binaryCrossEntropyWithLogits,
  variance, where, zeros, dispose, mul, tidy,
} from '../src/index.js';
import type { Tensor } from '../src/tensor.js';

/** The refusal goes through the shared helper (WebgradError, memory() unchanged across the call). */
function expectOpError(fn: () => unknown, pattern: RegExp): void {
  expectErrorSync(fn, pattern);
}

/** Operands made before the leak check starts (so only what the op itself allocates is counted). */
function operands() {
  return {
    e03: zeros([0, 3]), e20: zeros([2, 0]), e02: zeros([0, 2]), z4: zeros([4]), i11: zeros([1, 1], { dtype: 'int32' }),
    s: zeros([]), z34: zeros([3, 4]), z53: zeros([5, 3]), k15: zeros([1, 5], { dtype: 'int32' }), k51: zeros([5, 1], { dtype: 'int32' }),
    f3: zeros([3]), k3: zeros([3], { dtype: 'int32' }),
  };
}
type Operands = ReturnType<typeof operands>;

describe('core ops: bad arguments', () => {
  const cases: [string, (x: Tensor, k: Tensor, f: Tensor, o: Operands) => unknown, RegExp][] = [
    ['argmax axis out of range', (x) => argmax(x, 2), /^argmax: axis 2 is out of range/],
    ['argmin of an empty tensor', (_x, _k, _f, o) => argmin(o.e03), /^argmin: cannot take the argmin of an empty tensor/],
    ['min over an empty dim', (_x, _k, _f, o) => min(o.e20, 1), /^min: cannot take the min over an empty dimension/],
    ['maxDim non-integer axis', (x) => maxDim(x, 0.5), /^maxDim: axis 0.5 is out of range/],
    ['minDim over an empty dim', (_x, _k, _f, o) => minDim(o.e02, 0), /^minDim: cannot reduce over the empty dimension 0/],
    ['where non-broadcastable', (x, _k, _f, o) => where(x, x, o.z4), /^where: shapes \[3, 5\] and \[4\] cannot be broadcast/],
    ['where two numbers', (x) => where(x, 1, 2), /^where: at least one of a and b must be a Tensor/],
    ['where dtype mismatch', (x, _k, _f, o) => where(x, x, o.i11), /^where: dtype mismatch/],
    ['slice step 0', (x) => slice(x, 1, 0, 3, 0), /^slice: step must be a positive integer, got 0/],
    ['slice negative step', (x) => slice(x, 1, 3, 0, -1), /^slice: step must be a positive integer, got -1/],
    ['slice of a scalar', (_x, _k, _f, o) => slice(o.s, 0), /^slice: input must have rank >= 1/],
    ['narrow past the end', (x) => narrow(x, 1, 3, 3), /^narrow: length must be an integer in \[0, 2\]/],
    ['cat empty list', () => cat([]), /^cat: tensors must be a non-empty array/],
    ['cat mismatched shapes', (x, _k, _f, o) => cat([x, o.z34], 0), /^cat: tensors\[1\] has shape \[3, 4\], which does not match \[3, 5\] outside axis 0/],
    ['cat dtype mismatch', (x, _k, _f, o) => cat([x, o.k15], 0), /^cat: dtype mismatch/],
    ['stack shape mismatch', (x, _k, _f, o) => stack([x, o.z53]), /^stack: tensors\[1\] has shape \[5, 3\], expected \[3, 5\]/],
    ['split sizes not adding up', (x) => split(x, [2, 2], 1), /^split: sizes \[2,2\] add up to 4, not the axis length 5/],
    ['split size 0', (x) => split(x, 0), /^split: size must be a positive integer, got 0/],
    ['chunk 0', (x) => chunk(x, 0), /^chunk: chunks must be a positive integer, got 0/],
    ['pad odd list', (x) => pad(x, [1]), /^pad: pads must be an even-length list/],
    ['pad too many pairs', (x) => pad(x, [1, 1, 1, 1, 1, 1]), /^pad: pads must be an even-length list of at most 4/],
    ['pad negative', (x) => pad(x, [-1, 0]), /^pad: pads must be non-negative integers/],
    ['pad NaN value', (x) => pad(x, [1, 1], Number.NaN), /^pad: value must be a finite number/],
    ['var of int32', (_x, k) => variance(k), /^var: input must be a floating-point tensor, got int32/],
    ['var over an empty dim', (_x, _k, _f, o) => variance(o.e02, 0), /^var: cannot take the variance over an empty dimension/],
    ['std axis repeated', (x) => std(x, [1, -1]), /^var: axis \[1,-1\] names a dimension twice/],
    ['cumsum axis out of range', (x) => cumsum(x, -3), /^cumsum: axis -3 is out of range/],
    ['oneHot float indices', (x) => oneHot(x, 3), /^oneHot: indices must be an int32 tensor, got float32/],
    ['oneHot numClasses 0', (_x, k) => oneHot(k, 0), /^oneHot: numClasses must be a positive integer, got 0/],
    ['indexSelect float index', (x) => indexSelect(x, 0, x), /^indexSelect: index must be an int32 tensor, got float32/],
    ['indexSelect 2-D index', (x, _k, _f, o) => indexSelect(x, 0, o.k51), /^indexSelect: index must be 1-D, got shape \[5, 1\]/],
    ['gather index shape', (x, _k, _f, o) => gather(x, 1, o.k15), /^gather: index must have the input's shape \[3, 5\] except on axis 1, got \[1, 5\]/],
    ['bce shape mismatch', (x, _k, f) => binaryCrossEntropyWithLogits(x, f), /^binaryCrossEntropyWithLogits: logits \[3, 5\] and target \[5\] must have the same shape/],
    ['bce bad reduction', (x) => binaryCrossEntropyWithLogits(x, x, 'avg' as 'mean'), /^binaryCrossEntropyWithLogits: reduction must be 'mean', 'sum' or 'none', got 'avg'/],
    ['nll labels float', (x, _k, _f, o) => nllLoss(x, o.f3), /^nllLoss: labels must be int32 class indices, got float32/],
    ['nll labels length', (x, k) => nllLoss(x, k), /^nllLoss: labels must have shape \[3\]/],
    ['smoothL1 negative beta', (x) => smoothL1Loss(x, x, -1), /^smoothL1Loss: beta must be a finite number >= 0, got -1/],
    ['huber delta 0', (x) => huberLoss(x, x, 0), /^huberLoss: delta must be a finite number > 0, got 0/],
    ['label smoothing > 1', (x, _k, _f, o) => crossEntropyWithSmoothing(x, o.k3, 1.5), /^crossEntropyWithSmoothing: labelSmoothing must be a number in \[0, 1\], got 1.5/],
  ];
  for (const [what, fn, pattern] of cases) {
    it(what, async () => {
      const x = tensor(Array.from({ length: 15 }, (_, i) => i / 7), { shape: [3, 5] });
      const k = tensor([0, 1, 2, 1, 0], { dtype: 'int32' });
      const f = tensor([0, 1, 2, 1, 0]);
      const o = operands();
      try {
        await expectNoLeak(what, async () => {
          expectOpError(() => fn(x, k, f, o), pattern);
        });
      } finally {
        dispose([x, k, f, ...Object.values(o)]);
      }
    });
  }
});

describe('core ops: PyTorch-style results', () => {
  it('split by size leaves a smaller last piece; chunk may return fewer pieces', async () => {
    const x = zeros([7, 2]);
    const s = split(x, 3);
    expect(s.map((t) => t.shape)).toEqual([[3, 2], [3, 2], [1, 2]]);
    const c = chunk(zeros([6, 1]), 4); // ceil(6/4) = 2 → 3 pieces, as torch.chunk
    expect(c.map((t) => t.shape)).toEqual([[2, 1], [2, 1], [2, 1]]);
    dispose([x, ...s, ...c]);
  });

  it('argmax/argmin keepdim and flat shapes', () => {
    const x = zeros([2, 3, 4]);
    const shapes = [argmax(x, 1).shape, argmax(x, 1, true).shape, argmin(x).shape, argmin(x, undefined, true).shape];
    expect(shapes).toEqual([[2, 4], [2, 1, 4], [], [1, 1, 1]]);
    dispose(x);
  });
});

describeEachBackend('scatter-add determinism', (device) => {
  it('the gradient of indexSelect with 4096 repeated indices is bit-identical across runs', async () => {
    await expectNoLeak('determinism', async () => {
      const n = 4096;
      const vals = Array.from({ length: 3 * 8 }, (_, i) => Math.sin(i) * 1e3);
      // Indices hit row 1 most of the time, so thousands of terms of mixed magnitude accumulate there.
      const idx = tensor(Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : i % 7 === 0 ? 2 : 1)), { dtype: 'int32', device });
      const weights = tensor(Array.from({ length: n * 8 }, (_, i) => Math.cos(i * 0.37) * (i % 3 === 0 ? 1e4 : 1e-2)), { shape: [n, 8], device });
      const runs: number[][] = [];
      for (let r = 0; r < 3; r++) {
        const x = tensor(vals, { shape: [3, 8], device, requiresGrad: true });
        const loss = tidy(() => sum(mul(indexSelect(x, 0, idx), weights)));
        loss.backward();
        runs.push(Array.from(await x.grad!.data()));
        dispose([loss, x]);
      }
      expect(runs[1]).toEqual(runs[0]);
      expect(runs[2]).toEqual(runs[0]);
      dispose([idx, weights]);
    });
  });
});

describeEachBackend('core ops: empty tensors and out-of-range indices', (device) => {
  it('empty slices, empty cat parts, padding an empty tensor, indexing an empty axis', async () => {
    await expectNoLeak('empties', async () => {
      const x = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], device });
      const e = zeros([2, 0], { device });
      const got = tidy(() => ({
        emptySlice: slice(x, 1, 2, 1),
        catWithEmpty: cat([e, x, e], 1),
        padEmpty: pad(e, [1, 1], 9),
        cumsumEmpty: cumsum(e, 1),
        selectFromEmptyAxis: indexSelect(e, 1, tensor([0, -1], { dtype: 'int32', device })),
        oneHotOut: oneHot(tensor([2, 5, -1], { dtype: 'int32', device }), 3),
      }));
      expect(got.emptySlice.shape).toEqual([2, 0]);
      expect(Array.from(await got.catWithEmpty.data())).toEqual([1, 2, 3, 4, 5, 6]);
      expect(Array.from(await got.padEmpty.data())).toEqual([9, 9, 9, 9]);
      expect(got.cumsumEmpty.shape).toEqual([2, 0]);
      expect(Array.from(await got.selectFromEmptyAxis.data())).toEqual([NaN, NaN, NaN, NaN]);
      expect(Array.from(await got.oneHotOut.data())).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0]);
      dispose([x, e, ...Object.values(got)]);
    });
  });
});
