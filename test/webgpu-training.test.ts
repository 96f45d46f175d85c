/**
 * The WebGPU fused routines (routines.ts) against the CPU reference twins (float32 inputs),
 * on random inputs with awkward shapes.
 *
 * Every output is read whole and compared element by element; before each GPU kernel the pool is
 * poisoned (buffers of each output's size class filled with NaN, then released), so an element a
 * kernel fails to write reads back as NaN and fails. Tolerances are per op, scaled with the
 * reduction length where there is one; dropout is bit-exact.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { OUTPUT_GRAD_ACTIVATIONS, type AdamStepOptions, type OutputGradActivation } from '../src/backend/fused-types.js';
import type { Backend, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { ARITH, EXACT, TRANS, type Tol } from './helpers/compare.js';
import { assertClose, compareOnBackends, f32, i32, poisonPool, testData, type Input, type OutputCheck } from './helpers/kernel-harness.js';
import { compareSgdSteps, readAll, stepTol, type SgdCase } from './helpers/optimizer-steps.js';
import { columnPlan } from '../src/backend/webgpu/fused/batchnorm.js';
import { rowMode } from '../src/backend/webgpu/fused/softmax.js';
import { expectError, expectErrorSync } from './helpers/expect-error.js';

// The webgpu backend's own argument checks throw a plain Error (internal; the public ops check first).
const INTERNAL = { type: Error };

const EPS = 2 ** -23;

let gpu: WebGPUBackend;
const cpu = new CpuBackend();

beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});

afterAll(() => {
  gpu?.destroy();
});

// ---------------------------------------------------------------- helpers

const { rand, randInt } = testData(17);
const poison = (sizes: readonly number[]): void => poisonPool(gpu, sizes);


/** A float32 sum of k terms of magnitude <= maxTerm (see test/helpers/compare.ts reductionTol). */
function sumTol(k: number, maxTerm: number, base: Tol = ARITH): Tol {
  return { atol: base.atol + 16 * Math.sqrt(Math.max(1, k)) * EPS * maxTerm, rtol: base.rtol };
}

/** Both backends, the GPU pool poisoned first, every output float32 (test/helpers/kernel-harness.ts). */
const compare = (what: string, inputs: readonly Input[], run: (be: Backend, xs: Storage[]) => Storage[], checks: readonly OutputCheck[]): Promise<void> =>
  compareOnBackends(cpu, gpu, what, inputs, run, checks, { dtype: 'float32' });

const SIZES = [1, 3, 17, 33, 65, 257];

// ---------------------------------------------------------------- activation gradients from outputs

/** Output ranges per activation (y = f(x)), with values on the kinks. */
const OUTPUT_CASES: { [K in OutputGradActivation]: { lo: number; hi: number; specials: number[]; param?: number } } = {
  relu: { lo: 0, hi: 5, specials: [0, 0, 1e-30] },
  relu6: { lo: 0, hi: 6, specials: [0, 6, 5.999999] },
  sigmoid: { lo: 0, hi: 1, specials: [0, 1, 0.5] },
  tanh: { lo: -1, hi: 1, specials: [-1, 1, 0] },
  leakyRelu: { lo: -0.5, hi: 5, specials: [0, -1e-30, 1e-30], param: 0.1 },
};

describe('webgpu training: activationGradFromOutput', () => {
  for (const op of OUTPUT_GRAD_ACTIVATIONS) {
    it(op, async () => {
      const c = OUTPUT_CASES[op];
      for (const n of [1, 33, 257, 1031]) {
        const y = rand(n, c.lo, c.hi, n >= 33 ? c.specials : []);
        const dy = rand(n, -2, 2);
        await compare(`activationGradFromOutput ${op} [${n}]`, [f32(y), f32(dy)], (be, [a, b]) => [be.routine('activationGradFromOutput', { y: a!, dy: b! }, { op, param: c.param ?? 0 })], [ARITH]);
      }
    });
  }
});

// ---------------------------------------------------------------- dropout

describe('webgpu training: dropout', () => {
  const SEEDS = [0, 12345, 2 ** 40 + 3];
  const OFFSETS = [0, 1, 3, 2 ** 32 + 7, 4 * (2 ** 32 - 2) + 1];
  const PS = [0, 0.1, 1 / 3, 0.5, 0.9];

  it('is bit-identical to the CPU on ones', async () => {
    for (const seed of SEEDS) {
      for (const offset of OFFSETS) {
        for (const p of PS) {
          const n = [1, 17, 258][(seed + offset) % 3]!;
          await compare(`dropout ones seed ${seed} offset ${offset} p ${p} [${n}]`, [f32(new Float32Array(n).fill(1))], (be, [x]) => [be.routine('dropout', { x: x! }, { p, seed, offset })], ['bits']);
        }
      }
    }
  });

  it('is bit-identical to the CPU on random x (awkward lengths, a carrying block counter)', async () => {
    for (const seed of SEEDS) {
      for (const offset of OFFSETS) {
        for (const n of [3, 65, 1031]) {
          const p = PS[(n + offset) % PS.length]!;
          await compare(`dropout seed ${seed} offset ${offset} p ${p} [${n}]`, [f32(rand(n, -3, 3))], (be, [x]) => [be.routine('dropout', { x: x! }, { p, seed, offset })], ['bits']);
        }
      }
    }
  });

  it('keeps about 1 - p, and the same (seed, offset) regenerates the same mask (the backward)', async () => {
    const n = 20000;
    const p = 0.3;
    const x = gpu.upload(new Float32Array(n).fill(1), 'float32');
    const dy = gpu.upload(rand(n, 0.5, 2), 'float32');
    const y = (await gpu.read(gpu.routine('dropout', { x }, { p, seed: 77, offset: 1000 }))) as Float32Array;
    const dx = (await gpu.read(gpu.routine('dropout', { x: dy }, { p, seed: 77, offset: 1000 }))) as Float32Array;
    const kept = y.filter((v) => v !== 0).length;
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.02);
    for (let i = 0; i < n; i++) expect(dx[i] !== 0).toBe(y[i] !== 0);
    expect(y.find((v) => v !== 0)).toBe(Math.fround(1 / (1 - p)));
  });

  it('rejects p outside [0, 1) and non-float32 input', () => {
    const x = gpu.upload(new Float32Array(4), 'float32');
    expectErrorSync(() => gpu.routine('dropout', { x }, { p: 1, seed: 0, offset: 0 }), /p must be in \[0, 1\)/, INTERNAL);
    expectErrorSync(() => gpu.routine('dropout', { x }, { p: -0.1, seed: 0, offset: 0 }), /p must be/, INTERNAL);
    const xi = gpu.upload(new Int32Array(4), 'int32');
    expectErrorSync(() => gpu.routine('dropout', { x: xi }, { p: 0.5, seed: 0, offset: 0 }), /float32/, INTERNAL);
  });
});

// ---------------------------------------------------------------- batch norm

function statsTols(n: number, xMax: number): Tol[] {
  // mean = S / n; variance = Σ(x − mean)² / n with terms <= (2·xMax)².
  const meanTol = sumTol(n, xMax);
  const varTol = sumTol(n, 4 * xMax * xMax);
  return [
    { atol: meanTol.atol / n, rtol: 8 * EPS },
    { atol: varTol.atol / n, rtol: 8 * EPS },
  ];
}

describe('webgpu training: batchNormStats', () => {
  it('awkward shapes (n, c in 1, 3, 17, 33, 65, 257; n up to 1000)', async () => {
    for (const n of [...SIZES, 1000]) {
      for (const c of [1, 3, 17, 65, 257]) {
        if (n * c > 70000) continue;
        await compare(`batchNormStats [${n}, ${c}]`, [f32(rand(n * c, -2, 2))], (be, [x]) => {
          const r = be.routine('batchNormStats', { x: x! }, { n, c });
          return [r.mean, r.variance];
        }, statsTols(n, 2));
      }
    }
  });

  it('training-sized batches: c = 512 with n = 128 and 4096 (many row chunks)', async () => {
    for (const n of [128, 4096]) {
      const c = 512;
      expect(columnPlan(n, c).chunks).toBeGreaterThan(1);
      await compare(`batchNormStats [${n}, ${c}]`, [f32(rand(n * c, -1, 1))], (be, [x]) => {
        const r = be.routine('batchNormStats', { x: x! }, { n, c });
        return [r.mean, r.variance];
      }, statsTols(n, 1));
    }
    // One column, many rows: a single tile, row chunks merged.
    const n = 300000;
    expect(columnPlan(n, 1).chunks).toBeGreaterThan(1);
    await compare(`batchNormStats [${n}, 1]`, [f32(rand(n, -1, 1))], (be, [x]) => {
      const r = be.routine('batchNormStats', { x: x! }, { n, c: 1 });
      return [r.mean, r.variance];
    }, statsTols(n, 1));
  });

  it('stays accurate when |mean| >> std (no E[x²] − mean² cancellation)', async () => {
    const n = 1000;
    const c = 17;
    await compare(`batchNormStats mean 1000`, [f32(rand(n * c, 999, 1001))], (be, [x]) => {
      const r = be.routine('batchNormStats', { x: x! }, { n, c });
      return [r.mean, r.variance];
    }, [{ atol: 0, rtol: 1e-6 }, { atol: 0, rtol: 1e-4 }]);
  });

  it('more than 65535 column tiles (a grid folded into 2-D)', async () => {
    const c = 65536 * 64 + 5;
    expect(columnPlan(1, c).colTiles).toBeGreaterThan(65535);
    await compare(`batchNormStats [1, ${c}]`, [f32(rand(c, -1, 1))], (be, [x]) => {
      const r = be.routine('batchNormStats', { x: x! }, { n: 1, c });
      return [r.mean, r.variance];
    }, [EXACT]);
  });

  it('no rows gives NaN statistics, as the CPU (0/0)', async () => {
    await compare('batchNormStats [0, 3]', [f32(new Float32Array(0))], (be, [x]) => {
      const r = be.routine('batchNormStats', { x: x! }, { n: 0, c: 3 });
      return [r.mean, r.variance];
    }, [EXACT]);
  });
});

function randomStats(c: number): { mean: Float32Array; variance: Float32Array } {
  return { mean: rand(c, -1, 1), variance: rand(c, 0.05, 2) };
}

describe('webgpu training: batchNormApply', () => {
  it('with and without gamma and beta, awkward shapes', async () => {
    for (const [n, c] of [[1, 1], [3, 17], [17, 3], [33, 65], [65, 33], [257, 257], [1000, 5]] as const) {
      const x = rand(n * c, -3, 3);
      const { mean, variance } = randomStats(c);
      const gamma = rand(c, -2, 2);
      const beta = rand(c, -1, 1);
      const eps = 1e-5;
      // (x − mean)·rstd·gamma + beta: a few roundings of terms of magnitude <= |x̂·gamma| + |beta|.
      const xhatMax = (3 + 1) / Math.sqrt(0.05 + eps);
      const tol: Tol = { atol: 16 * EPS * (xhatMax * 2 + 1), rtol: 8 * EPS };
      for (const [hasG, hasB] of [[true, true], [true, false], [false, true], [false, false]] as const) {
        await compare(
          `batchNormApply [${n}, ${c}] gamma ${hasG} beta ${hasB}`,
          [f32(x), f32(mean), f32(variance), f32(gamma), f32(beta)],
          (be, [xs, ms, vs, gs, bs]) => [be.routine('batchNormApply', { x: xs!, mean: ms!, variance: vs!, gamma: hasG ? gs! : null, beta: hasB ? bs! : null }, { n, c, eps })],
          [tol],
        );
      }
    }
  });
});

describe('webgpu training: batch-norm gamma and beta dtypes', () => {
  it('a gamma or beta that is not float32 like x is refused, naming the routine and the argument', () => {
    const [n, c] = [2, 3];
    const x = gpu.upload(new Float32Array(n * c), 'float32');
    const stat = gpu.upload(new Float32Array(c).fill(1), 'float32');
    const ok = gpu.upload(new Float32Array(c), 'float32');
    const bad = gpu.upload(new Int32Array(c), 'int32');
    const msg = (routine: string, arg: string) => new RegExp(`^webgpu: ${routine}: ${arg} must be float32 .*got int32$`);
    expectErrorSync(() => gpu.routine('batchNormApply', { x, mean: stat, variance: stat, gamma: bad, beta: ok }, { n, c, eps: 1e-5 }), msg('batchNormApply', 'gamma'), INTERNAL);
    expectErrorSync(() => gpu.routine('batchNormApply', { x, mean: stat, variance: stat, gamma: null, beta: bad }, { n, c, eps: 1e-5 }), msg('batchNormApply', 'beta'), INTERNAL);
    expectErrorSync(() => gpu.routine('batchNormBackward', { x, dy: x, mean: stat, variance: stat, gamma: bad }, { n, c, eps: 1e-5 }), msg('batchNormBackward', 'gamma'), INTERNAL);
    for (const s of [x, stat, ok, bad]) gpu.release(s);
  });
});

/** The CPU's batch statistics of x, as float32 (what a training step feeds the backward). */
async function cpuStats(x: Float32Array, n: number, c: number): Promise<{ mean: Float32Array; variance: Float32Array }> {
  const r = cpu.routine('batchNormStats', { x: cpu.upload(x, 'float32') }, { n, c });
  return { mean: Float32Array.from(await cpu.read(r.mean)), variance: Float32Array.from(await cpu.read(r.variance)) };
}

describe('webgpu training: batchNormBackward', () => {
  const SHAPES: [number, number][] = [[1, 1], [1, 17], [3, 3], [17, 33], [33, 17], [65, 257], [257, 65], [1000, 3], [1000, 33], [128, 512]];
  for (const affine of [true, false]) {
    it(`${affine ? 'with' : 'without'} gamma, awkward shapes`, async () => {
      for (const [n, c] of SHAPES) {
        const eps = 1e-5;
        const x = rand(n * c, -2, 2);
        const dy = rand(n * c, -1, 1);
        const gamma = rand(c, 0.5, 2);
        const { mean, variance } = await cpuStats(x, n, c);
        // Terms: |dy| <= 1, |x̂| <= xhatMax; k = gamma·rstd/n.
        let xhatMax = 0;
        let kMax = 0;
        for (let j = 0; j < c; j++) {
          const rstd = 1 / Math.sqrt(variance[j]! + eps);
          kMax = Math.max(kMax, (affine ? Math.abs(gamma[j]!) : 1) * rstd / n);
          for (let i = 0; i < n; i++) xhatMax = Math.max(xhatMax, Math.abs((x[i * c + j]! - mean[j]!) * rstd));
        }
        const dbetaTol = sumTol(n, 1);
        const dgammaTol = sumTol(n, xhatMax, { atol: 1e-6, rtol: 1e-5 }); // x̂ itself carries a few ulp
        // dx = k·(n·dy − dbeta − x̂·dgamma): each term's error, times k.
        const inner = 8 * EPS * (n + n + xhatMax * n * xhatMax) + dbetaTol.atol + xhatMax * (dgammaTol.atol + dgammaTol.rtol * n * xhatMax);
        const dxTol: Tol = { atol: 1e-7 + kMax * inner, rtol: 8 * EPS };
        const inputs = [f32(x), f32(dy), f32(mean), f32(variance), f32(gamma)];
        await compare(`batchNormBackward [${n}, ${c}] affine ${affine}`, inputs, (be, [xs, dys, ms, vs, gs]) => {
          const r = be.routine('batchNormBackward', { x: xs!, dy: dys!, mean: ms!, variance: vs!, gamma: affine ? gs! : null }, { n, c, eps });
          return [r.dx, r.dgamma, r.dbeta];
        }, [dxTol, dgammaTol, dbetaTol]);
      }
    });
  }

  it('no rows: zero parameter gradients and an empty dx', async () => {
    await compare('batchNormBackward [0, 5]', [f32(new Float32Array(0)), f32(new Float32Array(0)), f32(rand(5)), f32(rand(5, 0.1, 1)), f32(rand(5))], (be, [xs, dys, ms, vs, gs]) => {
      const r = be.routine('batchNormBackward', { x: xs!, dy: dys!, mean: ms!, variance: vs!, gamma: gs! }, { n: 0, c: 5, eps: 1e-5 });
      return [r.dx, r.dgamma, r.dbeta];
    }, [EXACT]);
  });
});

// ---------------------------------------------------------------- softmax

const COLS = [1, 3, 10, 63, 64, 257, 1023, 1024, 4099];

/** (dy·y or dy) row sums' largest magnitude, for the gradient tolerances. */
function rowSumMax(terms: Float32Array, rows: number, cols: number): number {
  let m = 0;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += terms[r * cols + j]!;
    m = Math.max(m, Math.abs(s));
  }
  return m;
}

describe('webgpu training: softmax and logSoftmax', () => {
  for (const log of [false, true]) {
    it(`${log ? 'logSoftmax' : 'softmax'}: cols 1 .. 4099, loop and tree kernels, stable for large logits`, async () => {
      for (const cols of COLS) {
        for (const rows of [1, 3, 17]) {
          // Logits up to ±60: exp would overflow float32 without the max subtracted.
          const x = rand(rows * cols, -60, 60, [88, 89, -90]);
          await compare(`${log ? 'logSoftmax' : 'softmax'} [${rows}, ${cols}] (${rowMode(cols).kind})`, [f32(x)], (be, [s]) => [be.routine('softmax', { x: s! }, { rows, cols, log })], [log ? { atol: 4e-6, rtol: 2e-6 } : TRANS]);
        }
      }
    });
  }

  it('many rows: 100000 short rows, and 70000 rows of 64 (a workgroup per row, grid folded into 2-D)', async () => {
    await compare('softmax [100000, 10]', [f32(rand(1e6, -5, 5))], (be, [s]) => [be.routine('softmax', { x: s! }, { rows: 100000, cols: 10, log: false })], [TRANS]);
    expect(rowMode(64).kind).toBe('tree');
    await compare('logSoftmax [70000, 64]', [f32(rand(70000 * 64, -5, 5))], (be, [s]) => [be.routine('softmax', { x: s! }, { rows: 70000, cols: 64, log: true })], [{ atol: 4e-6, rtol: 2e-6 }]);
  });

  it('empty shapes', async () => {
    await compare('softmax [0, 5]', [f32(new Float32Array(0))], (be, [s]) => [be.routine('softmax', { x: s! }, { rows: 0, cols: 5, log: false })], [EXACT]);
    await compare('softmax [4, 0]', [f32(new Float32Array(0))], (be, [s]) => [be.routine('softmax', { x: s! }, { rows: 4, cols: 0, log: true })], [EXACT]);
  });
});

describe('webgpu training: softmaxGrad', () => {
  for (const log of [false, true]) {
    it(`${log ? 'logSoftmax' : 'softmax'} gradient from the output`, async () => {
      for (const cols of COLS) {
        for (const rows of [1, 3, 17]) {
          const yS = cpu.routine('softmax', { x: cpu.upload(rand(rows * cols, -4, 4), 'float32') }, { rows, cols, log });
          const y = Float32Array.from(await cpu.read(yS));
          const dy = rand(rows * cols, -1, 1);
          let tol: Tol;
          if (log) {
            // dx = dy − exp(y)·s with s = Σdy: exp within TRANS, s within a sum's rounding.
            const sMax = rowSumMax(dy, rows, cols);
            tol = { atol: 1e-7 + 2e-5 * sMax + sumTol(cols, 1).atol, rtol: 8 * EPS };
          } else {
            // dx = y·(dy − s) with s = Σ dy·y (terms <= 1 in magnitude, Σ|y| = 1).
            tol = { atol: 1e-7 + 8 * EPS * 2 + sumTol(cols, 1).atol, rtol: 8 * EPS };
          }
          await compare(`${log ? 'logSoftmaxGrad' : 'softmaxGrad'} [${rows}, ${cols}]`, [f32(y), f32(dy)], (be, [ys, dys]) => [be.routine('softmaxGrad', { y: ys!, dy: dys! }, { rows, cols, log })], [tol]);
        }
      }
    });
  }

  it('many rows', async () => {
    const rows = 100000;
    const cols = 3;
    const y = Float32Array.from(await cpu.read(cpu.routine('softmax', { x: cpu.upload(rand(rows * cols, -3, 3), 'float32') }, { rows, cols, log: false })));
    await compare(`softmaxGrad [${rows}, ${cols}]`, [f32(y), f32(rand(rows * cols))], (be, [ys, dys]) => [be.routine('softmaxGrad', { y: ys!, dy: dys! }, { rows, cols, log: false })], [{ atol: 1e-6, rtol: 8 * EPS }]);
  });
});

// ---------------------------------------------------------------- softmax cross-entropy

describe('webgpu training: softmaxCrossEntropy and its gradient', () => {
  it('per-row loss and gradient over awkward shapes', async () => {
    for (const c of [1, 3, 10, 64, 257, 1031, 4099]) {
      for (const n of [1, 3, 17, 33]) {
        const logits = rand(n * c, -8, 8, [50, -50]);
        const labels = randInt(n, 0, c - 1);
        const dLoss = rand(n, -2, 2);
        // loss = max + log Σ exp(x − max) − x[label]: log and exp within TRANS on terms up to |max|.
        await compare(`softmaxCrossEntropy [${n}, ${c}]`, [f32(logits), i32(labels)], (be, [l, lab]) => [be.routine('softmaxCrossEntropy', { logits: l!, labels: lab! }, { n, c })], [{ atol: 8e-6, rtol: 2e-6 }]);
        await compare(`softmaxCrossEntropyGrad [${n}, ${c}]`, [f32(logits), i32(labels), f32(dLoss)], (be, [l, lab, d]) => [be.routine('softmaxCrossEntropyGrad', { logits: l!, labels: lab!, dLoss: d! }, { n, c })], [{ atol: 4e-6, rtol: 2e-5 }]);
      }
    }
  });

  it('many rows', async () => {
    const n = 100000;
    const c = 10;
    const logits = rand(n * c, -5, 5);
    const labels = randInt(n, 0, c - 1);
    await compare(`softmaxCrossEntropy [${n}, ${c}]`, [f32(logits), i32(labels)], (be, [l, lab]) => [be.routine('softmaxCrossEntropy', { logits: l!, labels: lab! }, { n, c })], [{ atol: 8e-6, rtol: 2e-6 }]);
    await compare(`softmaxCrossEntropyGrad [${n}, ${c}]`, [f32(logits), i32(labels), f32(rand(n))], (be, [l, lab, d]) => [be.routine('softmaxCrossEntropyGrad', { logits: l!, labels: lab!, dLoss: d! }, { n, c })], [{ atol: 4e-6, rtol: 2e-5 }]);
  });

  it('a label outside [0, c) makes its row NaN and fails the next read (the CPU throws at the call)', async () => {
    for (const c of [5, 100]) {
      const n = 6;
      const logits = rand(n * c, -3, 3);
      const labels = Int32Array.from([0, -1, c - 1, c, 2, -2147483648]);
      const bad = [1, 3, 5];
      const valid = labels.map((l, r) => (bad.includes(r) ? 0 : l));
      const dLoss = rand(n, 0.5, 1);
      const expectedLoss = Float32Array.from(await cpu.read(cpu.routine('softmaxCrossEntropy', { logits: cpu.upload(logits, 'float32'), labels: cpu.upload(valid, 'int32') }, { n, c })));
      const expectedGrad = Float32Array.from(await cpu.read(cpu.routine('softmaxCrossEntropyGrad', { logits: cpu.upload(logits, 'float32'), labels: cpu.upload(valid, 'int32'), dLoss: cpu.upload(dLoss, 'float32') }, { n, c })));
      for (const r of bad) {
        expectedLoss[r] = Number.NaN;
        expectedGrad.fill(Number.NaN, r * c, (r + 1) * c);
      }
      const gl = gpu.upload(logits, 'float32');
      const glab = gpu.upload(labels, 'int32');
      const gd = gpu.upload(dLoss, 'float32');
      poison([n, n * c]);
      const loss = gpu.routine('softmaxCrossEntropy', { logits: gl, labels: glab }, { n, c });
      await expectError(() => gpu.read(loss), new RegExp(`crossEntropy: label -1 at row 1 is outside the ${c} classes`));
      assertClose(`softmaxCrossEntropy bad labels c ${c}`, await gpu.read(loss), expectedLoss, { atol: 8e-6, rtol: 2e-6 });
      assertClose(`softmaxCrossEntropyGrad bad labels c ${c}`, await gpu.read(gpu.routine('softmaxCrossEntropyGrad', { logits: gl, labels: glab, dLoss: gd }, { n, c })), expectedGrad, { atol: 4e-6, rtol: 2e-5 });
      const cl = cpu.upload(logits, 'float32');
      const clab = cpu.upload(labels, 'int32');
      expectErrorSync(() => cpu.routine('softmaxCrossEntropy', { logits: cl, labels: clab }, { n, c }), /outside/);
    }
  });

  it('rejects labels that are not int32 of length n', () => {
    const l = gpu.upload(new Float32Array(6), 'float32');
    const fl = gpu.upload(new Float32Array(2), 'float32');
    const l3 = gpu.upload(new Int32Array(3), 'int32');
    expectErrorSync(() => gpu.routine('softmaxCrossEntropy', { logits: l, labels: fl }, { n: 2, c: 3 }), /int32/, INTERNAL);
    expectErrorSync(() => gpu.routine('softmaxCrossEntropy', { logits: l, labels: l3 }, { n: 2, c: 3 }), /2 int32/, INTERNAL);
  });
});

// ---------------------------------------------------------------- optimizers

describe('webgpu training: sgdStep', () => {
  const CONFIGS: SgdCase[] = [
    { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, velocity: false },
    { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01, velocity: true },
    { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, velocity: true },
    { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, velocity: true },
    { momentum: 0.5, dampening: 0.1, nesterov: false, weightDecay: 0.05, velocity: true },
  ];
  for (const cfg of CONFIGS) {
    it(`momentum ${cfg.momentum}, dampening ${cfg.dampening}, nesterov ${cfg.nesterov}, weight decay ${cfg.weightDecay}`, async () => {
      for (const n of [1, 33, 1031]) {
        let pipelines = -1;
        await compareSgdSteps(cpu, gpu, n, cfg, 5, rand, (step) => {
          // A new learning rate (or the first-step flag) never makes a pipeline.
          if (step === 2) pipelines = gpu.stats().pipelinesCreated;
          if (step > 2) expect(gpu.stats().pipelinesCreated).toBe(pipelines);
        });
      }
    });
  }

  it('rejects the same storage as param and grad', () => {
    const p = gpu.upload(new Float32Array(4), 'float32');
    expectErrorSync(() => gpu.routine('sgdStep', { param: p, grad: p, velocity: null }, { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true }), /different storages/, INTERNAL);
  });
});

describe('webgpu training: adamStep', () => {
  const CONFIGS: { name: string; weightDecay: number; decoupled: boolean; beta1: number; beta2: number; eps: number }[] = [
    { name: 'Adam', weightDecay: 0, decoupled: false, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { name: 'Adam with L2 weight decay', weightDecay: 0.01, decoupled: false, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { name: 'AdamW', weightDecay: 0.01, decoupled: true, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { name: 'AdamW, other betas and eps', weightDecay: 0.1, decoupled: true, beta1: 0.5, beta2: 0.9, eps: 1e-3 },
  ];
  for (const cfg of CONFIGS) {
    it(cfg.name, async () => {
      for (const n of [1, 65, 1031]) {
        const p0 = rand(n, -1, 1);
        const zeros = new Float32Array(n);
        const cs = [cpu.upload(p0, 'float32'), cpu.upload(zeros, 'float32'), cpu.upload(zeros, 'float32')] as const;
        const gs = [gpu.upload(p0, 'float32'), gpu.upload(zeros, 'float32'), gpu.upload(zeros, 'float32')] as const;
        let pipelines = -1;
        for (let t = 1; t <= 6; t++) {
          const g = rand(n, -1, 1);
          const options: AdamStepOptions = {
            lr: 1e-2 * (1 + 0.1 * t),
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            weightDecay: cfg.weightDecay,
            decoupled: cfg.decoupled,
            biasCorrection1: 1 - cfg.beta1 ** t,
            biasCorrection2: 1 - cfg.beta2 ** t,
          };
          cpu.routine('adamStep', { param: cs[0], grad: cpu.upload(g, 'float32'), m: cs[1], v: cs[2] }, options);
          const gg = gpu.upload(g, 'float32');
          gpu.routine('adamStep', { param: gs[0], grad: gg, m: gs[1], v: gs[2] }, options);
          gpu.release(gg);
          const expected = await readAll(cpu, cs);
          const got = await readAll(gpu, gs);
          for (const [k, what] of ['param', 'm', 'v'].entries()) assertClose(`${cfg.name} step ${t} [${n}] ${what}`, got[k]!, expected[k]!, stepTol(expected[k]!, what !== 'v'));
          if (t === 2) pipelines = gpu.stats().pipelinesCreated;
          if (t > 2) expect(gpu.stats().pipelinesCreated).toBe(pipelines);
        }
        for (const s of gs) gpu.release(s);
      }
    });
  }

  it('rejects aliased state buffers', () => {
    const p = gpu.upload(new Float32Array(4), 'float32');
    const g = gpu.upload(new Float32Array(4), 'float32');
    const m = gpu.upload(new Float32Array(4), 'float32');
    const o: AdamStepOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, biasCorrection1: 0.1, biasCorrection2: 0.001 };
    expectErrorSync(() => gpu.routine('adamStep', { param: p, grad: g, m, v: m }, o), /different storages/, INTERNAL);
    const v3 = gpu.upload(new Float32Array(3), 'float32');
    expectErrorSync(() => gpu.routine('adamStep', { param: p, grad: g, m, v: v3 }, o), /3 elements, expected 4/, INTERNAL);
  });
});

// ---------------------------------------------------------------- steady state

describe('webgpu training: steady state', () => {
  it('a repeated training step creates no pipelines and no buffers', async () => {
    const n = 33;
    const c = 65;
    const x = gpu.upload(rand(n * c), 'float32');
    const labels = gpu.upload(randInt(n, 0, c - 1), 'int32');
    const gamma = gpu.upload(rand(c, 0.5, 1.5), 'float32');
    const beta = gpu.upload(rand(c), 'float32');
    const mState = gpu.upload(new Float32Array(c), 'float32');
    const vState = gpu.upload(new Float32Array(c), 'float32');
    const vel = gpu.upload(new Float32Array(c), 'float32');
    const step = async (t: number): Promise<void> => {
      const s = gpu.routine('batchNormStats', { x }, { n, c });
      const y = gpu.routine('batchNormApply', { x, mean: s.mean, variance: s.variance, gamma, beta }, { n, c, eps: 1e-5 });
      const a = gpu.unary('relu', y, 0);
      const d = gpu.routine('dropout', { x: a }, { p: 0.2, seed: 5, offset: t * n * c });
      const loss = gpu.routine('softmaxCrossEntropy', { logits: d, labels }, { n, c });
      const dLoss = gpu.fill(n, 1 / n, 'float32');
      const dd = gpu.routine('softmaxCrossEntropyGrad', { logits: d, labels, dLoss }, { n, c });
      const da = gpu.routine('dropout', { x: dd }, { p: 0.2, seed: 5, offset: t * n * c });
      const dy = gpu.routine('activationGradFromOutput', { y: a, dy: da }, { op: 'relu', param: 0 });
      const b = gpu.routine('batchNormBackward', { x, dy, mean: s.mean, variance: s.variance, gamma }, { n, c, eps: 1e-5 });
      const sm = gpu.routine('softmax', { x: y }, { rows: n, cols: c, log: true });
      const sg = gpu.routine('softmaxGrad', { y: sm, dy: y }, { rows: n, cols: c, log: true });
      gpu.routine('adamStep', { param: gamma, grad: b.dgamma, m: mState, v: vState }, { lr: 1e-3 / t, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, biasCorrection1: 1 - 0.9 ** t, biasCorrection2: 1 - 0.999 ** t });
      gpu.routine('sgdStep', { param: beta, grad: b.dbeta, velocity: vel }, { lr: 0.1 / t, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0, firstStep: t === 1 });
      const l = await gpu.read(loss);
      expect(l.every((v) => Number.isFinite(v))).toBe(true);
      for (const st of [s.mean, s.variance, y, a, d, loss, dLoss, dd, da, dy, b.dx, b.dgamma, b.dbeta, sm, sg]) gpu.release(st);
    };
    await step(1);
    await step(2);
    const before = { ...gpu.stats(), buffers: gpu.memoryStats().buffersCreated };
    for (let t = 3; t <= 5; t++) await step(t);
    expect(gpu.stats().pipelinesCreated).toBe(before.pipelinesCreated);
    expect(gpu.memoryStats().buffersCreated).toBe(before.buffers);
    for (const st of [x, labels, gamma, beta, mState, vState, vel]) gpu.release(st);
  });
});
