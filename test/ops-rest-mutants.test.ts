/**
 * randomShift, and the join, shape, index, matmul and linear ops, where the other suites leave a
 * gap: the exact offsets drawn (rows from the seed, columns from seed + 1, both from the global
 * stream in that order without one), every refusal's full message and its boundary, and the
 * edges the mutation-testing survivors pointed at (`npm run mutate`). CPU, float32/float64.
 */
import { describe, expect, it, vi } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { amp, linear, manualSeed, matmul, memory, minDim, rand, tensor, transpose, zeros } from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { randomShift } from '../src/ops/augment.js';
import { engine } from '../src/engine.js';
import { dispose } from '../src/lifetime.js';

const f32 = { dtype: 'float32' as const, device: 'cpu' as const };
const f64 = { dtype: 'float64' as const, device: 'cpu' as const };
const bad = (v: unknown) => v as never;
const vals = async (t: Tensor): Promise<number[]> => Array.from(await t.data());

/** Images whose values are distinct and non-zero (i + 1), shaped [b, c, h, w]. */
const images = (b: number, c: number, h: number, w: number, opts: typeof f32 | typeof f64 = f32): Tensor =>
  tensor(Array.from({ length: b * c * h * w }, (_, i) => i + 1), { ...opts, shape: [b, c, h, w] });

/** out[b, c, i, j] = x[b, c, i + dy_b, j + dx_b], 0 outside: the definition, written as a loop. */
function shifted(x: number[], shape: readonly number[], dx: number[], dy: number[]): number[] {
  const [b, c, h, w] = shape as [number, number, number, number];
  const out: number[] = [];
  for (let n = 0; n < b; n++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const si = i + dy[n]!;
          const sj = j + dx[n]!;
          out.push(si >= 0 && si < h && sj >= 0 && sj < w ? x[((n * c + ch) * h + si) * w + sj]! : 0);
        }
      }
    }
  }
  return out;
}

/** floor(u·(2s+1)) − s for each u of a [b, 1, 1, 1] draw, rounded as the dtype rounds the product. */
async function expectedOffsets(u: Tensor, s: number): Promise<number[]> {
  const round = u.dtype === 'float32' ? Math.fround : (v: number): number => v;
  return (await vals(u)).map((v) => Math.trunc(round(v * (2 * s + 1))) - s);
}

describe('randomShift: the offsets drawn', () => {
  it('rows take floor(u·(2s+1)) − s from the seed\'s stream, columns from seed + 1; non-square images', async () => {
    for (const opts of [f32, f64]) {
      const [b, c, h, w, s] = [24, 2, 5, 7, 3];
      const x = images(b, c, h, w, opts);
      const uRows = rand([b, 1, 1, 1], { ...opts, seed: 41 });
      const uCols = rand([b, 1, 1, 1], { ...opts, seed: 42 });
      const dy = await expectedOffsets(uRows, s);
      const dx = await expectedOffsets(uCols, s);
      // The draw reaches both ends and moves rows and columns differently, so swaps and sign flips show.
      expect(Math.min(...dy)).toBe(-s);
      expect(Math.max(...dx)).toBe(s);
      expect(dx).not.toEqual(dy);
      const out = randomShift(x, s, { seed: 41 });
      expect(out.shape).toEqual([b, c, h, w]);
      expect(out.dtype).toBe(opts.dtype);
      expect(await vals(out)).toEqual(shifted(await vals(x), x.shape, dx, dy));
      dispose([x, uRows, uCols, out]);
    }
  });

  it('without a seed: two draws from the global stream, rows first, and the stream advances by both', async () => {
    const [b, c, h, w, s] = [16, 1, 6, 4, 2];
    manualSeed(123);
    const uRows = rand([b, 1, 1, 1], f32);
    const uCols = rand([b, 1, 1, 1], f32);
    const after = engine.randomOffset;
    const dy = await expectedOffsets(uRows, s);
    const dx = await expectedOffsets(uCols, s);
    expect(dx).not.toEqual(dy);
    const x = images(b, c, h, w);
    manualSeed(123);
    const out = randomShift(x, s);
    expect(engine.randomOffset).toBe(after);
    expect(await vals(out)).toEqual(shifted(await vals(x), x.shape, dx, dy));
    dispose([uRows, uCols, x, out]);
  });

  it('an empty batch is returned as is and draws nothing; one row or column of shift room is allowed', async () => {
    manualSeed(9);
    const before = engine.randomOffset;
    const empty = images(0, 2, 4, 4);
    expect(randomShift(empty, 2)).toBe(empty);
    expect(engine.randomOffset).toBe(before);
    // maxShift = min(h, w) − 1 is the largest accepted: on 4×6 images, 3.
    const x = images(3, 1, 4, 6);
    const live = memory().liveTensors;
    const out = randomShift(x, 3, { seed: 2 ** 53 - 2 });
    expect(memory().liveTensors).toBe(live + 1);
    expect(out.shape).toEqual([3, 1, 4, 6]);
    // Seed 0 is a seed like any other.
    const zero = randomShift(x, 1, { seed: 0 });
    expect(zero.shape).toEqual([3, 1, 4, 6]);
    dispose([empty, x, out, zero]);
  });

  it('refusals name randomShift, the argument and the allowed range', () => {
    const x = images(2, 1, 4, 6);
    const xi = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2], dtype: 'int32', device: 'cpu' });
    const r5 = tensor([1, 2], { ...f32, shape: [1, 1, 1, 1, 2] });
    expectErrorSync(() => randomShift(bad(3), 1), /^randomShift: input must be a Tensor, got number$/);
    expectErrorSync(() => randomShift(xi, 1), /^randomShift: input must be a floating-point tensor, got int32$/);
    expectErrorSync(() => randomShift(r5, 1), /^randomShift: input must be \[B, C, H, W\], got \[1, 1, 1, 1, 2\]$/);
    expectErrorSync(() => randomShift(x, 4), /^randomShift: maxShift must be an integer in \[0, 4\) for 4×6 images, got 4$/);
    expectErrorSync(() => randomShift(x, -1), /^randomShift: maxShift must be an integer in \[0, 4\) for 4×6 images, got -1$/);
    expectErrorSync(() => randomShift(x, 0.5), /^randomShift: maxShift must be an integer in \[0, 4\) for 4×6 images, got 0\.5$/);
    expectErrorSync(() => randomShift(x, bad('1')), /^randomShift: maxShift must be an integer in \[0, 4\) for 4×6 images, got 1$/);
    expectErrorSync(() => randomShift(x, 1, { seed: 1.5 }), /^randomShift: seed must be an integer in \[0, 2\^53 − 1\), got 1\.5$/);
    expectErrorSync(() => randomShift(x, 1, { seed: -1 }), /^randomShift: seed must be an integer in \[0, 2\^53 − 1\), got -1$/);
    expectErrorSync(() => randomShift(x, 1, { seed: 2 ** 53 - 1 }), /^randomShift: seed must be an integer in \[0, 2\^53 − 1\), got 9007199254740991$/);
    // The seed is checked even when nothing is drawn.
    expectErrorSync(() => randomShift(x, 0, { seed: -1 }), /^randomShift: seed must be an integer/);
    dispose([x, xi, r5]);
  });
});

describe('linear: the edges of its checks', () => {
  it('takes a 1-D input as one row; negativeSlope is checked for leakyRelu only', async () => {
    const x = tensor([1, -2, 3], f64);
    const w = tensor([[1, 0, 1], [0.5, 1, -1]], f64);
    const b = tensor([0.25, 1], f64);
    const y = linear(x, w, b);
    expect(y.shape).toEqual([2]);
    expect(await vals(y)).toEqual([4.25, -3.5]);
    const r = linear(x, w, b, { activation: 'relu', negativeSlope: 0 });
    expect(await vals(r)).toEqual([4.25, 0]);
    const n = linear(x, w, null, { negativeSlope: -1 });
    expect(await vals(n)).toEqual([4, -4.5]);
    dispose([x, w, b, y, r, n]);
  });

  it('under autocast a float64 weight is not cast: a float32 input is refused as a dtype mismatch, and a float64 input is not cast either', () => {
    const x = zeros([2, 3], f32);
    const w = zeros([4, 3], f64);
    expectErrorSync(() => amp.autocast(() => linear(x, w)), /^linear: dtype mismatch: float32 and float64/);
    // Nor is a float64 input cast down for a float32 weight.
    const x64 = zeros([2, 3], f64);
    const w32 = zeros([4, 3], f32);
    expectErrorSync(() => amp.autocast(() => linear(x64, w32)), /^linear: dtype mismatch: float64 and float32/);
    dispose([x, w, x64, w32]);
  });
});

describe('matmul: which operands are materialised', () => {
  it('a batch of size 1 or the result\'s own batch shape is read in place; only a partly broadcast batch is copied', async () => {
    const a1 = tensor(Array.from({ length: 6 }, (_, i) => i), { ...f64, shape: [1, 2, 3] });
    const a3 = tensor(Array.from({ length: 18 }, (_, i) => i - 4), { ...f64, shape: [3, 2, 3] });
    const a21 = tensor(Array.from({ length: 12 }, (_, i) => 2 * i), { ...f64, shape: [2, 1, 2, 3] });
    const b3 = tensor(Array.from({ length: 36 }, (_, i) => (i % 5) - 2), { ...f64, shape: [3, 3, 4] });
    const strided = vi.spyOn(a1.backend, 'strided');
    try {
      const y1 = matmul(a1, b3);
      const y3 = matmul(a3, b3);
      expect(strided).not.toHaveBeenCalled();
      const y21 = matmul(a21, b3);
      expect(strided).toHaveBeenCalledTimes(2); // a [2, 1] and b [3] against the batch [2, 3]: both copied
      expect(y1.shape).toEqual([3, 2, 4]);
      expect(y3.shape).toEqual([3, 2, 4]);
      expect(y21.shape).toEqual([2, 3, 2, 4]);
      dispose([y1, y3, y21]);
    } finally {
      strided.mockRestore();
    }
    dispose([a1, a3, a21, b3]);
  });
});

describe('shape and index ops: argument names and defaults', () => {
  it('transpose names a bad first axis; minDim drops the axis by default', async () => {
    const x = tensor([[3, 1, 2], [0, 5, -1]], f64);
    expectErrorSync(() => transpose(x, 2, 0), /^transpose: axis 2 is out of range for a tensor of rank 2/);
    const m = minDim(x, 1);
    expect(m.values.shape).toEqual([2]);
    expect(m.indices.shape).toEqual([2]);
    expect(await vals(m.values)).toEqual([1, -1]);
    expect(await vals(m.indices)).toEqual([1, 2]);
    dispose([x, m.values, m.indices]);
  });
});
