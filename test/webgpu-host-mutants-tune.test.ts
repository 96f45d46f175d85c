/**
 * The three tunes' host logic (src/backend/webgpu/{matmul-tune,reduce-tune,batchnorm-tune}.ts) on a
 * stand-in kernel context and a stand-in clock: the kernels they time (matmul, reduce, softmax, the
 * batch-norm reductions) are replaced here by calls that advance performance.now() by a fixed whole
 * number of milliseconds per (pattern, design, call), so every median, every round count, the
 * budget cut, the finalists, the choice and the cache record are exact. No adapter is needed and no
 * real time is measured. Written against the mutants StrykerJS left alive there
 * (WEBGRAD_MUTATE_SCOPE=webgpu-tune); the tunes on a real device are in reduce-tune.test.ts,
 * batchnorm-tune.test.ts, webgpu-matmul-designs.test.ts and autotune-cache.test.ts.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MatmulArgs } from '../src/backend/types.js';
import type { SubgroupSupport } from '../src/backend/webgpu/device.js';
import type { MatmulChoice } from '../src/backend/webgpu/matmul.js';
import { chooseIndex, finalistsOf, patternDesigns, tuneCandidates, tuneMatmul, TUNE_BUDGET_MS, type TuneObservation } from '../src/backend/webgpu/matmul-tune.js';
import { chooseDesign, REDUCE_TUNE_BUCKETS, reduceCandidates, tuneReduce, type ReduceTuneObservation, type TuneTimer } from '../src/backend/webgpu/reduce-tune.js';
import { BN_TUNE_BUDGET_MS, tuneBatchNorm, type BatchNormTuneObservation } from '../src/backend/webgpu/batchnorm-tune.js';
import { nodeCacheFile, TUNE_CACHE_VERSION, tuneStore, type TuneKind } from '../src/backend/webgpu/tune-cache.js';

/** The stand-in clock and what the stand-in kernels were asked. */
const h = vi.hoisted(() => ({
  now: 0,
  /** Milliseconds a kernel call takes: by its key and its call number for that key (0 = warm-up). */
  cost: (_key: string, _call: number): number => 1,
  callsByKey: new Map<string, number>(),
  events: [] as string[],
  args: [] as unknown[][],
}));

function tick(key: string): void {
  const n = h.callsByKey.get(key) ?? 0;
  h.callsByKey.set(key, n + 1);
  h.events.push(key);
  h.now += h.cost(key, n);
}

vi.mock('../src/backend/webgpu/matmul.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/backend/webgpu/matmul.js')>();
  return {
    ...m,
    matmul: (_ctx: unknown, a: unknown, b: unknown, args: MatmulArgs, choice: MatmulChoice) => {
      const key = `${m.patternKey(args.transA, args.transB)} ${choice.design} ${choice.shape[0]}x${choice.shape[1]}`;
      h.args.push([key, a, b, args]);
      const n = h.callsByKey.get(key) ?? 0;
      h.callsByKey.set(key, n + 1);
      h.events.push(`matmul ${key}`);
      h.now += h.cost(key, n);
      return { tag: `out ${key}` };
    },
  };
});
vi.mock('../src/backend/webgpu/reduce.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/backend/webgpu/reduce.js')>();
  return {
    ...m,
    reduce: (_ctx: unknown, op: string, x: unknown, outer: number, len: number, inner: number, path: string) => {
      const key = `reduce ${outer}x${len}x${inner} ${path}`;
      h.args.push([key, op, x]);
      tick(key);
      return { tag: `out ${key}` };
    },
  };
});
vi.mock('../src/backend/webgpu/fused/softmax.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/backend/webgpu/fused/softmax.js')>();
  return {
    ...m,
    softmax: (_ctx: unknown, x: unknown, rows: number, cols: number, log: boolean, path: string) => {
      const key = `softmax ${rows}x${cols} ${path}`;
      h.args.push([key, x, log]);
      tick(key);
      return { tag: `out ${key}` };
    },
  };
});
vi.mock('../src/backend/webgpu/fused/batchnorm.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/backend/webgpu/fused/batchnorm.js')>();
  return {
    ...m,
    batchNormStats: (_ctx: unknown, x: unknown, n: number, c: number, path: string) => {
      const key = `stats ${n}x${c} ${path}`;
      h.args.push([key, x]);
      tick(key);
      return { mean: { tag: `mean ${key}` }, variance: { tag: `variance ${key}` } };
    },
    batchNormBackward: (_ctx: unknown, x: unknown, dy: unknown, mean: unknown, variance: unknown, gamma: unknown, n: number, c: number, eps: number, path: string) => {
      const key = `backward ${n}x${c} ${path}`;
      h.args.push([key, x, dy, mean, variance, gamma, eps]);
      tick(key);
      return { dx: { tag: `dx ${key}` }, dgamma: { tag: `dgamma ${key}` }, dbeta: { tag: `dbeta ${key}` } };
    },
  };
});

interface Uploaded {
  tag: string;
  data: Float32Array;
  dtype: string;
}

/** A kernel context with what the tunes touch: limits, adapter kind, uploads, releases, flush, the queue. */
function fakeCtx(over: { software?: boolean; subgroups?: SubgroupSupport | null; maxInv?: number; wgBytes?: number } = {}) {
  const uploads: Uploaded[] = [];
  const ctx = {
    limits: { maxComputeInvocationsPerWorkgroup: over.maxInv ?? 64, maxComputeWorkgroupStorageSize: over.wgBytes ?? 8192 },
    softwareAdapter: over.software ?? true,
    subgroups: over.subgroups ?? null,
    upload(data: Float32Array, dtype: string) {
      const s = { tag: `upload ${uploads.length}`, data, dtype };
      uploads.push(s);
      return s;
    },
    release(s: { tag: string }) {
      h.events.push(`release ${s.tag}`);
    },
    flush() {
      h.events.push('flush');
    },
    device: {
      queue: {
        onSubmittedWorkDone() {
          h.events.push('done');
          return Promise.resolve();
        },
      },
    },
  };
  return { ctx: ctx as never, uploads };
}

const home = mkdtempSync(join(tmpdir(), 'webgrad-tune-mutants-'));
const savedXdg = process.env.XDG_CACHE_HOME;
beforeAll(() => {
  process.env.XDG_CACHE_HOME = home;
});
afterAll(() => {
  if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedXdg;
  rmSync(home, { recursive: true, force: true });
});
beforeEach(() => {
  h.now = 0;
  h.cost = () => 1;
  h.callsByKey.clear();
  h.events.length = 0;
  h.args.length = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => h.now);
});
afterEach(() => {
  vi.restoreAllMocks();
});

let adapters = 0;
const freshAdapter = (what: string): string => `${what} ${process.pid} ${adapters++}`;

async function stored(adapter: string, kind: TuneKind): Promise<unknown> {
  return JSON.parse(readFileSync((await nodeCacheFile(adapter, kind))!, 'utf8'));
}

const c = (design: string, x: number, y: number): MatmulChoice => ({ design, shape: [x, y] }) as MatmulChoice;
const NT = { transA: false, transB: true };
const NN = { transA: false, transB: false };
const TN = { transA: true, transB: false };

// On 64 invocations and 8192 bytes of workgroup memory: tiled fits up to (x + y)·256 B (16x16 just
// fits), tiledDb (x + y)·512 B (8x8 just fits), and no shape over 64 invocations.
// A software adapter's default (wide8x8 4x4, every pattern) first, then each design's shapes in turn.
const NT_CANDIDATES = [
  c('wide8x8', 4, 4), c('blocked', 4, 4), c('tiled', 8, 8), c('wide8x4', 8, 4), c('wide4x8', 4, 8), c('tiledDb', 8, 8),
  c('blocked', 8, 4), c('wide8x4', 4, 4), c('wide4x8', 4, 4), c('wide8x8', 8, 4),
  c('blocked', 16, 4), c('blocked', 8, 8), c('blocked', 4, 8), c('tiled', 16, 4),
];
const NN_CANDIDATES = NT_CANDIDATES;
const TN_CANDIDATES = [
  c('wide8x8', 4, 4), c('blocked', 4, 4), c('tiled', 8, 8), c('wide8x4', 8, 4), c('wide4x8', 4, 8), c('transA16x4', 4, 4), c('tiledDb', 8, 8),
  c('blocked', 8, 4), c('wide8x4', 4, 4), c('wide4x8', 4, 4), c('wide8x8', 8, 4), c('transA16x4', 8, 2),
  c('blocked', 16, 4), c('blocked', 8, 8), c('blocked', 4, 8), c('tiled', 16, 4),
];
const PLAIN_DESIGNS = 'blocked,tiled,wide8x4,wide4x8,wide8x8,transA16x4,tiledDb,tiledDb8x8';
const keyOf = (p: string, x: MatmulChoice): string => `${p} ${x.design} ${x.shape[0]}x${x.shape[1]}`;

describe('matmul tune: candidates', () => {
  it('every fitting (design, shape), the default first, designs interleaved, no duplicate of the default', () => {
    const { ctx } = fakeCtx();
    expect(tuneCandidates(ctx, NT)).toEqual(NT_CANDIDATES);
    expect(tuneCandidates(ctx, NN)).toEqual(NN_CANDIDATES);
    expect(tuneCandidates(ctx, TN)).toEqual(TN_CANDIDATES);
    // A hardware adapter's default is 8x8 for every pattern.
    const hw = tuneCandidates(fakeCtx({ software: false }).ctx, NN);
    expect(hw[0]).toEqual(c('blocked', 8, 8));
    expect(hw.filter((x) => x.design === 'blocked')).toEqual([c('blocked', 8, 8), c('blocked', 4, 4), c('blocked', 8, 4), c('blocked', 16, 4), c('blocked', 4, 8)]);
    // More workgroup memory: the larger tiles join (tiledDb 16x8 needs 12288 B), at their place.
    // With subgroups (a fixed size of 8): the default is the row-sharing 16x4 block on 8x2, then
    // every design including wide8x8 4x4 (no longer the default); the subgroup designs, all their
    // shapes, interleaved last.
    const sg = tuneCandidates(fakeCtx({ subgroups: { minSize: 8, maxSize: 8 } }).ctx, NT);
    expect(sg[0]).toEqual(c('sgRows16x4', 8, 2));
    expect(sg.filter((x) => x.design.startsWith('subgroup'))).toEqual([c('subgroup', 16, 4), c('subgroupBc', 16, 4), c('subgroup', 8, 8), c('subgroupBc', 8, 4), c('subgroupBc', 4, 4)]);
    expect(sg.filter((x) => x.design.startsWith('sgRows'))).toEqual([
      c('sgRows16x4', 8, 2), c('sgRows8x8', 4, 4), c('sgRows8x8', 8, 4), c('sgRows16x4', 4, 2), c('sgRows8x8', 4, 2), c('sgRows16x4', 8, 4),
    ]);
    expect(sg.slice(5, 10)).toEqual([c('wide8x8', 4, 4), c('tiledDb', 8, 8), c('subgroup', 16, 4), c('subgroupBc', 16, 4), c('sgRows8x8', 4, 4)]);
    // All of tiledDb's shapes where they fit.
    const roomy = tuneCandidates(fakeCtx({ maxInv: 256, wgBytes: 16384 }).ctx, NT);
    expect(roomy.filter((x) => x.design === 'tiledDb')).toEqual([c('tiledDb', 8, 8), c('tiledDb', 16, 8), c('tiledDb', 16, 16)]);
    const big = tuneCandidates(fakeCtx({ maxInv: 256, wgBytes: 12288 }).ctx, NT);
    expect(big.filter((x) => x.design === 'tiledDb')).toEqual([c('tiledDb', 8, 8), c('tiledDb', 16, 8)]);
    expect(big.filter((x) => x.design === 'tiled')).toEqual([c('tiled', 8, 8), c('tiled', 16, 8), c('tiled', 8, 16), c('tiled', 16, 16), c('tiled', 16, 4)]);
  });

  it('the transposed-A tile only where A is transposed; subgroup designs only where the device has them', () => {
    const none = { subgroups: null };
    expect(patternDesigns(NT, none)).toEqual(['blocked', 'tiled', 'wide8x4', 'wide4x8', 'wide8x8', 'tiledDb']);
    expect(patternDesigns(TN, none)).toEqual(['blocked', 'tiled', 'wide8x4', 'wide4x8', 'wide8x8', 'transA16x4', 'tiledDb']);
    expect(patternDesigns(TN, { subgroups: { minSize: 8, maxSize: 8 } })).toEqual(['blocked', 'tiled', 'wide8x4', 'wide4x8', 'wide8x8', 'transA16x4', 'tiledDb', 'subgroup', 'subgroupBc', 'sgRows8x8', 'sgRows16x4']);
    expect(patternDesigns(NN, { subgroups: { minSize: 4, maxSize: 64 } })).toEqual(['blocked', 'tiled', 'wide8x4', 'wide4x8', 'wide8x8', 'tiledDb', 'subgroup']);
    expect(TUNE_BUDGET_MS).toBe(8000);
  });

  it('finalists: the default and the three fastest others; the choice: strictly fastest of them, below 0.9 × the default', () => {
    // The default is among the fastest: it is not counted twice.
    expect(finalistsOf([1, 5, 6, 7, 8])).toEqual([0, 1, 2, 3]);
    expect(finalistsOf([5, 1, 9, 2, 3, 4])).toEqual([0, 1, 3, 4]);
    expect(finalistsOf([5])).toEqual([0]);
    // A tie keeps the earlier index.
    expect(chooseIndex([10, 5, 5], [0, 1, 2])).toBe(1);
    expect(chooseIndex([10, 5, 5], [0, 2, 1])).toBe(2);
    expect(chooseIndex([10, 9, 9.5], [0, 1, 2])).toBe(0); // 9 is not < 0.9·10
    expect(chooseIndex([10, 8.5, 9.5], [0, 1, 2])).toBe(1);
    expect(chooseIndex([10, 12, 5, 7], [0, 1, 3])).toBe(3);
  });
});

describe('matmul tune: measuring (stand-in clock)', () => {
  /** Per call: warm-up 100, then rounds 3, 1, 2, 9, 5 (median 3) and confirmation rounds 4, 6, 1, 8 (median of all 9: 4), times a factor per candidate. */
  const SEQ = [100, 3, 1, 2, 9, 5, 4, 6, 1, 8];
  const factors: Record<string, number> = {
    'NT wide8x8 4x4': 100, 'NT tiled 8x8': 50, 'NT blocked 4x4': 60, 'NT wide8x4 8x4': 70, 'NT tiledDb 8x8': 80,
    'NN wide8x8 4x4': 100, 'NN wide4x8 4x8': 90,
    'TN wide8x8 4x4': 100, 'TN transA16x4 8x2': 89, 'TN transA16x4 4x4': 95,
  };

  it('times every candidate (a warm-up, five rounds), re-times the finalists four times, picks, caches the record', async () => {
    h.cost = (key, n) => (factors[key] ?? 200) * SEQ[n]!;
    const { ctx, uploads } = fakeCtx();
    const adapter = freshAdapter('matmul A');
    const seen: TuneObservation[] = [];
    const choices = await tuneMatmul(ctx, adapter, (o) => seen.push(o), 1e9);
    expect(Object.fromEntries(choices)).toEqual({ NT: c('tiled', 8, 8), NN: c('wide8x8', 4, 4), TN: c('transA16x4', 8, 2) });

    // NT: first medians 300 (default), 150, 180, 210, 240, others 600: tiled leads by more than 10 %,
    // so the default and the three fastest are re-timed (medians of nine: 4 × factor).
    const nt = seen[0]!;
    expect(nt.pattern).toBe('NT');
    expect(nt.candidates).toEqual(NT_CANDIDATES);
    expect(nt.medianMs).toEqual([400, 240, 200, 280, 600, 240, 600, 600, 600, 600, 600, 600, 600, 600]);
    expect(nt.finalists).toEqual([c('wide8x8', 4, 4), c('tiled', 8, 8), c('blocked', 4, 4), c('wide8x4', 8, 4)]);
    expect(nt.chosen).toEqual(c('tiled', 8, 8));
    // NN: the best (270) is exactly 0.9 × the default (300): not a win, no finalists.
    const nn = seen[1]!;
    expect(nn.pattern).toBe('NN');
    expect(nn.candidates).toEqual(NN_CANDIDATES);
    expect(nn.medianMs).toEqual([300, 600, 600, 600, 270, 600, 600, 600, 600, 600, 600, 600, 600, 600]);
    expect(nn.finalists).toEqual([]);
    expect(nn.chosen).toEqual(c('wide8x8', 4, 4));
    // TN: 267 leads 285 and the default's 300; re-timed 356 < 0.9 × 400; the third finalist is the first 600.
    const tn = seen[2]!;
    expect(tn.pattern).toBe('TN');
    expect(tn.medianMs).toEqual([400, 800, 600, 600, 600, 380, 600, 600, 600, 600, 600, 356, 600, 600, 600, 600]);
    expect(tn.finalists).toEqual([c('wide8x8', 4, 4), c('transA16x4', 8, 2), c('transA16x4', 4, 4), c('blocked', 4, 4)]);
    expect(tn.chosen).toEqual(c('transA16x4', 8, 2));

    for (const [p, list, fin] of [['NT', NT_CANDIDATES, nt.finalists], ['NN', NN_CANDIDATES, []], ['TN', TN_CANDIDATES, tn.finalists]] as const) {
      for (const x of list) expect(h.callsByKey.get(keyOf(p, x)), keyOf(p, x)).toBe(fin.some((f) => f.design === x.design && f.shape[0] === x.shape[0] && f.shape[1] === x.shape[1]) ? 10 : 6);
    }
    // The timed products: 128x512 times 512x512 (NT, NN) and dW's 512x128 times 128x512 (TN), from two
    // uploads (0.5 and 0.25), released at the end.
    expect(uploads.map((u) => [u.tag, u.data.length, u.dtype, u.data[0], u.data[u.data.length - 1]])).toEqual([
      ['upload 0', 128 * 512, 'float32', 0.5, 0.5],
      ['upload 1', 512 * 512, 'float32', 0.25, 0.25],
    ]);
    for (const [key, a, b, args] of h.args) {
      expect(a).toBe(uploads[0]);
      expect(b).toBe(uploads[1]);
      const p = (key as string).slice(0, 2);
      const dims = p[0] === 'T' ? { m: 512, k: 128, n: 512 } : { m: 128, k: 512, n: 512 };
      expect(args).toEqual({ batch: 1, ...dims, transA: p[0] === 'T', transB: p[1] === 'T', aBatchStride: 0, bBatchStride: 0 });
    }
    // Each timing: the product, its output released, a flush, a wait for the queue.
    expect(h.events.slice(0, 4)).toEqual(['matmul NT wide8x8 4x4', 'release out NT wide8x8 4x4', 'flush', 'done']);
    const timings = h.args.length;
    expect(h.events.length).toBe(4 * timings + 2);
    expect(h.events.slice(-2)).toEqual(['release upload 0', 'release upload 1']);

    expect(await stored(adapter, 'matmul')).toEqual({
      version: TUNE_CACHE_VERSION, adapter, designs: PLAIN_DESIGNS,
      choices: { NT: c('tiled', 8, 8), NN: c('wide8x8', 4, 4), TN: c('transA16x4', 8, 2) },
    });
    // A second start reads the record: nothing is uploaded or timed.
    h.args.length = 0;
    const again = await tuneMatmul(ctx, adapter, (o) => seen.push(o), 1e9);
    expect(Object.fromEntries(again)).toEqual(Object.fromEntries(choices));
    expect([h.args.length, uploads.length, seen.length]).toEqual([0, 2, 3]);
  });

  it('on a hardware adapter: the large class too, timed at 2048³ on 2048² uploads, with the 8x8-block tile among its candidates', async () => {
    // At 2048³ the 8x8-block tile takes half the default's time; at the small size every candidate ties.
    h.cost = (key) => ((h.args[h.args.length - 1]![3] as MatmulArgs).m === 2048 && key.includes('tiledDb8x8') ? 50 : 100);
    const { ctx, uploads } = fakeCtx({ software: false });
    const adapter = freshAdapter('matmul hardware');
    const seen: TuneObservation[] = [];
    const choices = await tuneMatmul(ctx, adapter, (o) => seen.push(o), 1e9);
    expect(seen.map((o) => o.pattern)).toEqual(['NT', 'NN', 'TN', 'NT:large', 'NN:large', 'TN:large']);
    const tile = c('tiledDb8x8', 8, 8); // its only shape within 64 invocations
    const expected = { NT: c('blocked', 8, 8), NN: c('blocked', 8, 8), TN: c('blocked', 8, 8), 'NT:large': tile, 'NN:large': tile, 'TN:large': tile };
    expect(Object.fromEntries(choices)).toEqual(expected);
    for (const o of seen) expect(o.candidates).toContainEqual(tile);
    expect(uploads.map((u) => u.data.length)).toEqual([2048 * 2048, 2048 * 2048]);
    const sizes = new Set(h.args.map(([key, , , a]) => `${(key as string).slice(0, 2)} ${(a as MatmulArgs).m}x${(a as MatmulArgs).k}x${(a as MatmulArgs).n}`));
    expect([...sizes].sort()).toEqual(['NN 128x512x512', 'NN 2048x2048x2048', 'NT 128x512x512', 'NT 2048x2048x2048', 'TN 2048x2048x2048', 'TN 512x128x512']);
    expect(await stored(adapter, 'matmul')).toMatchObject({ choices: expected });
    // With room for all of them, every listed 8x8-block tile is a candidate, the 128x128 one first.
    const roomy = tuneCandidates(fakeCtx({ software: false, maxInv: 256, wgBytes: 16384 }).ctx, { transA: false, transB: false });
    expect(roomy.filter((x) => x.design === 'tiledDb8x8')).toEqual([c('tiledDb8x8', 16, 16), c('tiledDb8x8', 8, 16), c('tiledDb8x8', 16, 8), c('tiledDb8x8', 8, 8)]);
    // 16x16 needs 2 · 4 B · 8 · (128 + 128) = 16 KiB of workgroup memory: not offered with less.
    const tight = tuneCandidates(fakeCtx({ software: false, maxInv: 256, wgBytes: 16383 }).ctx, { transA: false, transB: false });
    expect(tight.filter((x) => x.design === 'tiledDb8x8')).toEqual([c('tiledDb8x8', 8, 16), c('tiledDb8x8', 16, 8), c('tiledDb8x8', 8, 8)]);
  });

  it('the budget: a pattern stops adding rounds at its share (after one round), each a third of it', async () => {
    // Every call 1 ms. NT (14 candidates): compiled by 14, round 1 ends at 28 < 35, round 2 at 42.
    // NN (14): compiled by 56, round 1 ends at 70 = its deadline: no second round. TN (16): from 70,
    // compiled by 86, round 1 ends at 102 < 105, round 2 at 118.
    const { ctx } = fakeCtx();
    const seen: TuneObservation[] = [];
    await tuneMatmul(ctx, freshAdapter('matmul B'), (o) => seen.push(o), 105);
    const calls = (p: string, list: MatmulChoice[]) => list.map((x) => h.callsByKey.get(keyOf(p, x)));
    expect(calls('NT', NT_CANDIDATES)).toEqual(NT_CANDIDATES.map(() => 3));
    expect(calls('NN', NN_CANDIDATES)).toEqual(NN_CANDIDATES.map(() => 2));
    expect(calls('TN', TN_CANDIDATES)).toEqual(TN_CANDIDATES.map(() => 3));
    expect(seen.map((o) => o.medianMs.every((m) => m === 1))).toEqual([true, true, true]);
  });

  it('a spent budget still compiles and times the first candidate of every design once, then stops', async () => {
    const { ctx } = fakeCtx();
    const seen: TuneObservation[] = [];
    await tuneMatmul(ctx, freshAdapter('matmul C'), (o) => seen.push(o), 0);
    expect(seen.map((o) => o.candidates)).toEqual([NT_CANDIDATES.slice(0, 6), NN_CANDIDATES.slice(0, 6), TN_CANDIDATES.slice(0, 7)]);
    for (const [p, n] of [['NT', 6], ['NN', 6], ['TN', 7]] as const) {
      const list = { NT: NT_CANDIDATES, NN: NN_CANDIDATES, TN: TN_CANDIDATES }[p];
      expect(list.map((x) => h.callsByKey.get(keyOf(p, x)) ?? 0)).toEqual(list.map((_, i) => (i < n ? 2 : 0)));
    }
  });

  it('a budget reached exactly (no time passing) also stops compiling once every design has a candidate', async () => {
    h.cost = () => 0;
    const seen: TuneObservation[] = [];
    await tuneMatmul(fakeCtx().ctx, freshAdapter('matmul E'), (o) => seen.push(o), 0);
    expect(seen.map((o) => o.candidates.length)).toEqual([6, 6, 7]);
  });

  it('the default budget is 8 s: with 1 s per call only the first round is timed', async () => {
    h.cost = () => 1000;
    const { ctx } = fakeCtx();
    await tuneMatmul(ctx, freshAdapter('matmul D'));
    // NT's share is 2667 ms: compiling alone takes 6 s past it (the first of each design, then stop).
    expect(NT_CANDIDATES.map((x) => h.callsByKey.get(keyOf('NT', x)) ?? 0)).toEqual(NT_CANDIDATES.map((_, i) => (i < 6 ? 2 : 0)));
  });
});

describe('matmul tune: which stored records are trusted', () => {
  const record = (adapter: string, designs: string, choices: Record<string, MatmulChoice>) =>
    JSON.stringify({ version: TUNE_CACHE_VERSION, adapter, designs, choices });

  async function usesRecord(ctxOver: Parameters<typeof fakeCtx>[0], designs: string, choices: Record<string, MatmulChoice>): Promise<boolean> {
    const { ctx } = fakeCtx(ctxOver);
    const adapter = freshAdapter('matmul record');
    await tuneStore('matmul').set(adapter, record(adapter, designs, choices));
    h.args.length = 0;
    const got = await tuneMatmul(ctx, adapter, undefined, 0);
    const used = h.args.length === 0;
    if (used) expect(Object.fromEntries(got)).toEqual(choices);
    return used;
  }

  it('any design shape the device fits; not one over its workgroup memory; the design set must match', async () => {
    const base = { NT: c('blocked', 8, 8), NN: c('tiled', 16, 4), TN: c('transA16x4', 8, 2) };
    expect(await usesRecord({}, PLAIN_DESIGNS, base)).toBe(true);
    // tiledDb 16x8: 128 invocations (fits 256) but 12288 B of workgroup memory.
    expect(await usesRecord({ maxInv: 256, wgBytes: 12288 }, PLAIN_DESIGNS, { ...base, NN: c('tiledDb', 16, 8) })).toBe(true);
    expect(await usesRecord({ maxInv: 256, wgBytes: 8192 }, PLAIN_DESIGNS, { ...base, NN: c('tiledDb', 16, 8) })).toBe(false);
    // Over the invocations.
    expect(await usesRecord({ maxInv: 32 }, PLAIN_DESIGNS, base)).toBe(false);
    // A subgroup design: only where the device has subgroups (and then the set names them).
    const sg = { minSize: 8, maxSize: 8 };
    const SG_DESIGNS = `${PLAIN_DESIGNS},subgroup,subgroupBc,sgRows8x8,sgRows16x4`;
    expect(await usesRecord({ subgroups: sg }, SG_DESIGNS, { ...base, NT: c('subgroupBc', 8, 4) })).toBe(true);
    expect(await usesRecord({ subgroups: sg }, SG_DESIGNS, { ...base, NN: c('sgRows16x4', 8, 2) })).toBe(true);
    expect(await usesRecord({}, SG_DESIGNS, { ...base, NT: c('subgroupBc', 8, 4) })).toBe(false);
    // A record from before the row-sharing designs existed is stale where they can run.
    expect(await usesRecord({ subgroups: sg }, `${PLAIN_DESIGNS},subgroup,subgroupBc`, { ...base, NT: c('subgroupBc', 8, 4) })).toBe(false);
    expect(await usesRecord({ subgroups: sg }, PLAIN_DESIGNS, base)).toBe(false);
    // A record from before the 8x8-block tile existed is stale.
    expect(await usesRecord({}, PLAIN_DESIGNS.replace(',tiledDb8x8', ''), base)).toBe(false);
    // A pattern missing or renamed.
    expect(await usesRecord({}, PLAIN_DESIGNS, { NT: base.NT, NN: base.NN, NX: base.TN } as never)).toBe(false);
  });
});

describe('reduce tune (stand-in kernels and clock)', () => {
  it('the buckets: keys, timed shapes, the rule each must beat', () => {
    expect(REDUCE_TUNE_BUCKETS.map((b) => [b.key, b.size, b.rule])).toEqual([
      ['reduce-row:mid', 512 * 512, 'tree'],
      ['reduce-row:long', 4 * 65536, 'tree'],
      ['reduce-col:few', 4096 * 64, 'tree'],
      ['reduce-col:many', 256 * 512, 'loop'],
      ['softmax:mid', 256 * 256, 'tree'],
      ['softmax:long', 16 * 4096, 'tree'],
    ]);
    expect(reduceCandidates(true)).toEqual(['loop', 'tree', 'subgroup']);
    expect(reduceCandidates(false)).toEqual(['loop', 'tree']);
    expect(chooseDesign({ loop: 10, tree: 9 }, 'loop')).toBe('loop'); // 9 = 0.9·10: not below
    expect(chooseDesign({ loop: 10, tree: 8.9 }, 'loop')).toBe('tree');
    expect(chooseDesign({ loop: 10, tree: 9.5 }, 'loop', 0.96)).toBe('tree');
    // A tie between two winners keeps the first listed.
    expect(chooseDesign({ loop: 10, tree: 5, subgroup: 5 }, 'loop')).toBe('tree');
  });

  it('warm-up times are not samples (unless pruned); medians of the five rounds', async () => {
    const calls = new Map<string, number>();
    // Warm-up 1000 for every design (no pruning: all equal), then rounds 1, 2, 3, 4, 5 × a factor.
    const timer: TuneTimer = async (bucket, design, run) => {
      run();
      const n = calls.get(`${bucket}/${design}`) ?? 0;
      calls.set(`${bucket}/${design}`, n + 1);
      return n === 0 ? 1000 : [5, 1, 4, 2, 3][n - 1]! * (design === 'loop' ? 10 : 20);
    };
    const seen: ReduceTuneObservation[] = [];
    await tuneReduce(fakeCtx().ctx, freshAdapter('reduce W'), (o) => seen.push(o), 1e9, timer);
    expect(seen.map((o) => o.medianMs)).toEqual(REDUCE_TUNE_BUCKETS.map(() => ({ loop: 30, tree: 60 })));
  });

  it('the default timer: three runs per sample, a flush and a queue wait, the mean; uploads and releases', async () => {
    // 30 ms per run: 30 per sample. Without subgroups: loop and tree, a warm-up and five rounds.
    h.cost = (key) => (key.endsWith(' loop') ? 30 : 60);
    const { ctx, uploads } = fakeCtx();
    const adapter = freshAdapter('reduce A');
    const seen: ReduceTuneObservation[] = [];
    const choices = await tuneReduce(ctx, adapter, (o) => seen.push(o), 1e9);
    expect(seen.map((o) => o.medianMs)).toEqual(REDUCE_TUNE_BUCKETS.map(() => ({ loop: 30, tree: 60 })));
    expect(Object.fromEntries(choices)).toEqual(Object.fromEntries(REDUCE_TUNE_BUCKETS.map((b) => [b.key, 'loop'])));
    expect(h.callsByKey.get('reduce 512x512x1 loop')).toBe(18);
    expect(h.callsByKey.get('softmax 16x4096 tree')).toBe(18);
    expect(h.events.slice(0, 6)).toEqual(['reduce 512x512x1 loop', 'release out reduce 512x512x1 loop', 'reduce 512x512x1 loop', 'release out reduce 512x512x1 loop', 'reduce 512x512x1 loop', 'release out reduce 512x512x1 loop']);
    expect(h.events.slice(6, 8)).toEqual(['flush', 'done']);
    // The kernels ran on the bucket's upload: sum for reduce, softmax (not log) for softmax.
    expect(uploads.map((u) => u.data.length)).toEqual(REDUCE_TUNE_BUCKETS.map((b) => b.size));
    expect(uploads.every((u) => u.dtype === 'float32')).toBe(true);
    // ((i·37) mod 101)/100 − 0.5
    expect(Array.from(uploads[0]!.data.subarray(0, 4), (v) => Math.round(v * 100) / 100)).toEqual([-0.5, -0.13, 0.24, -0.4]);
    expect(uploads[0]!.data[101]).toBe(-0.5);
    const shapes = ['reduce 512x512x1 ', 'reduce 4x65536x1 ', 'reduce 1x4096x64 ', 'reduce 1x256x512 ', 'softmax 256x256 ', 'softmax 16x4096 '];
    for (const [key, a, b] of h.args) {
      const u = uploads[shapes.findIndex((s) => (key as string).startsWith(s))];
      expect(u).toBeDefined();
      if ((key as string).startsWith('reduce')) expect([a, b]).toEqual(['sum', u]);
      else expect([a, b]).toEqual([u, false]);
    }
    const released = h.events.filter((e) => e.startsWith('release upload'));
    expect(released).toEqual(uploads.map((u) => `release ${u.tag}`));
    expect(await stored(`${adapter} #reduce`, 'reduce')).toEqual({
      version: TUNE_CACHE_VERSION, adapter: `${adapter} #reduce`, designs: 'loop,tree',
      choices: Object.fromEntries(REDUCE_TUNE_BUCKETS.map((b) => [b.key, { design: 'loop', shape: [1, 1] }])),
    });
  });

  it('the default budget (3 s, a sixth per bucket): 200 ms runs leave one round per bucket', async () => {
    h.cost = () => 200;
    const { ctx } = fakeCtx();
    await tuneReduce(ctx, freshAdapter('reduce B'));
    // A warm-up and one round, 3 runs each, per design.
    expect(h.callsByKey.get('reduce 512x512x1 loop')).toBe(6);
    expect(h.callsByKey.get('softmax 16x4096 tree')).toBe(6);
  });

  it('the budget: rounds stop at each bucket’s share, counted from the start', async () => {
    // 1 ms a run, 3 runs a sample; 2 designs: warm-up 6 ms, a round 6 ms. Budget 72: 12 ms a bucket.
    // Bucket 1: round 1 ends at 12, not < 12: one round. Bucket 2 (deadline 24): from 12, warm-up to
    // 18, round 1 to 24: one round.
    const { ctx } = fakeCtx();
    await tuneReduce(ctx, freshAdapter('reduce C'), undefined, 72);
    expect(h.callsByKey.get('reduce 512x512x1 loop')).toBe(6);
    expect(h.callsByKey.get('reduce 4x65536x1 tree')).toBe(6);
    h.callsByKey.clear();
    h.now = 0;
    await tuneReduce(ctx, freshAdapter('reduce D'), undefined, 120);
    // Bucket 1 (deadline 20): rounds end at 12, 18, 24 → three rounds. Bucket 2 (40): from 24,
    // warm-up to 30, rounds to 36, 42 → two rounds.
    expect(h.callsByKey.get('reduce 512x512x1 loop')).toBe(12);
    expect(h.callsByKey.get('reduce 4x65536x1 loop')).toBe(9);
  });

  it('pruning at warm-up needs both over 4x the fastest and over 50 ms more; in round 1, over 4x', async () => {
    const calls = new Map<string, number>();
    const timer = (ms: Record<string, number>): TuneTimer => async (bucket, design, run) => {
      run();
      calls.set(`${bucket}/${design}`, (calls.get(`${bucket}/${design}`) ?? 0) + 1);
      return ms[design]!;
    };
    const { ctx } = fakeCtx({ subgroups: { minSize: 4, maxSize: 64 } });
    // tree exactly 4x (80 vs 20) and 60 ms more: kept; subgroup 4.05x and 61 ms more: pruned.
    await tuneReduce(ctx, freshAdapter('reduce E'), undefined, 1e9, timer({ loop: 20, tree: 80, subgroup: 81 }));
    expect([calls.get('reduce-row:mid/loop'), calls.get('reduce-row:mid/tree'), calls.get('reduce-row:mid/subgroup')]).toEqual([6, 6, 1]);
    calls.clear();
    // 61 vs 10: over 4x but exactly 51 ms more: pruned; 60: exactly 50 more: kept until round 1 prunes it (6x).
    await tuneReduce(ctx, freshAdapter('reduce F'), undefined, 1e9, timer({ loop: 10, tree: 60, subgroup: 61 }));
    expect([calls.get('reduce-row:mid/loop'), calls.get('reduce-row:mid/tree'), calls.get('reduce-row:mid/subgroup')]).toEqual([6, 2, 1]);
    calls.clear();
    const seen: ReduceTuneObservation[] = [];
    await tuneReduce(ctx, freshAdapter('reduce G'), (o) => seen.push(o), 1e9, timer({ loop: 10, tree: 41, subgroup: 40 }));
    // Round 1: tree 41 > 4·10 stops; subgroup at exactly 4x goes on.
    expect([calls.get('reduce-row:mid/loop'), calls.get('reduce-row:mid/tree'), calls.get('reduce-row:mid/subgroup')]).toEqual([6, 2, 6]);
    expect(seen[0]!.medianMs).toEqual({ loop: 10, tree: 41, subgroup: 40 });
  });

  it('a stored record: used when it names this device’s designs, for every bucket', async () => {
    const adapter = freshAdapter('reduce H');
    const key = `${adapter} #reduce`;
    const choices = Object.fromEntries(REDUCE_TUNE_BUCKETS.map((b, i) => [b.key, { design: i % 2 ? 'tree' : 'loop', shape: [1, 1] }]));
    await tuneStore('reduce').set(key, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: key, designs: 'loop,tree', choices }));
    const got = await tuneReduce(fakeCtx().ctx, adapter, undefined, 1e9);
    expect(h.events).toEqual([]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(REDUCE_TUNE_BUCKETS.map((b, i) => [b.key, i % 2 ? 'tree' : 'loop'])));
    // The same record on a device with subgroups (another design set): re-tuned.
    const again = await tuneReduce(fakeCtx({ subgroups: { minSize: 4, maxSize: 4 } }).ctx, adapter, undefined, 1e9);
    expect(h.events.length).toBeGreaterThan(0);
    expect(again.size).toBe(6);
    // A device whose workgroups hold no invocation refuses even shape [1, 1].
    h.events.length = 0;
    await tuneStore('reduce').set(key, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: key, designs: 'loop,tree', choices }));
    await tuneReduce(fakeCtx({ maxInv: 0 }).ctx, adapter, undefined, 1e9);
    expect(h.events.length).toBeGreaterThan(0);
  });
});

describe('batch-norm tune (stand-in kernels and clock)', () => {
  const KEYS = ['bn-stats:short', 'bn-backward:short', 'bn-stats:tall', 'bn-backward:tall'];

  it('medians per design, tiled only below 0.9 × the column loop; uploads, arguments, releases, record', async () => {
    // Per call (0 = warm-up): 100, then 3, 1, 2, 9, 5 (median 3), times a factor.
    const SEQ = [100, 3, 1, 2, 9, 5];
    const f: Record<string, number> = {
      'stats 128x512 column': 10, 'stats 128x512 tiled': 9, // 27 = 0.9·30: the column loop stays
      'backward 128x512 column': 10, 'backward 128x512 tiled': 8,
      'stats 4096x128 column': 10, 'stats 4096x128 tiled': 20,
      'backward 4096x128 column': 20, 'backward 4096x128 tiled': 17,
    };
    h.cost = (key, n) => f[key]! * SEQ[n]!;
    const { ctx, uploads } = fakeCtx();
    const adapter = freshAdapter('bn A');
    const seen: BatchNormTuneObservation[] = [];
    const choices = await tuneBatchNorm(ctx, adapter, (o) => seen.push(o), 1e9);
    expect(seen).toEqual([
      { key: 'bn-stats:short', medianMs: { column: 30, tiled: 27 }, chosen: 'column' },
      { key: 'bn-backward:short', medianMs: { column: 30, tiled: 24 }, chosen: 'tiled' },
      { key: 'bn-stats:tall', medianMs: { column: 30, tiled: 60 }, chosen: 'column' },
      { key: 'bn-backward:tall', medianMs: { column: 60, tiled: 51 }, chosen: 'tiled' },
    ]);
    expect([...choices.keys()]).toEqual(KEYS);
    for (const k of Object.keys(f)) expect(h.callsByKey.get(k), k).toBe(6);
    // Uploads per bucket: x (i mod 7)/4, dy (i mod 5)/2 - 1, mean 0.75, variance 0.5; released after.
    expect(uploads.map((u) => [u.data.length, u.dtype])).toEqual([
      [128 * 512, 'float32'], [128 * 512, 'float32'], [512, 'float32'], [512, 'float32'],
      [4096 * 128, 'float32'], [4096 * 128, 'float32'], [128, 'float32'], [128, 'float32'],
    ]);
    expect(Array.from(uploads[0]!.data.subarray(0, 8))).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 0]);
    expect(Array.from(uploads[1]!.data.subarray(0, 6))).toEqual([-1, -0.5, 0, 0.5, 1, -1]);
    expect([uploads[2]!.data[511], uploads[3]!.data[0]]).toEqual([0.75, 0.5]);
    for (const [key, ...rest] of h.args) {
      const bucket = (key as string).includes('128x512') ? 0 : 4;
      if ((key as string).startsWith('stats')) expect(rest).toEqual([uploads[bucket]]);
      else expect(rest).toEqual([uploads[bucket], uploads[bucket + 1], uploads[bucket + 2], uploads[bucket + 3], null, 1e-5]);
    }
    // Each timing releases every output, flushes and waits; each bucket's four inputs go after its two reductions.
    expect(h.events.slice(0, 6)).toEqual(['stats 128x512 column', 'release mean stats 128x512 column', 'release variance stats 128x512 column', 'flush', 'done', 'stats 128x512 tiled']);
    const b = h.events.indexOf('backward 128x512 column');
    expect(h.events.slice(b, b + 6)).toEqual(['backward 128x512 column', 'release dx backward 128x512 column', 'release dgamma backward 128x512 column', 'release dbeta backward 128x512 column', 'flush', 'done']);
    expect(h.events.filter((e) => e.startsWith('release upload'))).toEqual(uploads.map((u) => `release ${u.tag}`));
    const firstTall = h.events.indexOf('stats 4096x128 column');
    expect(h.events.slice(firstTall - 4, firstTall)).toEqual(['release upload 0', 'release upload 1', 'release upload 2', 'release upload 3']);
    expect(await stored(`${adapter} #batchnorm`, 'batchnorm')).toEqual({
      version: TUNE_CACHE_VERSION, adapter: `${adapter} #batchnorm`, designs: 'column,tiled',
      choices: Object.fromEntries(KEYS.map((k) => [k, { design: choices.get(k), shape: [1, 1] }])),
    });
    // Read back on a second start: nothing timed.
    h.events.length = 0;
    const again = await tuneBatchNorm(ctx, adapter, undefined, 1e9);
    expect(h.events).toEqual([]);
    expect(Object.fromEntries(again)).toEqual(Object.fromEntries(choices));
  });

  it('the budget: a quarter per (reduction, bucket), after at least one round; the default is 4 s', async () => {
    // 1 ms a call: warm-up 2, a round 2. Budget 40: deadlines 10, 20, 30, 40. Slot 1: rounds end at
    // 4, 6, 8, 10 (not < 10): four. Slot 2 (from 10): warm-up to 12, rounds to 14, 16, 18, 20: four.
    const { ctx } = fakeCtx();
    await tuneBatchNorm(ctx, freshAdapter('bn B'), undefined, 40);
    expect(['stats 128x512 column', 'backward 128x512 tiled', 'stats 4096x128 column', 'backward 4096x128 tiled'].map((k) => h.callsByKey.get(k))).toEqual([5, 5, 5, 5]);
    h.callsByKey.clear();
    h.now = 0;
    h.cost = () => 500;
    expect(BN_TUNE_BUDGET_MS).toBe(4000);
    await tuneBatchNorm(ctx, freshAdapter('bn C'));
    // Deadline 1000 for the first: warm-up to 1000, one round (always), to 2000: past it.
    expect(h.callsByKey.get('stats 128x512 column')).toBe(2);
    // Deadline 2000 for the second (from 2000): one round.
    expect(h.callsByKey.get('backward 128x512 column')).toBe(2);
  });

  it('a stored record is used only with every key, a known design and shape [1, 1]', async () => {
    const adapter = freshAdapter('bn D');
    const key = `${adapter} #batchnorm`;
    const put = (choices: Record<string, unknown>, designs = 'column,tiled') =>
      tuneStore('batchnorm').set(key, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: key, designs, choices }));
    const good = Object.fromEntries(KEYS.map((k, i) => [k, { design: i % 2 ? 'tiled' : 'column', shape: [1, 1] }]));
    await put(good);
    const got = await tuneBatchNorm(fakeCtx().ctx, adapter, undefined, 1e9);
    expect(h.events).toEqual([]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(KEYS.map((k, i) => [k, i % 2 ? 'tiled' : 'column'])));
    for (const bad of [{ ...good, 'bn-stats:short': { design: 'tiled', shape: [2, 1] } }, { ...good, 'bn-stats:tall': undefined }]) {
      await put(bad);
      h.events.length = 0;
      await tuneBatchNorm(fakeCtx().ctx, adapter, undefined, 1e9);
      expect(h.events.length).toBeGreaterThan(0);
    }
    await put(good, 'tiled,column');
    h.events.length = 0;
    await tuneBatchNorm(fakeCtx().ctx, adapter, undefined, 1e9);
    expect(h.events.length).toBeGreaterThan(0);
    await put(good);
    h.events.length = 0;
    await tuneBatchNorm(fakeCtx({ maxInv: 0 }).ctx, adapter, undefined, 1e9);
    expect(h.events.length).toBeGreaterThan(0);
  });
});
