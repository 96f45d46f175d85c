/**
 * Every kernel design the WebGPU backend can choose, forced one at a time through the test hook
 * (src/backend/webgpu/kernel-choice.ts) and compared with the CPU reference, on whatever adapter
 * runs the tests. Without the hook a software adapter never takes the tiled batch-norm kernels at
 * n <= 4096 and a GPU never takes the column loops, and the matmul workgroup shape is whatever the
 * timing-based autotune picked on this machine; here nothing depends on timing or on a shared
 * cache (the backend starts with autotune off and every shape is forced explicitly).
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, MatmulArgs, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice, kernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { defaultWorkgroupShape, type WorkgroupShape } from '../src/backend/webgpu/matmul.js';
import { columnPlan } from '../src/backend/webgpu/fused/batchnorm.js';
import { BN_WG } from '../shaders/batchnorm.js';
import type { Tol } from './helpers/compare.js';
import { compareOnBackends, f32, testData, type Input } from './helpers/kernel-harness.js';

const EPS = 2 ** -23;

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
let restore: (() => void) | null = null;

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});

afterAll(() => {
  gpu?.destroy();
});

afterEach(() => {
  restore?.();
  restore = null;
});

function force(choice: Parameters<typeof forceKernelChoice>[0]): void {
  restore?.();
  restore = forceKernelChoice(choice);
}

const { rand } = testData(4242);

/** Both backends, the GPU pool poisoned first (test/helpers/kernel-harness.ts). */
const compare = (what: string, inputs: readonly Input[], run: (be: Backend, xs: Storage[]) => Storage[], tols: readonly Tol[]): Promise<void> =>
  compareOnBackends(cpu, gpu, what, inputs, run, tols);

describe('the kernel-choice hook', () => {
  it('restores the previous choice', () => {
    const undo = forceKernelChoice({ matmulShape: [8, 4] });
    const undo2 = forceKernelChoice({ batchNormPath: 'tiled' });
    expect(kernelChoice()).toEqual({ matmulShape: [8, 4], batchNormPath: 'tiled' });
    undo2();
    expect(kernelChoice()).toEqual({ matmulShape: [8, 4] });
    undo();
    expect(kernelChoice()).toEqual({});
  });
});

// ---------------------------------------------------------------- matmul workgroup shapes

/**
 * The autotune's candidates (src/backend/webgpu/matmul-tune.ts) and both defaults: every shape a
 * backend can run with, whichever an adapter's timing picks.
 */
const SHAPES: WorkgroupShape[] = (() => {
  const all: WorkgroupShape[] = [[4, 4], [8, 4], [16, 4], [8, 8], [4, 8]];
  for (const sw of [true, false]) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const s = defaultWorkgroupShape(sw, ta, tb);
        if (!all.some((t) => t[0] === s[0] && t[1] === s[1])) all.push(s);
      }
    }
  }
  return all;
})();

function matmulTol(k: number): Tol {
  return { atol: 1e-6 + 2 * k * EPS, rtol: 1e-5 };
}

describe('matmul: every workgroup shape × transA × transB', () => {
  // m, n span several workgroups on both axes for every shape (up to 16 × 4 invocations of 4×4
  // blocks: 64 columns and 16 rows per workgroup), so a wrong column or row origin shows; the first
  // size has no multiple of 4 (scalar loads and stores), the second all (vec4 A, B and C), batch 2
  // with padded batch strides.
  const SIZES = [
    { batch: 1, m: 37, k: 19, n: 133, aPad: 0, bPad: 0 },
    { batch: 2, m: 36, k: 20, n: 140, aPad: 4, bPad: 8 },
  ];
  for (const shape of SHAPES) {
    it(`workgroup ${shape[0]}x${shape[1]}`, async () => {
      force({ matmulShape: shape });
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const s of SIZES) {
            const args: MatmulArgs = {
              batch: s.batch, m: s.m, k: s.k, n: s.n, transA, transB,
              aBatchStride: s.m * s.k + s.aPad, bBatchStride: s.k * s.n + s.bPad,
            };
            const aLen = (s.batch - 1) * args.aBatchStride + s.m * s.k;
            const bLen = (s.batch - 1) * args.bBatchStride + s.k * s.n;
            await compare(`matmul ${shape} ${JSON.stringify(args)}`, [f32(rand(aLen)), f32(rand(bLen))], (be, [a, b]) => [be.matmul(a!, b!, args)], [matmulTol(s.k)]);
          }
          // The fused epilogue (bias + activation) in the same shape, with a linear layer's access pattern.
          if (transA || !transB) continue;
          const args: MatmulArgs = { batch: 1, m: 21, k: 9, n: 70, transA, transB, aBatchStride: 0, bBatchStride: 0, activation: 'relu' };
          await compare(`matmul+bias+relu ${shape} ${transA}${transB}`, [f32(rand(21 * 9)), f32(rand(9 * 70)), f32(rand(70))], (be, [a, b, bias]) => [be.matmul(a!, b!, { ...args, bias: bias! })], [matmulTol(10)]);
        }
      }
    });
  }
});

// ---------------------------------------------------------------- batch norm: both designs

/**
 * A float32 sum of n terms of magnitude <= maxTerm in any order (a sequential column loop over
 * 5000 rows included): 4·n·eps·maxTerm. Divided by n for a mean, that is 4·eps·maxTerm, far below
 * any wrong term, wrong sign or wrong divisor.
 */
function sumTol(n: number, maxTerm: number): Tol {
  return { atol: 1e-7 + 4 * Math.max(n, 16) * EPS * maxTerm, rtol: 8 * EPS };
}

async function cpuStats(x: Float32Array, n: number, c: number): Promise<{ mean: Float32Array; variance: Float32Array }> {
  const r = cpu.routine('batchNormStats', { x: cpu.upload(x, 'float32') }, { n, c });
  return { mean: Float32Array.from(await cpu.read(r.mean)), variance: Float32Array.from(await cpu.read(r.variance)) };
}

async function checkStats(n: number, c: number): Promise<void> {
  const xMax = 2;
  const x = rand(n * c, -xMax, xMax);
  const m = sumTol(n, xMax);
  const v = sumTol(n, 4 * xMax * xMax);
  await compare(`batchNormStats [${n}, ${c}] ${JSON.stringify(kernelChoice())}`, [f32(x)], (be, [xs]) => {
    const r = be.routine('batchNormStats', { x: xs! }, { n, c });
    return [r.mean, r.variance];
  }, [{ atol: m.atol / n, rtol: m.rtol }, { atol: v.atol / n, rtol: v.rtol }]);
}

async function checkBackward(n: number, c: number, affine: boolean): Promise<void> {
  const eps = 1e-5;
  const x = rand(n * c, -2, 2);
  const dy = rand(n * c, -1, 1);
  const gamma = rand(c, 0.5, 2);
  const { mean, variance } = await cpuStats(x, n, c);
  let xhatMax = 0;
  let kMax = 0;
  for (let j = 0; j < c; j++) {
    const rstd = 1 / Math.sqrt(variance[j]! + eps);
    kMax = Math.max(kMax, (affine ? gamma[j]! : 1) * rstd / n);
    for (let i = 0; i < n; i++) xhatMax = Math.max(xhatMax, Math.abs((x[i * c + j]! - mean[j]!) * rstd));
  }
  const dbetaTol = sumTol(n, 1);
  const dgammaTol = { atol: sumTol(n, xhatMax).atol + 1e-6, rtol: 1e-5 };
  const inner = 8 * EPS * (2 * n + xhatMax * n * xhatMax) + dbetaTol.atol + xhatMax * (dgammaTol.atol + dgammaTol.rtol * n * xhatMax);
  const dxTol: Tol = { atol: 1e-7 + kMax * inner, rtol: 8 * EPS };
  await compare(
    `batchNormBackward [${n}, ${c}] affine ${affine} ${JSON.stringify(kernelChoice())}`,
    [f32(x), f32(dy), f32(mean), f32(variance), f32(gamma)],
    (be, [xs, dys, ms, vs, gs]) => {
      const r = be.routine('batchNormBackward', { x: xs!, dy: dys!, mean: ms!, variance: vs!, gamma: affine ? gs! : null }, { n, c, eps });
      return [r.dx, r.dgamma, r.dbeta];
    },
    [dxTol, dgammaTol, dbetaTol],
  );
}

describe('batch norm: the tiled kernels at every tile width, the column loops, on any adapter', () => {
  // n > 4096 (past the software adapters' column-loop limit) and small n; c below and above each
  // tile width (a partial last tile), and 1.
  const SHAPES: [number, number][] = [[5000, 3], [4099, 37], [17, 70], [1, 5]];
  const TILES = [1, 4, 16, 64];

  it('tile widths are valid and give several row chunks at n > 4096', () => {
    for (const tc of TILES) {
      expect(BN_WG % tc).toBe(0);
      expect(columnPlan(5000, 3, tc).tc).toBe(tc);
      expect(columnPlan(5000, 3, tc).chunks).toBeGreaterThan(1);
    }
  });

  for (const tc of TILES) {
    it(`tiled, tile width ${tc}: statistics and backward`, async () => {
      force({ batchNormPath: 'tiled', batchNormTile: tc });
      for (const [n, c] of SHAPES) {
        await checkStats(n, c);
        await checkBackward(n, c, true);
        await checkBackward(n, c, false);
      }
    });
  }

  it('tiled with the plan chosen from c (no tile forced)', async () => {
    force({ batchNormPath: 'tiled' });
    for (const [n, c] of [[5000, 3], [4500, 70], [33, 257]] as const) {
      await checkStats(n, c);
      await checkBackward(n, c, true);
    }
  });

  it('column loops, at n > 4096 too', async () => {
    force({ batchNormPath: 'column' });
    for (const [n, c] of SHAPES) {
      await checkStats(n, c);
      await checkBackward(n, c, true);
      await checkBackward(n, c, false);
    }
  });
});
