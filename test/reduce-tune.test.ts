/**
 * The reduce/softmax design tune (src/backend/webgpu/reduce-tune.ts): its decision rule on stubbed
 * timings (never on real ones), its cache (a temporary XDG_CACHE_HOME, its own reduce-tune-*.json
 * files, the batch-norm tune's batchnorm-tune-*.json), a planted record ignored, and a tuned choice
 * actually steering the kernels, with the test hook's forced path overriding it.
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { rowMode, softmaxTuneKey } from '../src/backend/webgpu/fused/softmax.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { reducePath, reduceTuneKey, ruleReducePath } from '../src/backend/webgpu/reduce.js';
import { chooseDesign, REDUCE_TUNE_BUCKETS, tuneReduce, type ReduceTuneObservation, type TuneTimer } from '../src/backend/webgpu/reduce-tune.js';
import { nodeCacheFile, TUNE_CACHE_VERSION, tuneStore } from '../src/backend/webgpu/tune-cache.js';

const home = mkdtempSync(join(tmpdir(), 'webgrad-reduce-tune-'));
const savedXdg = process.env.XDG_CACHE_HOME;
let gpu: WebGPUBackend;
beforeAll(async () => {
  process.env.XDG_CACHE_HOME = home;
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => {
  gpu?.destroy();
  if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedXdg;
  rmSync(home, { recursive: true, force: true });
});

const KEYS = REDUCE_TUNE_BUCKETS.map((b) => b.key);

/** Fixed milliseconds per (bucket, design), counting the calls; the run itself still dispatches. */
function stub(ms: (bucket: string, design: string) => number): { timer: TuneTimer; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const timer: TuneTimer = async (bucket, design, run) => {
    run();
    calls.set(`${bucket}/${design}`, (calls.get(`${bucket}/${design}`) ?? 0) + 1);
    return ms(bucket, design);
  };
  return { timer, calls };
}

describe('reduce tune: the decision', () => {
  it('the fastest median wins only below 0.9 × the rule design’s; else the rule stays', () => {
    expect(chooseDesign({ loop: 10, tree: 5, subgroup: 4.6 }, 'tree')).toBe('tree'); // 4.6 is not < 0.9·5
    expect(chooseDesign({ loop: 10, tree: 5, subgroup: 4.4 }, 'tree')).toBe('subgroup');
    expect(chooseDesign({ loop: 3, tree: 5, subgroup: 4 }, 'tree')).toBe('loop');
    expect(chooseDesign({ loop: 1, tree: 1.05 }, 'loop')).toBe('loop');
    expect(chooseDesign({ loop: 2, tree: 1.7 }, 'loop')).toBe('tree');
    expect(() => chooseDesign({ loop: 1 }, 'tree')).toThrow(/rule's design 'tree'/);
  });

  it('on stubbed timings: picks per bucket by the medians, all candidates timed alternately, then caches', async () => {
    // Subgroup fastest for rows, loop fastest for many columns, tree (the rule) within the margin for softmax:long.
    const ms = (bucket: string, design: string): number => {
      if (bucket.startsWith('reduce-row')) return { loop: 9, tree: 5, subgroup: 2 }[design]!;
      if (bucket === 'reduce-col:many') return { loop: 1, tree: 3, subgroup: 4 }[design]!;
      if (bucket === 'softmax:long') return { loop: 7.6, tree: 2, subgroup: 1.9 }[design]!; // loop at exactly 4x: kept
      return { loop: 6, tree: 3, subgroup: 1 }[design]!;
    };
    const { timer, calls } = stub(ms);
    const seen: ReduceTuneObservation[] = [];
    const choices = await tuneReduce(gpu, 'stub adapter A', (o) => seen.push(o), 1e9, timer);
    expect([...choices.keys()].sort()).toEqual([...KEYS].sort());
    expect(Object.fromEntries(choices)).toEqual({
      'reduce-row:mid': 'subgroup', 'reduce-row:long': 'subgroup', 'reduce-col:few': 'subgroup',
      'reduce-col:many': 'loop', 'softmax:mid': 'subgroup', 'softmax:long': 'tree',
    });
    // One warm-up and 5 rounds per candidate (the budget is not spent: the stub takes no time),
    // except a candidate over 4x the fastest in the first round (warm-up and that round only): the
    // loop against a subgroup 4.5x to 6x faster.
    const pruned = ['reduce-row:mid/loop', 'reduce-row:long/loop', 'reduce-col:few/loop', 'softmax:mid/loop'];
    for (const k of KEYS) {
      for (const d of ['loop', 'tree', 'subgroup']) expect(calls.get(`${k}/${d}`), `${k}/${d}`).toBe(pruned.includes(`${k}/${d}`) ? 2 : 6);
    }
    expect(seen.map((o) => o.key)).toEqual(KEYS);
    // The record is in its own file; a second start reads it and measures nothing.
    const file = await nodeCacheFile('stub adapter A #reduce', 'reduce');
    expect(file && existsSync(file)).toBe(true);
    expect(file).toMatch(/reduce-tune-[0-9a-f]{8}\.json$/);
    const again = stub(ms);
    const cached = await tuneReduce(gpu, 'stub adapter A', undefined, 1e9, again.timer);
    expect(again.calls.size).toBe(0);
    expect(Object.fromEntries(cached)).toEqual(Object.fromEntries(choices));
  }, 120_000);

  it('a candidate whose warm-up run is over 4x and 50 ms slower than the fastest is not timed again', async () => {
    const { timer, calls } = stub((bucket, design) => (design === 'tree' ? 1000 : design === 'subgroup' ? 250 : 60));
    const seen: ReduceTuneObservation[] = [];
    const choices = await tuneReduce(gpu, 'stub adapter D', (o) => seen.push(o), 1e9, timer);
    for (const k of KEYS) {
      expect(calls.get(`${k}/tree`)).toBe(1); // 1000 > 4·60 and 940 ms more: warm-up only
      expect(calls.get(`${k}/subgroup`)).toBe(1); // 250 > 4·60 and 190 ms more
      expect(calls.get(`${k}/loop`)).toBe(6);
      expect(choices.get(k)).toBe('loop');
    }
    expect(seen[0]!.medianMs).toEqual({ loop: 60, tree: 1000, subgroup: 250 });
  }, 120_000);

  it('without subgroups only loop and tree are candidates', async () => {
    const plain = await WebGPUBackend.create({ autotune: false, subgroups: false });
    try {
      const { timer, calls } = stub(() => 1);
      const choices = await tuneReduce(plain, 'stub adapter B', undefined, 1e9, timer);
      expect([...calls.keys()].some((k) => k.endsWith('/subgroup'))).toBe(false);
      for (const [k, v] of choices) expect(v).toBe(REDUCE_TUNE_BUCKETS.find((b) => b.key === k)!.rule); // all equal: the rule
    } finally {
      plain.destroy();
    }
  }, 120_000);

  it('a planted or malformed record is ignored and re-tuned', async () => {
    const key = 'stub adapter C #reduce';
    const planted = Object.fromEntries(KEYS.map((k) => [k, { design: 'bogus', shape: [1, 1] }]));
    await tuneStore('reduce').set(key, JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: key, designs: 'loop,tree,subgroup', choices: planted }));
    const { timer, calls } = stub(() => 1);
    const choices = await tuneReduce(gpu, 'stub adapter C', undefined, 1e9, timer);
    expect(calls.size).toBe(KEYS.length * 3);
    for (const v of choices.values()) expect(['loop', 'tree', 'subgroup']).toContain(v);
  }, 120_000);

  it('the batch-norm tune writes batchnorm-tune-*.json, not a matmul-tune name', async () => {
    await tuneStore('batchnorm').set('x #batchnorm', '{}');
    const names = readdirSync(join(home, 'webgrad'));
    expect(names.some((n) => /^batchnorm-tune-[0-9a-f]{8}\.json$/.test(n))).toBe(true);
    expect(names.some((n) => n.startsWith('matmul-tune-'))).toBe(false);
  });
});

describe('reduce tune: the choice steers the kernels', () => {
  it('a tuned design replaces the rule in its bucket only; the forced path overrides it; the suites have no choices', async () => {
    expect(gpu.reduceChoices.size).toBe(0);
    const saved = gpu.reduceChoices;
    try {
      expect(reduceTuneKey(1, 100, 1)).toBeNull(); // short rows: always the rule
      expect(reduceTuneKey(3, 500, 1)).toBe('reduce-row:mid');
      expect(reduceTuneKey(1, 4096, 64)).toBe('reduce-col:few');
      expect(softmaxTuneKey(10)).toBeNull();
      expect(softmaxTuneKey(4096)).toBe('softmax:long');
      gpu.reduceChoices = new Map([['reduce-row:mid', 'subgroup'], ['reduce-col:few', 'loop'], ['softmax:mid', 'subgroup'], ['softmax:long', 'loop']]);
      expect(reducePath(gpu, 3, 500, 1)).toBe('subgroup');
      expect(reducePath(gpu, 1, 4096, 64)).toBe('loop');
      expect(reducePath(gpu, 1, 4096, 1)).toBe(ruleReducePath(1, 4096, 1)); // row:long not tuned here
      expect(reducePath(gpu, 1, 100, 1)).toBe('loop');
      expect(rowMode(300, gpu)).toEqual({ kind: 'subgroup', wg: 64 });
      expect(rowMode(5000, gpu)).toEqual({ kind: 'loop' });
      expect(rowMode(10, gpu)).toEqual({ kind: 'loop' });
      const restore = forceKernelChoice({ reducePath: 'tree', softmaxPath: 'tree' });
      try {
        expect(reducePath(gpu, 3, 500, 1)).toBe('tree');
        expect(rowMode(5000, gpu)).toEqual({ kind: 'tree', wg: 256 });
      } finally {
        restore();
      }
      // A tuned 'subgroup' on a device without the feature falls back to the rule.
      expect(reducePath({ reduceChoices: gpu.reduceChoices, subgroups: null }, 3, 500, 1)).toBe('tree');
      expect(rowMode(300, { reduceChoices: gpu.reduceChoices, subgroups: null })).toEqual({ kind: 'tree', wg: 64 });
    } finally {
      gpu.reduceChoices = saved;
    }
  });
});
