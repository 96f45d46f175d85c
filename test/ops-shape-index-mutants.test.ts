/**
 * reshape/permute/transpose/expand/clone and the index ops (argmax/argmin, min, maxDim/minDim,
 * indexSelect, gather) where the op suites leave a gap: every refusal's full message, inferred
 * and negative dimensions, non-involutive permutations, keepdim and scalar shapes, int32 extremes
 * for min, and gradients. CPU, float64 unless int32 is the point. Written from the
 * mutation-testing survivors (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import {
  argmax, argmin, clone, expand, gather, indexSelect, maxDim, min, minDim, permute, reshape, tensor, transpose, zeros,
} from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import { bad, f64, i32, vals } from './helpers/cpu-tensors.js';

const seq = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('reshape', () => {
  it('refusals name the op, the shapes and the element counts', () => {
    const x = tensor(seq(6), { ...f64, shape: [2, 3] });
    const e = zeros([0, 3], f64);
    expectErrorSync(() => reshape(bad(5), [5]), /^reshape: input must be a Tensor, got number$/);
    expectErrorSync(() => reshape(x, bad(6)), /^reshape: shape must be an array of non-negative integers \(e\.g\. \[6\]\), got 6$/);
    expectErrorSync(() => reshape(x, [-1, -1]), /^reshape: only one dimension can be -1, got \[-1, -1\]$/);
    expectErrorSync(() => reshape(x, [-1, 4]), /^reshape: cannot infer the -1 in \[-1, 4\] for 6 elements \(input shape \[2, 3\]\)$/);
    expectErrorSync(() => reshape(e, [0, -1]), /^reshape: cannot infer the -1 in \[0, -1\] for 0 elements \(input shape \[0, 3\]\)$/);
    expectErrorSync(() => reshape(x, [-2, -3]), /^reshape: shape must be a list of non-negative integers, got \[-2, -3\]$/);
    expectErrorSync(() => reshape(x, [4]), /^reshape: cannot reshape \[2, 3\] \(6 elements\) into \[4\] \(4 elements\)$/);
    dispose([x, e]);
  });

  it('infers one -1 wherever it stands, and the gradient takes the input shape back', async () => {
    const x = tensor(seq(6), { ...f64, shape: [2, 3] }).requiresGrad_(true);
    expect(reshape(x, [-1]).shape).toEqual([6]);
    expect(reshape(x, [3, -1]).shape).toEqual([3, 2]);
    expect(reshape(x, [-1, 1, 2]).shape).toEqual([3, 1, 2]);
    expect(reshape(x, [1, 6]).shape).toEqual([1, 6]);
    expect(reshape(zeros([0, 3], f64), [-1, 3]).shape).toEqual([0, 3]);
    const y = reshape(x, [3, -1]);
    expect(Object.isFrozen(y.shape)).toBe(true);
    expect(await vals(y)).toEqual(seq(6));
    y.backward(tensor([[1, 2], [3, 4], [5, 6]], f64));
    expect(x.grad!.shape).toEqual([2, 3]);
    expect(await vals(x.grad!)).toEqual([1, 2, 3, 4, 5, 6]);
    dispose([x, y]);
  });
});

describe('permute, transpose, expand, clone', () => {
  it('refusals name the op and the argument', () => {
    const x = tensor(seq(6), { ...f64, shape: [2, 3] });
    const v = tensor([1, 2, 3], f64);
    expectErrorSync(() => permute(bad(null), [0]), /^permute: input must be a Tensor, got null$/);
    expectErrorSync(() => permute(x, bad(1)), /^permute: perm must be an array of integer dimension indices, got 1$/);
    expectErrorSync(() => permute(x, bad(undefined)), /^permute: perm must be an array of integer dimension indices, got undefined$/);
    expectErrorSync(() => permute(x, bad(['1', 0])), /^permute: perm must be an array of integer dimension indices, got \["1",0\]$/);
    expectErrorSync(() => permute(x, [0.5, 1]), /^permute: perm must be an array of integer dimension indices, got \[0\.5,1\]$/);
    expectErrorSync(() => permute(x, [0, 0]), /^permute: perm \[0,0\] must list each of the 2 dimensions exactly once$/);
    expectErrorSync(() => permute(x, [1, -1]), /^permute: perm \[1,-1\] must list each of the 2 dimensions exactly once$/);
    expectErrorSync(() => permute(x, [0]), /^permute: perm \[0\] must list each of the 2 dimensions exactly once$/);
    expectErrorSync(() => permute(x, [0, 1, 2]), /^permute: axis 2 is out of range for a tensor of rank 2/);
    expectErrorSync(() => transpose(bad(1)), /^transpose: input must be a Tensor, got number$/);
    expectErrorSync(() => transpose(v), /^transpose: expected a tensor of rank >= 2, got shape \[3\]$/);
    expectErrorSync(() => transpose(x, 0, 2), /^transpose: axis 2 is out of range for a tensor of rank 2/);
    expectErrorSync(() => expand(bad('x'), [1]), /^expand: input must be a Tensor, got string$/);
    expectErrorSync(() => expand(x, bad(3)), /^expand: shape must be an array of non-negative integers \(e\.g\. \[3\]\), got 3$/);
    expectErrorSync(() => expand(x, [6]), /^expand: cannot expand shape \[2, 3\] to the smaller rank of \[6\]$/);
    expectErrorSync(() => expand(x, [2, 4]), /^expand: cannot expand shape \[2, 3\] to \[2, 4\] \(dimension 1: 3 vs 4\)$/);
    expectErrorSync(() => expand(x, [5, 4, 3]), /^expand: cannot expand shape \[2, 3\] to \[5, 4, 3\] \(dimension 1: 2 vs 4\)$/);
    expectErrorSync(() => clone(bad({ shape: [1] })), /^clone: input must be a Tensor, got object$/);
    dispose([x, v]);
  });

  it('permute reorders dimensions and its gradient applies the inverse permutation', async () => {
    // x[i, j, k] = 100·i + 10·j + k on [2, 3, 4]
    const data = seq(24).map((n) => 100 * Math.floor(n / 12) + 10 * Math.floor((n % 12) / 4) + (n % 4));
    const x = tensor(data, { ...f64, shape: [2, 3, 4] }).requiresGrad_(true);
    const y = permute(x, [1, 2, 0]); // y[j, k, i] = x[i, j, k]
    expect(y.shape).toEqual([3, 4, 2]);
    const yv = await vals(y);
    expect(yv.slice(0, 6)).toEqual([0, 100, 1, 101, 2, 102]);
    expect(yv[2 * 8 + 3 * 2 + 1]).toBe(123);
    const z = permute(x, [-1, 0, -2]); // negative entries count from the end: [2, 0, 1]
    expect(z.shape).toEqual([4, 2, 3]);
    expect((await vals(z)).slice(0, 6)).toEqual([0, 10, 20, 100, 110, 120]);
    y.backward(tensor(yv, { ...f64, shape: [3, 4, 2] }));
    expect(x.grad!.shape).toEqual([2, 3, 4]);
    expect(await vals(x.grad!)).toEqual(data);
    dispose([x, y, z]);
  });

  it('transpose swaps the last two axes by default, or the two given', async () => {
    const x = tensor(seq(24), { ...f64, shape: [2, 3, 4] });
    const t = transpose(x);
    expect(t.shape).toEqual([2, 4, 3]);
    expect((await vals(t)).slice(0, 6)).toEqual([0, 4, 8, 1, 5, 9]);
    const t02 = transpose(x, 0, -1);
    expect(t02.shape).toEqual([4, 3, 2]);
    expect((await vals(t02)).slice(0, 4)).toEqual([0, 12, 4, 16]);
    const same = transpose(x, 1, 1);
    expect(same.shape).toEqual([2, 3, 4]);
    expect(await vals(same)).toEqual(seq(24));
    dispose([x, t, t02, same]);
  });

  it('expand broadcasts size-1 and new leading axes; its gradient sums back', async () => {
    const x = tensor([[1], [2]], f64).requiresGrad_(true);
    const y = expand(x, [3, 2, 4]);
    expect(y.shape).toEqual([3, 2, 4]);
    expect(await vals(y)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2]);
    y.sum().backward();
    expect(await vals(x.grad!)).toEqual([12, 12]);
    const r = tensor([[1, 2, 3]], f64);
    const e = expand(r, [2, 3]);
    expect(await vals(e)).toEqual([1, 2, 3, 1, 2, 3]);
    const same = expand(tensor([[1, 2], [3, 4]], f64), [2, 2]);
    expect(await vals(same)).toEqual([1, 2, 3, 4]);
    const ones = expand(tensor([[5]], f64), [1, 3]);
    expect(await vals(ones)).toEqual([5, 5, 5]);
    dispose([x, y, r, e, same, ones]);
  });

  it('clone copies into its own storage and passes the gradient through', async () => {
    const x = tensor([[1, 2], [3, 4]], f64).requiresGrad_(true);
    const c = clone(x);
    expect(c.shape).toEqual([2, 2]);
    expect(await vals(c)).toEqual([1, 2, 3, 4]);
    x.dispose();
    expect(await vals(c)).toEqual([1, 2, 3, 4]);
    const y = tensor([1, 2], f64).requiresGrad_(true);
    const d = clone(y);
    d.backward(tensor([3, 4], f64));
    expect(await vals(y.grad!)).toEqual([3, 4]);
    dispose([c, y, d]);
  });
});

describe('argmax, argmin, min', () => {
  it('refusals name the op and the empty shape', () => {
    const e = zeros([2, 0], f64);
    expectErrorSync(() => argmax(bad(1)), /^argmax: input must be a Tensor, got number$/);
    expectErrorSync(() => argmax(e), /^argmax: cannot take the argmax of an empty tensor \(shape \[2, 0\]\)$/);
    expectErrorSync(() => argmin(e, 0), /^argmin: cannot take the argmin of an empty tensor \(shape \[2, 0\]\)$/);
    expectErrorSync(() => min(bad(null)), /^min: input must be a Tensor, got null$/);
    expectErrorSync(() => min(e), /^min: cannot take the min over an empty dimension \(shape \[2, 0\]\)$/);
    expectErrorSync(() => min(e, [-1]), /^min: cannot take the min over an empty dimension \(shape \[2, 0\]\)$/);
    expectErrorSync(() => min(e, 2), /^min: axis 2 is out of range for a tensor of rank 2/);
    dispose(e);
  });

  it('index the first extremum, flattened or along an axis, with keepdim and scalar shapes', async () => {
    const x = tensor([[3, 7, 7], [9, 1, 1]], f64);
    const cases: [Tensor, number[], number[]][] = [
      [argmax(x), [], [3]],
      [argmin(x), [], [4]],
      [argmax(x, undefined, true), [1, 1], [3]],
      [argmax(x, 1), [2], [1, 0]],
      [argmin(x, -1), [2], [0, 1]],
      [argmax(x, 0, true), [1, 3], [1, 0, 0]],
      [argmin(x, 0), [3], [0, 1, 1]],
      [argmax(tensor(5, f64), 0), [], [0]],
      [argmin(tensor(5, f64), -1, true), [], [0]],
    ];
    for (const [y, shape, expected] of cases) {
      expect(y.dtype).toBe('int32');
      expect(y.shape).toEqual(shape);
      expect(await vals(y)).toEqual(expected);
    }
    dispose([x, ...cases.map((c) => c[0])]);
  });

  it('min is the mirror of max, for floats and int32 extremes, sharing the gradient among ties', async () => {
    const x = tensor([[3, 1, 1], [-2, 5, 4]], f64).requiresGrad_(true);
    const all = min(x);
    expect(all.shape).toEqual([]);
    expect(await vals(all)).toEqual([-2]);
    const rows = min(x, 1, true);
    expect(rows.shape).toEqual([2, 1]);
    expect(await vals(rows)).toEqual([1, -2]);
    const cols = min(x, [0]);
    expect(await vals(cols)).toEqual([-2, 1, 1]);
    rows.sum().backward();
    expect(await vals(x.grad!)).toEqual([0, 0.5, 0.5, 1, 0, 0]);
    const xi = tensor([[2147483647, -2147483648, 0], [7, 7, -1]], i32);
    const mi = min(xi, 1);
    expect(mi.dtype).toBe('int32');
    expect(await vals(mi)).toEqual([-2147483648, -1]);
    expect(await vals(min(xi, 0))).toEqual([7, -2147483648, -1]);
    expect(await vals(min(tensor([2147483647, 2147483646], i32)))).toEqual([2147483646]);
    dispose([x, all, rows, cols, xi, mi]);
  });
});

describe('maxDim and minDim', () => {
  it('refusals name the op, the axis and the shape', () => {
    const e = zeros([2, 0], f64);
    const x = zeros([2, 3], f64);
    expectErrorSync(() => maxDim(bad(2), 0), /^maxDim: input must be a Tensor, got number$/);
    expectErrorSync(() => maxDim(x, bad(undefined)), /^maxDim: axis must be an integer, got undefined$/);
    expectErrorSync(() => minDim(x, bad('1')), /^minDim: axis must be an integer, got 1$/);
    expectErrorSync(() => maxDim(e, 1), /^maxDim: cannot reduce over the empty dimension 1 of shape \[2, 0\]$/);
    expectErrorSync(() => minDim(e, -1), /^minDim: cannot reduce over the empty dimension 1 of shape \[2, 0\]$/);
    dispose([e, x]);
  });

  it('return values and first indices; the gradient goes to the returned index only', async () => {
    const x = tensor([[3, 7, 7], [9, 1, 1]], f64).requiresGrad_(true);
    const mx = maxDim(x, 1);
    expect(mx.values.shape).toEqual([2]);
    expect(await vals(mx.values)).toEqual([7, 9]);
    expect(await vals(mx.indices)).toEqual([1, 0]);
    const mn = minDim(x, 1, true);
    expect(mn.values.shape).toEqual([2, 1]);
    expect(mn.indices.shape).toEqual([2, 1]);
    expect(await vals(mn.values)).toEqual([3, 1]);
    expect(await vals(mn.indices)).toEqual([0, 1]);
    const m0 = minDim(x, 0);
    expect(await vals(m0.values)).toEqual([3, 1, 1]);
    expect(await vals(m0.indices)).toEqual([0, 1, 1]);
    mx.values.sum().backward();
    expect(await vals(x.grad!)).toEqual([0, 1, 0, 1, 0, 0]);
    const s = maxDim(tensor(4, f64), 0);
    expect(s.values.shape).toEqual([]);
    expect(await vals(s.values)).toEqual([4]);
    expect(await vals(s.indices)).toEqual([0]);
    const sk = minDim(tensor(4, f64), -1, true);
    expect(sk.values.shape).toEqual([]);
    dispose([x, mx.values, mx.indices, mn.values, mn.indices, m0.values, m0.indices, s.values, s.indices, sk.values, sk.indices]);
  });
});

describe('indexSelect and gather', () => {
  it('refusals name the op and the argument', () => {
    const x = zeros([2, 3], f64);
    const s = tensor(1, f64);
    const fi = tensor([0], f64);
    const i1 = tensor([0, 1], i32);
    const i2 = tensor([[0]], i32);
    const g = tensor([[0, 1]], i32);
    expectErrorSync(() => indexSelect(bad(1), 0, i1), /^indexSelect: input must be a Tensor, got number$/);
    expectErrorSync(() => indexSelect(x, 0, bad(null)), /^indexSelect: index must be a Tensor, got null$/);
    expectErrorSync(() => indexSelect(x, 0, fi), /^indexSelect: index must be an int32 tensor, got float64$/);
    expectErrorSync(() => indexSelect(s, 0, i1), /^indexSelect: input must have rank >= 1, got a scalar$/);
    expectErrorSync(() => indexSelect(x, 0, i2), /^indexSelect: index must be 1-D, got shape \[1, 1\]$/);
    expectErrorSync(() => indexSelect(x, 2, i1), /^indexSelect: axis 2 is out of range for a tensor of rank 2/);
    expectErrorSync(() => gather(bad('x'), 0, g), /^gather: input must be a Tensor, got string$/);
    expectErrorSync(() => gather(x, 0, bad(2)), /^gather: index must be a Tensor, got number$/);
    expectErrorSync(() => gather(x, 0, fi), /^gather: index must be an int32 tensor, got float64$/);
    expectErrorSync(() => gather(s, 0, i1), /^gather: input must have rank >= 1, got a scalar$/);
    expectErrorSync(() => gather(x, 1, i1), /^gather: index must have the input's shape \[2, 3\] except on axis 1, got \[2\]$/);
    expectErrorSync(() => gather(x, 0, g), /^gather: index must have the input's shape \[2, 3\] except on axis 0, got \[1, 2\]$/);
    expectErrorSync(() => gather(x, -1, i2), /^gather: index must have the input's shape \[2, 3\] except on axis 1, got \[1, 1\]$/);
    dispose([x, s, fi, i1, i2, g]);
  });

  it('select along any axis with repeats; gradients add up per index', async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], f64).requiresGrad_(true);
    const cols = indexSelect(x, 1, tensor([2, 0, 2], i32));
    expect(cols.shape).toEqual([2, 3]);
    expect(await vals(cols)).toEqual([3, 1, 3, 6, 4, 6]);
    const rows = indexSelect(x, -2, tensor([1], i32));
    expect(rows.shape).toEqual([1, 3]);
    expect(await vals(rows)).toEqual([4, 5, 6]);
    cols.backward(tensor([[1, 2, 3], [4, 5, 6]], f64));
    expect(await vals(x.grad!)).toEqual([2, 0, 4, 5, 0, 10]);
    const none = indexSelect(x, 0, tensor([], i32));
    expect(none.shape).toEqual([0, 3]);
    dispose([x, cols, rows, none]);
  });

  it('gather follows torch.gather along either axis, index shape giving the output shape', async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], f64).requiresGrad_(true);
    const g1 = gather(x, 1, tensor([[2, 2, 0, 1], [0, 1, 1, 1]], i32));
    expect(g1.shape).toEqual([2, 4]);
    expect(await vals(g1)).toEqual([3, 3, 1, 2, 4, 5, 5, 5]);
    const g0 = gather(x, 0, tensor([[1, 0, 1]], i32));
    expect(g0.shape).toEqual([1, 3]);
    expect(await vals(g0)).toEqual([4, 2, 6]);
    g1.sum().backward();
    expect(await vals(x.grad!)).toEqual([1, 1, 2, 1, 3, 0]);
    dispose([x, g1, g0]);
  });
});
