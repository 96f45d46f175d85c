/**
 * Host-side WebGPU code (bind-group cache, command batching) against the CPU reference, in the
 * ways a realistic bug there shows up only as wrong numbers: the same kernel on the same buffers
 * twice in one batch with different uniforms (in-place optimizer steps with a changing learning
 * rate) must not share one bind group, whose uniform slot holds only the first dispatch's values;
 * and the device-side label check (shaders/asserts.ts) must combine all of its 256 lanes, or a bad
 * label in a row handled by an unmerged lane is never reported (the loss row turns NaN silently);
 * the sgd step picks its vec4 kernel only for lengths that are multiples of 4 (an even length
 * through the vec4 kernel leaves its last two elements unchanged).
 *
 * Written by planting such bugs (see the report of issue 16): each case fails with its bug and
 * passes without. No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { assertClose, testData } from './helpers/kernel-harness.js';
import { expectError } from './helpers/expect-error.js';

const INTERNAL = { type: Error };

let gpu: WebGPUBackend;
const cpu = new CpuBackend();

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});

afterAll(() => {
  gpu?.destroy();
});

const { rand } = testData(16_161);

describe('bind groups: one kernel, the same buffers, different uniforms in one batch', () => {
  it('three in-place sgd steps with different learning rates before one read', async () => {
    // 5 elements: the scalar kernel; momentum 0: the plain kernel (param and grad bound only).
    const p0 = rand(5);
    const g = rand(5);
    const steps = [0.5, 0.25, 2];
    const run = async (be: Backend): Promise<Float32Array> => {
      const param: Storage = be.upload(p0, 'float32');
      const grad = be.upload(g, 'float32');
      for (const lr of steps) {
        be.routine('sgdStep', { param, grad, velocity: null }, { lr, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false });
      }
      const out = Float32Array.from(await be.read(param));
      be.release(param);
      be.release(grad);
      return out;
    };
    assertClose('param after 3 steps', await run(gpu), await run(cpu), { atol: 1e-6, rtol: 1e-6 });
  });
});

describe('device asserts: the label check reduces over every lane of its workgroup', () => {
  // Row r is first visited by lane r mod 256; rows 128..255 need the first step of the tree.
  const n = 300;
  const c = 4;
  it.each([
    { bad: [200], first: 200 },
    { bad: [130, 259], first: 130 },
  ])('bad labels at rows $bad: the read throws naming row $first', async ({ bad, first }) => {
    const labels = new Int32Array(n).map((_, r) => r % c);
    for (const r of bad) labels[r] = c + 3;
    const logits = gpu.upload(rand(n * c), 'float32');
    const lab = gpu.upload(labels, 'int32');
    const loss = gpu.routine('softmaxCrossEntropy', { logits, labels: lab }, { n, c });
    await expectError(() => gpu.read(loss), new RegExp(`label ${c + 3} at row ${first} is outside the ${c} classes`), INTERNAL);
    for (const s of [logits, lab, loss]) gpu.release(s);
  });
});

describe('sgd step: the vec4/scalar choice at even lengths that are not multiples of 4', () => {
  for (const n of [2, 6, 10]) {
    it.each([0, 0.9])(`length ${n}, momentum %s: two steps match the CPU`, async (momentum) => {
      const p0 = rand(n);
      const g = rand(n);
      const run = async (be: Backend): Promise<Float32Array> => {
        const param = be.upload(p0, 'float32');
        const grad = be.upload(g, 'float32');
        const velocity = momentum > 0 ? be.upload(new Float32Array(n), 'float32') : null;
        for (const firstStep of [true, false]) {
          be.routine('sgdStep', { param, grad, velocity }, { lr: 0.1, momentum, dampening: 0, nesterov: false, weightDecay: 0.01, firstStep });
        }
        const out = Float32Array.from(await be.read(param));
        for (const s of [param, grad, velocity]) if (s) be.release(s);
        return out;
      };
      assertClose(`sgd length ${n}`, await run(gpu), await run(cpu), { atol: 1e-6, rtol: 1e-6 });
    });
  }
});
