/**
 * Comparing a device's results with the CPU reference: tolerances (per op, scaled with the
 * reduction length where there is one), an element-by-element check that names the first bad
 * element, and output poisoning for pooled GPU buffers.
 */
import type { BackendName } from '../../src/backend/types.js';
import { getBackend } from '../../src/engine.js';
import { coords } from './random-data.js';

/** float32 machine epsilon (2^-23). */
export const EPS32 = 2 ** -23;

/** |got − expected| ≤ atol + rtol·|expected| per element; {0, 0} means bit-for-bit (up to ±0). */
export interface Tol {
  atol: number;
  rtol: number;
  /**
   * Per-element absolute tolerance (flat index), replacing `atol` where given: for outputs whose
   * error bound differs by element (batch norm's conditioning is per channel), so one badly
   * conditioned element does not widen the bound of all the others.
   */
  atolAt?: (index: number) => number;
}

export const EXACT: Tol = { atol: 0, rtol: 0 };

/** Correctly rounded float32 arithmetic (+, −, ×, and ÷ within WGSL's 2.5 ULP). */
export const ARITH: Tol = { atol: 1e-7, rtol: 4 * EPS32 };

/** Transcendental functions: WGSL allows a few ULP (exp: 3 + 2|x| ULP; log: 2^-21 absolute). */
export const TRANS: Tol = { atol: 2e-6, rtol: 2e-5 };

/**
 * A sum of K terms of magnitude ≤ maxTerm in float32: the rounding error grows like √K·eps per
 * partial sum and the partial sums like √K·maxTerm; 16·√K·eps·maxTerm leaves room for both with
 * K ≤ 257 (any order of summation, tree or sequential), while a lost or doubled term (an error of
 * order maxTerm) still fails by orders of magnitude.
 */
export function reductionTol(k: number, maxTerm: number, base: Tol = ARITH): Tol {
  return { atol: base.atol + 16 * Math.sqrt(Math.max(1, k)) * EPS32 * maxTerm, rtol: base.rtol };
}

export function widen(t: Tol, factor: number): Tol {
  return { atol: t.atol * factor, rtol: t.rtol * factor };
}

export interface Mismatch {
  index: number;
  coords: number[];
  got: number;
  expected: number;
  limit: number;
  count: number;
}

/** The first element outside the tolerance (and how many are), or null. NaN only matches NaN. */
export function findMismatch(
  got: ArrayLike<number>,
  expected: ArrayLike<number>,
  shape: readonly number[],
  tol: Tol,
): Mismatch | null {
  let first: Mismatch | null = null;
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const g = got[i]!;
    let ok: boolean;
    let limit = 0;
    if (Number.isNaN(e)) ok = Number.isNaN(g);
    else if (!Number.isFinite(e)) ok = g === e;
    else {
      limit = (tol.atolAt ? tol.atolAt(i) : tol.atol) + tol.rtol * Math.abs(e);
      ok = Number.isFinite(g) && Math.abs(g - e) <= limit; // false for NaN
    }
    if (!ok) {
      count++;
      first ??= { index: i, coords: coords(i, shape), got: g, expected: e, limit, count: 0 };
    }
  }
  if (first) first.count = count;
  return first;
}

/** Throws a readable error (what, where, got vs expected, tolerance) when the arrays differ. */
export function assertClose(
  what: string,
  got: ArrayLike<number>,
  expected: ArrayLike<number>,
  shape: readonly number[],
  tol: Tol,
): void {
  if (got.length !== expected.length) {
    throw new Error(`${what}: got ${got.length} elements, expected ${expected.length} (shape [${shape.join(', ')}])`);
  }
  const m = findMismatch(got, expected, shape, tol);
  if (m) {
    throw new Error(
      `${what}: ${m.count} of ${expected.length} elements differ; first at flat ${m.index} ` +
        `[${m.coords.join(', ')}]: got ${m.got}, expected ${m.expected} ` +
        `(|diff| ${Math.abs(m.got - m.expected).toExponential(3)} > ${m.limit.toExponential(3)}; ` +
        `atol ${tol.atol.toExponential(2)}, rtol ${tol.rtol.toExponential(2)})`,
    );
  }
}

/**
 * Allocates storages of the given element counts filled with NaN and releases them at once, so a
 * pooling backend hands those buffers to the next kernels: an output element the kernel fails to
 * write then reads back as NaN (or as 0x7fc00000 for int32) instead of a stale plausible value.
 * Each size is poisoned `copies` times to cover pools that keep several buffers per size class.
 */
export function poison(device: BackendName, sizes: readonly number[], copies = 3): void {
  const backend = getBackend(device);
  const storages = [];
  for (const n of new Set(sizes)) {
    if (n <= 0) continue;
    for (let c = 0; c < copies; c++) storages.push(backend.fill(n, Number.NaN, 'float32'));
  }
  for (const s of storages) backend.release(s);
}
