/**
 * The vec4 batch-norm apply kernel (c a multiple of 4; shaders/batchnorm.ts bnApplyVec4Kernel)
 * against the CPU reference, with and without gamma and beta, beside the scalar kernel (other c).
 * Which kernel ran is checked through the pipeline cache (a fresh backend per file), and the
 * output pool is poisoned first so an unwritten element fails.
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { assertClose, poisonPool, testData } from './helpers/kernel-harness.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const { rand } = testData(31);
const EPS = 2 ** -23;

function applyPipelines(): string[] {
  const map = (gpu.pipelines as unknown as { pipelines: Map<string, unknown> }).pipelines;
  return [...map.keys()].filter((k) => k.startsWith('bn-apply')).map((k) => k.split('|')[0]!);
}

describe('webgpu batchNormApply: vec4 and scalar kernels', () => {
  for (const [n, c] of [[1, 4], [3, 68], [128, 512], [7, 260], [5, 66]] as const) {
    it(`[${n}, ${c}] (${c % 4 === 0 ? 'vec4' : 'scalar'}), with and without gamma and beta`, async () => {
      const x = rand(n * c, -3, 3);
      const mean = rand(c, -1, 1);
      const variance = rand(c, 0.05, 2);
      const gamma = rand(c, -2, 2);
      const beta = rand(c, -1, 1);
      const eps = 1e-5;
      const xhatMax = (3 + 1) / Math.sqrt(0.05 + eps);
      const tol = { atol: 16 * EPS * (xhatMax * 2 + 1), rtol: 8 * EPS };
      for (const [hasG, hasB] of [[true, true], [true, false], [false, true], [false, false]] as const) {
        const up = (be: CpuBackend | WebGPUBackend, a: Float32Array) => be.upload(a, 'float32');
        const want = cpu.routine('batchNormApply', { x: up(cpu, x), mean: up(cpu, mean), variance: up(cpu, variance), gamma: hasG ? up(cpu, gamma) : null, beta: hasB ? up(cpu, beta) : null }, { n, c, eps });
        const ins = [up(gpu, x), up(gpu, mean), up(gpu, variance), up(gpu, gamma), up(gpu, beta)] as const;
        poisonPool(gpu, [n * c]);
        const got = gpu.routine('batchNormApply', { x: ins[0], mean: ins[1], variance: ins[2], gamma: hasG ? ins[3] : null, beta: hasB ? ins[4] : null }, { n, c, eps });
        assertClose(`batchNormApply [${n}, ${c}] gamma ${hasG} beta ${hasB}`, Float32Array.from(await gpu.read(got)), Float32Array.from(await cpu.read(want)), tol);
        gpu.release(got);
        for (const s of ins) gpu.release(s);
      }
      const built = applyPipelines();
      if (c % 4 === 0) expect(built).toEqual(expect.arrayContaining(['bn-apply-v4:gb', 'bn-apply-v4:g-', 'bn-apply-v4:-b', 'bn-apply-v4:--']));
      else expect(built).toEqual(expect.arrayContaining(['bn-apply:gb', 'bn-apply:--']));
    });
  }
});
