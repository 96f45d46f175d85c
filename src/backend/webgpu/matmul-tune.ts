/**
 * A short autotune of the matmul design and workgroup shape, per adapter and per access pattern (how
 * A and B are read), run once when the backend starts and cached across runs, keyed by the
 * adapter's description (vendor, architecture, device and the driver's description string, which
 * carries the driver version on Mesa and Dawn): in Node a JSON file in the per-user cache folder, in
 * browsers localStorage, validated on read and written atomically (tune-cache.ts).
 *
 * Candidates are every (design, shape) pair of matmul.ts's designs that the device can run, the
 * adapter's default first (defaultMatmulChoice: wide8x8 on software adapters, blocked on GPUs): the
 * register-blocked kernel, the workgroup-memory tiles (single and double-buffered), the wider
 * register blocks, for transposed-A products the 16x4 transposed-A tile and, on a device with
 * 'subgroups', the subgroup-shuffle designs. The choice
 * does not change any result beyond float rounding order (tested per design in
 * webgpu-kernel-paths.test.ts, webgpu-matmul-designs.test.ts and
 * webgpu-matmul-designs-sg.test.ts), only speed, so a noisy
 * measurement can cost time but never correctness. Each candidate runs a mid-sized product a few
 * times and the fastest median wins, once the default and the three fastest have been timed again
 * head to head; the tune stops adding rounds for a pattern once its share of TUNE_BUDGET_MS is spent (after at least one timed round), so a slow adapter bounds its cost.
 * The bound has a floor: every design's first shape is compiled and timed once per pattern (up to
 * 25 pipelines in all), which on a loaded SwiftShader (seconds per compile) exceeds the budget.
 */
import type { KernelContext } from './context.js';
import type { SubgroupSupport } from './device.js';
import { choiceFits, defaultMatmulChoice, designAvailable, LARGE_PRODUCT_OUTPUTS, matmul, patternKey, MATMUL_DESIGNS, type MatmulChoice, type MatmulDesign, type WorkgroupShape } from './matmul.js';
import { parseTuneRecord, TUNE_CACHE_VERSION, tuneStore, type TuneCacheRules, type TuneChoice, type TuneRecord } from './tune-cache.js';

/** The access patterns of a linear layer's three products: forward (B transposed), dX, dW. */
const PATTERNS: readonly TunePattern[] = [
  { transA: false, transB: true },
  { transA: false, transB: false },
  { transA: true, transB: false },
];

/** An access pattern, and whether it is the large-product class (hardware adapters only). */
interface TunePattern {
  transA: boolean;
  transB: boolean;
  large?: boolean;
}

/**
 * What a tune measures on this adapter. On a hardware GPU, also each pattern at a large size
 * (LARGE_DIM cubed), the class of products with at least LARGE_OUTPUTS outputs: the MLP-sized
 * products of the first class (m = 128) fill a GPU only with small tiles, while a 2048² or larger
 * product runs fastest with the 128x128 tiles of tiledDb8x8 (H200, 2026-12-04, 4096³: 31-46 vs
 * 22-36 TFLOP/s for the small class's choice, without the readback). Software drivers keep one
 * class: their tune is already seconds of compiles, and their best designs do not change with size.
 */
export function tunePatterns(ctx: { softwareAdapter?: boolean }): TunePattern[] {
  return ctx.softwareAdapter === false ? [...PATTERNS, ...PATTERNS.map((p) => ({ ...p, large: true }))] : [...PATTERNS];
}
/** Workgroup shapes tried per design (each invocation computes 4x4 outputs in both designs). */
export const DESIGN_SHAPES: Readonly<Record<MatmulDesign, readonly WorkgroupShape[]>> = {
  blocked: [[4, 4], [8, 4], [16, 4], [8, 8], [4, 8]],
  // 32x32 to 64x64 output tiles; 16x4 (16 rows x 64 columns) is the flat tile of dW = dYᵀ·X.
  tiled: [[8, 8], [16, 8], [8, 16], [16, 16], [16, 4]],
  // Wider blocks cover more of C per invocation: fewer, smaller workgroups.
  wide8x4: [[8, 4], [4, 4]],
  wide4x8: [[4, 8], [4, 4]],
  wide8x8: [[4, 4], [8, 4]],
  transA16x4: [[4, 4], [8, 2]],
  // Up to 64x64 tiles: two slabs of both operands fill 16 KiB at 16x16.
  tiledDb: [[8, 8], [16, 8], [16, 16]],
  // 128x128, 128x64 and 64x128 tiles (8x8 per invocation, 8-deep slabs: 16 KiB at 16x16), and 64x64.
  tiledDb8x8: [[16, 16], [8, 16], [16, 8], [8, 8]],
  // Rows along x share A across a subgroup; 8x8 shares both A and B between lanes.
  subgroup: [[16, 4], [8, 8]],
  subgroupBc: [[16, 4], [8, 4], [4, 4]],
  // x a multiple of the subgroup size (4 on SwiftShader, 8 on lavapipe) shares A; a smaller x does
  // not (each lane then loads its own, the wide kernel's loop).
  sgRows8x8: [[4, 4], [8, 4], [4, 2]],
  sgRows16x4: [[8, 2], [4, 2], [8, 4]],
};
/**
 * Wall-clock budget of a whole tune (all patterns), pipeline compiles included: once a pattern's
 * share is spent, no further candidate is compiled (past the first of each design) and no further
 * round is timed (past the first). Compiling dominates on a loaded software driver (~2 s a pipeline
 * at load 17 on 2 cores), so there the tune measures fewer shapes rather than taking minutes.
 */
export const TUNE_BUDGET_MS = 8000;
/**
 * The product timed for each candidate: a linear layer of 512 units at batch 128, small enough to
 * be quick. The forward (NT) and dX (NN) products have m = the batch; the transposed-A product is
 * the weight gradient dW = dYᵀ·X, whose k is the batch and whose m, n are the layer's sizes. Timing
 * TN at m = 128, k = 512 instead picked a design 1.7x slower at dW's shape on SwiftShader.
 */
const BATCH = 128;
const UNITS = 512;
function tuneDims(pattern: TunePattern): { m: number; k: number; n: number } {
  if (pattern.large) return { m: LARGE_DIM, k: LARGE_DIM, n: LARGE_DIM };
  return pattern.transA ? { m: UNITS, k: BATCH, n: UNITS } : { m: BATCH, k: UNITS, n: UNITS };
}
const LARGE_DIM = 2048;
/** A product with at least this many outputs per batch (m·n) takes the large class's choice. */
export const LARGE_OUTPUTS = LARGE_PRODUCT_OUTPUTS;

/** The key of a pattern's choice in a tune result: 'NT', or 'NT:large' for the large class. */
export function tuneKey(pattern: TunePattern): string {
  return patternKey(pattern.transA, pattern.transB) + (pattern.large ? ':large' : '');
}
const ROUNDS = 5;
/** A candidate must beat the default by this factor to replace it (noise is not a reason to change). */
const MARGIN = 0.9;
/**
 * The fastest few candidates (and the default) are timed again head to head before one replaces the
 * default: one round per candidate leaves a single load spike enough to crown a slower design (a
 * subgroup kernel once won NN at load ~15 and cost a fifth of the speed).
 */
const FINALISTS = 3;
const CONFIRM_ROUNDS = 4;

/**
 * The designs the tune tries for an access pattern: all of them, but the transposed-A tile only
 * where A is read transposed (elsewhere it is an 16x4 block without its reason to exist), and the
 * 8x8-block tile only on hardware adapters (on a CPU driver a 256-invocation workgroup with 64
 * accumulators each is a long serial loop that spills: it only adds compile time to the tune).
 */
export function patternDesigns(pattern: { transA: boolean }, ctx: { subgroups?: SubgroupSupport | null; softwareAdapter?: boolean }): MatmulDesign[] {
  return MATMUL_DESIGNS.filter((d) => (d !== 'transA16x4' || pattern.transA) && (d !== 'tiledDb8x8' || ctx.softwareAdapter === false) && designAvailable(ctx, d));
}

/**
 * Every (design, shape) the tune may choose on this device: the default first, then the designs
 * interleaved (each design's first shape before any design's second), so that a tune cut short by
 * its budget has still measured every design.
 */
export function tuneCandidates(ctx: Pick<KernelContext, 'limits' | 'softwareAdapter' | 'subgroups'>, pattern: { transA: boolean; transB: boolean }): MatmulChoice[] {
  const fallback = defaultMatmulChoice(ctx.softwareAdapter, pattern.transA, pattern.transB, ctx.subgroups);
  const out: MatmulChoice[] = [fallback];
  const designs = patternDesigns(pattern, ctx);
  const most = Math.max(...designs.map((d) => DESIGN_SHAPES[d].length));
  for (let i = 0; i < most; i++) {
    for (const design of designs) {
      const shape = DESIGN_SHAPES[design][i];
      if (!shape) continue;
      const c: MatmulChoice = { design, shape };
      if (out.some((o) => o.design === design && o.shape[0] === shape[0] && o.shape[1] === shape[1])) continue;
      if (choiceFits(ctx.limits, c)) out.push(c);
    }
  }
  return out;
}

/** The rules a stored result must meet to be used (see tune-cache.ts). */
function cacheRules(ctx: KernelContext): TuneCacheRules {
  const allowed: TuneChoice[] = [];
  // Only designs this device runs: a record naming a subgroup design is refused on a device
  // created without 'subgroups' (and the design set below differs, so it is stale anyway).
  const designs = MATMUL_DESIGNS.filter((d) => designAvailable(ctx, d));
  for (const design of designs) for (const shape of DESIGN_SHAPES[design]) allowed.push({ design, shape });
  // Stryker disable next-line ArrayDeclaration,BooleanLiteral,BlockStatement: equivalent today, every default (wide8x8 4x4 on software, blocked 8x8 on GPUs) is also in DESIGN_SHAPES, added above; kept for a default outside that list
  for (const software of [false, true]) {
    for (const p of PATTERNS) allowed.push(defaultMatmulChoice(software, p.transA, p.transB, ctx.subgroups));
  }
  return {
    patterns: tunePatterns(ctx).map(tuneKey),
    allowed: allowed.filter((c) => choiceFits(ctx.limits, c as MatmulChoice)),
    maxInvocations: ctx.limits.maxComputeInvocationsPerWorkgroup,
    designs: designs.join(','),
  };
}

type TuneContext = KernelContext & { flush(): void; release(s: unknown): void; upload(d: Float32Array, t: 'float32'): unknown };

/** Runs one product with a given shape and waits for the GPU; returns the milliseconds taken. */
async function timeOnce(ctx: TuneContext, pattern: TunePattern, choice: MatmulChoice, a: unknown, b: unknown): Promise<number> {
  const t0 = performance.now();
  const { transA, transB } = pattern;
  ctx.release(matmul(ctx, a as never, b as never, { batch: 1, ...tuneDims(pattern), transA, transB, aBatchStride: 0, bBatchStride: 0 }, choice));
  ctx.flush();
  await ctx.device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/**
 * Medians over rounds in which every candidate runs once, so a load spike on a shared machine
 * hits all candidates alike rather than whichever ran during it. Stops after ROUNDS, or earlier
 * once `deadline` (performance.now()) has passed, with at least one timed round.
 */
async function measure(ctx: TuneContext, pattern: TunePattern, all: readonly MatmulChoice[], a: unknown, b: unknown, deadline: number): Promise<{ choices: MatmulChoice[]; times: number[][] }> {
  const choices: MatmulChoice[] = [];
  for (const c of all) {
    // Compile and warm up; past the deadline only while some design has no candidate yet.
    if (performance.now() >= deadline && choices.length > 0 && all.every((d) => choices.some((x) => x.design === d.design))) break;
    await timeOnce(ctx, pattern, c, a, b);
    choices.push(c);
  }
  const times = choices.map((): number[] => []);
  for (let r = 0; r < ROUNDS && (r === 0 || performance.now() < deadline); r++) {
    for (let i = 0; i < choices.length; i++) times[i]!.push(await timeOnce(ctx, pattern, choices[i]!, a, b));
  }
  return { choices, times };
}

function median(t: readonly number[]): number {
  const s = [...t].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/** Indices of the default (0) and the FINALISTS fastest others by median, fastest first after 0. */
export function finalistsOf(ms: readonly number[]): number[] {
  const others = ms.map((_, i) => i).filter((i) => i > 0).sort((x, y) => ms[x]! - ms[y]!);
  return [0, ...others.slice(0, FINALISTS)];
}

/** The index chosen from medians: the fastest, if it beats the default (index 0) by MARGIN. */
export function chooseIndex(ms: readonly number[], among: readonly number[]): number {
  let best = among[0]!;
  for (const i of among) if (ms[i]! < ms[best]!) best = i;
  return ms[best]! < MARGIN * ms[0]! ? best : 0;
}

/** What a tune measured for one access pattern (for tests and reports). */
export interface TuneObservation {
  pattern: string;
  candidates: MatmulChoice[];
  medianMs: number[];
  /** The candidates timed again head to head (empty when the default already led). */
  finalists: MatmulChoice[];
  chosen: MatmulChoice;
}

/**
 * The design and workgroup shape to use per access pattern on this adapter: from the cache when
 * present, else measured now (and cached). `observe` sees each pattern's measurements.
 */
export async function tuneMatmul(ctx: TuneContext, adapter: string, observe?: (o: TuneObservation) => void, budgetMs: number = TUNE_BUDGET_MS): Promise<Map<string, MatmulChoice>> {
  const store = tuneStore();
  const rules = cacheRules(ctx);
  const raw = await store.get(adapter);
  // Anything malformed, stale, planted or for another adapter is ignored: re-tuned and rewritten.
  const cached = raw === null ? null : parseTuneRecord(raw, adapter, rules);
  if (cached) return new Map(Object.entries(cached).map(([p, c]) => [p, c as MatmulChoice]));
  const choices: Record<string, MatmulChoice> = {};
  const patterns = tunePatterns(ctx);
  // A holds m·k = BATCH·UNITS values in every small pattern; B at most UNITS·UNITS; both LARGE_OUTPUTS
  // in the large class.
  const large = patterns.some((p) => p.large);
  const a = ctx.upload(new Float32Array(large ? LARGE_OUTPUTS : BATCH * UNITS).fill(0.5), 'float32');
  const b = ctx.upload(new Float32Array(large ? LARGE_OUTPUTS : UNITS * UNITS).fill(0.25), 'float32');
  const start = performance.now();
  try {
    for (const [i, pattern] of patterns.entries()) {
      const deadline = start + ((i + 1) * budgetMs) / patterns.length;
      const { choices: candidates, times } = await measure(ctx, pattern, tuneCandidates(ctx, pattern), a, b, deadline);
      let ms = times.map(median);
      let finalists: number[] = [];
      if (chooseIndex(ms, ms.map((_, j) => j)) !== 0) {
        // Alternating rounds of the finalists only; their samples join those of the first rounds.
        finalists = finalistsOf(ms);
        for (let r = 0; r < CONFIRM_ROUNDS; r++) {
          for (const j of finalists) times[j]!.push(await timeOnce(ctx, pattern, candidates[j]!, a, b));
        }
        ms = times.map(median);
      }
      const chosen = candidates[finalists.length > 0 ? chooseIndex(ms, finalists) : 0]!;
      const key = tuneKey(pattern);
      choices[key] = chosen;
      observe?.({ pattern: key, candidates, medianMs: ms, finalists: finalists.map((j) => candidates[j]!), chosen });
    }
  } finally {
    ctx.release(a);
    ctx.release(b);
  }
  await store.set(adapter, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter, designs: rules.designs, choices } satisfies TuneRecord));
  return new Map(Object.entries(choices));
}
