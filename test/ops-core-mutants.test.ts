/**
 * The elementwise and reduction ops (src/ops/binary.ts, unary.ts, reduce.ts) where the op suites
 * leave a gap: every refusal's message (op, argument, what was expected), the scalar forms and
 * their int32 rules, lt/le naming themselves, gradients against closed forms (broadcast operands
 * summed back, ties split as PyTorch does, bounds that pass the gradient), and the reductions'
 * axis handling (negative axes, keepdim, repeated axes, scalars, empty dimensions). CPU, float64.
 * Written from the mutation-testing survivors (`npm run mutate`).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import type { Tensor } from '../src/tensor.js';
import * as wg from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import { sumTo } from '../src/ops/reduce.js';
import { bad, f32, f64, i32, vals } from './helpers/cpu-tensors.js';

const live = () => {
  const m = wg.memory();
  return [m.liveTensors, m.liveStorages, m.liveBytes];
};

/** d(sum(w * f(x)))/dx for leaves xs: the gradient of f weighted by w (a non-uniform dy). */
async function grads(xs: Tensor[], f: (...xs: Tensor[]) => Tensor, w?: number[]): Promise<number[][]> {
  const y = f(...xs);
  const weights = w === undefined ? null : wg.tensor(w, f64).reshape(y.shape);
  const weighted = weights ? y.mul(weights) : y;
  const loss = weighted.sum();
  loss.backward();
  const out = await Promise.all(xs.map((x) => vals(x.grad!)));
  dispose([y, weighted, loss, ...(weights ? [weights] : []), ...xs.map((x) => x.grad!)]);
  return out;
}

const leaf = (v: Parameters<typeof wg.tensor>[0], dtype = f64) => wg.tensor(v, dtype).requiresGrad_(true);

describe('binary ops: refusals', () => {
  it('two numbers are refused by every binary op, named as called', () => {
    const ops = { add: wg.add, sub: wg.sub, mul: wg.mul, div: wg.div, maximum: wg.maximum, minimum: wg.minimum, eq: wg.eq, gt: wg.gt, ge: wg.ge, lt: wg.lt, le: wg.le };
    for (const [name, f] of Object.entries(ops)) {
      expectErrorSync(() => f(bad(1), bad(2)), new RegExp(`^${name}: at least one argument must be a Tensor$`));
    }
  });

  it('a non-tensor operand is named a or b (tensor-tensor form) or input (scalar form)', () => {
    const x = wg.tensor([1, 2], f64);
    for (const [name, f] of [['add', wg.add], ['sub', wg.sub], ['mul', wg.mul], ['div', wg.div], ['maximum', wg.maximum], ['minimum', wg.minimum], ['eq', wg.eq], ['gt', wg.gt], ['ge', wg.ge], ['lt', wg.lt], ['le', wg.le]] as const) {
      expectErrorSync(() => f(x, bad(null)), new RegExp(`^${name}: b must be a Tensor, got null$`));
      expectErrorSync(() => f(bad('x'), x), new RegExp(`^${name}: a must be a Tensor, got string$`));
    }
    for (const [name, f] of [['add', wg.add], ['sub', wg.sub], ['mul', wg.mul], ['div', wg.div], ['eq', wg.eq], ['gt', wg.gt], ['lt', wg.lt]] as const) {
      expectErrorSync(() => f(bad('x'), 1), new RegExp(`^${name}: input must be a Tensor, got string$`));
    }
    // sub and the comparisons check a tensor on the right of a number too
    for (const [name, f] of [['sub', wg.sub], ['div', wg.div], ['ge', wg.ge], ['le', wg.le]] as const) {
      expectErrorSync(() => f(1, bad(undefined)), new RegExp(`^${name}: (input|b|a) must be a Tensor, got undefined$`));
    }
    dispose(x);
  });

  it('a scalar must be finite, and an integer for an int32 tensor', () => {
    const x = wg.tensor([1, 2], f64);
    const n = wg.tensor([1, 2], i32);
    for (const [name, f] of [['add', wg.add], ['sub', wg.sub], ['mul', wg.mul], ['div', wg.div], ['eq', wg.eq], ['gt', wg.gt], ['ge', wg.ge], ['lt', wg.lt], ['le', wg.le]] as const) {
      // div(number, tensor) used to skip these checks (a TypeError for a missing tensor, -1.5 accepted for an int32 tensor)
      expectErrorSync(() => f(x, NaN), new RegExp(`^${name}: scalar must be a finite number, got NaN$`));
      expectErrorSync(() => f(Infinity, x), new RegExp(`^${name}: scalar must be a finite number, got Infinity$`));
      expectErrorSync(() => f(n, 0.5), new RegExp(`^${name}: an int32 tensor needs an integer scalar, got 0.5$`));
      expectErrorSync(() => f(-1.5, n), new RegExp(`^${name}: an int32 tensor needs an integer scalar, got -1.5$`));
    }
    for (const [name, f] of [['maximum', wg.maximum], ['minimum', wg.minimum]] as const) {
      expectErrorSync(() => f(x, NaN), new RegExp(`^${name}: scalar must be a finite number, got NaN$`));
      expectErrorSync(() => f(-Infinity, x), new RegExp(`^${name}: scalar must be a finite number, got -Infinity$`));
      expectErrorSync(() => f(n, 0.5), new RegExp(`^${name}: an int32 tensor needs an integer scalar, got 0.5$`));
      expectErrorSync(() => f(0.5, n), new RegExp(`^${name}: an int32 tensor needs an integer scalar, got 0.5$`));
    }
    dispose([x, n]);
  });

  it('mixed dtypes and unbroadcastable shapes name the op and both operands in order', () => {
    const a = wg.tensor([1, 2], f64);
    const b = wg.tensor([1, 2], f32);
    const c = wg.tensor([1, 2, 3], f64);
    for (const [name, f] of [['add', wg.add], ['mul', wg.mul], ['maximum', wg.maximum], ['eq', wg.eq], ['lt', wg.lt], ['le', wg.le]] as const) {
      expectErrorSync(() => f(a, b), new RegExp(`^${name}: dtype mismatch: float64 and float32; convert one with \\.cast\\('float64'\\)$`));
      expectErrorSync(() => f(a, c), new RegExp(`^${name}: shapes \\[2\\] and \\[3\\] cannot be broadcast together`));
    }
    dispose([a, b, c]);
  });
});

describe('binary ops: values', () => {
  it('scalar forms on either side (number - tensor, number / tensor, comparisons)', async () => {
    const x = wg.tensor([1, -2, 0, 4], f64);
    expect(await vals(wg.sub(5, x))).toEqual([4, 7, 5, 1]);
    expect(await vals(wg.sub(x, 5))).toEqual([-4, -7, -5, -1]);
    expect(await vals(wg.add(5, x))).toEqual([6, 3, 5, 9]);
    expect(await vals(wg.mul(-2, x))).toEqual([-2, 4, -0, -8]);
    expect(await vals(wg.div(8, x))).toEqual([8, -4, Infinity, 2]);
    expect(await vals(wg.div(x, 4))).toEqual([0.25, -0.5, 0, 1]);
    expect(await vals(wg.div(x, 0))).toEqual([Infinity, -Infinity, NaN, Infinity]);
    expect(await vals(wg.div(x, -0))).toEqual([-Infinity, Infinity, NaN, -Infinity]);
    expect(await vals(wg.maximum(x, 0))).toEqual([1, 0, 0, 4]);
    expect(await vals(wg.maximum(0, x))).toEqual([1, 0, 0, 4]);
    expect(await vals(wg.minimum(x, 0))).toEqual([0, -2, 0, 0]);
    expect(await vals(wg.minimum(0, x))).toEqual([0, -2, 0, 0]);
    expect(await vals(wg.lt(x, 0))).toEqual([0, 1, 0, 0]);
    expect(await vals(wg.lt(0, x))).toEqual([1, 0, 0, 1]);
    expect(await vals(wg.le(x, 0))).toEqual([0, 1, 1, 0]);
    expect(await vals(wg.le(0, x))).toEqual([1, 0, 1, 1]);
    expect(await vals(wg.gt(x, 0))).toEqual([1, 0, 0, 1]);
    expect(await vals(wg.gt(0, x))).toEqual([0, 1, 0, 0]);
    expect(await vals(wg.ge(x, 0))).toEqual([1, 0, 1, 1]);
    expect(await vals(wg.ge(0, x))).toEqual([0, 1, 1, 0]);
    expect(await vals(wg.eq(x, 0))).toEqual([0, 0, 1, 0]);
    expect(await vals(wg.eq(0, x))).toEqual([0, 0, 1, 0]);
    const y = wg.tensor([[1], [-2]], f64);
    // lt/le with tensors on both sides, broadcast: [2,1] vs [4] -> [2,4]
    const l = wg.lt(y, x);
    expect(l.shape).toEqual([2, 4]);
    expect(await vals(l)).toEqual([0, 0, 0, 1, 1, 0, 1, 1]);
    expect(await vals(wg.le(x, y))).toEqual([1, 1, 1, 0, 0, 1, 0, 0]);
    expect(wg.lt(x, 0).dtype).toBe('float64');
  });

  it('int32 scalar forms: truncating division, division by zero gives 0, extrema', async () => {
    const n = wg.tensor([7, -7, 0], i32);
    const d = wg.div(n, 2);
    expect(d.dtype).toBe('int32');
    expect(await vals(d)).toEqual([3, -3, 0]);
    expect(await vals(wg.div(n, 0))).toEqual([0, 0, 0]);
    expect(await vals(wg.div(14, n))).toEqual([2, -2, 0]);
    expect(await vals(wg.sub(2, n))).toEqual([-5, 9, 2]);
    expect(await vals(wg.maximum(n, 1))).toEqual([7, 1, 1]);
    expect(await vals(wg.minimum(1, n))).toEqual([1, -7, 0]);
  });

  it('the scalar operands leave nothing behind', () => {
    const x = wg.tensor([1, 2], f64);
    const before = wg.memory().liveTensors;
    const outs = [wg.div(x, 0), wg.div(3, x), wg.lt(1, x), wg.ge(x, 1), wg.eq(x, 2)];
    expect(wg.memory().liveTensors).toBe(before + outs.length);
    dispose([...outs, x]);
  });
});

describe('binary ops: gradients', () => {
  it('add and sub sum a broadcast gradient back to each operand; sub negates the second', async () => {
    const w = [1, 2, 3, 4, 5, 6];
    expect(await grads([leaf([[1, 2, 3], [4, 5, 6]]), leaf([10, 20, 30])], (a, b) => wg.add(a, b), w)).toEqual([w, [5, 7, 9]]);
    expect(await grads([leaf([[1, 2, 3], [4, 5, 6]]), leaf([[10], [20]])], (a, b) => wg.sub(a, b), w)).toEqual([w, [-6, -15]]);
    expect(await grads([leaf([10]), leaf([[1, 2, 3], [4, 5, 6]])], (a, b) => wg.sub(a, b), w)).toEqual([[21], w.map((v) => -v)]);
  });

  it('mul and div: closed forms, broadcast', async () => {
    const w = [1, 2, 3, 4];
    // d(a*b)/da = b, d(a*b)/db = a
    expect(await grads([leaf([[1, 2], [3, 4]]), leaf([5, -6])], (a, b) => wg.mul(a, b), w)).toEqual([[5, -12, 15, -24], [1 + 9, 4 + 16]]);
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b²
    const [ga, gb] = await grads([leaf([[1, 2], [3, 4]]), leaf([2, -4])], (a, b) => wg.div(a, b), w);
    expect(ga).toEqual([0.5, -0.5, 1.5, -1]);
    expect(gb).toEqual([-(1 * 1 + 3 * 3) / 4, -(2 * 2 + 4 * 4) / 16]);
  });

  it('maximum and minimum: the winner takes the gradient, a tie splits it in half (torch)', async () => {
    const w = [1, 2, 4];
    expect(await grads([leaf([1, 5, 3]), leaf([2, 4, 3])], (a, b) => wg.maximum(a, b), w)).toEqual([[0, 2, 2], [1, 0, 2]]);
    expect(await grads([leaf([1, 5, 3]), leaf([2, 4, 3])], (a, b) => wg.minimum(a, b), w)).toEqual([[1, 0, 2], [0, 2, 2]]);
    // broadcast: b [1] competes with every element of a
    expect(await grads([leaf([1, 3, 5]), leaf([3])], (a, b) => wg.maximum(a, b), w)).toEqual([[0, 1, 4], [1 + 1]]);
    expect(await grads([leaf([1, 3, 5]), leaf([3])], (a, b) => wg.minimum(a, b), w)).toEqual([[1, 1, 0], [1 + 4]]);
    // scalar bound (maxScalar / minScalar): ties pass the whole gradient, as torch.clamp
    expect(await grads([leaf([1, 3, 5])], (a) => wg.maximum(a, 3), w)).toEqual([[0, 2, 4]]);
    expect(await grads([leaf([1, 3, 5])], (a) => wg.minimum(3, a), w)).toEqual([[1, 2, 0]]);
  });

  it('only the operand that requires grad gets one', async () => {
    const a = leaf([1, 2]);
    const b = wg.tensor([3, 4], f64);
    for (const f of [wg.add, wg.sub, wg.mul, wg.div, wg.maximum, wg.minimum]) {
      const y = f(b, a).sum();
      y.backward();
      expect(a.grad).not.toBeNull();
      expect(b.grad).toBeNull();
      dispose([y, a.grad!]);
      a.grad = null;
    }
    dispose([a, b]);
  });

  it('comparisons are not recorded', () => {
    const a = leaf([1, 2]);
    for (const f of [wg.eq, wg.gt, wg.ge, wg.lt, wg.le]) {
      const y = f(a, 1);
      expect(y.requiresGrad).toBe(false);
      dispose(y);
    }
    dispose(a);
  });
});

describe('unary ops', () => {
  it('refusals: not a tensor, int32 where a float is needed, non-finite or non-integer parameters', () => {
    const n = wg.tensor([1, -2], i32);
    const x = wg.tensor([1, -2], f64);
    for (const [name, f] of [['exp', wg.exp], ['log', wg.log], ['sqrt', wg.sqrt], ['sigmoid', wg.sigmoid], ['tanh', wg.tanh], ['reciprocal', wg.reciprocal]] as const) {
      expectErrorSync(() => f(bad(3)), new RegExp(`^${name}: input must be a Tensor, got number$`));
      expectErrorSync(() => f(n), new RegExp(`^${name}: input must be a floating-point tensor, got int32$`));
    }
    expectErrorSync(() => wg.leakyRelu(x, NaN), /^leakyRelu: negativeSlope must be a finite number, got NaN$/);
    expectErrorSync(() => wg.pow(x, Infinity), /^pow: exponent must be a finite number, got Infinity$/);
    expectErrorSync(() => wg.gelu(x, bad('erf')), /^gelu: approximate must be 'none' or 'tanh', got 'erf'$/);
    expectErrorSync(() => wg.clamp(x, null, null), /^clamp: at least one of min and max must be given$/);
    expectErrorSync(() => wg.clamp(x, NaN, 1), /^clamp: min must be a finite number, got NaN$/);
    expectErrorSync(() => wg.clamp(x, 0, -Infinity), /^clamp: max must be a finite number, got -Infinity$/);
    expectErrorSync(() => wg.clamp(x, null, NaN), /^clamp: max must be a finite number, got NaN$/);
    expectErrorSync(() => wg.clamp(x, 3, 1), /^clamp: min \(3\) must not exceed max \(1\)$/);
    expectErrorSync(() => wg.clamp(n, 0.5, null), /^clamp: an int32 tensor needs an integer scalar, got 0.5$/);
    dispose([n, x]);
  });

  it('int32 ops that allow integers: neg, abs, sign, clamp, scalar arithmetic', async () => {
    const n = wg.tensor([3, -2, 0], i32);
    expect(await vals(wg.neg(n))).toEqual([-3, 2, 0]);
    expect(await vals(wg.abs(n))).toEqual([3, 2, 0]);
    expect(await vals(wg.sign(n))).toEqual([1, -1, 0]);
    expect(await vals(wg.clamp(n, -1, 1))).toEqual([1, -1, 0]);
    expect(await vals(wg.clamp(n, 0, null))).toEqual([3, 0, 0]);
    expect(await vals(wg.clamp(n, null, 0))).toEqual([0, -2, 0]);
  });

  it('values: gelu exact and tanh forms, the default leakyRelu slope, pow', async () => {
    const x = wg.tensor([1, -2, 0], f64);
    // torch.nn.functional.gelu(x) and gelu(x, approximate='tanh'), float64
    const exact = await vals(wg.gelu(x));
    const approx = await vals(wg.gelu(x, 'tanh'));
    expect(exact[0]).toBeCloseTo(0.8413447460685429, 14);
    expect(exact[1]).toBeCloseTo(-0.04550026389635842, 14);
    expect(approx[0]).toBeCloseTo(0.8411919906082768, 14);
    expect(approx[1]).toBeCloseTo(-0.04540230591222493, 14);
    expect(await vals(wg.gelu(x, 'none'))).toEqual(exact);
    expect(await vals(wg.leakyRelu(x))).toEqual([1, -0.02, 0]);
    expect(await vals(wg.leakyRelu(x, 0.5))).toEqual([1, -1, 0]);
    expect(await vals(wg.pow(x, 2))).toEqual([1, 4, 0]);
    expect(await vals(wg.pow(x, 3))).toEqual([1, -8, 0]);
    expect(await vals(wg.clamp(x, -1, 0.5))).toEqual([0.5, -1, 0]);
  });

  it('gradients against closed forms', async () => {
    const w = [1, 2];
    const g = async (v: number[], f: (x: Tensor) => Tensor) => (await grads([leaf(v)], f, w))[0]!;
    expect(await g([1, -2], wg.neg)).toEqual([-1, -2]);
    expect(await g([0, Math.log(2)], wg.exp)).toEqual([1, 4]);
    expect(await g([2, -4], wg.log)).toEqual([0.5, -0.5]);
    expect(await g([4, 16], wg.sqrt)).toEqual([0.25, 0.25]);
    expect(await g([3, -2], wg.abs)).toEqual([1, -2]);
    expect(await g([3, -2], wg.square)).toEqual([6, -8]);
    expect(await g([2, -4], wg.reciprocal)).toEqual([-0.25, -2 / 16]);
    expect(await g([2, -1], (x) => wg.pow(x, 3))).toEqual([12, 6]);
    expect(await g([2, -1], (x) => wg.pow(x, 2))).toEqual([4, -4]);
    expect(await g([4, 9], (x) => wg.pow(x, 0.5))).toEqual([0.25, 2 / 6]);
    expect(await g([2, -1], (x) => wg.add(x, 3))).toEqual([1, 2]);
    expect(await g([2, -1], (x) => wg.sub(x, 3))).toEqual([1, 2]);
    expect(await g([2, -1], (x) => wg.sub(3, x))).toEqual([-1, -2]);
    expect(await g([2, -1], (x) => wg.mul(x, -3))).toEqual([-3, -6]);
    expect(await g([2, -1], (x) => wg.div(x, 4))).toEqual([0.25, 0.5]);
    // clamp: gradient where the bound did not bite, ties pass it
    expect(await g([0, 5], (x) => wg.clamp(x, 0, 1))).toEqual([1, 0]);
    expect(await g([1, -5], (x) => wg.clamp(x, 0, 1))).toEqual([1, 0]);
    expect(await g([1, 5], (x) => wg.clamp(x, null, 1))).toEqual([1, 0]);
    expect(await g([-1, 5], (x) => wg.clamp(x, 0, null))).toEqual([0, 2]);
    // activations (fused backward kernels)
    expect(await g([2, -3], wg.relu)).toEqual([1, 0]);
    expect(await g([2, -3], (x) => wg.leakyRelu(x, 0.25))).toEqual([1, 0.5]);
    expect(await g([0, 0], wg.sigmoid)).toEqual([0.25, 0.5]);
    expect(await g([0, 0], wg.tanh)).toEqual([1, 2]);
  });

  it('sign and isNonFinite are not recorded; other ops are', async () => {
    const x = leaf([1, -2]);
    const s = wg.sign(x);
    const nf = wg.isNonFinite(x);
    expect(s.requiresGrad).toBe(false);
    expect(nf.requiresGrad).toBe(false);
    expect(await vals(s)).toEqual([1, -1]);
    expect(await vals(nf)).toEqual([0, 0]);
    const e = wg.exp(x);
    expect(e.requiresGrad).toBe(true);
    dispose([s, nf, e, x]);
  });

  it('clamp with both bounds leaves only its result alive; with one bound, one tensor', () => {
    const x = wg.tensor([1, -2], f64);
    const before = wg.memory().liveTensors;
    const both = wg.clamp(x, 0, 0.5);
    expect(wg.memory().liveTensors).toBe(before + 1);
    const upper = wg.clamp(x, null, 0.5);
    expect(wg.memory().liveTensors).toBe(before + 2);
    expect(upper).not.toBe(x);
    expect(x.isDisposed).toBe(false); // only clamp's own intermediate is disposed, never the input
    const lower = wg.clamp(x, 0, null);
    expect(x.isDisposed).toBe(false);
    dispose(lower);
    dispose([both, upper, x]);
  });
});

describe('reductions', () => {
  it('refusals name the op and what was wrong', () => {
    const x = wg.zeros([2, 3], f64);
    const e = wg.zeros([2, 0], f64);
    const n = wg.tensor([1, 2], i32);
    expectErrorSync(() => wg.sum(x, [1, -1]), /^sum: axis \[1,-1\] names a dimension twice$/);
    expectErrorSync(() => wg.mean(x, [0, 0]), /^mean: axis \[0,0\] names a dimension twice$/);
    expectErrorSync(() => wg.max(x, [-2, 0]), /^max: axis \[-2,0\] names a dimension twice$/);
    expectErrorSync(() => wg.sum(x, 2), /^sum: axis 2 is out of range for a tensor of rank 2/);
    expectErrorSync(() => wg.max(x, -3), /^max: axis -3 is out of range for a tensor of rank 2/);
    expectErrorSync(() => wg.mean(e, 1), /^mean: cannot average over an empty dimension \(shape \[2, 0\]\)$/);
    expectErrorSync(() => wg.mean(e), /^mean: cannot average over an empty dimension \(shape \[2, 0\]\)$/);
    expectErrorSync(() => wg.max(e), /^max: cannot take the max over an empty dimension \(shape \[2, 0\]\)$/);
    expectErrorSync(() => wg.max(e, [0, 1]), /^max: cannot take the max over an empty dimension/);
    expectErrorSync(() => wg.mean(n), /^mean: input must be a floating-point tensor, got int32$/);
    expectErrorSync(() => wg.sum(bad([1])), /^sum: input must be a Tensor, got object$/);
    expectErrorSync(() => wg.mean(bad(null)), /^mean: input must be a Tensor, got null$/);
    expectErrorSync(() => wg.max(bad(1)), /^max: input must be a Tensor, got number$/);
    dispose([x, e, n]);
  });

  it('an empty dimension that is not reduced is fine; sum over an empty one gives 0', async () => {
    const e = wg.zeros([2, 0], f64);
    const m = wg.max(e, 0);
    expect(m.shape).toEqual([0]);
    const me = wg.mean(e, 0, true);
    expect(me.shape).toEqual([1, 0]);
    expect(await vals(wg.sum(e, 1))).toEqual([0, 0]);
    expect(await vals(wg.sum(e))).toEqual([0]);
  });

  it('axes: negative, several, keepdim, none (a copy), a scalar', async () => {
    const x = wg.tensor([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]], f64); // [2, 2, 3]
    const s = wg.sum(x, [-1, 0]);
    expect(s.shape).toEqual([2]);
    expect(await vals(s)).toEqual([1 + 2 + 3 + 7 + 8 + 9, 4 + 5 + 6 + 10 + 11 + 12]);
    const sk = wg.sum(x, [0, -1], true);
    expect(sk.shape).toEqual([1, 2, 1]);
    expect(await vals(sk)).toEqual([30, 48]);
    expect(wg.sum(x, 1).shape).toEqual([2, 3]);
    expect(await vals(wg.sum(x, 1))).toEqual([5, 7, 9, 17, 19, 21]);
    expect(wg.sum(x).shape).toEqual([]);
    expect(wg.sum(x, undefined, true).shape).toEqual([1, 1, 1]);
    expect(await vals(wg.sum(x))).toEqual([78]);
    const m = wg.mean(x, [2, 1], true);
    expect(m.shape).toEqual([2, 1, 1]);
    expect(await vals(m)).toEqual([3.5, 9.5]);
    expect(await vals(wg.mean(x, -2))).toEqual([2.5, 3.5, 4.5, 8.5, 9.5, 10.5]);
    const mx = wg.max(x, [0, 2]);
    expect(mx.shape).toEqual([2]);
    expect(await vals(mx)).toEqual([9, 12]);
    expect(wg.max(x, -1, true).shape).toEqual([2, 2, 1]);
    expect(await vals(wg.max(x, 1))).toEqual([4, 5, 6, 10, 11, 12]);
    // no axes: a copy with the same shape and values, independent of the input
    const c = wg.sum(x, []);
    expect(c.shape).toEqual([2, 2, 3]);
    expect(await vals(c)).toEqual(await vals(x));
    expect(c).not.toBe(x);
    const cm = wg.max(x, [], true);
    expect(cm.shape).toEqual([2, 2, 3]);
    // a scalar reduced over axis 0 or -1 (its implicit axis) is itself
    const t = wg.tensor(5, f64);
    for (const a of [0, -1, [0], undefined] as const) {
      const r = wg.sum(t, a as never);
      expect(r.shape).toEqual([]);
      expect(await vals(r)).toEqual([5]);
    }
    expect(await vals(wg.max(t, 0))).toEqual([5]);
    expect(await vals(wg.mean(t, 0, true))).toEqual([5]);
  });

  it('results own their storage: the input stays usable, a copy survives it, nothing else is left alive', async () => {
    const x = wg.tensor([[1, 5, 2], [4, 3, 6]], f64);
    const before = live();
    const outs = [wg.sum(x, [0, 1]), wg.sum(x, 1, true), wg.mean(x, [1, 0]), wg.mean(x, 0, true), wg.max(x, [0, 1]), wg.max(x, 1), wg.max(x, -1, true)];
    expect(live()[0]).toBe(before[0] + outs.length);
    expect(live()[1]).toBe(before[1] + outs.length);
    expect(await vals(x)).toEqual([1, 5, 2, 4, 3, 6]);
    expect(await Promise.all(outs.map(vals))).toEqual([[21], [8, 13], [3.5], [2.5, 4, 4], [6], [5, 6], [5, 6]]);
    dispose(outs);
    const copy = wg.sum(x, []);
    const maxCopy = wg.max(x, [], true);
    dispose(x);
    expect(await vals(copy)).toEqual([1, 5, 2, 4, 3, 6]);
    expect(await vals(maxCopy)).toEqual([1, 5, 2, 4, 3, 6]);
    dispose([copy, maxCopy]);
    expect(live()).toEqual([before[0] - 1, before[1] - 1, before[2] - 48]);
  });

  it('sumTo (the broadcast gradient reduction): a view when the shape already matches, a refusal for a larger rank', async () => {
    const g = wg.tensor([[1, 2, 3], [4, 5, 6]], f64);
    const same = sumTo(g, [2, 3]);
    expect(await vals(same)).toEqual([1, 2, 3, 4, 5, 6]);
    const rows = sumTo(g, [2, 1]);
    expect(rows.shape).toEqual([2, 1]);
    expect(await vals(rows)).toEqual([6, 15]);
    const lead = sumTo(g, [1, 3]);
    expect(await vals(lead)).toEqual([5, 7, 9]);
    const scalar = sumTo(g, []);
    expect(scalar.shape).toEqual([]);
    expect(await vals(scalar)).toEqual([21]);
    const g4 = wg.ones([2, 1, 3, 1], f64);
    const r = sumTo(g4, [1, 3, 1]);
    expect(r.shape).toEqual([1, 3, 1]);
    expect(await vals(r)).toEqual([2, 2, 2]);
    expectErrorSync(() => sumTo(g, [1, 2, 3]), /^sumTo: cannot reduce shape \[2, 3\] to the larger rank of \[1, 2, 3\]$/);
    dispose([g, same, rows, lead, scalar, g4, r]);
  });

  it('gradients: sum expands, mean divides by the count, max splits ties evenly (torch.amax)', async () => {
    const w = [1, 2, 3, 4, 5, 6];
    const x = () => leaf([[1, 3, 3], [2, 2, 2]]);
    expect(await grads([x()], (t) => wg.sum(t, 1), [10, 20])).toEqual([[10, 10, 10, 20, 20, 20]]);
    expect(await grads([x()], (t) => wg.sum(t, 0, true), [1, 2, 3])).toEqual([[1, 2, 3, 1, 2, 3]]);
    expect(await grads([x()], (t) => wg.mean(t, -1), [3, 6])).toEqual([[1, 1, 1, 2, 2, 2]]);
    expect(await grads([x()], (t) => wg.mean(t))).toEqual([w.map(() => 1 / 6)]);
    expect(await grads([x()], (t) => wg.max(t, 1), [6, 3])).toEqual([[0, 3, 3, 1, 1, 1]]);
    expect(await grads([x()], (t) => wg.max(t, 0, true), [1, 2, 3])).toEqual([[0, 2, 3, 1, 0, 0]]);
    expect(await grads([x()], (t) => wg.max(t))).toEqual([[0, 0.5, 0.5, 0, 0, 0]]);
    // several axes with a kept axis between them: ties are counted per output element only
    const y = leaf([[[1, 4], [4, 0]], [[2, 2], [2, 1]]]); // [2, 2, 2]
    expect(await grads([y], (t) => wg.max(t, [0, 2]), [6, 12])).toEqual([[0, 6, 12, 0, 0, 0, 0, 0]]);
    const z = leaf([[[1, 4], [4, 2]], [[2, 2], [4, 1]]]);
    expect(await grads([z], (t) => wg.max(t, [0, 2]), [6, 12])).toEqual([[0, 6, 6, 0, 0, 0, 6, 0]]);
    // a reduced axis of size 1 next to a real one
    const u = leaf([[[5, 5, 1]]]); // [1, 1, 3]
    expect(await grads([u], (t) => wg.max(t, [0, 2]), [4])).toEqual([[2, 2, 0]]);
  });
});

describe('each op names itself (in argument errors and to the numerics guard)', () => {
  afterEach(() => wg.setNumericsCheck(false));

  it('unary ops and their wrappers name themselves when the input is not a tensor', () => {
    const cases: [string, (x: Tensor) => Tensor][] = [
      ['neg', wg.neg], ['abs', wg.abs], ['square', wg.square], ['sign', wg.sign], ['relu6', wg.relu6], ['softplus', wg.softplus],
      ['isNonFinite', wg.isNonFinite], ['leakyRelu', (x) => wg.leakyRelu(x)], ['gelu', (x) => wg.gelu(x)], ['gelu', (x) => wg.gelu(x, 'tanh')],
      ['pow', (x) => wg.pow(x, 2)], ['pow', (x) => wg.pow(x, 3)], ['clamp', (x) => wg.clamp(x, null, 1)], ['clamp', (x) => wg.clamp(x, 0, null)],
    ];
    for (const [name, f] of cases) expectErrorSync(() => f(bad('t')), new RegExp(`^${name}: input must be a Tensor, got string$`));
  });

  it('the numerics guard names the op that made a non-finite result, scalar forms and reductions included', async () => {
    const x = wg.tensor([NaN, 1], f64); // made before the guard is on
    const cases: [string, () => Tensor][] = [
      ['add', () => wg.add(x, 1)], ['add', () => wg.add(1, x)], ['sub', () => wg.sub(x, 1)], ['sub', () => wg.sub(1, x)],
      ['mul', () => wg.mul(x, 2)], ['div', () => wg.div(x, 2)], ['div', () => wg.div(x, 0)], ['maximum', () => wg.maximum(x, 0)],
      ['minimum', () => wg.minimum(x, 0)], ['clamp', () => wg.clamp(x, null, 0)], ['clamp', () => wg.clamp(x, -1, 0)],
      ['pow', () => wg.pow(x, 2)], ['pow', () => wg.pow(x, 3)], ['neg', () => wg.neg(x)], ['relu6', () => wg.relu6(x)],
      ['softplus', () => wg.softplus(x)], ['leakyRelu', () => wg.leakyRelu(x)], ['gelu', () => wg.gelu(x)],
      ['sum', () => wg.sum(x)], ['sum', () => wg.sum(x, 0, true)], ['max', () => wg.max(x)], ['max', () => wg.max(x, 0, true)],
    ];
    for (const [name, f] of cases) {
      wg.setNumericsCheck(true);
      const y = f();
      const offender = await wg.checkNumerics();
      wg.setNumericsCheck(false);
      expect(offender?.op, name).toBe(name);
      // div by 0 runs the tensor division with a one-element tensor holding the 0
      expect(offender!.inputShapes, name).toEqual(f === cases[6]![1] ? [[2], []] : [[2]]);
      dispose(y);
    }
    dispose(x);
  });

  it('gradient rules name their op: sub\'s negation, an activation\'s fused backward', async () => {
    const dy = wg.tensor([NaN, 1], f64);
    for (const [name, make] of [
      ['sub', (a: Tensor) => wg.sub(wg.tensor([1, 2], f64), a)],
      ['relu (backward)', (a: Tensor) => wg.relu(a)],
      ['sigmoid (backward)', (a: Tensor) => wg.sigmoid(a)],
    ] as const) {
      const a = leaf([1, 2]);
      const y = make(a);
      wg.setNumericsCheck(true);
      y.backward(dy);
      const offender = await wg.checkNumerics();
      wg.setNumericsCheck(false);
      expect(offender?.op, name).toBe(name);
      dispose([a, y]);
    }
    dispose(dy);
  });
});

describe('reductions: storage handling', () => {
  it('mean drops the reduced axes unless keepdim is given', () => {
    const x = wg.ones([2, 3], f64);
    expect(wg.mean(x, 1).shape).toEqual([2]);
    expect(wg.mean(x).shape).toEqual([]);
    expect(wg.mean(x, 0, true).shape).toEqual([1, 3]);
  });

  it('a reduction over several axes releases each intermediate and copies only when no axis is reduced', async () => {
    const x = wg.tensor([[1, 5, 2], [4, 3, 6]], f64);
    const backend = x.backend;
    const release = vi.spyOn(backend, 'release');
    const strided = vi.spyOn(backend, 'strided');
    try {
      const two = wg.sum(x, [0, 1]); // two kernel runs: the first result is released after the second
      expect(release).toHaveBeenCalledTimes(1);
      expect(strided).not.toHaveBeenCalled();
      const one = wg.max(x, 1); // one kernel run: nothing to release
      expect(release).toHaveBeenCalledTimes(1);
      const none = wg.sum(x, []); // no axes: one copy
      expect(strided).toHaveBeenCalledTimes(1);
      expect(release).toHaveBeenCalledTimes(1);
      expect(await vals(two)).toEqual([21]);
      expect(await vals(one)).toEqual([5, 6]);
      expect(await vals(none)).toEqual([1, 5, 2, 4, 3, 6]);
      dispose([two, one, none]);
    } finally {
      release.mockRestore();
      strided.mockRestore();
    }
    dispose(x);
  });
});
