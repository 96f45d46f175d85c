/**
 * Dropout's host-side uniforms on WebGPU, bit for bit against the CPU twin and the Philox stream:
 *  - p between two points of the 2^-24 grid: element i is kept iff (w_i >> 8) >= ceil(p·2^24), so an
 *    element whose uniform lies just below p is dropped (a threshold rounded down would keep it);
 *  - offsets past 2^34, where the first Philox block q0 = floor(offset / 4) needs its high word
 *    (an offset whose block fits in 32 bits, as in test/webgpu-training, never sets it).
 *
 * Written by planting those bugs (see the report of issue 16): each case fails with its bug and
 * passes without. No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { philoxWords } from '../src/random/philox.js';
import { assertBitsEqual, testData } from './helpers/kernel-harness.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});

afterAll(() => {
  gpu?.destroy();
});

const { rand } = testData(16_777);
const TWO24 = 2 ** 24;

async function dropout(be: Backend, x: Float32Array, p: number, seed: number, offset: number): Promise<Float32Array> {
  const xs = be.upload(x, 'float32');
  const y = be.routine('dropout', { x: xs }, { p, seed, offset });
  const out = Float32Array.from(await be.read(y));
  be.release(xs);
  be.release(y);
  return out;
}

describe('dropout uniforms on WebGPU', () => {
  it('p half a grid step above an element’s uniform drops it (the threshold rounds up)', async () => {
    const seed = 31;
    const offset = 6;
    const n = 23;
    const words = philoxWords(seed, offset, n);
    const x = new Float32Array(n).fill(1);
    for (const i of [0, 5, 22]) {
      const k = words[i]! >>> 8;
      const p = (k + 0.5) / TWO24; // u_i = k·2^-24 < p: dropped
      const got = await dropout(gpu, x, p, seed, offset);
      expect(got[i], `element ${i}: u = ${k}·2^-24 < p = ${k + 0.5}·2^-24`).toBe(0);
      assertBitsEqual(`dropout p = ${k + 0.5}·2^-24`, got, await dropout(cpu, x, p, seed, offset));
    }
  });

  it('offsets past 2^34 (the first Philox block needs its high word) match the CPU bit for bit', async () => {
    for (const offset of [2 ** 34 + 5, 2 ** 40 + 3, 3 * 2 ** 36 - 2]) {
      const x = rand(67, -2, 2);
      const got = await dropout(gpu, x, 0.5, 99, offset);
      assertBitsEqual(`dropout offset ${offset}`, got, await dropout(cpu, x, 0.5, 99, offset));
    }
  });
});
