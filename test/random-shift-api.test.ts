/**
 * randomShift through the public import (`webgrad`'s src/index.ts), as the README lists it: the
 * export is the op itself, and a seeded call translates each image by a whole-pixel offset within
 * ±maxShift, zero filled, reproducibly. (The op's own behaviour is covered by test/random-shift.)
 */
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { randomShift } from '../src/ops/augment.js';
import { expectErrorSync } from './helpers/expect-error.js';

/** The (dx, dy) within ±s that maps image `b` of x (values in `xv`) onto `ov`, or null. */
function offsetOf(xv: number[], ov: number[], b: number, c: number, h: number, w: number, s: number): [number, number] | null {
  for (let dy = -s; dy <= s; dy++) {
    for (let dx = -s; dx <= s; dx++) {
      let ok = true;
      for (let k = 0; k < c && ok; k++) {
        for (let i = 0; i < h && ok; i++) {
          for (let j = 0; j < w && ok; j++) {
            const si = i + dy;
            const sj = j + dx;
            const want = si >= 0 && si < h && sj >= 0 && sj < w ? xv[((b * c + k) * h + si) * w + sj]! : 0;
            ok = ov[((b * c + k) * h + i) * w + j] === want;
          }
        }
      }
      if (ok) return [dx, dy];
    }
  }
  return null;
}

describe('randomShift from the public API', () => {
  it('is the op of src/ops/augment.ts', () => {
    expect(wg.randomShift).toBe(randomShift);
  });

  it('a seeded call shifts each image within ±maxShift, zero filled, and repeats with the seed', async () => {
    const [b, c, h, w, s] = [6, 2, 5, 4, 2];
    const xv = Array.from({ length: b * c * h * w }, (_, i) => i + 1);
    const x = wg.tensor(xv, { shape: [b, c, h, w], dtype: 'float32', device: 'cpu' });
    const y = wg.randomShift(x, s, { seed: 7 });
    expect(y.shape).toEqual([b, c, h, w]);
    const ov = Array.from(await y.data());
    const seen = new Set<string>();
    for (let bi = 0; bi < b; bi++) {
      const off = offsetOf(xv, ov, bi, c, h, w, s);
      expect(off, `image ${bi} is a shifted copy`).not.toBeNull();
      seen.add(off!.join(','));
    }
    expect(seen.size, 'the offsets vary between images').toBeGreaterThan(1);
    expect(Array.from(await wg.randomShift(x, s, { seed: 7 }).data())).toEqual(ov);
    expect(wg.randomShift(x, 0)).toBe(x);
  });

  it('refusals name the op and the argument', () => {
    const x = wg.zeros([1, 1, 3, 3], { device: 'cpu' });
    expectErrorSync(() => wg.randomShift(x, 3), /randomShift: maxShift must be an integer in \[0, 3\)/);
    const flat = wg.zeros([3, 3], { device: 'cpu' });
    expectErrorSync(() => wg.randomShift(flat, 1), /randomShift: input must be \[B, C, H, W\]/);
    wg.dispose([x, flat]);
  });
});
