/**
 * A short autotune of the matmul workgroup shape, per adapter and per access pattern (how A and B
 * are read), run once when the backend starts and cached: in memory, and across runs in Node (a JSON
 * file in the OS temp folder) or in the browser (localStorage), keyed by the adapter's description.
 *
 * The shape does not change any result (each output element is the same sum in the same order),
 * only speed, so a noisy measurement can cost time but never correctness. Each candidate runs a
 * mid-sized product a few times and the fastest median wins; the whole tune takes about a second on
 * a software driver, once per machine.
 */
import type { KernelContext } from './context.js';
import { matmul, defaultWorkgroupShape, patternKey, type WorkgroupShape } from './matmul.js';

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
const CACHE_VERSION = 1;

interface TuneCache {
  version: number;
  shapes: Record<string, WorkgroupShape>;
}

function cacheKey(adapter: string): string {
  return `webgrad-matmul-tune:${adapter}`;
}

async function loadCache(adapter: string): Promise<Record<string, WorkgroupShape> | null> {
  const raw = await storage().get(cacheKey(adapter));
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as TuneCache;
    return parsed.version === CACHE_VERSION ? parsed.shapes : null;
  } catch {
    return null;
  }
}

/** Where tune results persist: localStorage in browsers, a temp file in Node, else nowhere. */
function storage(): { get(key: string): Promise<string | null>; set(key: string, value: string): Promise<void> } {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (ls) {
    return { get: async (k) => ls.getItem(k), set: async (k, v) => ls.setItem(k, v) };
  }
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  if (!isNode) return { get: async () => null, set: async () => undefined };
  const nodeOnly = (s: string): Promise<unknown> => import(/* @vite-ignore */ /* webpackIgnore: true */ s);
  const file = async (k: string): Promise<string> => {
    const os = (await nodeOnly('node:os')) as typeof import('node:os');
    const path = (await nodeOnly('node:path')) as typeof import('node:path');
    let h = 0;
    for (const ch of k) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
    return path.join(os.tmpdir(), `webgrad-matmul-tune-${h.toString(16)}.json`);
  };
  return {
    async get(k) {
      const fs = (await nodeOnly('node:fs')) as typeof import('node:fs');
      try {
        return fs.readFileSync(await file(k), 'utf8');
      } catch {
        return null;
      }
    },
    async set(k, v) {
      const fs = (await nodeOnly('node:fs')) as typeof import('node:fs');
      try {
        fs.writeFileSync(await file(k), v);
      } catch {
        /* a read-only temp folder only costs a re-tune next time */
      }
    },
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
  const cached = await loadCache(adapter);
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
  await storage().set(cacheKey(adapter), JSON.stringify({ version: CACHE_VERSION, shapes } satisfies TuneCache));
  return new Map(Object.entries(shapes));
}
