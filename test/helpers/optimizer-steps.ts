/**
 * Multi-step optimizer comparisons for the kernel-level suites (test/webgpu-training,
 * test/webgpu-sgd-vec4): the same parameter and state on a CpuBackend and a WebGPUBackend, a fresh
 * gradient each step, both read back and compared after every step.
 */
import type { SgdStepOptions } from '../../src/backend/fused-types.js';
import type { Backend, Storage } from '../../src/backend/types.js';
import type { Tol } from './compare.js';
import { assertClose, maxAbs } from './kernel-harness.js';

/**
 * Parameter and state values after each step, on both backends, within ~1e-6 relative to the scale
 * of the terms: the parameter, the velocity and m are sums of O(1) terms (|grad|, |param| <= 1)
 * that may cancel to a small value; v is a sum of positive terms, so relative to its own scale.
 */
export function stepTol(expected: Float32Array, cancels = true): Tol {
  const scale = cancels ? Math.max(1, maxAbs(expected)) : maxAbs(expected);
  return { atol: 2e-6 * scale, rtol: 1e-6 };
}

export async function readAll(be: Backend, ss: readonly Storage[]): Promise<Float32Array[]> {
  return (await Promise.all(ss.map((s) => be.read(s)))).map((a) => Float32Array.from(a));
}

/** An SGD configuration without the per-step fields; `velocity: false` passes no velocity buffer. */
export type SgdCase = Omit<SgdStepOptions, 'lr' | 'firstStep'> & { velocity: boolean };

/**
 * `steps` SGD steps of length `n` on both backends (lr 0.1/step, the first-step flag on step 1),
 * param and velocity compared after each step with stepTol; `afterStep` runs after each comparison
 * (the training suite checks there that no pipeline is created). `rand` draws the initial
 * parameter, then one gradient per step. Releases the GPU storages.
 */
export async function compareSgdSteps(
  cpu: Backend, gpu: Backend, n: number, cfg: SgdCase, steps: number,
  rand: (n: number, lo: number, hi: number) => Float32Array,
  afterStep: (step: number) => void = () => {},
): Promise<void> {
  const p0 = rand(n, -1, 1);
  const cs = { p: cpu.upload(p0, 'float32'), v: cpu.upload(new Float32Array(n), 'float32') };
  const gs = { p: gpu.upload(p0, 'float32'), v: gpu.upload(new Float32Array(n), 'float32') };
  for (let step = 1; step <= steps; step++) {
    const g = rand(n, -1, 1);
    const options: SgdStepOptions = { ...cfg, lr: 0.1 / step, firstStep: step === 1 };
    cpu.routine('sgdStep', { param: cs.p, grad: cpu.upload(g, 'float32'), velocity: cfg.velocity ? cs.v : null }, options);
    const gg = gpu.upload(g, 'float32');
    gpu.routine('sgdStep', { param: gs.p, grad: gg, velocity: cfg.velocity ? gs.v : null }, options);
    gpu.release(gg);
    const [ep, ev] = await readAll(cpu, [cs.p, cs.v]);
    const [gp, gv] = await readAll(gpu, [gs.p, gs.v]);
    assertClose(`sgd [${n}] step ${step} param`, gp!, ep!, stepTol(ep!));
    assertClose(`sgd [${n}] step ${step} velocity`, gv!, ev!, stepTol(ev!));
    afterStep(step);
  }
  gpu.release(gs.p);
  gpu.release(gs.v);
}
