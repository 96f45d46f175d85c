/**
 * A short autotune of the reduce and softmax designs: the loop, the workgroup tree and (where the
 * device has 'subgroups') the subgroup combine, timed per shape bucket once per adapter and cached
 * (tune-cache.ts, its own `reduce-tune-*.json` files), so the choice is made by measurement rather
 * than by the adapter's name. Run when the backend starts with autotune on; with autotune off (the
 * test suites) or without a record, the shape rules of reduce.ts and fused/softmax.ts decide.
 *
 * Buckets (reduce.ts reduceTuneKey, fused/softmax.ts softmaxTuneKey), each timed at one shape:
 *  reduce-row:mid  [512 rows × 512] (rows of 128 .. 2047; shorter rows always loop),
 *  reduce-row:long [4 × 65536] (rows of 2048 or more),
 *  reduce-col:few  [1, 4096, 64] (a middle axis of 64 or more over at most 256 columns),
 *  reduce-col:many [1, 256, 512] (more columns),
 *  softmax:mid     [256 × 256] (rows of 64 .. 1023; shorter rows always loop),
 *  softmax:long    [16 × 4096] (rows of 1024 or more; timed on softmax, applied to all row kernels).
 * Small shapes (≤ 256K elements), because the losing designs are slow on software drivers.
 * Every design computes the same values up to float rounding order (each forced against the CPU in
 * test/webgpu-reduce-subgroup.test.ts), so a noisy measurement costs time, never correctness.
 * Rounds alternate the candidates; the fastest median wins only when below MARGIN times the rule's
 * own design; each bucket stops adding rounds at its share of the budget (after one timed round),
 * and a candidate far slower than the fastest in the first round is not timed again (PRUNE).
 */
import type { KernelContext } from './context.js';
import { softmax, type SoftmaxPath } from './fused/softmax.js';
import { reduce, ruleReducePath, type ReducePath } from './reduce.js';
import { parseTuneRecord, TUNE_CACHE_VERSION, tuneStore, type TuneCacheRules, type TuneRecord } from './tune-cache.js';

export const REDUCE_TUNE_BUDGET_MS = 3000;
const ROUNDS = 5;
export const REDUCE_TUNE_MARGIN = 0.9;
/**
 * A candidate slower than this times the fastest in the first timed round runs no more rounds (its
 * median is that one time): on SwiftShader the workgroup designs ran 10-100x slower than the loop
 * (bench/reduce-designs.ts), and timing them five times would cost seconds at every first start.
 */
export const REDUCE_TUNE_PRUNE = 4;
/**
 * The warm-up run (which includes compiling) prunes too, when a candidate took PRUNE times the
 * fastest warm-up and this many ms more: compile times differ by less, so only a slow run does.
 * On SwiftShader the trees took 0.5-0.7 s per run at reduce-row:mid, and the tune 15 s without it.
 */
export const REDUCE_TUNE_PRUNE_WARM_MS = 50;

type Design = ReducePath & SoftmaxPath;

interface Bucket {
  key: string;
  /** Elements of the timed input. */
  size: number;
  /** What the shape rule runs here (the baseline a candidate must beat by the margin). */
  rule: Design;
  run(ctx: TuneContext, x: unknown, path: Design): unknown;
}

const reduceBucket = (key: string, outer: number, len: number, inner: number): Bucket => ({
  key,
  size: outer * len * inner,
  rule: ruleReducePath(outer, len, inner),
  run: (ctx, x, path) => reduce(ctx, 'sum', x as never, outer, len, inner, path),
});
const softmaxBucket = (key: string, rows: number, cols: number): Bucket => ({
  key,
  size: rows * cols,
  rule: 'tree',
  run: (ctx, x, path) => softmax(ctx, x as never, rows, cols, false, path),
});

export const REDUCE_TUNE_BUCKETS: readonly Bucket[] = [
  reduceBucket('reduce-row:mid', 512, 512, 1),
  reduceBucket('reduce-row:long', 4, 65536, 1),
  reduceBucket('reduce-col:few', 1, 4096, 64),
  reduceBucket('reduce-col:many', 1, 256, 512),
  softmaxBucket('softmax:mid', 256, 256),
  softmaxBucket('softmax:long', 16, 4096),
];

/** The candidates on a device: the subgroup design only with 'subgroups'. */
export function reduceCandidates(subgroups: boolean): Design[] {
  return subgroups ? ['loop', 'tree', 'subgroup'] : ['loop', 'tree'];
}

/** The store key: the adapter's, marked as this tune's. */
function storeKey(adapter: string): string {
  return `${adapter} #reduce`;
}

function rules(ctx: Pick<KernelContext, 'limits'>, designs: readonly Design[]): TuneCacheRules {
  // No workgroup shape is tuned here: a design is stored with shape [1, 1].
  return {
    patterns: REDUCE_TUNE_BUCKETS.map((b) => b.key),
    allowed: designs.map((design) => ({ design, shape: [1, 1] })),
    maxInvocations: ctx.limits.maxComputeInvocationsPerWorkgroup,
    designs: designs.join(','),
  };
}

/**
 * The decision: the candidate with the lowest median, if it is below margin × the rule's median;
 * else the rule's design (a tie or a small win is not worth leaving the documented rule).
 */
export function chooseDesign(medianMs: Partial<Record<Design, number>>, rule: Design, margin: number = REDUCE_TUNE_MARGIN): Design {
  const base = medianMs[rule];
  if (base === undefined) throw new Error(`reduce tune: no median for the rule's design '${rule}'`);
  let best: Design = rule;
  let bestMs = base;
  for (const [d, ms] of Object.entries(medianMs) as [Design, number][]) {
    if (ms < bestMs) {
      best = d;
      bestMs = ms;
    }
  }
  return best !== rule && bestMs < margin * base ? best : rule;
}

type TuneContext = KernelContext & { flush(): void; release(s: unknown): void; upload(d: Float32Array, t: 'float32'): unknown };

/** Milliseconds one run takes (the default measures it; tests pass fixed timings). */
export type TuneTimer = (bucket: string, design: Design, run: () => void) => Promise<number>;

/** Ops per timed sample: one small op is mostly submission and wake-up noise on a loaded host. */
const REPS = 3;

function measuring(ctx: TuneContext): TuneTimer {
  return async (_bucket, _design, run) => {
    const t0 = performance.now();
    for (let r = 0; r < REPS; r++) run();
    ctx.flush();
    await ctx.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / REPS;
  };
}

/** What the tune measured for one bucket (for tests and reports). */
export interface ReduceTuneObservation {
  key: string;
  medianMs: Partial<Record<Design, number>>;
  chosen: Design;
}

/**
 * The design per bucket on this adapter: from the cache when present, else measured now (and
 * cached). `observe` sees each bucket's medians; `timer` replaces the measurement (tests).
 */
export async function tuneReduce(
  ctx: TuneContext, adapter: string, observe?: (o: ReduceTuneObservation) => void,
  budgetMs: number = REDUCE_TUNE_BUDGET_MS, timer: TuneTimer = measuring(ctx),
): Promise<Map<string, Design>> {
  const designs = reduceCandidates(!!ctx.subgroups);
  const store = tuneStore('reduce');
  const key = storeKey(adapter);
  const raw = await store.get(key);
  const cached = raw === null ? null : parseTuneRecord(raw, key, rules(ctx, designs));
  if (cached) return new Map(Object.entries(cached).map(([k, c]) => [k, c.design as Design]));
  const out = new Map<string, Design>();
  const start = performance.now();
  const med = (t: number[]): number => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)]!;
  for (const [slot, b] of REDUCE_TUNE_BUCKETS.entries()) {
    const deadline = start + ((slot + 1) * budgetMs) / REDUCE_TUNE_BUCKETS.length;
    const x = ctx.upload(Float32Array.from({ length: b.size }, (_, i) => ((i * 37) % 101) * 0.01 - 0.5), 'float32');
    const once = (d: Design): Promise<number> => timer(b.key, d, () => ctx.release(b.run(ctx, x, d)));
    try {
      const times = Object.fromEntries(designs.map((d) => [d, [] as number[]])) as Record<Design, number[]>;
      // Compile and warm up each candidate, then alternate them round by round.
      const warm = {} as Record<Design, number>;
      for (const d of designs) warm[d] = await once(d);
      const fastestWarm = Math.min(...designs.map((d) => warm[d]));
      const slow = (d: Design): boolean => warm[d] > REDUCE_TUNE_PRUNE * fastestWarm && warm[d] - fastestWarm > REDUCE_TUNE_PRUNE_WARM_MS;
      // A candidate pruned at warm-up keeps that one time (compile included) as its median.
      for (const d of designs) if (slow(d)) times[d].push(warm[d]);
      let active = designs.filter((d) => !slow(d));
      for (let r = 0; r < ROUNDS && (r === 0 || performance.now() < deadline); r++) {
        for (const d of active) times[d].push(await once(d));
        if (r === 0) {
          const best = Math.min(...active.map((d) => times[d][0]!));
          active = active.filter((d) => times[d][0]! <= REDUCE_TUNE_PRUNE * best);
        }
      }
      const medianMs = Object.fromEntries(designs.map((d) => [d, med(times[d])])) as Partial<Record<Design, number>>;
      const chosen = chooseDesign(medianMs, b.rule);
      out.set(b.key, chosen);
      observe?.({ key: b.key, medianMs, chosen });
    } finally {
      ctx.release(x);
    }
  }
  const choices = Object.fromEntries([...out].map(([k, design]) => [k, { design, shape: [1, 1] as [number, number] }]));
  await store.set(key, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: key, designs: designs.join(','), choices } satisfies TuneRecord));
  return out;
}
