/**
 * Grids past one dispatch dimension (65535 workgroups) for the kernels that fold or split their grid
 * themselves, on the designs test/webgpu-large-dispatch does not reach: the tiled and wide matmuls
 * (their own P.zOff / P.yOff arithmetic), the float16 matmul, softmax's row index (loop and tree),
 * and the reduce tree kernels' workgroup index. Each kernel computes its row or batch from
 * wid.x + wid.y·nwg.x (or adds an offset uniform per split dispatch); a kernel that assumes
 * nwg.x = 65535, or drops the offset, computes the first part of the grid twice and never the rest.
 *
 * Written by planting exactly those bugs (see the report of issue 16): each case fails with its bug
 * and passes without. No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, MatmulArgs, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice, type KernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { designBlock, type MatmulDesign } from '../src/backend/webgpu/matmul.js';
import { WG_1D } from '../shaders/common.js';
import { assertClose, poisonPool, testData } from './helpers/kernel-harness.js';

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

function force(choice: KernelChoice): void {
  restore?.();
  restore = forceKernelChoice(choice);
}

const { rand } = testData(16_016);
const MAX = 65535;
const TOL = { atol: 1e-6, rtol: 1e-5 };

/** One output of `run` on both backends (GPU pool poisoned, so an unwritten element reads NaN). */
async function both(inputs: { data: Float32Array | Int32Array; dtype: 'float32' | 'int32' | 'float16' }[], run: (be: Backend, xs: Storage[]) => Storage): Promise<{ got: Float32Array; expected: Float32Array }> {
  const expected = Float32Array.from(await cpu.read(run(cpu, inputs.map((i) => cpu.upload(i.data, i.dtype)))));
  const gx = inputs.map((i) => gpu.upload(i.data, i.dtype));
  poisonPool(gpu, [expected.length]);
  const out = run(gpu, gx);
  const got = Float32Array.from(await gpu.read(out));
  for (const s of [...gx, out]) gpu.release(s);
  return { got, expected };
}

describe('matmul designs past one grid dimension', () => {
  it('the per-dimension limit is the one the sizes below are chosen for', () => {
    expect(gpu.limits.maxComputeWorkgroupsPerDimension).toBe(MAX);
  });

  // The row-sharing block on 8x2: a subgroup of 8 (lavapipe) or 4 (SwiftShader) lanes shares A.
  const designs: [MatmulDesign, [number, number]][] = [['tiled', [4, 4]], ['wide8x8', [4, 4]], ['sgRows16x4', [8, 2]]];
  for (const [design, shape] of designs) {
    it(`${design}: 65,537 batches (the batch offset of the second dispatch)`, async () => {
      force({ matmulDesign: design, matmulShape: shape });
      const batch = MAX + 2;
      const args: MatmulArgs = { batch, m: 1, k: 2, n: 1, transA: false, transB: false, aBatchStride: 2, bBatchStride: 2 };
      const r = await both([{ data: rand(batch * 2), dtype: 'float32' }, { data: rand(batch * 2), dtype: 'float32' }], (be, [a, b]) => be.matmul(a!, b!, args));
      assertClose(`${design} batches`, r.got, r.expected, TOL);
    });

    it(`${design}: more row blocks than one grid dimension (the row offset of the second dispatch)`, async () => {
      force({ matmulDesign: design, matmulShape: shape });
      const rowsPerGroup = designBlock(design).rows * shape[1];
      const m = MAX * rowsPerGroup + 37;
      expect(Math.ceil(m / rowsPerGroup)).toBeGreaterThan(MAX);
      const args: MatmulArgs = { batch: 1, m, k: 2, n: 3, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
      const r = await both([{ data: rand(m * 2), dtype: 'float32' }, { data: rand(6), dtype: 'float32' }], (be, [a, b]) => be.matmul(a!, b!, args));
      assertClose(`${design} rows`, r.got, r.expected, TOL);
    });
  }

  it('float16: 65,537 batches (the batch offset of the second dispatch)', async (ctx) => {
    // lavapipe, the CI driver, has 'shader-f16'; without it float16 cannot live on the device, and
    // the case is reported as skipped, as in test/float16.test.ts (SwiftShader).
    if (!gpu.shaderF16) ctx.skip();
    const batch = MAX + 2;
    const args: MatmulArgs = { batch, m: 1, k: 2, n: 1, transA: false, transB: false, aBatchStride: 2, bBatchStride: 2 };
    // Small integers: exact in f16, and the f32-accumulated products round the same on both backends.
    const ints = (n: number) => Float32Array.from(rand(n, -8, 8), (v) => Math.round(v));
    const r = await both([{ data: ints(batch * 2), dtype: 'float16' }, { data: ints(batch * 2), dtype: 'float16' }], (be, [a, b]) => be.matmul(a!, b!, args));
    assertClose('float16 batches', r.got, r.expected, { atol: 0, rtol: 0 });
  });
});

describe('row kernels past one grid dimension', () => {
  it('softmax tree kernel: 65,537 rows of 64 (a workgroup per row)', async () => {
    const rows = MAX + 2;
    const cols = 64;
    const r = await both([{ data: rand(rows * cols, -4, 4), dtype: 'float32' }], (be, [x]) => be.routine('softmax', { x: x! }, { rows, cols, log: true }));
    assertClose('logSoftmax tree', r.got, r.expected, { atol: 1e-5, rtol: 1e-5 });
  });

  it('softmax loop kernel: more than 65535·64 rows of 1 (an invocation per row)', async () => {
    const rows = MAX * WG_1D + 65;
    const r = await both([{ data: rand(rows, -4, 4), dtype: 'float32' }], (be, [x]) => be.routine('softmax', { x: x! }, { rows, cols: 1, log: true }));
    assertClose('logSoftmax loop', r.got, r.expected, { atol: 0, rtol: 0 });
  });

  it('reduce tree kernel (inner 1): 65,537 rows of 128', async () => {
    const outer = MAX + 2;
    const length = 128;
    const r = await both([{ data: rand(outer * length), dtype: 'float32' }], (be, [x]) => be.reduce('sum', x!, outer, length, 1));
    assertClose('sum rows', r.got, r.expected, { atol: 1e-5, rtol: 1e-5 });
  });

  it('reduce column tree (forced): 65,537 workgroups of (outer, chunk, column block)', async () => {
    force({ reducePath: 'tree' });
    const outer = MAX + 2;
    const r = await both([{ data: rand(outer * 3 * 2), dtype: 'float32' }], (be, [x]) => be.reduce('max', x!, outer, 3, 2));
    assertClose('max columns', r.got, r.expected, { atol: 0, rtol: 0 });
  });
});
