/**
 * Issue 10, items 5 and 6: every bad argument is a WebgradError at the call, with nothing changed
 * and nothing leaked (expectError asserts memory() unchanged), and error paths inside backward and
 * the losses release what they made.
 */
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { getBackend } from '../src/engine.js';
import type { BackendName } from '../src/backend/types.js';
import { describeEachBackend, webgpuAvailability, requireWebGPU } from './helpers/backends.js';
import { expectError } from './helpers/expect-error.js';

describeEachBackend('API arguments are checked at the call', (device: BackendName) => {
  const opts = { device };

  it('backward(gradient) refuses a gradient of another dtype, and leaves .grad untouched', async () => {
    const x = wg.ones([3], opts).requiresGrad_();
    const y = x.mul(2);
    const g = wg.tensor([1, 2, 3], { dtype: 'int32', device });
    await expectError(() => y.backward(g), [/^backward:/, /dtype int32/, /float32/, /cast\('float32'\)/], { device });
    expect(x.grad).toBeNull();
    // The graph was not consumed by the refused call: a correct gradient still works.
    const ok = wg.tensor([1, 2, 3], opts);
    y.backward(ok);
    expect(x.grad!.dtype).toBe('float32');
    expect(Array.from(await x.grad!.data())).toEqual([2, 4, 6]);
    wg.dispose([x, y, g, ok]);
  });

  it('backward(gradient) refuses a disposed gradient', async () => {
    const x = wg.ones([2], opts).requiresGrad_();
    const y = x.mul(2);
    const g = wg.ones([2], opts);
    g.dispose();
    await expectError(() => y.backward(g), [/^backward:/, /disposed/]);
    expect(x.grad).toBeNull();
    wg.dispose([x, y]);
  });

  it('int32 tensors refuse values outside the int32 range, NaN and Infinity (no silent wrap or zero)', async () => {
    await expectError(() => wg.tensor([1, 2 ** 31], { dtype: 'int32', device }), [/^tensor:/, /2147483648 at index 1/, /int32/]);
    await expectError(() => wg.tensor([-(2 ** 31) - 1], { dtype: 'int32', device }), [/-2147483649/]);
    await expectError(() => wg.tensor([0, NaN], { dtype: 'int32', device }), [/NaN at index 1/]);
    await expectError(() => wg.tensor(Float32Array.from([Infinity]), { dtype: 'int32', device }), [/Infinity at index 0/]);
    await expectError(() => wg.full([2], 2 ** 40, { dtype: 'int32', device }), [/^full:/, /1099511627776/]);
    await expectError(() => wg.full([2], NaN, { dtype: 'int32', device }), [/^full:/, /NaN/]);
    // The extremes themselves are fine, and fractions truncate toward zero as in PyTorch.
    const t = wg.tensor([-(2 ** 31), 2 ** 31 - 1, -2.7], { dtype: 'int32', device });
    expect(Array.from(await t.data())).toEqual([-(2 ** 31), 2 ** 31 - 1, -2]);
    t.dispose();
  });

  it('full() with a value that is not a number', async () => {
    await expectError(() => wg.full([2], '1' as unknown as number, opts), [/^full:/, /value must be a number/, /string/]);
    await expectError(() => wg.full([2], null as unknown as number, opts), [/^full:/, /null/]);
  });

  it('arange with NaN or infinite bounds', async () => {
    await expectError(() => wg.arange(0, Infinity, 1, opts), [/^arange:/, /stop must be a finite number/, /Infinity/]);
    await expectError(() => wg.arange(NaN, 3, 1, opts), [/^arange:/, /start/, /NaN/]);
    await expectError(() => wg.arange(-Infinity, opts as unknown as number), [/^arange:/]);
    await expectError(() => wg.arange(0, 1, NaN, opts), [/^arange:/, /step/]);
  });

  it('unknown dtype strings name the dtype and the choices', async () => {
    const bad = 'bfloat16' as wg.DType;
    await expectError(() => wg.zeros([2], { dtype: bad, device }), [/^full:/, /unknown dtype 'bfloat16'/, /'float32', 'float64', 'int32'/]);
    await expectError(() => wg.tensor([1, 2], { dtype: bad, device }), [/^tensor:/, /unknown dtype 'bfloat16'/]);
    await expectError(() => wg.arange(0, 3, 1, { dtype: bad, device }), [/^arange:/, /bfloat16/]);
    await expectError(() => wg.rand([2], { dtype: bad, device }), [/^rand:/, /bfloat16/]);
    const x = wg.ones([2], opts);
    await expectError(() => x.cast(bad), [/^cast:/, /bfloat16/]);
    x.dispose();
  });

  it('a shape that is not an array (zeros(3)) or holds non-integers', async () => {
    await expectError(() => wg.zeros(3 as unknown as number[], opts), [/^full:/, /shape must be an array/, /\[3\]/]);
    await expectError(() => wg.ones('2' as unknown as number[], opts), [/^full:/, /shape must be an array/, /string/]);
    await expectError(() => wg.randn(5 as unknown as number[], opts), [/^randn:/, /array/]);
    const x = wg.ones([2, 3], opts);
    await expectError(() => x.reshape(6 as unknown as number[]), [/^reshape:/, /array/]);
    await expectError(() => x.expand(4 as unknown as number[]), [/^expand:/, /array/]);
    x.dispose();
  });

  it('permute with axes given as strings', async () => {
    const x = wg.ones([2, 3], opts);
    await expectError(() => x.permute(['1', '0'] as unknown as number[]), [/^permute:/, /perm must be an array of integer/, /"1"/]);
    await expectError(() => x.permute(1 as unknown as number[]), [/^permute:/, /perm must be an array/]);
    x.dispose();
  });

  it('batched matmul broadcast errors name both operand shapes', async () => {
    const a = wg.ones([2, 3, 4], opts);
    const b = wg.ones([5, 4, 2], opts);
    await expectError(() => wg.matmul(a, b), [/^matmul:/, /\[2, 3, 4\]/, /\[5, 4, 2\]/, /batch/], { device });
    wg.dispose([a, b]);
  });

  it('losses refuse a bad reduction before making anything (nothing leaks)', async () => {
    const logits = wg.ones([2, 3], opts);
    const labels = wg.tensor([0, 1], { dtype: 'int32', device });
    await expectError(() => wg.crossEntropy(logits, labels, 'avg' as never), [/^crossEntropy:/, /reduction/, /'avg'/]);
    const p = wg.ones([2, 3], opts);
    await expectError(() => wg.mse(p, logits, 'avg' as never), [/^mse:/, /reduction/]);
    const i = wg.ones([2, 3], { dtype: 'int32', device });
    await expectError(() => wg.mse(p, i), [/^mse:/, /int32/]);
    wg.dispose([logits, labels, p, i]);
  });
});

describe('CPU backend size limit', () => {
  it('a tensor too large for one typed array is a WebgradError naming the size and the limit', async () => {
    await expectError(() => wg.zeros([2 ** 33], { device: 'cpu' }), [/8589934592 elements/, /CPU backend/, /4294967295/], { device: 'cpu' });
    await expectError(() => wg.zeros([1e6, 1e6], { device: 'cpu' }), [/1000000000000 elements/]);
    await expectError(() => wg.zeros([2 ** 30, 2 ** 30, 2 ** 30], { device: 'cpu' }), [/^full:/, /2\^53/]);
  });
});

describeEachBackend('a backward that throws leaks nothing', (device: BackendName) => {
  it('a failing kernel inside backward releases the seed and every intermediate gradient', async () => {
    const x = wg.tensor([1, 2, 3], { device }).requiresGrad_();
    const y = wg.tidy(() => x.mul(2).exp().sum());
    const backend = getBackend(device);
    // exp's and mul's gradient rules multiply (a binary kernel): make every such kernel fail, so
    // the rule throws after the seed and sum's gradient were made.
    const realBinary = backend.binary.bind(backend);
    backend.binary = (() => {
      throw new wg.WebgradError('injected: kernel failure during backward');
    }) as typeof backend.binary;
    try {
      await expectError(() => y.backward({ retainGraph: true }), [/injected/]);
    } finally {
      backend.binary = realBinary;
    }
    expect(x.grad).toBeNull();
    y.backward();
    const got = Array.from(await x.grad!.data());
    [1, 2, 3].forEach((v, i) => expect(got[i]! / (2 * Math.exp(2 * v))).toBeCloseTo(1, 5));
    wg.dispose([x, y]);
  });
});

describe('GradientHealthMonitor', () => {
  it('record() with a probe batch leaves no tensor behind (dead-unit temporaries included)', async () => {
    const { GradientHealthMonitor } = await import('../src/train/health.js');
    const model = new wg.nn.Sequential(new wg.nn.Linear(4, 8), new wg.nn.ReLU(), new wg.nn.Linear(8, 8), new wg.nn.ReLU(), new wg.nn.Linear(8, 2));
    const monitor = new GradientHealthMonitor(model);
    const x = wg.randn([5, 4], { seed: 1 });
    const labels = wg.tensor([0, 1, 0, 1, 1], { dtype: 'int32' });
    const step = async (): Promise<void> => {
      wg.tidy(() => wg.crossEntropy(model.forward(x), labels).backward());
      monitor.snapshot();
      await monitor.record(1, x);
      for (const p of model.parameters()) {
        p.grad?.dispose();
        p.grad = null;
      }
    };
    await step();
    const before = wg.memory().liveTensors;
    for (let i = 0; i < 3; i++) await step();
    expect(wg.memory().liveTensors).toBe(before);
    monitor.dispose();
    model.dispose();
    wg.dispose([x, labels]);
  });
});

describe('backward(gradient) on another backend', () => {
  it('is refused naming both backends; .grad does not move device', async () => {
    const gpu = await webgpuAvailability();
    if (!gpu.available) {
      expect(requireWebGPU).toBe(false);
      return;
    }
    const x = wg.ones([3], { device: 'webgpu' }).requiresGrad_();
    const y = x.mul(2);
    const g = wg.ones([3], { device: 'cpu' });
    await expectError(() => y.backward(g), [/^backward:/, /gradient lives on 'cpu' but the tensor on 'webgpu'/, /\.to\('webgpu'\)/], { device: 'webgpu' });
    expect(x.grad).toBeNull();
    const ok = await g.to('webgpu');
    y.backward(ok);
    expect(x.grad!.device).toBe('webgpu');
    wg.dispose([x, y, g, ok]);
  });
});

describe('webgpu availability is explicit here', () => {
  it('reports whether the WebGPU blocks ran', async () => {
    const a = await webgpuAvailability();
    if (!a.available) expect(requireWebGPU).toBe(false);
    else expect(a.adapter).not.toBeNull();
  });
});
