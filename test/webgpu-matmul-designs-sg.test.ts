/**
 * The matmul designs added beside webgpu-matmul-designs.test.ts, in their own file so vitest runs
 * the two in parallel (compiling pipelines is most of their time on a software driver): 'tiledDb'
 * (double-buffered workgroup tiles with vec4 loads) and the subgroup-shuffle designs 'subgroup'
 * (any subgroup size) and 'subgroupBc' (unrolled over the adapter's fixed size). Each is forced
 * through the kernel-choice hook and compared with the float64 CPU backend on NaN-poisoned output
 * buffers: odd sizes (1, 3, 17, 63, 65, 129, 130: across tile, block, k-slab and k-chunk edges) with
 * no operand bound as vec4, multiples of 4 with every operand bound as vec4, a mixed case, every
 * transA × transB, batches with a broadcast operand and padded strides, the bias + activation
 * epilogue, NaN/±Inf inputs, and (subgroup designs) workgroups whose size is not a multiple of the
 * subgroup size (partial subgroups, lanes of one subgroup on different rows).
 *
 * To keep the fresh-compile time down (compiling is most of the time on a software driver), the
 * cases share pipelines: each design's first shape runs every pattern with two binding layouts that
 * between them take every load and store path, and the batch and NaN cases reuse those pipelines;
 * the other shapes (only index arithmetic differs) run one pattern and layout each; the epilogue two.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip. The subgroup designs run where the
 * device has 'subgroups' (both software drivers do; webgpu-subgroups.test.ts checks that they are).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, MatmulArgs, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { designAvailable, type MatmulDesign, type WorkgroupShape } from '../src/backend/webgpu/matmul.js';
import { DESIGN_SHAPES, tuneCandidates } from '../src/backend/webgpu/matmul-tune.js';
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

const { rand } = testData(1516);

const compare = (what: string, inputs: readonly Input[], run: (be: Backend, xs: Storage[]) => Storage, tol: Tol): Promise<void> =>
  compareOnBackends(cpu, gpu, what, inputs, (be, xs) => [run(be, xs)], [tol]);

const tol = (k: number): Tol => ({ atol: 1e-6 + 2 * k * EPS, rtol: 1e-5 });

async function product(label: string, args: MatmulArgs, specials: readonly number[] = []): Promise<void> {
  const { batch, m, k, n } = args;
  const aLen = (batch - 1) * args.aBatchStride + m * k;
  const bLen = (batch - 1) * args.bBatchStride + k * n;
  await compare(label, [f32(rand(aLen, -1, 1, specials)), f32(rand(bLen))], (be, [a, b]) => be.matmul(a!, b!, args), tol(k));
}

const PATTERNS = [[false, false], [false, true], [true, false], [true, true]] as const;
const pat = (transA: boolean, transB: boolean) => `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;

/**
 * Two binding layouts per pattern, which between them take every load path (each operand scalar and
 * vec4, for either transposition) and both store paths: NOVEC, no operand bound as vec4 (m, k, n
 * odd, past a 64-wide tile, a 16-deep slab and an 8-lane chunk), and VEC, all bound as vec4 with
 * rows/columns past a 16x16 workgroup's 64 and k past 4 chunks of 8. The extra sizes keep the
 * no-vec4 layout (every dimension not a multiple of 4) or the vec4 one, so they add no pipeline.
 */
const NOVEC: readonly [number, number, number][] = [[65, 33, 67], [1, 1, 1], [3, 17, 129], [129, 3, 1], [17, 130, 3], [130, 5, 130]];
const VEC: readonly [number, number, number][] = [[68, 36, 72], [4, 4, 4], [12, 132, 8]];

const NEW_DESIGNS: readonly MatmulDesign[] = ['tiledDb', 'subgroup', 'subgroupBc'];

describe('the new designs are offered where they can run', () => {
  it('subgroup designs need the feature; the unrolled one a fixed size of at most 16', () => {
    const base = { limits: gpu.limits, softwareAdapter: true };
    const designs = (subgroups: { minSize: number; maxSize: number } | null) =>
      new Set(tuneCandidates({ ...base, subgroups }, { transA: false, transB: false }).map((c) => c.design));
    expect(designs(null).has('tiledDb')).toBe(true);
    expect(designs(null).has('subgroup')).toBe(false);
    expect(designs(null).has('subgroupBc')).toBe(false);
    expect(designs({ minSize: 8, maxSize: 8 }).has('subgroupBc')).toBe(true);
    expect(designs({ minSize: 4, maxSize: 64 }).has('subgroup')).toBe(true);
    expect(designs({ minSize: 4, maxSize: 64 }).has('subgroupBc')).toBe(false);
    expect(designs({ minSize: 32, maxSize: 32 }).has('subgroupBc')).toBe(false);
    // The device's own offer follows its feature.
    expect(designAvailable(gpu, 'subgroup')).toBe(gpu.subgroups !== null);
  });

  it('forcing a subgroup design on a device without the feature is an error naming the design', async () => {
    const plain = await WebGPUBackend.create({ autotune: false, subgroups: false });
    try {
      restore = forceKernelChoice({ matmulDesign: 'subgroup', matmulShape: [16, 4] });
      const a = plain.upload(new Float32Array(4), 'float32');
      expect(() => plain.matmul(a, a, { batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 })).toThrow(
        /matmul: design 'subgroup' cannot run on this device \(no 'subgroups' feature\)/,
      );
    } finally {
      plain.destroy();
    }
  });
});

for (const design of NEW_DESIGNS) {
  describe(`matmul design '${design}'`, () => {
    const shapes = DESIGN_SHAPES[design];
    const force = (shape: WorkgroupShape) => {
      restore?.();
      restore = forceKernelChoice({ matmulDesign: design, matmulShape: shape });
    };

    it('is available on this device (both software drivers have subgroups of a fixed size ≤ 16)', () => {
      expect(designAvailable(gpu, design)).toBe(true);
    });

    it('every pattern × binding layout on the first shape; the other shapes on one layout each', async () => {
      for (const [s, shape] of shapes.entries()) {
        force(shape);
        // Other shapes only change index arithmetic: NN without vec4 and TT with, alternating.
        const runs = s === 0 ? PATTERNS.flatMap((p) => [[p, NOVEC], [p, VEC]] as const) : [s % 2 ? [PATTERNS[0], NOVEC.slice(0, 1)] as const : [PATTERNS[3], VEC.slice(0, 1)] as const];
        for (const [[transA, transB], sizes] of runs) {
          for (const [m, k, n] of sizes) {
            const args: MatmulArgs = { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0 };
            await product(`${design} ${shape} ${pat(transA, transB)} ${m}x${k}x${n}`, args);
          }
        }
      }
    }, 300_000);

    it('batches: a broadcast operand (stride 0) and padded strides', async () => {
      force(shapes[0]!);
      for (const [transA, transB] of PATTERNS) {
        const cases: MatmulArgs[] = [
          { batch: 3, m: 17, k: 65, n: 63, transA, transB, aBatchStride: 17 * 65 + 5, bBatchStride: 0 },
          { batch: 2, m: 68, k: 36, n: 72, transA, transB, aBatchStride: 0, bBatchStride: 36 * 72 + 4 },
        ];
        for (const args of cases) await product(`${design} batch ${JSON.stringify(args)}`, args);
      }
    }, 300_000);

    it('the bias + activation epilogue', async () => {
      // The epilogue is the blocked kernel's (one generator): both store paths, both activations.
      force(shapes[0]!);
      const cases = [[false, false, 'leakyRelu', [65, 17, 63]], [true, true, 'gelu', [3, 36, 68]]] as const;
      for (const [transA, transB, activation, [m, k, n]] of cases) {
        const args: MatmulArgs = { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0, activation, alpha: 0.1 };
        await compare(
          `${design} bias+${activation} ${pat(transA, transB)} ${m}x${k}x${n}`,
          [f32(rand(m * k)), f32(rand(k * n)), f32(rand(n))],
          (be, [a, b, bias]) => be.matmul(a!, b!, { ...args, bias: bias! }),
          tol(k + 1),
        );
      }
    }, 300_000);

    it('NaN and ±Inf inputs propagate as on the CPU (and only into their own rows)', async () => {
      force(shapes[0]!);
      for (const [transA, transB] of PATTERNS) {
        const args: MatmulArgs = { batch: 1, m: 65, k: 33, n: 67, transA, transB, aBatchStride: 0, bBatchStride: 0 };
        await product(`${design} NaN ${pat(transA, transB)}`, args, [NaN, 0, Infinity, 0, 0, -Infinity]);
      }
    }, 300_000);

    if (design !== 'tiledDb') {
      it('workgroups that are not a whole number of subgroups, and subgroups spanning rows', async () => {
        // 3 invocations: one partial subgroup; 5x3: 15 invocations, lanes of a subgroup on
        // different rows (and a partial last subgroup) on an 8- or 4-lane adapter.
        for (const [shape, [transA, transB], [m, k, n]] of [[[5, 3], [false, false], NOVEC[0]!], [[3, 1], [true, true], VEC[0]!]] as const) {
          force([shape[0], shape[1]]);
          const args: MatmulArgs = { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0 };
          await product(`${design} ${shape} ${pat(transA, transB)} partial subgroups`, args);
        }
      }, 300_000);
    }
  });
}
