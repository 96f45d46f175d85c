/**
 * Dispatches past one grid dimension (maxComputeWorkgroupsPerDimension, 65535 by default), which
 * fold into 2-D or are split into several dispatches, compared with the CPU element by element.
 * Each case is sized so it really folds (the sizes are asserted against the kernels' workgroup
 * sizes), and every element has its own value, so an element computed from the wrong index, or a
 * part of the grid never dispatched, fails.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, MatmulArgs, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { MATMUL_BLOCK } from '../shaders/matmul.js';
import { DROPOUT_PER_INVOCATION, DROPOUT_WG } from '../shaders/dropout.js';
import { WG_1D } from '../shaders/common.js';
import { assertBitsEqual, assertClose, poisonPool, testData } from './helpers/kernel-harness.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});

afterAll(() => {
  gpu?.destroy();
});

const { rand } = testData(65537);

async function both(input: Float32Array[], run: (be: Backend, xs: Storage[]) => Storage): Promise<{ got: Float32Array; expected: Float32Array }> {
  const cOut = run(cpu, input.map((d) => cpu.upload(d, 'float32')));
  const expected = Float32Array.from(await cpu.read(cOut));
  const gx = input.map((d) => gpu.upload(d, 'float32'));
  poisonPool(gpu, [expected.length]); // an element never written reads back as NaN
  const gOut = run(gpu, gx);
  const got = (await gpu.read(gOut)) as Float32Array;
  for (const s of [...gx, gOut]) gpu.release(s);
  return { got, expected };
}

describe('webgpu: dispatches past 65535 workgroups', () => {
  it('the per-dimension limit is the one the sizes below are chosen for', () => {
    expect(gpu.limits.maxComputeWorkgroupsPerDimension).toBe(65535);
  });

  it('scalar elementwise kernel at 16,777,217 elements (65,537 workgroups, folded into 2-D)', async () => {
    const n = 16_777_217; // odd: the scalar kernel, one invocation per element
    expect(n % 4).not.toBe(0);
    expect(Math.ceil(n / WG_1D)).toBeGreaterThan(65535);
    const x = rand(n, 1, 2);
    const unary = await both([x], (be, [a]) => be.unary('mulScalar', a!, -3));
    assertBitsEqual('mulScalar', unary.got, unary.expected);
  });

  // Each dropout invocation now draws one 32-element mask word, so its grid folds only past
  // 65535 × DROPOUT_WG × DROPOUT_PER_INVOCATION ≈ 134 M elements (537 MB of float32): too large for
  // the suite. The fold is defineKernel's shared linear index, checked by the scalar case above;
  // this case checks element indices past 2^24 (no longer exact in float32) and the Philox counter there.
  it('dropout past 16.8 M elements (element indices past 2^24) is bit-exact against the CPU', async () => {
    const n = 16_777_216 + 4099;
    expect(n).toBeGreaterThan(2 ** 24);
    expect(Math.ceil(Math.ceil(n / DROPOUT_PER_INVOCATION) / DROPOUT_WG)).toBeLessThanOrEqual(65535);
    const x = rand(n, 0.5, 1.5);
    // Offset 3: the first Philox block is partly skipped, so block and element indices differ.
    const r = await both([x], (be, [a]) => be.routine('dropout', { x: a! }, { p: 0.3, seed: 12345, offset: 3 }));
    assertBitsEqual('dropout', r.got, r.expected);
  });

  it('matmul with 65,537 batches (the batch offset advances past one grid dimension)', async () => {
    const batch = 65_537;
    const args: MatmulArgs = { batch, m: 1, k: 2, n: 1, transA: false, transB: false, aBatchStride: 2, bBatchStride: 2 };
    const r = await both([rand(batch * 2), rand(batch * 2)], (be, [a, b]) => be.matmul(a!, b!, args));
    assertClose('matmul batches', r.got, r.expected, { atol: 1e-6, rtol: 1e-6 });
  });

  it('matmul with more row blocks than one grid dimension holds', async () => {
    const undo = forceKernelChoice({ matmulShape: [4, 4] });
    try {
      const m = 65535 * MATMUL_BLOCK * 4 + 37; // row blocks of 4 invocations × 4 rows: 65,538 workgroups on y
      const args: MatmulArgs = { batch: 1, m, k: 2, n: 3, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
      const r = await both([rand(m * 2), rand(6)], (be, [a, b]) => be.matmul(a!, b!, args));
      assertClose('matmul rows', r.got, r.expected, { atol: 1e-6, rtol: 1e-6 });
    } finally {
      undo();
    }
  });
});
