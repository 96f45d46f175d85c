/**
 * softmax, logSoftmax, crossEntropy and mse where the op suites leave a gap: each refusal names the
 * op and the argument, empty inputs work, and mse refuses mixed dtypes. CPU, float64.
 * Written from the mutation-testing survivors (`npm run mutate`).
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { crossEntropy, logSoftmax, mse, softmax, tensor, zeros } from '../src/index.js';
import { dispose } from '../src/lifetime.js';

const f64 = { dtype: 'float64' as const, device: 'cpu' as const };
const i32 = { dtype: 'int32' as const, device: 'cpu' as const };
const bad = (v: unknown) => v as never;

describe('softmax and logSoftmax', () => {
  it('refusals name the op and the argument', () => {
    const ints = tensor([1, 2], i32);
    const scalar = tensor(1, f64);
    for (const [f, name] of [[softmax, 'softmax'], [logSoftmax, 'logSoftmax']] as const) {
      expectErrorSync(() => f(bad([1, 2])), new RegExp(`^${name}: input must be a Tensor, got object$`));
      expectErrorSync(() => f(ints), new RegExp(`^${name}: input must be a floating-point tensor, got int32$`));
      expectErrorSync(() => f(scalar), new RegExp(`^${name}: expected a tensor of rank >= 1, got a scalar$`));
    }
    dispose([ints, scalar]);
  });

  it('an empty last axis gives an empty result, forward and backward', async () => {
    for (const f of [softmax, logSoftmax]) {
      const x = zeros([2, 0], f64).requiresGrad_(true);
      const y = f(x);
      expect(y.shape).toEqual([2, 0]);
      y.sum().backward();
      expect(x.grad!.shape).toEqual([2, 0]);
      expect(Array.from(await x.grad!.data())).toEqual([]);
      dispose([x.grad!, x, y]);
    }
  });
});

describe('crossEntropy and mse refusals', () => {
  it('crossEntropy names logits and labels', () => {
    const logits = tensor([[1, 2]], f64);
    const ilogits = tensor([[1, 2]], i32);
    const labels = tensor([0], i32);
    const flabels = tensor([0], f64);
    expectErrorSync(() => crossEntropy(bad(null), labels), /^crossEntropy: logits must be a Tensor, got null$/);
    expectErrorSync(() => crossEntropy(logits, bad(0)), /^crossEntropy: labels must be a Tensor, got number$/);
    expectErrorSync(() => crossEntropy(ilogits, labels), /^crossEntropy: logits must be a floating-point tensor, got int32$/);
    expectErrorSync(() => crossEntropy(logits, flabels), /^crossEntropy: labels must be int32 class indices, got float64$/);
    dispose([logits, ilogits, labels, flabels]);
  });

  it('mse names prediction and target, and refuses mixed dtypes', () => {
    const a = tensor([1, 2], f64);
    const b32 = tensor([1, 2], { dtype: 'float32', device: 'cpu' });
    const ints = tensor([1, 2], i32);
    expectErrorSync(() => mse(bad(undefined), a), /^mse: prediction must be a Tensor, got undefined$/);
    expectErrorSync(() => mse(a, bad('t')), /^mse: target must be a Tensor, got string$/);
    expectErrorSync(() => mse(ints, ints), /^mse: prediction must be a floating-point tensor, got int32$/);
    expectErrorSync(() => mse(a, b32), /^mse: prediction is float64 but target is float32; convert one with \.cast\('float64'\)$/);
    dispose([a, b32, ints]);
  });
});
