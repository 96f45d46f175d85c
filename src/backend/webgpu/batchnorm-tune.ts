/**
 * A short autotune of the batch-norm column reductions (statistics, and the backward's two sums):
 * the column loop (one invocation per column, no workgroup memory) against the tiled design
 * (column tile x row chunk workgroups, a tree in workgroup memory, then a combine pass), chosen by
 * measurement per adapter instead of by the adapter's name. Run once when the backend starts (with
 * the matmul tune) and cached across runs like it (tune-cache.ts), under its own key.
 *
 * Two row buckets, because the tree's advantage grows with the rows a column loop walks alone:
 * 'short' (n <= SHORT_MAX_ROWS of fused/batchnorm.ts, timed at the MLP's 128 x 512) and 'tall' (timed at 4096 x 128).
 * Both designs compute the same values up to float rounding order (each forced against the CPU in
 * webgpu-training and webgpu-kernel-paths tests), so a noisy measurement costs time, never
 * correctness. Rounds alternate the candidates; the fastest median wins only by a margin over the
 * column loop; the tune stops adding rounds once its budget is spent (after one timed round).
 */
import type { KernelContext } from './context.js';
import { batchNormBackward, batchNormStats, type BatchNormOp, type BatchNormPath } from './fused/batchnorm.js';
import { parseTuneRecord, TUNE_CACHE_VERSION, tuneStore, type TuneCacheRules, type TuneRecord } from './tune-cache.js';

const SHAPES = { short: { n: 128, c: 512 }, tall: { n: 4096, c: 128 } } as const;
const OPS: readonly BatchNormOp[] = ['stats', 'backward'];
const PATHS: readonly BatchNormPath[] = ['column', 'tiled'];
export const BN_TUNE_BUDGET_MS = 4000;
const ROUNDS = 5;
const MARGIN = 0.9;

/** The design set this tune chooses among (a record tuned over another set is re-tuned). */
const BN_DESIGNS = PATHS.join(',');

const PATTERNS = OPS.flatMap((op) => (['short', 'tall'] as const).map((b) => `bn-${op}:${b}`));

/** The store key: the adapter's, marked as this tune's (the matmul tune's record is separate). */
function storeKey(adapter: string): string {
  return `${adapter} #batchnorm`;
}

function rules(ctx: KernelContext): TuneCacheRules {
  // A design has no workgroup shape to tune here: it is stored as [1, 1].
  return { patterns: PATTERNS, allowed: PATHS.map((design) => ({ design, shape: [1, 1] })), maxInvocations: ctx.limits.maxComputeInvocationsPerWorkgroup, designs: BN_DESIGNS };
}

type TuneContext = KernelContext & { flush(): void; release(s: unknown): void; upload(d: Float32Array, t: 'float32'): unknown };

async function timeOnce(ctx: TuneContext, op: BatchNormOp, path: BatchNormPath, n: number, c: number, x: unknown, dy: unknown, mean: unknown, variance: unknown): Promise<number> {
  const t0 = performance.now();
  if (op === 'stats') {
    const r = batchNormStats(ctx, x as never, n, c, path);
    ctx.release(r.mean);
    ctx.release(r.variance);
  } else {
    const r = batchNormBackward(ctx, x as never, dy as never, mean as never, variance as never, null, n, c, 1e-5, path);
    ctx.release(r.dx);
    ctx.release(r.dgamma);
    ctx.release(r.dbeta);
  }
  ctx.flush();
  await ctx.device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/** What the tune measured for one key (for tests and reports). */
export interface BatchNormTuneObservation {
  key: string;
  medianMs: Record<BatchNormPath, number>;
  chosen: BatchNormPath;
}

/**
 * The design per (reduction, row bucket) on this adapter: from the cache when present, else
 * measured now (and cached). `observe` sees each key's medians.
 */
export async function tuneBatchNorm(
  ctx: TuneContext, adapter: string, observe?: (o: BatchNormTuneObservation) => void, budgetMs: number = BN_TUNE_BUDGET_MS,
): Promise<Map<string, BatchNormPath>> {
  // Its own files (batchnorm-tune-*.json), apart from the matmul tune's.
  const store = tuneStore('batchnorm');
  const key = storeKey(adapter);
  const raw = await store.get(key);
  const cached = raw === null ? null : parseTuneRecord(raw, key, rules(ctx));
  if (cached) return new Map(Object.entries(cached).map(([k, c]) => [k, c.design as BatchNormPath]));
  const out = new Map<string, BatchNormPath>();
  const start = performance.now();
  let slot = 0;
  for (const bucket of ['short', 'tall'] as const) {
    const { n, c } = SHAPES[bucket];
    const x = ctx.upload(Float32Array.from({ length: n * c }, (_, i) => (i % 7) * 0.25), 'float32');
    const dy = ctx.upload(Float32Array.from({ length: n * c }, (_, i) => (i % 5) * 0.5 - 1), 'float32');
    const mean = ctx.upload(new Float32Array(c).fill(0.75), 'float32');
    const variance = ctx.upload(new Float32Array(c).fill(0.5), 'float32');
    try {
      for (const op of OPS) {
        const deadline = start + (++slot * budgetMs) / PATTERNS.length;
        const times: Record<BatchNormPath, number[]> = { column: [], tiled: [] };
        // Compile and warm up each candidate, then alternate them round by round.
        for (const p of PATHS) await timeOnce(ctx, op, p, n, c, x, dy, mean, variance);
        for (let r = 0; r < ROUNDS && (r === 0 || performance.now() < deadline); r++) {
          for (const p of PATHS) times[p].push(await timeOnce(ctx, op, p, n, c, x, dy, mean, variance));
        }
        const med = (t: number[]): number => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!;
        const medianMs = { column: med(times.column), tiled: med(times.tiled) };
        const chosen: BatchNormPath = medianMs.tiled < MARGIN * medianMs.column ? 'tiled' : 'column';
        const k = `bn-${op}:${bucket}`;
        out.set(k, chosen);
        observe?.({ key: k, medianMs, chosen });
      }
    } finally {
      for (const s of [x, dy, mean, variance]) ctx.release(s);
    }
  }
  const choices = Object.fromEntries([...out].map(([k, design]) => [k, { design, shape: [1, 1] as [number, number] }]));
  await store.set(key, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: key, designs: BN_DESIGNS, choices } satisfies TuneRecord));
  return out;
}
