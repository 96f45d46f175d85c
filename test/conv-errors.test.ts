/**
 * Convolution, pooling and their layers reject bad arguments at the call with a WebgradError
 * naming the op and the argument, leaking nothing.
 */
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from './helpers/oracle.js';
import {
  WebgradError, adaptiveAvgPool2d, avgPool2d, batchNorm2d, conv2d, dispose, flatten, maxPool2d, nn, zeros,
} from '../src/index.js';

function expectOpError(fn: () => unknown, pattern: RegExp): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a WebgradError matching ${pattern}`).toBeInstanceOf(WebgradError);
  expect((caught as Error).message).toMatch(pattern);
}

describe('conv and pooling: bad arguments', () => {
  const x = zeros([2, 4, 6, 6]);
  const w = zeros([6, 2, 3, 3]);
  const x3 = zeros([4, 6, 6]);
  const xi = zeros([2, 4, 6, 6], { dtype: 'int32' });
  const b5 = zeros([5]);
  const x64 = zeros([2, 4, 6, 6], { dtype: 'float64' });
  const m64 = zeros([6, 4]);
  const m34 = zeros([3, 4]);
  const one = zeros([1, 3, 1, 1]);
  const cases: [string, () => unknown, RegExp][] = [
    ['conv2d 3-D input', () => conv2d(x3, w, null, { groups: 2 }), /^conv2d: input must be 4-D \[N, C, H, W\], got shape \[4, 6, 6\]/],
    ['conv2d int input', () => conv2d(xi, w), /^conv2d: input must be a floating-point tensor/],
    ['conv2d dtype mismatch', () => conv2d(x64, w, null, { groups: 2 }), /^conv2d: dtype mismatch/],
    ['conv2d channels vs weight', () => conv2d(x, w), /^conv2d: weight \[6, 2, 3, 3\] expects 2 input channels with groups 1, but input \[2, 4, 6, 6\] has 4/],
    ['conv2d groups not dividing', () => conv2d(x, w, null, { groups: 3 }), /^conv2d: input channels \(4\) must be divisible by groups \(3\)/],
    ['conv2d groups zero', () => conv2d(x, w, null, { groups: 0 }), /^conv2d: groups must be a positive integer, got 0/],
    ['conv2d stride 0', () => conv2d(x, w, null, { groups: 2, stride: 0 }), /^conv2d: stride must be an integer >= 1/],
    ['conv2d negative padding', () => conv2d(x, w, null, { groups: 2, padding: [-1, 0] }), /^conv2d: padding must be an integer >= 0/],
    ['conv2d dilation 1.5', () => conv2d(x, w, null, { groups: 2, dilation: 1.5 }), /^conv2d: dilation must be an integer >= 1/],
    ['conv2d bias shape', () => conv2d(x, w, b5, { groups: 2 }), /^conv2d: bias must have shape \[6\], got \[5\]/],
    ['conv2d kernel larger than input', () => conv2d(x, w, null, { groups: 2, dilation: 4 }), /^conv2d: the output would be -2×-2/],
    ['conv2d weight 2-D', () => conv2d(x, m64), /^conv2d: weight must be 4-D/],
    ['maxPool2d padding over half the kernel', () => maxPool2d(x, 2, { padding: 2 }), /^maxPool2d: padding \(2, 2\) must be at most half the kernel size/],
    ['maxPool2d kernel 0', () => maxPool2d(x, 0), /^maxPool2d: kernelSize must be an integer >= 1/],
    ['maxPool2d kernel larger than input', () => maxPool2d(x, 7), /^maxPool2d: the output would be 0×0/],
    ['avgPool2d 3-D input', () => avgPool2d(x3, 2), /^avgPool2d: input must be 4-D/],
    ['avgPool2d countIncludePad not boolean', () => avgPool2d(x, 2, { countIncludePad: 1 as unknown as boolean }), /^avgPool2d: countIncludePad must be a boolean/],
    ['adaptiveAvgPool2d size 0', () => adaptiveAvgPool2d(x, [0, 1]), /^adaptiveAvgPool2d: outputSize must be an integer >= 1/],
    ['flatten start after end', () => flatten(x, 3, 1), /^flatten: startDim \(3\) must not come after endDim \(1\)/],
    ['batchNorm2d 2-D input', () => batchNorm2d(m34, null, null, null, null, { training: true }), /^batchNorm2d: input must be 4-D/],
    ['batchNorm2d one value per channel', () => batchNorm2d(one, null, null, null, null, { training: true }), /^batchNorm2d: training needs more than one value per channel/],
    ['batchNorm2d weight shape', () => batchNorm2d(x, null, null, b5, null, { training: true }), /^batchNorm2d: weight must have shape \[4\], got \[5\]/],
    ['Conv2d groups not dividing outChannels', () => new nn.Conv2d(4, 6, 3, { groups: 4 }), /^Conv2d: outChannels \(6\) must be divisible by groups \(4\)/],
    ['Conv2d kernel size 0', () => new nn.Conv2d(4, 6, [3, 0]), /^Conv2d: kernelSize must be a positive integer or a pair of them/],
    ['BatchNorm2d numFeatures 0', () => new nn.BatchNorm2d(0), /^BatchNorm2d: numFeatures must be a positive integer, got 0/],
    ['MaxPool2d kernel size 0', () => new nn.MaxPool2d(0), /^MaxPool2d: kernelSize must be a positive integer/],
  ];
  for (const [name, fn, pattern] of cases) {
    it(name, async () => {
      await expectNoLeak(name, async () => { expectOpError(fn, pattern); });
    });
  }
  it('BatchNorm2d forward on a channel mismatch changes nothing (num_batches_tracked stays 0)', async () => {
    const bn = new nn.BatchNorm2d(3);
    expectOpError(() => bn.forward(x), /^batchNorm2d: runningMean must have shape \[4\], got \[3\]/);
    expect(Array.from(await bn.numBatchesTracked!.data())).toEqual([0]);
    bn.dispose();
  });
  it('cleanup', () => dispose([x, w, x3, xi, b5, x64, m64, m34, one]));
});
