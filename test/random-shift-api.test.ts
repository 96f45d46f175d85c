/**
 * randomShift through the public import (`webgrad`'s src/index.ts), as the README lists it: the
 * export is the op itself, and a seeded call translates each image by a whole-pixel offset within
 * ±maxShift, zero filled, reproducibly. (The op's own behaviour is covered by test/random-shift.)
 */
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { randomShift } from '../src/ops/augment.js';
import { expectErrorSync } from './helpers/expect-error.js';

describe('randomShift from the public API', () => {
  it('is the op of src/ops/augment.ts', () => {
    expect(wg.randomShift).toBe(randomShift);
  });

  it('a seeded call shifts each image by a whole pixel within ±maxShift, zero filled, and repeats with the seed', async () => {
    // Ones in 3×3 images shifted by (dx, dy) in ±1 keep (3 − |dx|)·(3 − |dy|) ones: 9, 6 or 4, and
    // only zeros and ones (test/random-shift.test.ts identifies each offset exactly).
    const [b, c, h, w] = [16, 2, 3, 3];
    const x = wg.ones([b, c, h, w], { device: 'cpu' });
    const y = wg.randomShift(x, 1, { seed: 7 });
    expect(y.shape).toEqual([b, c, h, w]);
    const ov = Array.from(await y.data());
    expect(ov.every((v) => v === 0 || v === 1)).toBe(true);
    const kept = Array.from({ length: b }, (_, i) => ov.slice(i * c * h * w, (i + 1) * c * h * w).reduce((s, v) => s + v, 0) / c);
    for (const k of kept) expect([9, 6, 4]).toContain(k);
    expect(new Set(kept).size, 'the offsets vary between images').toBeGreaterThan(1);
    const again = wg.randomShift(x, 1, { seed: 7 });
    expect(Array.from(await again.data())).toEqual(ov);
    expect(wg.randomShift(x, 0)).toBe(x);
    wg.dispose([x, y, again]);
  });

  it('refusals name the op and the argument', () => {
    const x = wg.zeros([1, 1, 3, 3], { device: 'cpu' });
    expectErrorSync(() => wg.randomShift(x, 3), /randomShift: maxShift must be an integer in \[0, 3\)/);
    const flat = wg.zeros([3, 3], { device: 'cpu' });
    expectErrorSync(() => wg.randomShift(flat, 1), /randomShift: input must be \[B, C, H, W\]/);
    wg.dispose([x, flat]);
  });
});
