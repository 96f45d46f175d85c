import { describe, expect, it } from 'vitest';
import {
  mulhi32, philox4x32, philoxNormal, philoxUniform, philoxWords, uniformFromWord,
} from '../src/random/philox.js';
import { prng } from './helpers/random-data.js';
import { expectErrorSync } from './helpers/expect-error.js';

// philox is internal (not exported); its argument checks throw a plain RangeError.
const INTERNAL = { type: RangeError };

const TWO_32 = 2 ** 32;

describe('philox4x32 block', () => {
  // Random123's known-answer vectors for philox4x32_10 (kat_vectors).
  it.each([
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ] as const)('matches the Random123 known answer for counter %j key %j', (counter, key, expected) => {
    expect(philox4x32(counter, key)).toEqual(expected);
  });

  it('mulhi32 is the high word of the exact 64-bit product', () => {
    const values = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xd2511f53, 0xcd9e8d57, 0x12345678];
    const rnd = prng(0x9e3779b9); // seeded: a failure reproduces
    for (let i = 0; i < 200; i++) values.push(Math.floor(rnd() * TWO_32));
    for (const a of values) {
      for (const b of values.slice(0, 20)) {
        const expected = Number((BigInt(a) * BigInt(b)) >> 32n);
        expect(mulhi32(a, b)).toBe(expected);
      }
    }
  });
});

describe('philox stream', () => {
  it('word g is lane g mod 4 of the block at counter (q lo, q hi, 0, 0), key (seed lo, seed hi)', () => {
    const seed = 7 * TWO_32 + 11; // key (11, 7)
    const q = 3 * TWO_32 + 5; // counter (5, 3, 0, 0)
    const block = philox4x32([5, 3, 0, 0], [11, 7]);
    const g = 4 * q + 1;
    expect(Array.from(philoxWords(seed, g, 3))).toEqual([block[1], block[2], block[3]]);
    // The next word starts the next block.
    expect(philoxWords(seed, g + 3, 1)[0]).toBe(philox4x32([6, 3, 0, 0], [11, 7])[0]);
  });

  it('a draw at an offset equals the same slice of a draw from 0', () => {
    for (const seed of [0, 1, 12345, 2 ** 40 + 3]) {
      for (const [o, n] of [[1, 1], [3, 5], [5, 11], [7, 3], [13, 17], [1, 4]]) {
        const full = philoxWords(seed, 0, o! + n!);
        expect(Array.from(philoxWords(seed, o!, n!))).toEqual(Array.from(full.subarray(o!, o! + n!)));
      }
    }
  });

  it('different seeds give different streams', () => {
    const a = philoxWords(1, 0, 8);
    const b = philoxWords(2, 0, 8);
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  it('rejects a seed, offset or length that is not an integer in [0, 2^53)', () => {
    expectErrorSync(() => philoxWords(-1, 0, 1), /seed/, INTERNAL);
    expectErrorSync(() => philoxWords(1.5, 0, 1), /seed/, INTERNAL);
    expectErrorSync(() => philoxWords(2 ** 53, 0, 1), /seed/, INTERNAL);
    expectErrorSync(() => philoxUniform(Number.NaN, 0, 1), /seed/, INTERNAL);
    expectErrorSync(() => philoxWords(0, -1, 1), /offset/, INTERNAL);
    expectErrorSync(() => philoxWords(0, 0, 2.5), /length/, INTERNAL);
    expectErrorSync(() => philoxNormal(0, 2 ** 52, 1), /offset \+ length/, INTERNAL);
  });
});

describe('philox uniform', () => {
  it('maps words to 24-bit fractions', () => {
    expect(uniformFromWord(0)).toBe(0);
    expect(uniformFromWord(0xff)).toBe(0);
    expect(uniformFromWord(0x100)).toBe(2 ** -24);
    expect(uniformFromWord(0xffffffff)).toBe(1 - 2 ** -24);
    expect(uniformFromWord(0x80000000)).toBe(0.5);
  });

  it('values come from the stream words, lie in [0,1), are float32-exact, with mean ≈ 0.5', () => {
    const n = 100_000;
    const u = philoxUniform(42, 17, n);
    const w = philoxWords(42, 17, n);
    let sum = 0;
    let bad = 0; // counted, not asserted per element, to keep 10^5 checks fast
    for (let i = 0; i < n; i++) {
      const v = u[i]!;
      if (v !== (w[i]! >>> 8) * 2 ** -24 || !(v >= 0 && v < 1) || Math.fround(v) !== v) bad++;
      sum += v;
    }
    expect(bad).toBe(0);
    // Std of the mean is 1/sqrt(12n) ≈ 0.0009.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.005);
  });
});

describe('philox normal', () => {
  it('value j uses words 2j and 2j+1 by Box-Muller', () => {
    const offset = 5;
    const z = philoxNormal(9, offset, 3);
    const w = philoxWords(9, 2 * offset, 6);
    for (let i = 0; i < 3; i++) {
      const u1 = ((w[2 * i]! >>> 8) + 1) * 2 ** -24;
      const u2 = (w[2 * i + 1]! >>> 8) * 2 ** -24;
      expect(z[i]).toBe(Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
    }
    expect(Array.from(philoxNormal(9, 0, offset + 3).subarray(offset))).toEqual(Array.from(z));
  });

  it('has mean ≈ 0 and std ≈ 1 over 10^5 draws, all finite', () => {
    const n = 100_000;
    const z = philoxNormal(2024, 0, n);
    let sum = 0;
    let sumSq = 0;
    let nonFinite = 0;
    for (const v of z) {
      if (!Number.isFinite(v)) nonFinite++;
      sum += v;
      sumSq += v * v;
    }
    const mean = sum / n;
    const std = Math.sqrt(sumSq / n - mean * mean);
    expect(nonFinite).toBe(0);
    // Std errors: 0.0032 for the mean, 0.0022 for the std.
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.015);
  });
});
