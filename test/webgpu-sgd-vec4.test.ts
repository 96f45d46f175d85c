/**
 * The vec4 SGD kernels (a length that is a multiple of 4; shaders/optimizer.ts sgd*Vec4Kernel)
 * against the CPU reference, beside the scalar kernels (other lengths), over several steps with
 * every flag: momentum, nesterov, dampening, weight decay, the first step, no velocity. Which
 * kernel ran is checked through the pipeline cache (a fresh backend per file).
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { SgdStepOptions } from '../src/backend/fused-types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { assertClose, maxAbs, testData } from './helpers/kernel-harness.js';

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
  const CONFIGS: (Omit<SgdStepOptions, 'lr' | 'firstStep'> & { velocity: boolean })[] = [
    { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01, velocity: false },
    { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, velocity: true },
    { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, velocity: true },
    { momentum: 0.5, dampening: 0.1, nesterov: false, weightDecay: 0.05, velocity: true },
  ];
  for (const n of [4, 1032, 1029]) {
    it(`length ${n} (${n % 4 === 0 ? 'vec4' : 'scalar'} kernel), every flag, 4 steps vs CPU`, async () => {
      for (const cfg of CONFIGS) {
        const p0 = rand(n, -1, 1);
        const cs = { p: cpu.upload(p0, 'float32'), v: cpu.upload(new Float32Array(n), 'float32') };
        const gs = { p: gpu.upload(p0, 'float32'), v: gpu.upload(new Float32Array(n), 'float32') };
        for (let step = 1; step <= 4; step++) {
          const g = rand(n, -1, 1);
          const options: SgdStepOptions = { ...cfg, lr: 0.1 / step, firstStep: step === 1 };
          cpu.routine('sgdStep', { param: cs.p, grad: cpu.upload(g, 'float32'), velocity: cfg.velocity ? cs.v : null }, options);
          const gg = gpu.upload(g, 'float32');
          gpu.routine('sgdStep', { param: gs.p, grad: gg, velocity: cfg.velocity ? gs.v : null }, options);
          gpu.release(gg);
          const ep = Float32Array.from(await cpu.read(cs.p));
          const ev = Float32Array.from(await cpu.read(cs.v));
          const gp = Float32Array.from(await gpu.read(gs.p));
          const gv = Float32Array.from(await gpu.read(gs.v));
          const tol = (e: Float32Array) => ({ atol: 2e-6 * Math.max(1, maxAbs(e)), rtol: 1e-6 });
          assertClose(`sgd [${n}] step ${step} param`, gp, ep, tol(ep));
          assertClose(`sgd [${n}] step ${step} velocity`, gv, ev, tol(ev));
        }
        gpu.release(gs.p);
        gpu.release(gs.v);
      }
      const built = sgdPipelines();
      if (n % 4 === 0) expect(built).toEqual(expect.arrayContaining(['sgd:momentum:v4', 'sgd:plain:v4']));
      else expect(built).toEqual(expect.arrayContaining(['sgd:momentum', 'sgd:plain']));
    });
  }
});
