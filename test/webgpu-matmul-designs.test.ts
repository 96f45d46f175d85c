/**
 * Every matmul design (src/backend/webgpu/matmul.ts: MATMUL_DESIGNS; the double-buffered and subgroup
 * designs in webgpu-matmul-designs-sg.test.ts, run in parallel) with every workgroup shape the
 * autotune may pick for it, forced through the kernel-choice hook and compared with the float64 CPU
 * backend on awkward sizes (1, 3, 17, 63, 65, 129, 130: below, at and across tile and block edges
 * and k slabs; 130 is even but not a multiple of 4, so no operand is bound as vec4),
 * transA × transB, batches with a broadcast operand and padded strides, the bias + activation
 * epilogue, and NaN/±Inf inputs, on NaN-poisoned output buffers. Then the autotune: it measures
 * every design the device can run (which one wins is the machine's business, not asserted).
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, MatmulArgs, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { defaultMatmulChoice, MATMUL_DESIGNS, type MatmulDesign } from '../src/backend/webgpu/matmul.js';
import { chooseIndex, DESIGN_SHAPES, finalistsOf, patternDesigns, tuneCandidates, tuneKey, tuneMatmul, tunePatterns, type TuneObservation } from '../src/backend/webgpu/matmul-tune.js';
import type { EpilogueActivation } from '../shaders/kernel-types.js';
import type { Tol } from './helpers/compare.js';
import { compareOnBackends, f32, testData, type Input } from './helpers/kernel-harness.js';

const EPS = 2 ** -23;
let gpu: WebGPUBackend;
const cpu = new CpuBackend();
let restore: (() => void) | null = null;

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());
afterEach(() => {
  restore?.();
  restore = null;
});

const { rand } = testData(1515);

const compare = (what: string, inputs: readonly Input[], run: (be: Backend, xs: Storage[]) => Storage, tol: Tol): Promise<void> =>
  compareOnBackends(cpu, gpu, what, inputs, (be, xs) => [run(be, xs)], [tol]);

const tol = (k: number): Tol => ({ atol: 1e-6 + 2 * k * EPS, rtol: 1e-5 });

/** (m, k, n) triples over the awkward sizes: each size on each axis at least once. */
const SIZES: readonly [number, number, number][] = [
  [1, 1, 1],
  [3, 17, 65],
  [63, 129, 3],
  [65, 3, 63],
  [129, 65, 17],
  [17, 63, 129],
  [64, 32, 64],
  [130, 17, 65],
  [1, 130, 130],
  // Multiples of 4 everywhere (every operand bound as vec4) with rows/columns past a 16x8 block.
  [36, 20, 12],
];

function lengths(args: MatmulArgs): [number, number] {
  const { batch, m, k, n } = args;
  return [(batch - 1) * args.aBatchStride + m * k, (batch - 1) * args.bBatchStride + k * n];
}

async function product(label: string, args: MatmulArgs, specials: readonly number[] = []): Promise<void> {
  const [aLen, bLen] = lengths(args);
  await compare(label, [f32(rand(aLen, -1, 1, specials)), f32(rand(bLen))], (be, [a, b]) => be.matmul(a!, b!, args), tol(args.k));
}

/** The designs of webgpu-matmul-designs-sg.test.ts and -sgrows.test.ts run there (a separate file: vitest runs them in parallel). */
const SECOND_FILE_DESIGNS: readonly MatmulDesign[] = ['tiledDb', 'tiledDb8x8', 'subgroup', 'subgroupBc', 'sgRows8x8', 'sgRows16x4'];

for (const design of MATMUL_DESIGNS.filter((d) => !SECOND_FILE_DESIGNS.includes(d))) {
  describe(`matmul design '${design}'`, () => {
    for (const shape of DESIGN_SHAPES[design]) {
      it(`workgroup ${shape[0]}x${shape[1]}: sizes 1..129 × transA × transB`, async () => {
        restore = forceKernelChoice({ matmulDesign: design, matmulShape: shape });
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const [m, k, n] of SIZES) {
              const args: MatmulArgs = { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0 };
              await product(`${design} ${shape} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${m}x${k}x${n}`, args);
            }
          }
        }
      }, 300_000);
    }

    it('batches: a broadcast operand (stride 0) and padded strides, every access pattern', async () => {
      for (const shape of DESIGN_SHAPES[design]) {
        restore?.();
        restore = forceKernelChoice({ matmulDesign: design, matmulShape: shape });
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const [m, k, n] = [17, 65, 63];
            const cases: MatmulArgs[] = [
              { batch: 3, m, k, n, transA, transB, aBatchStride: m * k + 5, bBatchStride: 0 },
              { batch: 2, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: k * n + 4 },
              { batch: 2, m: 64, k: 16, n: 64, transA, transB, aBatchStride: 64 * 16, bBatchStride: 16 * 64 + 8 },
            ];
            for (const args of cases) await product(`${design} ${shape} batch ${JSON.stringify(args)}`, args);
          }
        }
      }
    }, 300_000);

    it('the bias + activation epilogue', async () => {
      // Each access pattern with one of the two activations (alternating): both activations and
      // every pattern's store path are covered at half the pipelines (compiling them is most of
      // this file's time on a software driver).
      const acts: EpilogueActivation[] = ['leakyRelu', 'gelu'];
      const shape = DESIGN_SHAPES[design][DESIGN_SHAPES[design].length - 1]!;
      restore = forceKernelChoice({ matmulDesign: design, matmulShape: shape });
      const patterns = [[false, true], [false, false], [true, false], [true, true]] as const;
      for (const [p, [transA, transB]] of patterns.entries()) {
        const activation = acts[p % acts.length]!;
        for (const [m, k, n] of [[65, 17, 63], [3, 129, 64]] as const) {
          const args: MatmulArgs = { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0, activation, alpha: 0.1 };
          await compare(
            `${design} ${shape} bias+${activation} ${transA}${transB} ${m}x${k}x${n}`,
            [f32(rand(m * k)), f32(rand(k * n)), f32(rand(n))],
            (be, [a, b, bias]) => be.matmul(a!, b!, { ...args, bias: bias! }),
            tol(k + 1),
          );
        }
      }
    }, 300_000);

    it('NaN and ±Inf inputs propagate as on the CPU (and only into their own rows)', async () => {
      for (const shape of DESIGN_SHAPES[design]) {
        restore?.();
        restore = forceKernelChoice({ matmulDesign: design, matmulShape: shape });
        for (const [transA, transB] of [[false, false], [true, false], [false, true]] as const) {
          const args: MatmulArgs = { batch: 1, m: 33, k: 19, n: 65, transA, transB, aBatchStride: 0, bBatchStride: 0 };
          await product(`${design} ${shape} NaN ${transA}${transB}`, args, [NaN, 0, Infinity, 0, 0, -Infinity]);
        }
      }
    }, 300_000);
  });
}

describe('the autotune chooses among designs', () => {
  const home = mkdtempSync(join(tmpdir(), 'webgrad-xdg-designs-'));
  const saved = process.env.XDG_CACHE_HOME;
  afterAll(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(home, { recursive: true, force: true });
  });

  it('the candidates are every design with every shape the device fits, the default first', () => {
    for (const pattern of [{ transA: false, transB: true }, { transA: true, transB: false }]) {
      const c = tuneCandidates(gpu, pattern);
      const designs = patternDesigns(pattern, gpu);
      expect(c[0]).toEqual(defaultMatmulChoice(gpu.softwareAdapter, pattern.transA, pattern.transB, gpu.subgroups));
      expect(c.filter((x) => x.design === c[0]!.design && x.shape[0] === c[0]!.shape[0] && x.shape[1] === c[0]!.shape[1])).toHaveLength(1);
      // Interleaved: the first candidates after the default cover every design.
      expect(new Set(c.slice(0, 1 + designs.length).map((x) => x.design)).size).toBe(designs.length);
      // The transposed-A tile is offered where A is read transposed, and only there.
      expect(c.some((x) => x.design === 'transA16x4')).toBe(pattern.transA);
      for (const design of designs) {
        for (const shape of DESIGN_SHAPES[design]) {
          expect(c.some((x) => x.design === design && x.shape[0] === shape[0] && x.shape[1] === shape[1]), `${design} ${shape}`).toBe(true);
        }
      }
    }
    // A device with little workgroup memory is offered no tile that needs more.
    const small = tuneCandidates({ softwareAdapter: true, limits: { ...gpu.limits, maxComputeWorkgroupStorageSize: 4096 } }, { transA: false, transB: false });
    expect(small.some((x) => x.design === 'tiled' && x.shape[0] === 16 && x.shape[1] === 16)).toBe(false);
    expect(small.some((x) => x.design === 'tiled' && x.shape[0] === 8 && x.shape[1] === 8)).toBe(true);
  });

  it('measures every design for every access pattern and picks one of them', async () => {
    process.env.XDG_CACHE_HOME = home;
    const seen: TuneObservation[] = [];
    const t0 = performance.now();
    // A zero budget: the tune still measures the first candidate of every design (the bound's promise).
    const choices = await tuneMatmul(gpu, `designs-test ${Math.random()}`, (o) => seen.push(o), 0);
    console.log(`autotune over ${seen.reduce((s, o) => s + o.candidates.length, 0)} candidates: ${(performance.now() - t0).toFixed(0)} ms; chosen ${JSON.stringify(Object.fromEntries(choices))}`);
    expect(seen.map((o) => o.pattern).sort()).toEqual(tunePatterns(gpu).map(tuneKey).sort()); // NN, NT, TN (and their large class on a GPU)
    for (const o of seen) {
      const measured = new Set<MatmulDesign>(o.candidates.map((c) => c.design));
      expect([...measured].sort()).toEqual(patternDesigns({ transA: o.pattern[0] === 'T' }, gpu).sort());
      expect(o.medianMs.length).toBe(o.candidates.length);
      for (const ms of o.medianMs) expect(ms).toBeGreaterThan(0);
      expect(o.candidates).toContainEqual(o.chosen);
      expect(choices.get(o.pattern)).toEqual(o.chosen);
      // A design other than the default wins only as a finalist that beat the default by 10 %.
      if (o.chosen !== o.candidates[0]) {
        expect(o.finalists).toContainEqual(o.chosen);
        expect(o.medianMs[o.candidates.indexOf(o.chosen)]!).toBeLessThan(0.9 * o.medianMs[0]!);
      }
    }
  }, 300_000);

  it('with nothing tuned or forced, runs the adapter default: a row-sharing block on a software adapter with fixed subgroups, the blocked kernel on a GPU', () => {
    expect(defaultMatmulChoice(true, false, true)).toEqual({ design: 'wide8x8', shape: [4, 4] });
    expect(defaultMatmulChoice(true, true, false)).toEqual({ design: 'wide8x8', shape: [4, 4] });
    expect(defaultMatmulChoice(false, false, false)).toEqual({ design: 'blocked', shape: [8, 8] });
    // Both software drivers CI runs on have a fixed subgroup size (lavapipe 8, SwiftShader 4); a
    // hardware adapter (NVIDIA: 32 lanes) runs the blocked kernel.
    const lanes = gpu.subgroups?.minSize;
    if (gpu.softwareAdapter) expect(lanes === 8 || lanes === 4).toBe(true);
    const prefix = !gpu.softwareAdapter ? 'matmul:' : lanes === 8 ? 'matmul-sgrows16x4s8' : 'matmul-sgrows8x8s4';
    const seen: string[] = [];
    const original = gpu.pipelines.program.bind(gpu.pipelines);
    gpu.pipelines.program = ((prog: Parameters<typeof original>[0]) => { seen.push(prog.key); return original(prog); }) as typeof gpu.pipelines.program;
    try {
      for (const [transA, transB] of [[false, true], [false, false], [true, false]] as const) {
        const a = gpu.upload(new Float32Array(12 * 8).fill(1), 'float32');
        const b = gpu.upload(new Float32Array(8 * 12).fill(1), 'float32');
        gpu.release(gpu.matmul(a, b, { batch: 1, m: 12, k: 8, n: 12, transA, transB, aBatchStride: 0, bBatchStride: 0 }));
        // A forced shape alone keeps the blocked kernel (the kernel-path tests rely on it).
        const undo = forceKernelChoice({ matmulShape: [8, 4] });
        try {
          gpu.release(gpu.matmul(a, b, { batch: 1, m: 12, k: 8, n: 12, transA, transB, aBatchStride: 0, bBatchStride: 0 }));
        } finally {
          undo();
        }
        gpu.release(a);
        gpu.release(b);
      }
    } finally {
      gpu.pipelines.program = original;
    }
    const matmuls = seen.filter((k) => k.startsWith('matmul'));
    expect(matmuls).toHaveLength(6);
    matmuls.forEach((k, i) => expect(k.startsWith(i % 2 === 0 ? prefix : 'matmul:'), k).toBe(true));
  });

  it('re-times the default and the three fastest, and keeps the default unless one beats it by 10 %', () => {
    expect(finalistsOf([5, 1, 9, 2, 3, 4])).toEqual([0, 1, 3, 4]);
    expect(finalistsOf([5, 6])).toEqual([0, 1]);
    // The fastest finalist wins only below 0.9 × the default; a faster non-finalist is not chosen.
    expect(chooseIndex([10, 8.9, 9.5], [0, 1, 2])).toBe(1);
    expect(chooseIndex([10, 9.0, 9.5], [0, 1, 2])).toBe(0);
    expect(chooseIndex([10, 12, 5, 7], [0, 1, 3])).toBe(3);
    expect(chooseIndex([10, 4, 5], [0, 2])).toBe(2);
  });
});
