/**
 * Both designs of a reduce over a middle axis with inner > 1 (src/backend/webgpu/reduce.ts): the
 * column loop and the column tree in workgroup memory, each forced through the kernel-choice hook
 * at awkward shapes (1, 3, 17, 63, 65, 129 and lengths spanning several chunks and passes), sum and
 * max, float32 with NaN/±Inf and int32, on NaN-poisoned output buffers, against the CPU backend.
 * Also the shape rule that picks one when nothing is forced.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { columnPath } from '../src/backend/webgpu/reduce.js';
import { REDUCE_OPS } from '../shaders/kernel-types.js';
import { assertClose, f32, i32, poisonPool, testData, type Input } from './helpers/kernel-harness.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
let restore: (() => void) | null = null;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());
afterEach(() => {
  restore?.();
  restore = null;
});

const { rand, randInt } = testData(2727);
const EPS = 2 ** -23;

/** [outer, length, inner]: inner > 1 always (inner = 1 has its own tree kernel). */
const SHAPES: readonly [number, number, number][] = [
  [1, 1, 3],
  [3, 17, 2],
  [1, 129, 17],
  [2, 63, 65],
  [1, 1025, 3],
  [3, 2049, 17],
  [1, 5000, 129],
  [65, 3, 63],
];

async function check(op: (typeof REDUCE_OPS)[number], input: Input, outer: number, length: number, inner: number, label: string): Promise<void> {
  const expected = Float32Array.from(await cpu.read(cpu.reduce(op, cpu.upload(input.data, input.dtype), outer, length, inner)));
  const x = gpu.upload(input.data, input.dtype);
  poisonPool(gpu, [expected.length, outer * inner * Math.ceil(length / 16)], input.dtype);
  const out = gpu.reduce(op, x, outer, length, inner);
  const got = await gpu.read(out);
  assertClose(label, Array.from(got), expected, op === 'sum' && input.dtype === 'float32' ? { atol: 1e-6 + 4 * length * EPS, rtol: 1e-5 } : { atol: 0, rtol: 0 });
  gpu.release(x);
  gpu.release(out);
}

for (const path of ['loop', 'tree'] as const) {
  describe(`reduce over a middle axis: the '${path}' design`, () => {
    for (const op of REDUCE_OPS) {
      it(`${op}: float32 (with NaN and ±Inf) and int32 at awkward shapes`, async () => {
        restore = forceKernelChoice({ reducePath: path });
        for (const [outer, length, inner] of SHAPES) {
          const n = outer * length * inner;
          const label = `${path} ${op} [${outer}, ${length}, ${inner}]`;
          await check(op, f32(rand(n)), outer, length, inner, label);
          // Specials at the start of the first column: NaN wins in both ops, Inf dominates a sum.
          await check(op, f32(rand(n, -1, 1, [NaN, Infinity, -Infinity].slice(0, Math.min(3, inner)))), outer, length, inner, `${label} specials`);
          await check(op, i32(randInt(n, -1000, 1000)), outer, length, inner, `${label} int32`);
        }
      }, 300_000);
    }
  });
}

describe('the shape rule', () => {
  it('takes the column tree only for a long axis over few columns', () => {
    expect(columnPath(1, 4096, 64)).toBe('tree');
    expect(columnPath(4, 1024, 64)).toBe('tree');
    expect(columnPath(1, 128, 512)).toBe('loop'); // an MLP bias gradient: 128-row batch
    expect(columnPath(1, 4096, 512)).toBe('loop');
    expect(columnPath(1, 1023, 8)).toBe('loop');
  });
});
