/**
 * The small shared setup of the public-op mutant suites (test/ops-*-mutants.test.ts): CPU tensor
 * options per dtype, a cast for deliberately wrong arguments, reading values and comparing them.
 */
import { expect } from 'vitest';
import type { Tensor } from '../../src/index.js';

export const f64 = { dtype: 'float64' as const, device: 'cpu' as const };
export const f32 = { dtype: 'float32' as const, device: 'cpu' as const };
export const i32 = { dtype: 'int32' as const, device: 'cpu' as const };

/** A value of the wrong type passed where the types forbid it (the runtime checks are under test). */
export const bad = (v: unknown) => v as never;

export const vals = async (t: Tensor): Promise<number[]> => Array.from(await t.data());

/** Same length and each element within `digits` decimal digits (toBeCloseTo), naming the element. */
export const close = (got: number[], want: number[], digits = 10): void => {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(v, `element ${i}`).toBeCloseTo(want[i]!, digits));
};

/** [f(0), f(1), …, f(n − 1)]. */
export const seq = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));
