/**
 * randomShift, and the join, shape, index, matmul and linear ops, where the other suites leave a
 * gap: the exact offsets drawn (rows from the seed, columns from seed + 1, both from the global
 * stream in that order without one), every refusal's full message and its boundary, and the
 * edges the mutation-testing survivors pointed at (`npm run mutate`). CPU, float32/float64.
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { manualSeed, memory, rand, tensor } from '../src/index.js';
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
    dispose([empty, x, out]);
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
