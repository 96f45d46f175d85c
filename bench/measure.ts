/**
 * The timing loop shared by the workloads: warm-up, choosing how many operations one timed
 * repetition holds, then the timed repetitions. Every repetition ends with a readback (the peer's
 * `run(k)` contract), so work still queued on the GPU is inside the time.
 */
import { clamp, median, now, withTimeout } from './common.js';
import type { Entry } from './report.js';

export interface MeasureOptions {
  /** Untimed calls of run(1) before timing (the first pays pipeline compilation). */
  warmup: number;
  /** Timed repetitions wanted. */
  reps: number;
  /** Fewest timed repetitions, even when one is slow. */
  minReps: number;
  /** Aim for repetitions of about this long: k = round(targetMs / time of one op). */
  targetMs: number;
  maxK: number;
  /** Time budget for the timed part of this case; repetitions are cut (to minReps) to fit it. */
  budgetMs: number;
  /** Per call of run(); a call that takes longer fails the case. */
  timeoutMs: number;
}

export interface Measurement {
  k: number;
  /** Milliseconds per operation, one value per timed repetition. */
  perOpMs: number[];
  warmupMs: number[];
}

export async function measure<T>(label: string, run: (k: number) => Promise<T>, o: MeasureOptions): Promise<Measurement> {
  const warmupMs: number[] = [];
  for (let i = 0; i < Math.max(1, o.warmup); i++) {
    const t0 = now();
    await withTimeout(run(1), o.timeoutMs, `${label} (warm-up)`);
    warmupMs.push(now() - t0);
  }
  const one = warmupMs.length > 1 ? Math.min(...warmupMs.slice(1)) : warmupMs[0]!;
  const k = clamp(Math.round(o.targetMs / Math.max(one, 1e-3)), 1, o.maxK);
  const reps = clamp(Math.floor(o.budgetMs / Math.max(one * k, 1e-3)), o.minReps, o.reps);
  const perOpMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = now();
    await withTimeout(run(k), o.timeoutMs * k, label);
    perOpMs.push((now() - t0) / k);
  }
  return { k, perOpMs, warmupMs };
}

/** Fills an entry's timing fields from a measurement; `value` converts ms per op to the row's unit. */
export function timedEntry(m: Measurement, value: (ms: number) => number, extra: Partial<Entry> = {}): Entry {
  const med = median(m.perOpMs);
  return {
    status: 'ok',
    value: value(med),
    medianMs: med,
    minMs: Math.min(...m.perOpMs),
    maxMs: Math.max(...m.perOpMs),
    timesMs: m.perOpMs.map((t) => Number(t.toPrecision(5))),
    warmupMs: m.warmupMs.map((t) => Number(t.toPrecision(5))),
    k: m.k,
    reps: m.perOpMs.length,
    ...extra,
  };
}
