/**
 * The vec4 SGD kernels (a length that is a multiple of 4; shaders/optimizer.ts sgd*Vec4Kernel)
 * against the CPU reference, beside the scalar kernels (other lengths), over several steps with
 * every flag: momentum, nesterov, dampening, weight decay, the first step, no velocity. Which
 * kernel ran is checked through the pipeline cache (a fresh backend per file).
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { testData } from './helpers/kernel-harness.js';
import { compareSgdSteps, type SgdCase } from './helpers/optimizer-steps.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const { rand } = testData(29);

/** Which SGD pipelines the backend has built (keys start with the kernel name). */
function sgdPipelines(): string[] {
  const map = (gpu.pipelines as unknown as { pipelines: Map<string, unknown> }).pipelines;
  return [...map.keys()].filter((k) => k.startsWith('sgd:')).map((k) => k.split('|')[0]!).sort();
}

describe('webgpu sgdStep: vec4 and scalar kernels', () => {
  const CONFIGS: SgdCase[] = [
    { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01, velocity: false },
    { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, velocity: true },
    { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, velocity: true },
    { momentum: 0.5, dampening: 0.1, nesterov: false, weightDecay: 0.05, velocity: true },
  ];
  for (const n of [4, 1032, 1029]) {
    it(`length ${n} (${n % 4 === 0 ? 'vec4' : 'scalar'} kernel), every flag, 4 steps vs CPU`, async () => {
      for (const cfg of CONFIGS) await compareSgdSteps(cpu, gpu, n, cfg, 4, rand);
      const built = sgdPipelines();
      if (n % 4 === 0) expect(built).toEqual(expect.arrayContaining(['sgd:momentum:v4', 'sgd:plain:v4']));
      else expect(built).toEqual(expect.arrayContaining(['sgd:momentum', 'sgd:plain']));
    });
  }
});
