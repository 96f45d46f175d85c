/**
 * A short autotune of the matmul workgroup shape, per adapter and per access pattern (how A and B
 * are read), run once when the backend starts and cached across runs, keyed by the adapter's
 * description: in Node a JSON file in the per-user cache folder, in browsers localStorage, validated
 * on read and written atomically (tune-cache.ts).
 *
 * The shape does not change any result (each output element is the same sum in the same order),
 * only speed, so a noisy measurement can cost time but never correctness. Each candidate runs a
 * mid-sized product a few times and the fastest median wins; the whole tune takes about a second on
 * a software driver, once per machine.
 */
import type { KernelContext } from './context.js';
import { matmul, defaultWorkgroupShape, patternKey, type WorkgroupShape } from './matmul.js';
import { parseTuneRecord, TUNE_CACHE_VERSION, tuneStore, type TuneCacheRules, type TuneRecord } from './tune-cache.js';

/** The access patterns of a linear layer's three products: forward (B transposed), dX, dW. */
const PATTERNS: readonly { transA: boolean; transB: boolean }[] = [
  { transA: false, transB: true },
  { transA: false, transB: false },
  { transA: true, transB: false },
];
const CANDIDATES: readonly WorkgroupShape[] = [[4, 4], [8, 4], [16, 4], [8, 8], [4, 8]];
/** The product timed for each candidate: the MLP's hidden-layer size, small enough to be quick. */
const M = 128;
const K = 512;
const N = 512;
const ROUNDS = 5;
/** A candidate must beat the default by this factor to replace it (noise is not a reason to change). */
const MARGIN = 0.9;

/** The rules a stored result must meet to be used (see tune-cache.ts). */
function cacheRules(ctx: KernelContext): TuneCacheRules {
  const allowed: WorkgroupShape[] = [...CANDIDATES];
  for (const software of [false, true]) {
    for (const p of PATTERNS) allowed.push(defaultWorkgroupShape(software, p.transA, p.transB));
  }
  return {
    patterns: PATTERNS.map((p) => patternKey(p.transA, p.transB)),
    allowed,
    maxInvocations: ctx.limits.maxComputeInvocationsPerWorkgroup,
  };
}

type TuneContext = KernelContext & { flush(): void; release(s: unknown): void; upload(d: Float32Array, t: 'float32'): unknown };

/** Runs one product with a given shape and waits for the GPU; returns the milliseconds taken. */
async function timeOnce(ctx: TuneContext, pattern: { transA: boolean; transB: boolean }, shape: WorkgroupShape, a: unknown, b: unknown): Promise<number> {
  const t0 = performance.now();
  ctx.release(matmul(ctx, a as never, b as never, { batch: 1, m: M, k: K, n: N, ...pattern, aBatchStride: 0, bBatchStride: 0 }, shape));
  ctx.flush();
  await ctx.device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/**
 * Medians over rounds in which every candidate runs once, so a load spike on a shared machine
 * hits all candidates alike rather than whichever ran during it.
 */
async function medians(ctx: TuneContext, pattern: { transA: boolean; transB: boolean }, shapes: readonly WorkgroupShape[], a: unknown, b: unknown): Promise<number[]> {
  for (const s of shapes) await timeOnce(ctx, pattern, s, a, b); // compile and warm up
  const times = shapes.map((): number[] => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < shapes.length; i++) times[i]!.push(await timeOnce(ctx, pattern, shapes[i]!, a, b));
  }
  return times.map((t) => t.sort((x, y) => x - y)[Math.floor(t.length / 2)]!);
}

/**
 * The workgroup shape to use per access pattern on this adapter: from the cache when present,
 * else measured now (and cached).
 */
export async function tuneMatmul(ctx: TuneContext, adapter: string): Promise<Map<string, WorkgroupShape>> {
  const store = tuneStore();
  const rules = cacheRules(ctx);
  const raw = await store.get(adapter);
  // Anything malformed, stale, planted or for another adapter is ignored: re-tuned and rewritten.
  const cached = raw === null ? null : parseTuneRecord(raw, adapter, rules);
  if (cached) return new Map(Object.entries(cached));
  const shapes: Record<string, WorkgroupShape> = {};
  const a = ctx.upload(new Float32Array(M * K).fill(0.5), 'float32');
  const b = ctx.upload(new Float32Array(K * N).fill(0.25), 'float32');
  try {
    for (const pattern of PATTERNS) {
      const fallback = defaultWorkgroupShape(ctx.softwareAdapter, pattern.transA, pattern.transB);
      const candidates = [fallback, ...CANDIDATES.filter((c) => c[0] !== fallback[0] || c[1] !== fallback[1])];
      const ms = await medians(ctx, pattern, candidates, a, b);
      let best = 0;
      for (let i = 1; i < candidates.length; i++) if (ms[i]! < ms[best]!) best = i;
      shapes[patternKey(pattern.transA, pattern.transB)] = ms[best]! < MARGIN * ms[0]! ? candidates[best]! : fallback;
    }
  } finally {
    ctx.release(a);
    ctx.release(b);
  }
  await store.set(adapter, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter, shapes } satisfies TuneRecord));
  return new Map(Object.entries(shapes));
}
