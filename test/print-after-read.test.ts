/**
 * toString() shows the values of the last read even when the caller changes the array that read
 * returned (format.ts keeps a copy and formats it only when printed, so reads stay cheap).
 */
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';

describe('printing after a read', () => {
  it('shows the values read, not later changes to the returned array', async () => {
    const t = wg.tensor([1, 2, 3, 4], { device: 'cpu' });
    const values = await t.data();
    values[0] = 99;
    expect(t.toString()).toContain('[1., 2., 3., 4.]');
    expect(t.toString()).not.toContain('99');
    // Printed twice: the same text (the picked values are kept).
    expect(t.toString()).toBe(t.toString());
    t.dispose();
  });

  it('a large tensor keeps only its edge values and still prints them', async () => {
    const t = wg.arange(0, 2000, 1, { device: 'cpu' });
    const values = await t.data();
    values[1] = -5;
    expect(t.toString()).toMatch(/\[\s*0,\s+1,\s+2,\s+\.\.\.,\s+1997,\s+1998,\s+1999\]/);
    t.dispose();
  });
});
