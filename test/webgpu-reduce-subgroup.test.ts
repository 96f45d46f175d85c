/**
 * Every reduce and softmax design, forced through the kernel-choice hook, against the CPU backend:
 * reducePath 'loop' / 'tree' / 'subgroup' over the last axis and a middle axis (sum and max,
 * float32 and int32), softmaxPath 'loop' / 'tree' / 'subgroup' for softmax, logSoftmax, their
 * gradients and softmax cross-entropy. Awkward shapes: 1, lengths not multiples of a subgroup (4 or
 * 8 lanes on the software drivers) or of a workgroup, rows long enough for several passes; NaN
 * anywhere in a row (not only where lane 0 starts), ±Inf, rows of -Inf, ties. Outputs land on
 * NaN-poisoned buffers. The suite's device has autotune off: no choice here depends on a timing.
 *
 * Run on both drivers: lavapipe (default) and SwiftShader
 * (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json). No adapter is a FAILURE here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { rowMode } from '../src/backend/webgpu/fused/softmax.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { reducePath } from '../src/backend/webgpu/reduce.js';
import { REDUCE_OPS } from '../shaders/kernel-types.js';
import { subgroupRowKernel, treeReduceKernel } from '../shaders/reduce.js';
import { assertClose, compareOnBackends, f32, i32, poisonPool, testData, type Input } from './helpers/kernel-harness.js';

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

const { rand, randInt } = testData(4141);
const EPS = 2 ** -23;
const PATHS = ['loop', 'tree', 'subgroup'] as const;
/** A NaN with the sign bit set: its order key is below -Inf's, so a max over raw keys would lose it. */
const NEG_NAN = new Float32Array(new Uint32Array([0xffc00000]).buffer)[0]!;

/** [outer, length, inner]: rows (inner 1) and middle axes. */
const SHAPES: readonly [number, number, number][] = [
  [1, 1, 1],
  [5, 3, 1],
  [3, 129, 1],
  [2, 1029, 1],
  [1, 70001, 1], // 18 chunks of the row designs, then a second pass
  [1, 1, 3],
  [3, 17, 2],
  [2, 63, 65],
  [3, 2049, 17],
  [1, 5000, 33],
];

/** NaN, +Inf and -Inf at positions that fall to different lanes and chunks (not just index 0). */
function withSpecials(n: number, specials: readonly number[], seed: number): Float32Array {
  const x = rand(n);
  specials.forEach((v, k) => {
    x[(seed * 7919 + k * 104729 + n - 1) % n] = v;
  });
  return x;
}

async function check(op: (typeof REDUCE_OPS)[number], input: Input, outer: number, length: number, inner: number, label: string): Promise<void> {
  const expected = Float32Array.from(await cpu.read(cpu.reduce(op, cpu.upload(input.data, input.dtype), outer, length, inner)));
  const x = gpu.upload(input.data, input.dtype);
  poisonPool(gpu, [expected.length, outer * inner * Math.ceil(length / 16), outer * inner * Math.ceil(length / 4096)], input.dtype);
  const out = gpu.reduce(op, x, outer, length, inner);
  const got = await gpu.read(out);
  assertClose(label, Array.from(got), expected, op === 'sum' && input.dtype === 'float32' ? { atol: 1e-6 + 4 * length * EPS, rtol: 1e-5 } : { atol: 0, rtol: 0 });
  gpu.release(x);
  gpu.release(out);
}

describe('defineKernel with subgroups', () => {
  it('emits the extension, the relaxed uniformity check and the two builtins only when asked', () => {
    const sg = subgroupRowKernel('max', 'f32');
    const src = sg.wgsl();
    expect(src.startsWith('enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n')).toBe(true);
    expect(src).toContain('@builtin(subgroup_size) sg_size: u32, @builtin(subgroup_invocation_id) sg_id: u32');
    expect(sg.key.endsWith('|sg')).toBe(true);
    const plain = treeReduceKernel('max', 'f32').wgsl();
    expect(plain).not.toContain('subgroup');
  });
});

describe('reduce: every design forced', () => {
  it('the device offers subgroups (else the subgroup cases below could not run)', () => {
    expect(gpu.subgroups).not.toBeNull();
    expect(gpu.reduceChoices.size).toBe(0); // autotune off: the rule or the forced path only
  });

  for (const path of PATHS) {
    for (const op of REDUCE_OPS) {
      it(`'${path}' ${op}: float32 with NaN/±Inf anywhere, ties, int32, at awkward shapes`, async () => {
        restore = forceKernelChoice({ reducePath: path });
        for (const [outer, length, inner] of SHAPES) {
          const n = outer * length * inner;
          const label = `${path} ${op} [${outer}, ${length}, ${inner}]`;
          expect(reducePath(gpu, outer, length, inner)).toBe(path);
          await check(op, f32(rand(n)), outer, length, inner, label);
          await check(op, f32(withSpecials(n, [NaN], length)), outer, length, inner, `${label} one NaN`);
          await check(op, f32(withSpecials(n, [NEG_NAN], length + 1)), outer, length, inner, `${label} one NaN with the sign bit set`);
          await check(op, f32(withSpecials(n, [Infinity, -Infinity, -Infinity], 3)), outer, length, inner, `${label} ±Inf`);
          // Ties: few distinct values (a max held by many lanes), and rows that are all -Inf.
          await check(op, f32(Float32Array.from(randInt(n, -3, 3))), outer, length, inner, `${label} ties`);
          if (op === 'max') await check(op, f32(new Float32Array(n).fill(-Infinity)), outer, length, inner, `${label} all -Inf`);
          await check(op, i32(randInt(n, -1000, 1000)), outer, length, inner, `${label} int32`);
        }
      }, 300_000);
    }
  }

  it("forcing 'subgroup' on a device without the feature names the op and the feature", async () => {
    const plain = await WebGPUBackend.create({ autotune: false, subgroups: false });
    try {
      restore = forceKernelChoice({ reducePath: 'subgroup', softmaxPath: 'subgroup' });
      const x = plain.upload(new Float32Array(300), 'float32');
      expect(() => plain.reduce('sum', x, 1, 300, 1)).toThrow(/reduce.*'subgroups'/);
      expect(() => plain.routine('softmax', { x }, { rows: 3, cols: 100, log: false })).toThrow(/softmax.*'subgroups'/);
    } finally {
      plain.destroy();
    }
  });
});

// ---------------------------------------------------------------- softmax

const TRANS = { atol: 2e-6, rtol: 4e-6 };
/** 1 (the loop whatever is forced), 10 (a forced workgroup of 8), 257 (64, not a multiple), 4099 (256, long). */
const COLS = [1, 10, 257, 4099];

async function compare(what: string, inputs: Input[], run: (be: Backend, xs: Storage[]) => Storage[], tol: { atol: number; rtol: number }): Promise<void> {
  await compareOnBackends(cpu, gpu, what, inputs, run, [tol]);
}

describe('softmax rows: every design forced', () => {
  for (const path of PATHS) {
    it(`'${path}': softmax, logSoftmax, their gradients, cross-entropy and its gradient`, async () => {
      restore = forceKernelChoice({ softmaxPath: path });
      // The tree at 1024+ columns (256 invocations) is the shape rule's, run by webgpu-training's
      // softmax tests; left out here to keep this file's fresh compile short.
      for (const cols of path === 'tree' ? COLS.filter((c) => c < 1024) : COLS) {
        expect(rowMode(cols, gpu).kind).toBe(cols < 2 ? 'loop' : path);
        for (const rows of [1, 5]) {
          const n = rows * cols;
          const tag = `${path} [${rows}, ${cols}]`;
          // Large logits (exp overflows without the max subtracted) and ties at the row max.
          const x = rand(n, -60, 60, [88, 88, -90]);
          for (const log of [false, true]) {
            await compare(`${log ? 'log' : ''}softmax ${tag}`, [f32(x)], (be, [s]) => [be.routine('softmax', { x: s! }, { rows, cols, log })], log ? { atol: 4e-6, rtol: 2e-6 } : TRANS);
          }
          // -Inf is a zero weight (a row of several, against the CPU).
          const sp = withSpecials(n, [-Infinity, -Infinity], cols);
          await compare(`softmax -Inf ${tag}`, [f32(sp)], (be, [s]) => [be.routine('softmax', { x: s! }, { rows, cols, log: false })], TRANS);
          // NaN or +Inf anywhere in a row: WGSL leaves exp of NaN / Inf − Inf to the driver
          // (SwiftShader gives 0 where the CPU gives NaN), so each design must match the loop design
          // on the same device; the row max (max_f, or the subgroup's order keys) is what is checked.
          if (path !== 'loop') {
            const bad = withSpecials(n, [NaN, Infinity], cols + 1);
            for (const log of [false, true]) {
              const run = (): Promise<Float32Array> => {
                const xs = gpu.upload(bad, 'float32');
                const out = gpu.routine('softmax', { x: xs }, { rows, cols, log });
                gpu.release(xs);
                return gpu.read(out).then((a) => Float32Array.from(a));
              };
              const got = await run();
              const undo = forceKernelChoice({ softmaxPath: 'loop' });
              const want = await run().finally(undo);
              assertClose(`${log ? 'log' : ''}softmax NaN/+Inf ${tag} against the loop design`, got, want, TRANS);
            }
          }
          const y = Float32Array.from(await cpu.read(cpu.routine('softmax', { x: cpu.upload(rand(n, -3, 3), 'float32') }, { rows, cols, log: false })));
          const dy = rand(n);
          // The row sum of up to 4099 terms in |dy| <= 1 (in a design's own order) scales the error.
          const gradTol = { atol: 1e-5 + 2 * cols * EPS, rtol: 1e-5 };
          for (const log of [false, true]) {
            await compare(`${log ? 'log' : ''}softmaxGrad ${tag}`, [f32(y), f32(dy)], (be, [ys, dys]) => [be.routine('softmaxGrad', { y: ys!, dy: dys! }, { rows, cols, log })], gradTol);
          }
          const logits = rand(n, -8, 8, [50, -50]);
          const labels = randInt(rows, 0, cols - 1);
          await compare(`softmaxCrossEntropy ${tag}`, [f32(logits), i32(labels)], (be, [l, lab]) => [be.routine('softmaxCrossEntropy', { logits: l!, labels: lab! }, { n: rows, c: cols })], { atol: 8e-6, rtol: 2e-6 });
          await compare(`softmaxCrossEntropyGrad ${tag}`, [f32(logits), i32(labels), f32(rand(rows, -2, 2))], (be, [l, lab, d]) => [be.routine('softmaxCrossEntropyGrad', { logits: l!, labels: lab!, dLoss: d! }, { n: rows, c: cols })], { atol: 4e-6, rtol: 2e-5 });
        }
      }
    }, 300_000);
  }
});
