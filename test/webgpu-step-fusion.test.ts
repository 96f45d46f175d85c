/**
 * The training-step kernels that cut the MLP step's non-matmul time (issue 15, item 5), each against
 * the CPU reference on awkward shapes, the GPU pool poisoned (NaN for floats, INT_POISON for int32)
 * before each run so an unwritten element shows up:
 *  - dropoutWithMask: the forward that also stores the keep mask bit-packed (bit-identical output
 *    to the plain dropout, the same mask words as the CPU), and dropoutApplyMask, the backward that
 *    reads it instead of running Philox again; both the vec4 and the scalar kernels;
 *  - the dropout op's gradient through autograd, the same on both backends and equal to the
 *    mask applied to dy.
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { assertBitsEqual, INT_POISON, poisonPool, testData } from './helpers/kernel-harness.js';
import { expectErrorSync } from './helpers/expect-error.js';
import { philoxWords } from '../src/random/philox.js';

const INTERNAL = { type: Error };

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const { rand } = testData(4111);

/** Pipelines the backend has built whose key starts with `prefix` (names only). */
function pipelines(prefix: string): string[] {
  const map = (gpu.pipelines as unknown as { pipelines: Map<string, unknown> }).pipelines;
  return [...new Set([...map.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.split('|')[0]!))].sort();
}

const words = (n: number) => Math.ceil(n / 32);

/** The expected mask from the Philox stream itself (independent of either backend's kernel). */
function streamMask(n: number, p: number, seed: number, offset: number): Int32Array {
  const w = philoxWords(seed, offset, n);
  const m = new Int32Array(words(n));
  for (let i = 0; i < n; i++) if ((w[i]! >>> 8) * 2 ** -24 >= p) m[i >>> 5] |= 1 << (i & 31);
  return m;
}

function asInts(a: ArrayLike<number>): Int32Array {
  return Int32Array.from(a);
}

function expectWordsEqual(what: string, got: Int32Array, expected: Int32Array): void {
  expect(got.length, `${what}: words`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (got[i] !== expected[i]) throw new Error(`${what}: word ${i} is 0x${(got[i]! >>> 0).toString(16)}, expected 0x${(expected[i]! >>> 0).toString(16)}`);
  }
}

async function readF32(be: Backend, s: Storage): Promise<Float32Array> {
  return Float32Array.from(await be.read(s));
}

describe('webgpu dropoutWithMask: the forward that stores its mask', () => {
  // Lengths around the 4-element Philox block, the 32-element mask word and the 64-invocation
  // workgroup; offsets that start mid-block (skip 1..3), at a block, and with a carrying counter.
  const LENGTHS = [1, 3, 4, 31, 32, 33, 100, 257, 2052, 2049];
  const OFFSETS = [0, 1, 3, 4, 6, 4 * (2 ** 32 - 2) + 1, 2 ** 34];
  it('out is bit-identical to dropout and to the CPU; mask words equal the CPU and the Philox stream', async () => {
    let cases = 0;
    for (const n of LENGTHS) {
      for (const offset of OFFSETS) {
        const p = [0.5, 0.1, 0.9, 1 / 3][cases % 4]!;
        const seed = 1000 + cases;
        const what = `dropoutWithMask [${n}] offset ${offset} p ${p}`;
        const x = rand(n, -3, 3, [Number.NaN, Number.POSITIVE_INFINITY, -0]);
        const cx = cpu.upload(x, 'float32');
        const ce = cpu.routine('dropoutWithMask', { x: cx }, { p, seed, offset });
        const expectedOut = await readF32(cpu, ce.out);
        const expectedMask = asInts(await cpu.read(ce.mask));
        expectWordsEqual(`${what}: CPU mask vs stream`, expectedMask, streamMask(n, p, seed, offset));
        poisonPool(gpu, [n]);
        poisonPool(gpu, [words(n)], 'int32');
        const gx = gpu.upload(x, 'float32');
        const g = gpu.routine('dropoutWithMask', { x: gx }, { p, seed, offset });
        const plain = gpu.routine('dropout', { x: gx }, { p, seed, offset });
        assertBitsEqual(`${what}: out`, await readF32(gpu, g.out), expectedOut);
        assertBitsEqual(`${what}: plain dropout`, await readF32(gpu, plain), expectedOut);
        expectWordsEqual(`${what}: mask`, asInts(await gpu.read(g.mask)), expectedMask);
        for (const s of [gx, g.out, g.mask, plain]) gpu.release(s);
        cases++;
      }
    }
    expect(cases).toBe(LENGTHS.length * OFFSETS.length);
    // Both forward designs ran: vec4 (offset and length multiples of 4) and scalar.
    expect(pipelines('dropout:mask')).toEqual(['dropout:mask', 'dropout:mask:v4']);
    expect(pipelines('dropout|').length + pipelines('dropout:v4').length).toBe(2);
  });

  it('a length past one workgroup of mask words with the poison-bit pattern in the pool', async () => {
    // 64 invocations × 32 elements = 2048 per workgroup: 3 workgroups, the last partial.
    const n = 2048 * 2 + 37;
    const x = rand(n, -1, 1);
    const ce = cpu.routine('dropoutWithMask', { x: cpu.upload(x, 'float32') }, { p: 0.25, seed: 9, offset: 2 });
    poisonPool(gpu, [words(n)], 'int32');
    expect(INT_POISON).not.toBe(0);
    const g = gpu.routine('dropoutWithMask', { x: gpu.upload(x, 'float32') }, { p: 0.25, seed: 9, offset: 2 });
    expectWordsEqual('mask', asInts(await gpu.read(g.mask)), asInts(await cpu.read(ce.mask)));
    assertBitsEqual('out', await readF32(gpu, g.out), await readF32(cpu, ce.out));
  });

  it('checks its arguments, naming the routine', () => {
    const x = gpu.upload(new Float32Array(4), 'float32');
    expectErrorSync(() => gpu.routine('dropoutWithMask', { x }, { p: 1, seed: 0, offset: 0 }), /dropoutWithMask: p must be in \[0, 1\)/, INTERNAL);
    expectErrorSync(() => gpu.routine('dropoutWithMask', { x }, { p: 0.5, seed: -1, offset: 0 }), /dropoutWithMask: seed/, INTERNAL);
    const xi = gpu.upload(new Int32Array(4), 'int32');
    expectErrorSync(() => gpu.routine('dropoutWithMask', { x: xi }, { p: 0.5, seed: 0, offset: 0 }), /float32/, INTERNAL);
  });
});

describe('webgpu dropoutApplyMask: the backward from the stored mask', () => {
  it('matches the CPU bit for bit (vec4 and scalar kernels), NaN and Inf in dy kept only where kept', async () => {
    let cases = 0;
    for (const n of [1, 5, 32, 33, 64, 260, 1029, 4096]) {
      for (const p of [0.5, 0.2]) {
        const mask = streamMask(n, p, 77 + n, 3);
        // Bits past n set in the last word must not matter (the contract leaves them 0; a kernel
        // that read past n would write past its output).
        const dy = rand(n, -2, 2, [Number.NaN, Number.NEGATIVE_INFINITY, -0]);
        const expected = await readF32(cpu, cpu.routine('dropoutApplyMask', { dy: cpu.upload(dy, 'float32'), mask: cpu.upload(mask, 'int32') }, { p }));
        // The CPU agrees with the definition: kept ⇒ dy·f32(1/(1−p)), dropped ⇒ 0.
        const scale = Math.fround(1 / (1 - p));
        for (let i = 0; i < n; i++) {
          const kept = ((mask[i >>> 5]! >>> (i & 31)) & 1) === 1;
          expect(Object.is(expected[i], kept ? Math.fround(dy[i]! * scale) : 0), `cpu element ${i}`).toBe(true);
        }
        poisonPool(gpu, [n]);
        const got = await readF32(gpu, gpu.routine('dropoutApplyMask', { dy: gpu.upload(dy, 'float32'), mask: gpu.upload(mask, 'int32') }, { p }));
        assertBitsEqual(`dropoutApplyMask [${n}] p ${p}`, got, expected);
        cases++;
      }
    }
    expect(cases).toBe(16);
    expect(pipelines('dropout-apply')).toEqual(['dropout-apply', 'dropout-apply:v4']);
  });

  it('refuses a mask of the wrong length or dtype, naming the routine and the mask', () => {
    const dy = gpu.upload(new Float32Array(33), 'float32');
    expectErrorSync(() => gpu.routine('dropoutApplyMask', { dy, mask: gpu.upload(new Int32Array(1), 'int32') }, { p: 0.5 }), /dropoutApplyMask: mask must be 2 int32 words for 33 elements, got 1 int32/, INTERNAL);
    expectErrorSync(() => gpu.routine('dropoutApplyMask', { dy, mask: gpu.upload(new Float32Array(2), 'float32') }, { p: 0.5 }), /dropoutApplyMask: mask must be 2 int32 words/, INTERNAL);
    expect(() => cpu.routine('dropoutApplyMask', { dy: cpu.upload(new Float32Array(33), 'float32'), mask: cpu.upload(new Int32Array(3), 'int32') }, { p: 0.5 })).toThrow(/cpu\.dropoutApplyMask: mask must be 2 int32 words for 33 elements/);
  });
});
