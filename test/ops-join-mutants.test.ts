/**
 * where, slice, narrow, cat, stack, split, chunk and pad where the op suites leave a gap: every
 * refusal's full message (op, argument, expected), boundary arguments (negative and clamped
 * indices, steps, empty axes, pads on the leading axes) against PyTorch's results, and which inputs
 * get gradients. CPU, float64. Written from the mutation-testing survivors (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { cat, chunk, narrow, pad, slice, split, stack, tensor, where, zeros } from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import { bad, f32, f64, i32, vals } from './helpers/cpu-tensors.js';

/** [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] */
const grid = (): Tensor => tensor([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]], f64);

describe('where', () => {
  it('refusals name the op and the argument', () => {
    const c = tensor([1, 0], f64);
    const a = tensor([1, 2], f64);
    const a32 = tensor([1, 2], f32);
    const ai = tensor([1, 2], i32);
    expectErrorSync(() => where(bad(1), a, a), /^where: cond must be a Tensor, got number$/);
    expectErrorSync(() => where(c, 1, 2), /^where: at least one of a and b must be a Tensor$/);
    expectErrorSync(() => where(c, 1, bad(null)), /^where: b must be a Tensor, got null$/);
    expectErrorSync(() => where(c, bad('s'), 1), /^where: a must be a Tensor, got string$/);
    expectErrorSync(() => where(c, a, bad('s')), /^where: b must be a Tensor, got string$/);
    expectErrorSync(() => where(c, NaN, a), /^where: a must be a finite number, got NaN$/);
    expectErrorSync(() => where(c, a, Infinity), /^where: b must be a finite number, got Infinity$/);
    expectErrorSync(() => where(c, 1.5, ai), /^where: a must be an integer for int32 tensors, got 1\.5$/);
    expectErrorSync(() => where(c, ai, 2.5), /^where: b must be an integer for int32 tensors, got 2\.5$/);
    expectErrorSync(() => where(c, a, a32), /^where: dtype mismatch: float64 and float32; convert one with \.cast\('float64'\)$/);
    const c3 = tensor([1, 0, 1], f64);
    expectErrorSync(() => where(c3, a, a), /^where: shapes \[3\] and \[2\] cannot be broadcast together/);
    const b3 = tensor([1, 2, 3], f64);
    expectErrorSync(() => where(c, a, b3), /^where: shapes \[2\] and \[3\] cannot be broadcast together/);
    dispose([c, a, a32, ai, c3, b3]);
  });

  it('broadcasts all three like torch.where, with numbers as scalars of the other dtype', async () => {
    const cond = tensor([[1], [0]], i32);
    const a = tensor([10, 20, 30], f64);
    const y = where(cond, a, -1);
    expect(y.shape).toEqual([2, 3]);
    expect(y.dtype).toBe('float64');
    expect(await vals(y)).toEqual([10, 20, 30, -1, -1, -1]);
    const z = where(cond, 7, a);
    expect(await vals(z)).toEqual([7, 7, 7, 10, 20, 30]);
    const ai = tensor([1, 2, 3], i32);
    const w = where(tensor([0, 2, 0], f64), 4, ai);
    expect(w.dtype).toBe('int32');
    expect(await vals(w)).toEqual([1, 4, 3]);
    dispose([cond, a, y, z, ai, w]);
  });

  it('sends the gradient to the chosen side only, and to each operand that needs it', async () => {
    const cond = tensor([1, 0, 1], f64);
    const a = tensor([1, 2, 3], f64).requiresGrad_(true);
    const b = tensor([4, 5, 6], f64).requiresGrad_(true);
    const y = where(cond, a, b);
    y.backward(tensor([10, 20, 30], f64));
    expect(await vals(a.grad!)).toEqual([10, 0, 30]);
    expect(await vals(b.grad!)).toEqual([0, 20, 0]);
    // Only b needs a gradient; a (a scalar number) gets none and b's is unchanged.
    const b2 = tensor([[1, 2], [3, 4]], f64).requiresGrad_(true);
    const y2 = where(tensor([0, 1], f64), 9, b2);
    expect(await vals(y2)).toEqual([1, 9, 3, 9]);
    y2.sum().backward();
    expect(await vals(b2.grad!)).toEqual([1, 0, 1, 0]);
    // A broadcast operand's gradient is summed back to its own shape.
    const a3 = tensor([2], f64).requiresGrad_(true);
    const y3 = where(tensor([1, 1, 0], f64), a3, b);
    y3.sum().backward();
    expect(a3.grad!.shape).toEqual([1]);
    expect(await vals(a3.grad!)).toEqual([2]);
    dispose([cond, a, b, y, b2, y2, a3, y3]);
  });
});

describe('slice and narrow', () => {
  it('refusals name the op, the argument and the range', () => {
    const x = grid();
    const s = tensor(3, f64);
    expectErrorSync(() => slice(bad([1]), 0), /^slice: input must be a Tensor, got object$/);
    expectErrorSync(() => slice(s, 0), /^slice: input must have rank >= 1, got a scalar$/);
    expectErrorSync(() => slice(x, 2), /^slice: axis 2 is out of range for a tensor of rank 2/);
    expectErrorSync(() => slice(x, 1, 0, 4, 1.5), /^slice: step must be a positive integer, got 1\.5$/);
    expectErrorSync(() => slice(x, 1, 0, 4, 0), /^slice: step must be a positive integer, got 0$/);
    expectErrorSync(() => slice(x, 1, 0.5), /^slice: start must be an integer, got 0\.5$/);
    expectErrorSync(() => slice(x, 1, 0, 2.5), /^slice: stop must be an integer or undefined, got 2\.5$/);
    expectErrorSync(() => narrow(bad(null), 0, 0, 1), /^narrow: input must be a Tensor, got null$/);
    expectErrorSync(() => narrow(s, 0, 0, 1), /^narrow: input must have rank >= 1, got a scalar$/);
    expectErrorSync(() => narrow(x, 1, 5, 0), /^narrow: start must be an integer in \[-4, 4\], got 5$/);
    expectErrorSync(() => narrow(x, 1, -5, 0), /^narrow: start must be an integer in \[-4, 4\], got -5$/);
    expectErrorSync(() => narrow(x, 1, 0.5, 1), /^narrow: start must be an integer in \[-4, 4\], got 0\.5$/);
    expectErrorSync(() => narrow(x, 1, -1, 2), /^narrow: length must be an integer in \[0, 1\] \(start 3, size 4\), got 2$/);
    expectErrorSync(() => narrow(x, 1, 1, -1), /^narrow: length must be an integer in \[0, 3\] \(start 1, size 4\), got -1$/);
    expectErrorSync(() => narrow(x, 1, 1, 1.5), /^narrow: length must be an integer in \[0, 3\] \(start 1, size 4\), got 1\.5$/);
    dispose([x, s]);
  });

  it('follows Python slicing: negative and clamped bounds, steps, empty results', async () => {
    const x = grid();
    const cases: [Tensor, number[], number[]][] = [
      [slice(x, 1), [3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
      [slice(x, 1, 1, 3), [3, 2], [1, 2, 5, 6, 9, 10]],
      [slice(x, -1, -3), [3, 3], [1, 2, 3, 5, 6, 7, 9, 10, 11]],
      [slice(x, 1, -2, -1), [3, 1], [2, 6, 10]],
      [slice(x, 1, -10, 10), [3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
      [slice(x, 1, 5), [3, 0], []],
      [slice(x, 1, 3, 1), [3, 0], []],
      [slice(x, 1, 0, 4, 2), [3, 2], [0, 2, 4, 6, 8, 10]],
      [slice(x, 1, 1, undefined, 2), [3, 2], [1, 3, 5, 7, 9, 11]],
      [slice(x, 1, 0, 4, 3), [3, 2], [0, 3, 4, 7, 8, 11]],
      [slice(x, 1, 0, 3, 3), [3, 1], [0, 4, 8]],
      [slice(x, 1, 0, 4, 4), [3, 1], [0, 4, 8]],
      [slice(x, 0, 1, 3), [2, 4], [4, 5, 6, 7, 8, 9, 10, 11]],
      [slice(x, -2, 0, 3, 2), [2, 4], [0, 1, 2, 3, 8, 9, 10, 11]],
      [narrow(x, 1, 1, 2), [3, 2], [1, 2, 5, 6, 9, 10]],
      [narrow(x, -1, -4, 1), [3, 1], [0, 4, 8]],
      [narrow(x, 1, 4, 0), [3, 0], []],
      [narrow(x, 1, -1, 1), [3, 1], [3, 7, 11]],
      [narrow(x, 0, 2, 1), [1, 4], [8, 9, 10, 11]],
      [narrow(x, 1, 0, 2), [3, 2], [0, 1, 4, 5, 8, 9]],
      [narrow(x, 1, 0, 4), [3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]],
    ];
    for (const [y, shape, expected] of cases) {
      expect(y.shape).toEqual(shape);
      expect(await vals(y)).toEqual(expected);
    }
    dispose([x, ...cases.map((c) => c[0])]);
  });

  it('scatters the gradient back into the input shape, steps included', async () => {
    const x = tensor([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]], f64).requiresGrad_(true);
    const y = slice(x, 1, 1, 5, 2);
    y.backward(tensor([[1, 2], [3, 4]], f64));
    expect(x.grad!.shape).toEqual([2, 5]);
    expect(await vals(x.grad!)).toEqual([0, 1, 0, 2, 0, 0, 3, 0, 4, 0]);
    const x2 = tensor([1, 2, 3, 4], f64).requiresGrad_(true);
    const z = narrow(x2, 0, 2, 2);
    z.backward(tensor([5, 6], f64));
    expect(await vals(x2.grad!)).toEqual([0, 0, 5, 6]);
    dispose([x, y, x2, z]);
  });
});

describe('cat and stack', () => {
  it('refusals name the op, the offending tensor and the expected shape', () => {
    const a = tensor([[1, 2], [3, 4]], f64);
    const b = tensor([[1, 2, 3], [4, 5, 6]], f64);
    const c = tensor([1, 2], f64);
    const a32 = tensor([[1, 2], [3, 4]], f32);
    const s = tensor(1, f64);
    expectErrorSync(() => cat(bad('x')), /^cat: tensors must be a non-empty array of Tensors$/);
    expectErrorSync(() => cat([]), /^cat: tensors must be a non-empty array of Tensors$/);
    expectErrorSync(() => cat([a, bad(3)]), /^cat: tensors\[1\] must be a Tensor, got number$/);
    expectErrorSync(() => cat([a, a32]), /^cat: dtype mismatch: float64 and float32; convert one with \.cast\('float64'\)$/);
    expectErrorSync(() => cat([s, s]), /^cat: cannot concatenate scalars \(rank 0\); use stack$/);
    expectErrorSync(() => cat([a, b]), /^cat: tensors\[1\] has shape \[2, 3\], which does not match \[2, 2\] outside axis 0$/);
    expectErrorSync(() => cat([a, a, c], 1), /^cat: tensors\[2\] has shape \[2\], which does not match \[2, 2\] outside axis 1$/);
    expectErrorSync(() => cat([a, b], -3), /^cat: axis -3 is out of range for a tensor of rank 2/);
    expectErrorSync(() => stack([]), /^stack: tensors must be a non-empty array of Tensors$/);
    expectErrorSync(() => stack([c, bad(undefined)]), /^stack: tensors\[1\] must be a Tensor, got undefined$/);
    expectErrorSync(() => stack([a, b]), /^stack: tensors\[1\] has shape \[2, 3\], expected \[2, 2\] like tensors\[0\]$/);
    expectErrorSync(() => stack([a, a], 3), /^stack: axis 3 is out of range for a tensor of rank 3/);
    dispose([a, b, c, a32, s]);
  });

  it('joins along any axis, negative axes and a new last axis included', async () => {
    const a = tensor([[1, 2], [3, 4]], f64);
    const b = tensor([[5], [6]], f64);
    const c = tensor([[7, 8, 9], [10, 11, 12]], f64);
    const e = zeros([2, 0], f64);
    const cases: [Tensor, number[], number[]][] = [
      [cat([a, b, c], 1), [2, 6], [1, 2, 5, 7, 8, 9, 3, 4, 6, 10, 11, 12]],
      [cat([a, e, b], -1), [2, 3], [1, 2, 5, 3, 4, 6]],
      [cat([a, a, a]), [6, 2], [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4]],
      [stack([a, a.mul(10)]), [2, 2, 2], [1, 2, 3, 4, 10, 20, 30, 40]],
      [stack([a, a.mul(10)], 1), [2, 2, 2], [1, 2, 10, 20, 3, 4, 30, 40]],
      [stack([a, a.mul(10)], 2), [2, 2, 2], [1, 10, 2, 20, 3, 30, 4, 40]],
      [stack([a, a.mul(10)], -1), [2, 2, 2], [1, 10, 2, 20, 3, 30, 4, 40]],
      [stack([tensor(1, f64), tensor(2, f64)]), [2], [1, 2]],
    ];
    for (const [y, shape, expected] of cases) {
      expect(y.shape).toEqual(shape);
      expect(await vals(y)).toEqual(expected);
    }
    dispose([a, b, c, e, ...cases.map((x) => x[0])]);
  });

  it('hands each input the window of the gradient it filled, and none to inputs that need none', async () => {
    const a = tensor([[1, 2], [3, 4]], f64).requiresGrad_(true);
    const b = tensor([[5], [6]], f64);
    const c = tensor([[7, 8, 9], [10, 11, 12]], f64).requiresGrad_(true);
    const y = cat([a, b, c], 1);
    y.backward(tensor([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], f64));
    expect(await vals(a.grad!)).toEqual([1, 2, 7, 8]);
    expect(b.grad).toBeNull();
    expect(await vals(c.grad!)).toEqual([4, 5, 6, 10, 11, 12]);
    dispose([a, b, c, y]);
  });
});

describe('split and chunk', () => {
  it('refusals name the op and the argument', () => {
    const x = tensor([1, 2, 3], f64);
    const s = tensor(1, f64);
    expectErrorSync(() => split(bad(0), 1), /^split: input must be a Tensor, got number$/);
    expectErrorSync(() => split(s, 1), /^split: input must have rank >= 1, got a scalar$/);
    expectErrorSync(() => split(x, 0), /^split: size must be a positive integer, got 0$/);
    expectErrorSync(() => split(x, 1.5), /^split: size must be a positive integer, got 1\.5$/);
    expectErrorSync(() => split(x, [1, -1, 3]), /^split: sizes must be non-negative integers, got \[1,-1,3\]$/);
    expectErrorSync(() => split(x, [1, 0.5]), /^split: sizes must be non-negative integers, got \[1,0\.5\]$/);
    expectErrorSync(() => split(x, [1, 1]), /^split: sizes \[1,1\] add up to 2, not the axis length 3$/);
    expectErrorSync(() => split(x, [2, 2]), /^split: sizes \[2,2\] add up to 4, not the axis length 3$/);
    expectErrorSync(() => split(x, 1, 1), /^split: axis 1 is out of range for a tensor of rank 1/);
    expectErrorSync(() => chunk(bad(null), 1), /^chunk: input must be a Tensor, got null$/);
    expectErrorSync(() => chunk(x, 0), /^chunk: chunks must be a positive integer, got 0$/);
    expectErrorSync(() => chunk(x, 2.5), /^chunk: chunks must be a positive integer, got 2\.5$/);
    expectErrorSync(() => chunk(s, 1), /^chunk: input must have rank >= 1, got a scalar$/);
    expectErrorSync(() => chunk(x, 1, -2), /^chunk: axis -2 is out of range for a tensor of rank 1/);
    dispose([x, s]);
  });

  it('cuts pieces as torch.split and torch.chunk do', async () => {
    const x = grid();
    const pieces = async (ts: Tensor[]): Promise<[number[], number[]][]> => {
      const out: [number[], number[]][] = [];
      for (const t of ts) out.push([[...t.shape], await vals(t)]);
      dispose(ts);
      return out;
    };
    expect(await pieces(split(x, 3, 1))).toEqual([[[3, 3], [0, 1, 2, 4, 5, 6, 8, 9, 10]], [[3, 1], [3, 7, 11]]]);
    expect(await pieces(split(x, 2, -1))).toEqual([[[3, 2], [0, 1, 4, 5, 8, 9]], [[3, 2], [2, 3, 6, 7, 10, 11]]]);
    expect(await pieces(split(x, 5, 1))).toEqual([[[3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]]);
    expect(await pieces(split(x, [1, 0, 2]))).toEqual([[[1, 4], [0, 1, 2, 3]], [[0, 4], []], [[2, 4], [4, 5, 6, 7, 8, 9, 10, 11]]]);
    expect(await pieces(split(x, 1))).toEqual([[[1, 4], [0, 1, 2, 3]], [[1, 4], [4, 5, 6, 7]], [[1, 4], [8, 9, 10, 11]]]);
    expect(await pieces(chunk(x, 3, 1))).toEqual([[[3, 2], [0, 1, 4, 5, 8, 9]], [[3, 2], [2, 3, 6, 7, 10, 11]]]);
    expect(await pieces(chunk(x, 2))).toEqual([[[2, 4], [0, 1, 2, 3, 4, 5, 6, 7]], [[1, 4], [8, 9, 10, 11]]]);
    expect(await pieces(chunk(x, 4, 1))).toEqual([[[3, 1], [0, 4, 8]], [[3, 1], [1, 5, 9]], [[3, 1], [2, 6, 10]], [[3, 1], [3, 7, 11]]]);
    const e = zeros([0, 2], f64);
    expect(await pieces(split(e, 2))).toEqual([[[0, 2], []]]);
    expect(await pieces(chunk(e, 3))).toEqual([[[0, 2], []]]);
    dispose([x, e]);
  });

  it('a piece\'s gradient lands in its own window', async () => {
    const x = tensor([1, 2, 3, 4, 5], f64).requiresGrad_(true);
    const [, second] = split(x, [2, 3]);
    second!.backward(tensor([7, 8, 9], f64));
    expect(await vals(x.grad!)).toEqual([0, 0, 7, 8, 9]);
    dispose([x, second!]);
  });
});

describe('pad', () => {
  it('refusals name the op, the argument and the allowed length', () => {
    const x = tensor([[1, 2], [3, 4]], f64);
    const xi = tensor([[1, 2]], i32);
    expectErrorSync(() => pad(bad(1), [1, 1]), /^pad: input must be a Tensor, got number$/);
    expectErrorSync(() => pad(x, [1, 1], NaN), /^pad: value must be a finite number, got NaN$/);
    expectErrorSync(() => pad(x, bad(1)), /^pad: pads must be an even-length list of at most 4 integers \(two per axis, last axis first\), got 1$/);
    expectErrorSync(() => pad(x, [1]), /^pad: pads must be an even-length list of at most 4 integers \(two per axis, last axis first\), got \[1\]$/);
    expectErrorSync(() => pad(x, [1, 1, 1, 1, 1, 1]), /^pad: pads must be an even-length list of at most 4 integers/);
    expectErrorSync(() => pad(x, [1, -1]), /^pad: pads must be non-negative integers, got \[1,-1\]$/);
    expectErrorSync(() => pad(x, [0.5, 1]), /^pad: pads must be non-negative integers, got \[0\.5,1\]$/);
    expectErrorSync(() => pad(xi, [1, 1], 0.5), /^pad: value must be an integer for an int32 tensor, got 0\.5$/);
    dispose([x, xi]);
  });

  it('pads the last axes first, with a constant, as F.pad', async () => {
    const x = tensor([[1, 2], [3, 4]], f64);
    const cases: [Tensor, number[], number[]][] = [
      [pad(x, []), [2, 2], [1, 2, 3, 4]],
      [pad(x, [1, 0]), [2, 3], [0, 1, 2, 0, 3, 4]],
      [pad(x, [0, 2], -1), [2, 4], [1, 2, -1, -1, 3, 4, -1, -1]],
      [pad(x, [0, 0, 1, 0]), [3, 2], [0, 0, 1, 2, 3, 4]],
      [pad(x, [1, 0, 0, 1], 9), [3, 3], [9, 1, 2, 9, 3, 4, 9, 9, 9]],
      [pad(tensor([[5]], i32), [0, 1, 1, 0], 7), [2, 2], [7, 7, 5, 7]],
    ];
    for (const [y, shape, expected] of cases) {
      expect(y.shape).toEqual(shape);
      expect(await vals(y)).toEqual(expected);
    }
    dispose([x, ...cases.map((c) => c[0])]);
  });

  it('reads the gradient back out of the padded window', async () => {
    const x = tensor([[1, 2], [3, 4]], f64).requiresGrad_(true);
    const y = pad(x, [1, 0, 0, 1]);
    y.backward(tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], f64));
    expect(await vals(x.grad!)).toEqual([2, 3, 5, 6]);
    dispose([x, y]);
  });
});
