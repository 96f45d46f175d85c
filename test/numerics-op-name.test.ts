/**
 * The numerics guard names the op that created a result from the op itself (the name passed where
 * the result is made), not from whichever argument check ran last: an op that calls another op
 * before making its own result (where → expand) is still named, with its own input shapes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';

afterEach(() => wg.setNumericsCheck(false));

describe('numerics guard: the op is named where its result is created', () => {
  it('where() broadcasting its condition is named where, not the expand it ran first', async () => {
    // Made before the guard is on, so the NaN in `a` is not itself an offender.
    const cond = wg.tensor([1, 0, 1]);
    const a = wg.tensor([[NaN, 1, 2], [3, 4, 5]]);
    const b = wg.zeros([2, 3]);
    wg.setNumericsCheck(true);
    const out = wg.where(cond, a, b); // expands cond [3] -> [2, 3] (an op with its own checks), then selects
    const offender = await wg.checkNumerics();
    expect(offender).not.toBeNull();
    expect(offender!.op).toBe('where');
    expect(offender!.inputShapes).toEqual([[3], [2, 3], [2, 3]]); // cond, a, b
    wg.dispose([cond, a, b, out]);
  });

  it('a gradient rule result is named after its op (backward)', async () => {
    const x = wg.tensor([[1, 2, 3]], { requiresGrad: true });
    const y = x.softmax(-1);
    const dy = wg.tensor([[NaN, 0, 0]]);
    wg.setNumericsCheck(true);
    y.backward(dy);
    const offender = await wg.checkNumerics();
    expect(offender).not.toBeNull();
    expect(offender!.op).toBe('softmax (backward)');
    wg.dispose([x, y, dy]);
  });

  it('an op checked twice in a row gets the shapes of its latest call', async () => {
    const x = wg.tensor([[1, -2, 3], [4, 5, 6]]);
    const v = wg.tensor([-1, 2]);
    wg.setNumericsCheck(true);
    const fine = x.abs().log();
    const bad = v.log();
    const offender = await wg.checkNumerics();
    expect(offender!.op).toBe('log');
    expect(offender!.inputShapes).toEqual([[2]]);
    wg.dispose([x, v, fine, bad]);
  });
});
