/**
 * The NCHW batch-norm routines (batchNorm2dStats / Apply / Backward): WebGPU against the float64
 * CPU reference, both partial-pass forms forced in turn (the lane form, one invocation per chunk,
 * and the workgroup-tree form), on awkward shapes (chunks that end inside an image, several chunks per channel
 * merged by the combine pass, one element per image, channel counts that do not divide the
 * combine tile), with the pool poisoned so an unwritten element reads back NaN; and the CPU
 * reference against the [N·H·W, C] routines on the permuted view, so the reference itself is
 * checked against an independent formulation.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { bn2dPlan } from '../src/backend/webgpu/batchnorm2d.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { assertClose, compareOnBackends, f32, testData } from './helpers/kernel-harness.js';

let gpu: WebGPUBackend;
const cpu = new CpuBackend();

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});

afterAll(() => {
  gpu?.destroy();
});

const { rand } = testData(23);
type Shape = [number, number, number, number];

// [7,3,5,143]: 5005 elements per channel, 3 chunks, boundaries inside images; [5,2,41,50]: 6
// chunks and a combine tile of 2 channels; [2,17,33,31]: 2046, one chunk just under the length;
// [3,5,1,1]: hw = 1; [128,16,28,28]: the CNN's first BatchNorm2d (49 chunks).
const SHAPES: Shape[] = [[1, 1, 1, 2], [2, 3, 5, 7], [3, 5, 1, 1], [7, 3, 5, 143], [5, 2, 41, 50], [2, 17, 33, 31], [128, 16, 28, 28]];

/** A tolerance relative to the largest magnitude of the reference. */
function tolFor(ref: Float64Array | Float32Array, rel: number): { atol: number; rtol: number } {
  let m = 0;
  for (const v of ref) m = Math.max(m, Math.abs(v));
  return { atol: rel * Math.max(m, 1), rtol: rel };
}

async function readAll(be: Backend, ss: Storage[]): Promise<Float64Array[]> {
  return (await Promise.all(ss.map((s) => be.read(s)))).map((a) => Float64Array.from(a));
}

/** Both backends, the GPU pool poisoned first, each output within `rel` of its reference's scale. */
const compare = (what: string, inputs: Float32Array[], run: (be: Backend, xs: Storage[]) => Storage[], rel = 2e-5): Promise<void> =>
  compareOnBackends(cpu, gpu, what, inputs.map(f32), run, [(expected) => tolFor(expected, rel)]);

const desc = (s: Shape): string => `[${s.join(',')}]`;

for (const form of ['column', 'tiled'] as const) describe(`webgpu batchNorm2d routines against the CPU reference, ${form === 'column' ? 'lane' : 'tree'} form forced`, () => {
  let undo: () => void = () => {};
  beforeAll(() => { undo = forceKernelChoice({ batchNormPath: form }); });
  afterAll(() => undo());

  it('the plans of the test shapes cover one and several chunks and combine tiles below 8', () => {
    const plans = SHAPES.map(([n, c, h, w]) => bn2dPlan(n * h * w, c, form === 'column'));
    expect(plans.some((p) => p.chunks === 1)).toBe(true);
    expect(plans.some((p) => p.chunks >= 3)).toBe(true);
    expect(plans.some((p) => p.combineTc < 8)).toBe(true);
  });

  it('statistics', async () => {
    for (const s of SHAPES) {
      const [n, c, h, w] = s;
      await compare(`batchNorm2dStats ${desc(s)}`, [rand(n * c * h * w, -2, 3)], (be, [x]) => {
        const r = be.routine('batchNorm2dStats', { x: x! }, { n, c, hw: h * w });
        return [r.mean, r.variance];
      });
    }
  });

  it('statistics when |mean| >> std (the chunk merge keeps float32 accurate)', async () => {
    const [n, c, h, w]: Shape = [4, 3, 40, 40];
    await compare('batchNorm2dStats mean 1000', [rand(n * c * h * w, 999, 1001)], (be, [x]) => {
      const r = be.routine('batchNorm2dStats', { x: x! }, { n, c, hw: h * w });
      return [r.variance];
    }, 2e-3);
  });

  for (const affine of [true, false]) {
    it(`apply and backward ${affine ? 'with' : 'without'} gamma and beta`, async () => {
      for (const s of SHAPES) {
        const [n, c, h, w] = s;
        const total = n * c * h * w;
        const x = rand(total, -2, 3);
        const dy = rand(total, -1, 1);
        const gamma = rand(c, 0.5, 2);
        const beta = rand(c, -1, 1);
        const stats = cpu.routine('batchNorm2dStats', { x: cpu.upload(x, 'float32') }, { n, c, hw: h * w });
        const [mean, variance] = (await readAll(cpu, [stats.mean, stats.variance])).map((a) => Float32Array.from(a));
        const p = { n, c, hw: h * w, eps: 1e-5 };
        await compare(`batchNorm2dApply ${desc(s)} affine ${affine}`, [x, mean!, variance!, gamma, beta], (be, [xs, ms, vs, gs, bs]) =>
          [be.routine('batchNorm2dApply', { x: xs!, mean: ms!, variance: vs!, gamma: affine ? gs! : null, beta: affine ? bs! : null }, p)]);
        await compare(`batchNorm2dBackward ${desc(s)} affine ${affine}`, [x, dy, mean!, variance!, gamma], (be, [xs, dys, ms, vs, gs]) => {
          const r = be.routine('batchNorm2dBackward', { x: xs!, dy: dys!, mean: ms!, variance: vs!, gamma: affine ? gs! : null }, p);
          return [r.dx, r.dgamma, r.dbeta];
        }, 1e-4);
      }
    });
  }
});

describe('webgpu batchNorm2d routines: gamma and beta dtypes', () => {
  it('a gamma or beta that is not float32 like x is refused, naming the routine and the argument', () => {
    const [n, c, hw] = [2, 3, 4];
    const x = gpu.upload(new Float32Array(n * c * hw), 'float32');
    const stat = gpu.upload(new Float32Array(c).fill(1), 'float32');
    const ok = gpu.upload(new Float32Array(c), 'float32');
    const bad = gpu.upload(new Int32Array(c), 'int32');
    const msg = (routine: string, arg: string) => new RegExp(`^webgpu: ${routine}: ${arg} must be float32 .*got int32$`);
    const p = { n, c, hw, eps: 1e-5 };
    expect(() => gpu.routine('batchNorm2dApply', { x, mean: stat, variance: stat, gamma: bad, beta: ok }, p)).toThrow(msg('batchNorm2dApply', 'gamma'));
    expect(() => gpu.routine('batchNorm2dApply', { x, mean: stat, variance: stat, gamma: ok, beta: bad }, p)).toThrow(msg('batchNorm2dApply', 'beta'));
    expect(() => gpu.routine('batchNorm2dBackward', { x, dy: x, mean: stat, variance: stat, gamma: bad }, p)).toThrow(msg('batchNorm2dBackward', 'gamma'));
    for (const s of [x, stat, ok, bad]) gpu.release(s);
  });
});

describe('cpu batchNorm2d routines against the [N·H·W, C] routines on the permuted view', () => {
  it('statistics, apply and backward agree to float64 rounding', async () => {
    const [n, c, h, w]: Shape = [3, 4, 5, 2];
    const hw = h * w;
    const x = rand(n * c * hw, -2, 3);
    const dy = rand(n * c * hw, -1, 1);
    const gamma = rand(c, 0.5, 2);
    const beta = rand(c, -1, 1);
    /** NCHW -> [n·hw, c]. */
    const toRows = (a: Float32Array): Float32Array => {
      const r = new Float32Array(a.length);
      for (let b = 0; b < n; b++) for (let j = 0; j < c; j++) for (let s = 0; s < hw; s++) r[(b * hw + s) * c + j] = a[(b * c + j) * hw + s]!;
      return r;
    };
    const up = (a: Float32Array): Storage => cpu.upload(a, 'float32');
    const s2 = cpu.routine('batchNorm2dStats', { x: up(x) }, { n, c, hw });
    const s1 = cpu.routine('batchNormStats', { x: up(toRows(x)) }, { n: n * hw, c });
    const y2 = cpu.routine('batchNorm2dApply', { x: up(x), mean: s2.mean, variance: s2.variance, gamma: up(gamma), beta: up(beta) }, { n, c, hw, eps: 1e-5 });
    const y1 = cpu.routine('batchNormApply', { x: up(toRows(x)), mean: s1.mean, variance: s1.variance, gamma: up(gamma), beta: up(beta) }, { n: n * hw, c, eps: 1e-5 });
    const b2 = cpu.routine('batchNorm2dBackward', { x: up(x), dy: up(dy), mean: s2.mean, variance: s2.variance, gamma: up(gamma) }, { n, c, hw, eps: 1e-5 });
    const b1 = cpu.routine('batchNormBackward', { x: up(toRows(x)), dy: up(toRows(dy)), mean: s1.mean, variance: s1.variance, gamma: up(gamma) }, { n: n * hw, c, eps: 1e-5 });
    const [m2, v2, yy2, dx2, dg2, db2] = await readAll(cpu, [s2.mean, s2.variance, y2, b2.dx, b2.dgamma, b2.dbeta]);
    const [m1, v1, yy1, dx1, dg1, db1] = await readAll(cpu, [s1.mean, s1.variance, y1, b1.dx, b1.dgamma, b1.dbeta]);
    const tight = { atol: 1e-12, rtol: 1e-12 };
    assertClose('mean', m2!, m1!, tight);
    assertClose('variance', v2!, v1!, tight);
    assertClose('y', toRows(Float32Array.from(yy2!)), Float32Array.from(yy1!), { atol: 1e-6, rtol: 1e-6 });
    assertClose('dx', toRows(Float32Array.from(dx2!)), Float32Array.from(dx1!), { atol: 1e-6, rtol: 1e-6 });
    assertClose('dgamma', dg2!, dg1!, tight);
    assertClose('dbeta', db2!, db1!, tight);
  });
});
