/**
 * The forced-design cases of a matmul design, shared by the design test files (each file runs its
 * designs; vitest runs the files in parallel, and compiling pipelines is most of their time on a
 * software driver). Each design is forced through the kernel-choice hook and compared with the
 * float64 CPU backend on NaN-poisoned output buffers: odd sizes (1, 3, 17, 63, 65, 129, 130: across
 * tile, block, k-slab and k-chunk edges) with no operand bound as vec4, multiples of 4 with every
 * operand bound as vec4, a mixed case, every transA × transB, batches with a broadcast operand and
 * padded strides, the bias + activation epilogue, NaN/±Inf inputs, and (subgroup designs)
 * workgroups whose size is not a multiple of the subgroup size (partial subgroups, lanes of one
 * subgroup on different rows).
 *
 * To keep the fresh-compile time down, the cases share pipelines: each design's first shape runs
 * every pattern with two binding layouts that between them take every load and store path, and the
 * batch and NaN cases reuse those pipelines; the other shapes (only index arithmetic differs) run
 * one pattern and layout each; the epilogue two.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it as vitestIt } from 'vitest';
import { CpuBackend } from '../../src/backend/cpu/backend.js';
import type { Backend, MatmulArgs, Storage } from '../../src/backend/types.js';
import { WebGPUBackend } from '../../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../../src/backend/webgpu/kernel-choice.js';
import { designAvailable, type MatmulDesign, type WorkgroupShape } from '../../src/backend/webgpu/matmul.js';
import { DESIGN_SHAPES } from '../../src/backend/webgpu/matmul-tune.js';
import type { Tol } from './compare.js';
import { compareOnBackends, f32, testData, type Input } from './kernel-harness.js';

const EPS = 2 ** -23;

const tol = (k: number): Tol => ({ atol: 1e-6 + 2 * k * EPS, rtol: 1e-5 });

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

/**
 * Registers the cases of each design in `designs` (in the calling test file) on one WebGPU backend
 * created without autotune; returns a getter of that backend for the file's own tests.
 */
export function describeDesignCases(designs: readonly MatmulDesign[], seed: number): () => WebGPUBackend {
  let gpu: WebGPUBackend;
  const cpu = new CpuBackend();
  let restore: (() => void) | null = null;
  const { rand } = testData(seed);
  const compare = (what: string, inputs: readonly Input[], run: (be: Backend, xs: Storage[]) => Storage, tol: Tol): Promise<void> =>
    compareOnBackends(cpu, gpu, what, inputs, (be, xs) => [run(be, xs)], [tol]);
  async function product(label: string, args: MatmulArgs, specials: readonly number[] = []): Promise<void> {
    const { batch, m, k, n } = args;
    const aLen = (batch - 1) * args.aBatchStride + m * k;
    const bLen = (batch - 1) * args.bBatchStride + k * n;
    await compare(label, [f32(rand(aLen, -1, 1, specials)), f32(rand(bLen))], (be, [a, b]) => be.matmul(a!, b!, args), tol(k));
  }

  beforeAll(async () => {
    gpu = await WebGPUBackend.create({ autotune: false });
  });
  afterAll(() => gpu?.destroy());
  afterEach(() => {
    restore?.();
    restore = null;
  });

  for (const design of designs) {
    describe(`matmul design '${design}'`, () => {
      const shapes = DESIGN_SHAPES[design];
      const force = (shape: WorkgroupShape) => {
        restore?.();
        restore = forceKernelChoice({ matmulDesign: design, matmulShape: shape });
      };

      // The cases below run where the device can run the design: always on the software drivers CI
      // uses (asserted here, so CI never skips them); elsewhere (NVIDIA's 32-lane subgroups and the
      // designs unrolled over at most 16 lanes) they are reported as skipped, and forcing the design
      // must be the error that names it.
      vitestIt('runs on this device where it can: on both software drivers always; elsewhere forcing it is an error naming it', () => {
        if (gpu.softwareAdapter) expect(designAvailable(gpu, design)).toBe(true);
        if (!designAvailable(gpu, design)) {
          force(shapes[0]!);
          const a = gpu.upload(new Float32Array(4), 'float32');
          expect(() => gpu.matmul(a, a, { batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 })).toThrow(`design '${design}' cannot run on this device`);
          gpu.release(a);
        }
      });
      const it = (name: string, body: () => Promise<void>, timeout: number) =>
        vitestIt(name, async (ctx) => {
          if (!designAvailable(gpu, design)) ctx.skip(`'${design}' cannot run on this adapter`);
          await body();
        }, timeout);

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

      // Subgroup designs (those a device without the feature cannot run).
    if (!designAvailable({ subgroups: null }, design)) {
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
  return () => gpu;
}
