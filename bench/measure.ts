/**
 * The timing loop shared by the workloads. For one case (one row of the table) every peer first
 * prepares its inputs and passes its correctness check; then each is warmed up, which also tells how
 * many operations (k) one timed repetition should hold; then the timed repetitions run round-robin
 * across the peers (rotating who goes first), so a load spike on a shared machine hits all of them
 * rather than one. Every repetition ends with a readback (the peer's `run(k)` contract), so work
 * still queued on the GPU is inside the time.
 */
import { clamp, errorMessage, median, now, TimeoutError, withTimeout } from './common.js';
import type { Backend, Storage } from '../src/backend/types.js';
import type { Entry } from './report.js';

export interface MeasureOptions {
  /** Untimed calls of run(1) before timing (after the check's own call). */
  warmup: number;
  /** Timed repetitions wanted. */
  reps: number;
  /** Fewest timed repetitions, even when one is slow. */
  minReps: number;
  /** Aim for repetitions of about this long: k = round(targetMs / time of one op). */
  targetMs: number;
  maxK: number;
  /** Time budget per peer for the timed part of a case; repetitions are cut (to minReps) to fit. */
  budgetMs: number;
  /** Per call of run(1); a call that takes longer fails that peer's case. */
  timeoutMs: number;
}

export interface Contender {
  key: string;
  label: string;
  run(k: number): Promise<unknown>;
}

export interface Measurement {
  k: number;
  /** Milliseconds per operation, one value per timed repetition. */
  perOpMs: number[];
  warmupMs: number[];
}

export type Outcome = { ok: true; m: Measurement } | { ok: false; reason: string };

function reasonOf(e: unknown): string {
  return (e instanceof TimeoutError ? 'timeout: ' : '') + errorMessage(e);
}

export async function measureInterleaved(contenders: Contender[], o: MeasureOptions): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  const live: { c: Contender; k: number; reps: number; m: Measurement }[] = [];
  for (const c of contenders) {
    try {
      const warmupMs: number[] = [];
      for (let i = 0; i < Math.max(1, o.warmup); i++) {
        const t0 = now();
        await withTimeout(c.run(1), o.timeoutMs, `${c.label} (warm-up)`);
        warmupMs.push(now() - t0);
      }
      const one = Math.min(...warmupMs);
      const k = clamp(Math.round(o.targetMs / Math.max(one, 1e-3)), 1, o.maxK);
      // Each peer gets its own number of repetitions: a slow one (the CPU reference) is cut to fit
      // the budget without cutting the others.
      const reps = clamp(Math.floor(o.budgetMs / Math.max(one * k, 1e-3)), o.minReps, o.reps);
      live.push({ c, k, reps, m: { k, perOpMs: [], warmupMs } });
    } catch (e) {
      out.set(c.key, { ok: false, reason: reasonOf(e) });
    }
  }
  const rounds = Math.max(0, ...live.map((l) => l.reps));
  const failed = new Set<string>();
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < live.length; j++) {
      const l = live[(r + j) % live.length]!;
      if (failed.has(l.c.key) || l.m.perOpMs.length >= l.reps) continue;
      try {
        const t0 = now();
        await withTimeout(l.c.run(l.k), o.timeoutMs * l.k, l.c.label);
        l.m.perOpMs.push((now() - t0) / l.k);
      } catch (e) {
        failed.add(l.c.key);
        out.set(l.c.key, { ok: false, reason: reasonOf(e) });
      }
    }
  }
  for (const l of live) if (!failed.has(l.c.key)) out.set(l.c.key, { ok: true, m: l.m });
  return out;
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

/**
 * Milliseconds from calling `f` (which encodes GPU work and returns its output) to the end of the
 * readback of that output, so work still queued is inside the time; the output is then released.
 */
export async function timeReadback(be: Backend, f: () => Storage): Promise<number> {
  const t0 = now();
  const out = f();
  await be.read(out);
  const t = now() - t0;
  be.release(out);
  return t;
}

/**
 * For the probes (bench/conv-*.ts): one untimed call of each contender (pipeline compiles, buffer
 * allocation), then `rounds` rounds calling each in turn, so load on a shared machine hits all of
 * them alike. Each contender returns the milliseconds of its call; the result holds one list of
 * times per contender, in order.
 */
export async function alternatingRounds(contenders: readonly (() => Promise<number>)[], rounds: number): Promise<number[][]> {
  for (const once of contenders) await once();
  const times = contenders.map((): number[] => []);
  for (let r = 0; r < rounds; r++) for (const [i, once] of contenders.entries()) times[i]!.push(await once());
  return times;
}
