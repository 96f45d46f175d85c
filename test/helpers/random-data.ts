/**
 * Seeded host-side test data: a small PRNG (mulberry32, independent of the engine's Philox stream so
 * a broken generator cannot hide a broken op) and the value distributions the suites draw from.
 * Float values are rounded to float32 (Math.fround) so the float64 reference and the float32 device
 * run see exactly the same inputs.
 */

/** The base seed of every suite; override with WEBGRAD_TEST_SEED to draw other inputs. */
export const BASE_SEED = Number.parseInt(process.env.WEBGRAD_TEST_SEED ?? '20240917', 10);

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** How the values of one input are drawn. */
export type Dist =
  | { kind: 'uniform'; lo: number; hi: number }
  /** |x| in [lo, hi] with a random sign: keeps away from 0 (divisors, reciprocal, abs kink). */
  | { kind: 'awayFromZero'; lo: number; hi: number }
  /** Multiples of `step` in [lo, hi]: many exact ties (comparisons, maximum, max-reduce ties). */
  | { kind: 'grid'; lo: number; hi: number; step: number }
  /** uniform in [lo, hi] but the first elements are `specials` (e.g. ±100 for activations). */
  | { kind: 'specials'; lo: number; hi: number; specials: readonly number[] }
  /** Distinct values (a shuffled arithmetic progression with random jitter below the gap). */
  | { kind: 'distinct'; lo: number; hi: number }
  /** Integers in [lo, hi] (int32 inputs). */
  | { kind: 'int'; lo: number; hi: number; avoidZero?: boolean }
  /** uniform in [lo, hi] but at least `gap` from every point of `avoid` (kinks, clamp bounds). */
  | { kind: 'avoiding'; lo: number; hi: number; avoid: readonly number[]; gap: number }
  /** Exactly these values (must match the shape's size). */
  | { kind: 'fixed'; values: readonly number[] };

export const U = (lo = -1, hi = 1): Dist => ({ kind: 'uniform', lo, hi });
export const AWAY = (lo = 0.5, hi = 2): Dist => ({ kind: 'awayFromZero', lo, hi });
export const GRID = (lo = -2, hi = 2, step = 0.5): Dist => ({ kind: 'grid', lo, hi, step });
export const SPECIALS = (specials: readonly number[], lo = -8, hi = 8): Dist => ({ kind: 'specials', lo, hi, specials });
export const DISTINCT = (lo = -2, hi = 2): Dist => ({ kind: 'distinct', lo, hi });
export const INT = (lo = -50, hi = 50, avoidZero = false): Dist => ({ kind: 'int', lo, hi, avoidZero });
export const AVOIDING = (avoid: readonly number[], lo: number, hi: number, gap = 0.05): Dist => ({ kind: 'avoiding', lo, hi, avoid, gap });
export const FIXED = (values: readonly number[]): Dist => ({ kind: 'fixed', values });

/**
 * Draws `n` values, rounded to float32 (the default), kept in float64, or rounded to integers
 * (for int32 inputs; a FIXED or SPECIALS list may hold any i32 value).
 */
export function draw(dist: Dist, n: number, rnd: () => number, mode: 'float32' | 'float64' | 'int32' = 'float32'): Float64Array {
  const out = new Float64Array(n);
  const r = (lo: number, hi: number): number => lo + (hi - lo) * rnd();
  switch (dist.kind) {
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = r(dist.lo, dist.hi);
      break;
    case 'awayFromZero':
      for (let i = 0; i < n; i++) out[i] = (rnd() < 0.5 ? -1 : 1) * r(dist.lo, dist.hi);
      break;
    case 'grid': {
      const steps = Math.round((dist.hi - dist.lo) / dist.step);
      for (let i = 0; i < n; i++) out[i] = dist.lo + dist.step * Math.floor(rnd() * (steps + 1));
      break;
    }
    case 'specials':
      for (let i = 0; i < n; i++) out[i] = i < dist.specials.length ? dist.specials[i]! : r(dist.lo, dist.hi);
      break;
    case 'distinct': {
      const gap = (dist.hi - dist.lo) / Math.max(1, n);
      const vals = Array.from({ length: n }, (_, i) => dist.lo + gap * (i + 0.25 + 0.5 * rnd()));
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [vals[i], vals[j]] = [vals[j]!, vals[i]!];
      }
      out.set(vals);
      break;
    }
    case 'avoiding':
      for (let i = 0; i < n; i++) {
        let v = 0;
        do v = r(dist.lo, dist.hi);
        while (dist.avoid.some((p) => Math.abs(v - p) < dist.gap));
        out[i] = v;
      }
      break;
    case 'int':
      for (let i = 0; i < n; i++) {
        let v = 0;
        do v = dist.lo + Math.floor(rnd() * (dist.hi - dist.lo + 1));
        while (dist.avoidZero && v === 0);
        out[i] = v;
      }
      return out;
    case 'fixed':
      if (dist.values.length !== n) throw new Error(`FIXED values: ${dist.values.length} given for ${n} elements`);
      out.set(dist.values);
      break;
  }
  if (mode === 'float32') for (let i = 0; i < n; i++) out[i] = Math.fround(out[i]!);
  if (mode === 'int32') {
    for (let i = 0; i < n; i++) {
      const v = Math.round(out[i]!);
      if (v !== (v | 0)) throw new Error(`draw: ${out[i]} is not an int32 value`);
      out[i] = v;
    }
  }
  return out;
}

/** Row-major coordinates of flat index i (for failure messages). */
export function coords(i: number, shape: readonly number[]): number[] {
  const c: number[] = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return c;
}

export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = Math.abs(xs[i]!);
    if (Number.isFinite(v) && v > m) m = v;
  }
  return m;
}
