/**
 * Tensor creation (tensor, full, arange, rand/randn streams, manualSeed, cast) and the shared
 * argument checks (src/ops/checks.ts) where the suites leave a gap: every refusal's full message,
 * the int32 range's exact edges, dtype inference, and the global random stream's offsets across
 * uniform and normal draws. The two backend-mismatch messages use a second CPU backend registered
 * for the test (a stand-in for a replaced or a different device). Written from the
 * mutation-testing survivors (`npm run mutate`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { add, arange, full, manualSeed, ones, onesLike, rand, randn, tensor, where, zeros, zerosLike } from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import { engine } from '../src/engine.js';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend } from '../src/backend/types.js';
import { castTo, drawPosition } from '../src/ops/creation.js';
import { checkDType, checkFiniteNumber, checkInt32Values, checkShapeArg, checkTensor, INT32_MAX, INT32_MIN } from '../src/ops/checks.js';
import { bad, f64, i32, vals } from './helpers/cpu-tensors.js';

const DTYPES = "expected one of 'float32', 'float64', 'int32', 'float16'";

describe('tensor()', () => {
  it('refuses ragged or non-numeric data, naming the path and the inferred shape', () => {
    expectErrorSync(() => tensor(bad([[1, 2], [3]])), /^tensor: ragged nested array: data\[1\] should be an array of length 2 \(inferred shape \[2, 2\]\)$/);
    expectErrorSync(() => tensor(bad([[1, 2], 3])), /^tensor: ragged nested array: data\[1\] should be an array of length 2 \(inferred shape \[2, 2\]\)$/);
    expectErrorSync(() => tensor(bad([[1, 'a']])), /^tensor: expected a number at data\[0\]\[1\], got string$/);
    expectErrorSync(() => tensor(bad([1, [2]])), /^tensor: expected a number at data\[1\], got an array$/);
    expectErrorSync(() => tensor(bad(null)), /^tensor: expected a number at data, got object$/);
    expectErrorSync(() => tensor([1, 2], { shape: [3] }), /^tensor: shape \[3\] holds 3 elements but the data has 2$/);
    expectErrorSync(() => tensor(new Float32Array(4), { shape: [3] }), /^tensor: shape \[3\] holds 3 elements but the data has 4$/);
    expectErrorSync(() => tensor([1, 2], { shape: [-1, -2] }), /^tensor: shape must be a list of non-negative integers, got \[-1, -2\]$/);
    expectErrorSync(() => tensor([1], { dtype: bad('int8') }), new RegExp(`^tensor: unknown dtype 'int8'; ${DTYPES}$`));
    expectErrorSync(() => tensor([1.5, 2 ** 31], i32), /^tensor: value 2147483648 at index 1 cannot be stored as int32 \(integers in \[-2147483648, 2147483647\]; NaN and Infinity have no int32 value\)$/);
    expectErrorSync(() => tensor([1], { requiresGrad: true, dtype: 'int32' }), /requires|grad/i);
  });

  it('infers the shape and dtype; a typed array keeps its dtype; shape overrides', async () => {
    const s = tensor(3);
    expect(s.shape).toEqual([]);
    expect(s.dtype).toBe('float32');
    const n = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(n.shape).toEqual([2, 3]);
    const r = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2], dtype: 'float64' });
    expect(r.shape).toEqual([3, 2]);
    expect(await vals(r)).toEqual([1, 2, 3, 4, 5, 6]);
    const ti = tensor(new Int32Array([1, 2]));
    expect(ti.dtype).toBe('int32');
    expect(ti.shape).toEqual([2]);
    const td = tensor(new Float64Array([0.1, 2]), { shape: [2, 1] });
    expect(td.dtype).toBe('float64');
    expect(td.shape).toEqual([2, 1]);
    expect(await vals(td)).toEqual([0.1, 2]);
    expect(tensor(new Float32Array([1])).dtype).toBe('float32');
    const e = tensor([]);
    expect(e.shape).toEqual([0]);
    const trunc = tensor([2.9, -2.9, -(2 ** 31), 2 ** 31 - 0.5], i32);
    expect(await vals(trunc)).toEqual([2, -2, -(2 ** 31), 2 ** 31 - 1]);
    const g = tensor([1, 2], { ...f64, requiresGrad: true });
    expect(g.requiresGrad).toBe(true);
    expect(tensor([1], f64).requiresGrad).toBe(false);
    dispose([s, n, r, ti, td, e, trunc, g]);
  });
});

describe('full, zeros, ones and the like-constructors', () => {
  it('refusals name the op and the argument', () => {
    expectErrorSync(() => full(bad(3), 1), /^full: shape must be an array of non-negative integers \(e\.g\. \[3\]\), got 3$/);
    expectErrorSync(() => zeros(bad(null)), /^full: shape must be an array of non-negative integers \(e\.g\. \[3\]\), got null$/);
    expectErrorSync(() => ones(bad('2')), /^full: shape must be an array of non-negative integers \(e\.g\. \[3\]\), got string$/);
    expectErrorSync(() => full([2 ** 53, 2], 0), /^full: shape \[9007199254740992, 2\] holds more than 2\^53 elements$/);
    expectErrorSync(() => full([2], bad(null)), /^full: value must be a number, got null$/);
    expectErrorSync(() => full([2], bad('1')), /^full: value must be a number, got string$/);
    expectErrorSync(() => full([2], 1, { dtype: bad(5) }), new RegExp(`^full: unknown dtype 5; ${DTYPES}$`));
    expectErrorSync(() => full([2], NaN, { dtype: 'int32' }), /^full: value NaN at index 0 cannot be stored as int32/);
    expectErrorSync(() => full([2], 1, { device: bad('tpu') }), /^device must be one of 'cpu', 'webgpu', got 'tpu'$/);
  });

  it('fill with the value in the requested dtype; the like-forms copy dtype and shape', async () => {
    const a = full([2, 2], 2.5);
    expect(a.dtype).toBe('float32');
    expect(await vals(a)).toEqual([2.5, 2.5, 2.5, 2.5]);
    const b = full([3], -7, i32);
    expect(b.dtype).toBe('int32');
    expect(await vals(b)).toEqual([-7, -7, -7]);
    const z = zerosLike(b);
    expect([z.dtype, z.shape, await vals(z)]).toEqual(['int32', [3], [0, 0, 0]]);
    const o = onesLike(tensor([[1], [2]], f64));
    expect([o.dtype, o.shape, await vals(o)]).toEqual(['float64', [2, 1], [1, 1]]);
    const g = ones([1], { ...f64, requiresGrad: true });
    expect(g.requiresGrad).toBe(true);
    dispose([a, b, z, o, g]);
  });
});

describe('arange', () => {
  it('refusals name the argument', () => {
    expectErrorSync(() => arange(NaN), /^arange: stop must be a finite number, got NaN$/);
    expectErrorSync(() => arange(bad('1'), 3), /^arange: start must be a finite number, got 1$/);
    expectErrorSync(() => arange(Infinity, 3), /^arange: start must be a finite number, got Infinity$/);
    expectErrorSync(() => arange(0, bad('3')), /^arange: stop must be a finite number, got 3$/);
    expectErrorSync(() => arange(0, -Infinity), /^arange: stop must be a finite number, got -Infinity$/);
    expectErrorSync(() => arange(0, 3, 0), /^arange: step must be a finite non-zero number, got 0$/);
    expectErrorSync(() => arange(0, 3, bad('1')), /^arange: step must be a finite non-zero number, got 1$/);
    expectErrorSync(() => arange(0, 3, NaN), /^arange: step must be a finite non-zero number, got NaN$/);
    expectErrorSync(() => arange(0, 2 ** 32), /^arange: \[0, 4294967296\) in steps of 1 would hold 4294967296 values, more than a tensor can$/);
    expectErrorSync(() => arange(0, 1e300, 2), /^arange: \[0, 1e\+300\) in steps of 2 would hold 5e\+299 values, more than a tensor can$/);
    expectErrorSync(() => arange(0, 2 ** 33, 2), /^arange: \[0, 8589934592\) in steps of 2 would hold 4294967296 values/);
    expectErrorSync(() => arange(0, 3, 1, { dtype: bad('x') }), new RegExp(`^arange: unknown dtype 'x'; ${DTYPES}$`));
  });

  it('counts ceil((stop − start)/step) values; integers give int32, fractions float32', async () => {
    const cases: [Tensor, string, number[]][] = [
      [arange(4), 'int32', [0, 1, 2, 3]],
      [arange(2, 5), 'int32', [2, 3, 4]],
      [arange(5, 2), 'int32', []],
      [arange(5, 0, -2), 'int32', [5, 3, 1]],
      [arange(0, 1, 0.25), 'float32', [0, 0.25, 0.5, 0.75]],
      [arange(0.5, 2), 'float32', [0.5, 1.5]],
      [arange(0, 2.5), 'float32', [0, 1, 2]],
      [arange(0, 3, 1, f64), 'float64', [0, 1, 2]],
    ];
    for (const [t, dtype, expected] of cases) {
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([expected.length]);
      expect(await vals(t)).toEqual(expected);
    }
    dispose(cases.map((c) => c[0]));
  });
});

describe('random streams', () => {
  afterEach(() => manualSeed(0));

  it('refusals name the op and the argument', () => {
    expectErrorSync(() => rand([2], { seed: -1 }), /^random: seed must be an integer in \[0, 2\^53\), got -1$/);
    expectErrorSync(() => randn([2], { seed: 0.5 }), /^random: seed must be an integer in \[0, 2\^53\), got 0\.5$/);
    expectErrorSync(() => rand([2], { seed: 2 ** 53 }), /^random: seed must be an integer in \[0, 2\^53\), got 9007199254740992$/);
    expectErrorSync(() => rand([2], i32), /^rand: dtype must be float32 or float64$/);
    expectErrorSync(() => randn([2], i32), /^randn: dtype must be float32 or float64$/);
    expectErrorSync(() => randn([2], { dtype: bad('f') }), new RegExp(`^randn: unknown dtype 'f'; ${DTYPES}$`));
    expectErrorSync(() => rand(bad(2)), /^rand: shape must be an array of non-negative integers \(e\.g\. \[2\]\), got 2$/);
    expectErrorSync(() => manualSeed(-1), /^manualSeed: seed must be an integer in \[0, 2\^53\), got -1$/);
    expectErrorSync(() => manualSeed(1.5), /^manualSeed: seed must be an integer in \[0, 2\^53\), got 1\.5$/);
    expectErrorSync(() => manualSeed(2 ** 53), /^manualSeed: seed must be an integer in \[0, 2\^53\), got 9007199254740992$/);
  });

  it('accepts the seed range\'s edges', () => {
    expect(drawPosition('uniform', 3, 0)).toEqual({ seed: 0, offset: 0 });
    expect(drawPosition('normal', 3, 2 ** 53 - 1)).toEqual({ seed: 2 ** 53 - 1, offset: 0 });
    manualSeed(2 ** 53 - 1);
    expect(engine.seed).toBe(2 ** 53 - 1);
  });

  it('global draws continue one stream: uniform words one per value, normal values two words each', async () => {
    manualSeed(7);
    engine.randomOffset = 5; // manualSeed restarts the stream
    manualSeed(7);
    expect(engine.randomOffset).toBe(0);
    const u1 = rand([3], f64);
    expect(engine.randomOffset).toBe(3);
    const n1 = randn([2], f64); // starts at value ceil(3/2) = 2 of the normal stream
    expect(engine.randomOffset).toBe(8);
    const u2 = rand([1], f64);
    expect(engine.randomOffset).toBe(9);
    const n2 = randn([1], f64); // ceil(9/2) = 5
    expect(engine.randomOffset).toBe(12);
    const u = await vals(rand([9], { ...f64, seed: 7 }));
    const n = await vals(randn([6], { ...f64, seed: 7 }));
    expect(await vals(u1)).toEqual(u.slice(0, 3));
    expect(await vals(n1)).toEqual(n.slice(2, 4));
    expect(await vals(u2)).toEqual(u.slice(8, 9));
    expect(await vals(n2)).toEqual(n.slice(5, 6));
    // An explicit seed leaves the global stream where it was.
    rand([4], { seed: 1 });
    expect(engine.randomOffset).toBe(12);
    expect(drawPosition('uniform', 2, undefined)).toEqual({ seed: 7, offset: 12 });
    expect(drawPosition('normal', 1, undefined)).toEqual({ seed: 7, offset: 7 });
    expect(engine.randomOffset).toBe(16);
    dispose([u1, n1, u2, n2]);
  });
});

describe('castTo', () => {
  it('refuses unknown dtypes and an integer cast that would cut the graph', async () => {
    const x = tensor([1.7, -1.7], { ...f64, requiresGrad: true });
    expectErrorSync(() => castTo(x, bad('u8')), new RegExp(`^cast: unknown dtype 'u8'; ${DTYPES}$`));
    expectErrorSync(() => castTo(x, 'int32'), /^cast: casting a tensor that requires grad to an integer dtype would cut the graph; detach\(\) it first$/);
    const f = castTo(x, 'float32');
    expect(f.dtype).toBe('float32');
    const plain = tensor([1.7, -1.7], f64);
    const i = castTo(plain, 'int32');
    expect(await vals(i)).toEqual([1, -1]);
    dispose([x, f, plain, i]);
  });
});

describe('shared checks', () => {
  it('checkTensor, checkDType, checkShapeArg, checkFiniteNumber and checkInt32Values name op and argument', () => {
    expectErrorSync(() => checkTensor('op', 'arg', null), /^op: arg must be a Tensor, got null$/);
    expectErrorSync(() => checkTensor('op', 'arg', { shape: [1] }), /^op: arg must be a Tensor, got object$/);
    expectErrorSync(() => checkTensor('op', 'arg', { _storage: () => null }), /^op: arg must be a Tensor, got object$/);
    expectErrorSync(() => checkTensor('op', 'arg', 'x'), /^op: arg must be a Tensor, got string$/);
    const t = tensor([1], f64);
    t.dispose();
    expectErrorSync(() => checkTensor('myop', 'arg', t), /^myop: tensor #\d+ \(shape \[1\]\) was disposed and cannot be used$/);
    expectErrorSync(() => checkDType('op', undefined), new RegExp(`^op: unknown dtype undefined; ${DTYPES}$`));
    for (const d of ['float32', 'float64', 'int32', 'float16']) checkDType('op', d);
    expectErrorSync(() => checkShapeArg('op', 'dims', 4), /^op: dims must be an array of non-negative integers \(e\.g\. \[4\]\), got 4$/);
    expectErrorSync(() => checkShapeArg('op', 'dims', undefined), /^op: dims must be an array of non-negative integers \(e\.g\. \[3\]\), got undefined$/);
    expectErrorSync(() => checkShapeArg('op', 'dims', [2 ** 27, 2 ** 27]), /^op: dims \[134217728, 134217728\] holds more than 2\^53 elements$/);
    checkShapeArg('op', 'dims', [2 ** 26, 2 ** 26]); // 2^52 elements: still exact
    expectErrorSync(() => checkFiniteNumber('op', 'v', bad('1')), /^op: v must be a finite number, got 1$/);
    expectErrorSync(() => checkFiniteNumber('op', 'v', -Infinity), /^op: v must be a finite number, got -Infinity$/);
    checkFiniteNumber('op', 'v', -1e300);
    expect([INT32_MIN, INT32_MAX]).toEqual([-2147483648, 2147483647]);
    checkInt32Values('op', [INT32_MIN, INT32_MAX, INT32_MAX + 0.999, -0.5]);
    expectErrorSync(() => checkInt32Values('op', [0, INT32_MIN - 1]), /^op: value -2147483649 at index 1 cannot be stored as int32/);
    expectErrorSync(() => checkInt32Values('op', [INT32_MAX + 1]), /^op: value 2147483648 at index 0 cannot be stored as int32/);
    expectErrorSync(() => checkInt32Values('op', [1, 2, Infinity]), /^op: value Infinity at index 2 cannot be stored as int32/);
  });

  it('a tensor from a replaced device, or from another device, is refused with its remedy', () => {
    const original = engine.backends.get('cpu')!;
    const x = tensor([1, 2], f64);
    let stale: Tensor | undefined;
    let other: Tensor | undefined;
    try {
      engine.backends.set('cpu', new CpuBackend());
      stale = tensor([1, 2], f64);
      const second = new CpuBackend();
      Object.defineProperty(second, 'name', { value: 'webgpu' });
      engine.backends.set('webgpu', second as unknown as Backend);
      other = tensor([1, 2], { dtype: 'float64', device: 'webgpu' });
      const s = stale;
      const o = other;
      expectErrorSync(() => add(x, s), /^add: one tensor belongs to an earlier 'cpu' device that has since been replaced \(by init\(\) after a device loss\); recreate it, or reload it from a checkpoint$/);
      expectErrorSync(() => add(x, o), /^add: tensors live on different backends \('cpu' and 'webgpu'\); move one with `await t\.to\('cpu'\)`$/);
      expectErrorSync(() => where(o, x, x), /^where: tensors live on different backends \('webgpu' and 'cpu'\); move one with `await t\.to\('webgpu'\)`$/);
      expectErrorSync(() => where(x, x, o), /^where: tensors live on different backends \('cpu' and 'webgpu'\)/);
    } finally {
      dispose([stale, other]);
      engine.backends.set('cpu', original);
      engine.backends.delete('webgpu');
      x.dispose();
    }
  });
});
