/**
 * Every differentiable op: the analytic gradient from backward() against a central difference
 * (h = 1e-6) on the float64 CPU backend, on small awkward shapes, inputs kept away from kinks and
 * ties. The checker itself is checked: a gradient that is 1% off, or missing, must fail it.
 */
import { describe, expect, it } from 'vitest';
import { assertGradcheck, gradcheck, type GradcheckInput } from './helpers/gradcheck.js';
import { expectError } from './helpers/expect-error.js';
import { expectNoLeak } from './helpers/oracle.js';
import { AVOIDING, AWAY, BASE_SEED, DISTINCT, U, draw, prng, sizeOf, type Dist } from './helpers/random-data.js';
import type { Tensor } from '../src/tensor.js';
import {
  abs, add, clamp, div, exp, expand, gelu, leakyRelu, log, logSoftmax, matmul, max, maximum, mean, minimum, mul, neg,
  permute, pow, reciprocal, relu, relu6, reshape, sigmoid, softmax, softplus, sqrt, square, sub, sum, tanh, transpose,
} from '../src/index.js';

interface GCase {
  name: string;
  inputs: { shape: number[]; dist: Dist }[];
  fn: (...xs: Tensor[]) => Tensor;
}

const CASES: GCase[] = [];
const c = (name: string, inputs: GCase['inputs'], fn: GCase['fn']): void => void CASES.push({ name, inputs, fn });
const x = (shape: number[], dist: Dist = U(-2, 2)): { shape: number[]; dist: Dist } => ({ shape, dist });

/**
 * Two inputs for maximum/minimum that never tie, even under broadcasting: a's values sit near
 * −1, −0.4, 0.2, 0.8 and b's near −0.7, −0.1, 0.5, 1.1 (± 0.05), so |a − b| ≥ 0.2 always.
 */
const TIE_FREE_A: Dist = { kind: 'grid', lo: -1, hi: 0.8, step: 0.6 };
const TIE_FREE_B: Dist = { kind: 'grid', lo: -0.7, hi: 1.1, step: 0.6 };
const jitter = (v: Float64Array, rnd: () => number): Float64Array => v.map((y) => y + 0.1 * (rnd() - 0.5));

// ---- binary, with broadcasting
const BPAIRS: [number[], number[]][] = [[[3, 4], [3, 4]], [[3, 1], [1, 4]], [[2, 3, 5], [5]], [[], [3, 4]], [[2, 1, 5], [3, 1]]];
for (const [a, b] of BPAIRS) {
  const s = `[${a}]·[${b}]`;
  c(`add ${s}`, [x(a), x(b)], (p, q) => add(p, q));
  c(`sub ${s}`, [x(a), x(b)], (p, q) => sub(p, q));
  c(`mul ${s}`, [x(a), x(b)], (p, q) => mul(p, q));
  c(`div ${s}`, [x(a), x(b, AWAY(0.5, 2))], (p, q) => div(p, q));
  c(`maximum ${s}`, [x(a, TIE_FREE_A), x(b, TIE_FREE_B)], (p, q) => maximum(p, q));
  c(`minimum ${s}`, [x(a, TIE_FREE_A), x(b, TIE_FREE_B)], (p, q) => minimum(p, q));
}
c('add scalar (both sides)', [x([3, 4])], (p) => add(2.5, add(p, 1)));
c('sub scalar (both sides)', [x([3, 4])], (p) => sub(2, sub(p, 0.5)));
c('mul scalar (both sides)', [x([3, 4])], (p) => mul(-3, mul(p, 0.5)));
c('div tensor/scalar', [x([3, 4])], (p) => div(p, 4));
c('div scalar/tensor', [x([3, 4], AWAY(0.5, 2))], (p) => div(2, p));
c('maximum tensor,scalar', [x([3, 4], AVOIDING([0.3], -2, 2))], (p) => maximum(p, 0.3));
c('minimum scalar,tensor', [x([3, 4], AVOIDING([0.3], -2, 2))], (p) => minimum(0.3, p));

// ---- unary
for (const shape of [[3, 4], [2, 3, 5]]) {
  const s = `[${shape}]`;
  c(`neg ${s}`, [x(shape)], (p) => neg(p));
  c(`exp ${s}`, [x(shape)], (p) => exp(p));
  c(`log ${s}`, [x(shape, U(0.2, 3))], (p) => log(p));
  c(`sqrt ${s}`, [x(shape, U(0.2, 3))], (p) => sqrt(p));
  c(`abs ${s}`, [x(shape, AWAY(0.1, 2))], (p) => abs(p));
  c(`square ${s}`, [x(shape)], (p) => square(p));
  c(`reciprocal ${s}`, [x(shape, AWAY(0.5, 2))], (p) => reciprocal(p));
  c(`pow 0.5 ${s}`, [x(shape, U(0.2, 3))], (p) => pow(p, 0.5));
  c(`pow 3 ${s}`, [x(shape)], (p) => pow(p, 3));
  c(`pow -1 ${s}`, [x(shape, AWAY(0.5, 2))], (p) => pow(p, -1));
  c(`pow 2.5 ${s}`, [x(shape, U(0.2, 3))], (p) => pow(p, 2.5));
  c(`pow 2 ${s}`, [x(shape)], (p) => pow(p, 2));
  c(`clamp [-0.5, 0.5] ${s}`, [x(shape, AVOIDING([-0.5, 0.5], -1.5, 1.5))], (p) => clamp(p, -0.5, 0.5));
  c(`clamp min 0.25 ${s}`, [x(shape, AVOIDING([0.25], -1.5, 1.5))], (p) => clamp(p, 0.25, null));
  c(`clamp max -0.25 ${s}`, [x(shape, AVOIDING([-0.25], -1.5, 1.5))], (p) => clamp(p, null, -0.25));
  c(`sigmoid ${s}`, [x(shape, U(-5, 5))], (p) => sigmoid(p));
  c(`tanh ${s}`, [x(shape, U(-3, 3))], (p) => tanh(p));
  c(`relu ${s}`, [x(shape, AWAY(0.05, 2))], (p) => relu(p));
  c(`relu6 ${s}`, [x(shape, AVOIDING([0, 6], -2, 8))], (p) => relu6(p));
  c(`leakyRelu ${s}`, [x(shape, AWAY(0.05, 2))], (p) => leakyRelu(p));
  c(`leakyRelu 0.2 ${s}`, [x(shape, AWAY(0.05, 2))], (p) => leakyRelu(p, 0.2));
  c(`gelu ${s}`, [x(shape, U(-4, 4))], (p) => gelu(p));
  c(`gelu tanh ${s}`, [x(shape, U(-4, 4))], (p) => gelu(p, 'tanh'));
  c(`softplus ${s}`, [x(shape, U(-5, 5))], (p) => softplus(p));
}

// ---- reductions (max on distinct values)
const RED: [number[], number | number[] | undefined, boolean][] = [
  [[3, 4], 0, false], [[3, 4], 1, true], [[3, 4], undefined, false], [[2, 3, 5], 1, false],
  [[2, 3, 5], [0, 2], true], [[2, 3, 5], -1, true], [[2, 3, 5], undefined, true], [[], undefined, false],
];
for (const [shape, axis, keepdim] of RED) {
  const s = `[${shape}] axis ${axis === undefined ? 'all' : JSON.stringify(axis)}${keepdim ? ' keepdim' : ''}`;
  c(`sum ${s}`, [x(shape)], (p) => sum(p, axis, keepdim));
  c(`mean ${s}`, [x(shape)], (p) => mean(p, axis, keepdim));
  c(`max ${s}`, [x(shape, DISTINCT(-2, 2))], (p) => max(p, axis, keepdim));
}

// ---- shape ops
c('reshape [3,4]→[2,-1]', [x([3, 4])], (p) => reshape(p, [2, -1]));
c('reshape [2,3,5]→[-1] then ·x', [x([2, 3, 5])], (p) => mul(reshape(p, [-1]), reshape(p, [30])));
c('reshape [1,1]→[]', [x([1, 1])], (p) => reshape(p, []));
c('transpose [3,4]', [x([3, 4])], (p) => transpose(p));
c('transpose [2,3,5] (0,2)', [x([2, 3, 5])], (p) => transpose(p, 0, 2));
c('permute [2,3,5] [1,2,0]', [x([2, 3, 5])], (p) => permute(p, [1, 2, 0]));
c('permute [2,1,3,2] [3,0,2,1]', [x([2, 1, 3, 2])], (p) => permute(p, [3, 0, 2, 1]));
c('expand [3,1]→[2,3,4]', [x([3, 1])], (p) => expand(p, [2, 3, 4]));
c('expand []→[5]', [x([])], (p) => expand(p, [5]));
c('expand [1,5]→[3,5]', [x([1, 5])], (p) => expand(p, [3, 5]));

// ---- matmul
const MM: [number[], number[]][] = [
  [[3, 4], [4, 5]], [[1, 1], [1, 1]], [[2, 3, 4], [2, 4, 5]], [[2, 3, 4], [4, 5]], [[3, 4], [2, 4, 5]], [[2, 1, 3, 4], [3, 4, 2]],
];
for (const [a, b] of MM) c(`matmul [${a}]·[${b}]`, [x(a, U(-1, 1)), x(b, U(-1, 1))], (p, q) => matmul(p, q));
c('matmul [4,3]ᵀ·[4,5]', [x([4, 3], U(-1, 1)), x([4, 5], U(-1, 1))], (p, q) => matmul(transpose(p), q));
c('matmul a·a (same input twice)', [x([4, 4], U(-1, 1))], (p) => matmul(p, p));

// ---- softmax / logSoftmax
for (const [shape, axis] of [[[3, 4], -1], [[3, 4], 0], [[2, 3, 5], 1], [[5], 0]] as [number[], number][]) {
  c(`softmax [${shape}] axis ${axis}`, [x(shape, U(-3, 3))], (p) => softmax(p, axis));
  c(`logSoftmax [${shape}] axis ${axis}`, [x(shape, U(-3, 3))], (p) => logSoftmax(p, axis));
}

// ---- a few compositions (a value used several times, chains)
c('x·sigmoid(x) + exp(−x²)', [x([3, 4])], (p) => add(mul(p, sigmoid(p)), exp(neg(square(p)))));
c('log(sum(exp(x), 1)) − mean(x)', [x([3, 4])], (p) => sub(log(sum(exp(p), 1)), mean(p)));

function makeInputs(g: GCase, seed: number): GradcheckInput[] {
  const rnd = prng(seed);
  return g.inputs.map((i) => {
    let values = draw(i.dist, sizeOf(i.shape), rnd, 'float64');
    if (i.dist === TIE_FREE_A || i.dist === TIE_FREE_B) values = jitter(values, rnd);
    return { shape: i.shape, values };
  });
}

describe('gradcheck: analytic vs central-difference gradients (float64 CPU)', () => {
  CASES.forEach((g, idx) => {
    const seed = (BASE_SEED + 104729 * (idx + 1)) >>> 0;
    it(`${g.name} · seed ${seed}`, async () => {
      await expectNoLeak(g.name, async () => {
        const r = await assertGradcheck(g.name, g.fn, makeInputs(g, seed), { seed });
        expect(r.checked).toBe(g.inputs.reduce((n, i) => n + sizeOf(i.shape), 0));
      });
    });
  });
});

describe('the gradient checker can fail', () => {
  const inputs = (): GradcheckInput[] => [{ shape: [3, 4], values: draw(U(-1, 1), 12, prng(5), 'float64') }];

  it('catches an analytic gradient scaled by 1.01 (linear)', async () => {
    // f(x) = 1.01·x − 0.01·detach(x): the value is x, the recorded gradient 1.01.
    const r = await gradcheck((p) => sub(mul(p, 1.01), mul(p.detach(), 0.01)), inputs());
    expect(r.ok).toBe(false);
    expect(r.failures.length).toBe(12);
    for (const f of r.failures) expect(f.analytic / f.numeric).toBeCloseTo(1.01, 6);
    // The harness's failure is a plain Error (a test assertion, not a refusal); the helper also shows it leaks nothing.
    await expectError(() => assertGradcheck('scaled', (p) => sub(mul(p, 1.01), mul(p.detach(), 0.01)), inputs()), /12 of 12 elements exceed/, { type: Error });
  });

  it('catches an analytic gradient scaled by 1.01 (nonlinear, through exp)', async () => {
    const r = await gradcheck((p) => sub(mul(exp(p), 1.01), mul(exp(p.detach()), 0.01)), inputs());
    expect(r.ok).toBe(false);
    expect(r.failures.length).toBeGreaterThan(0);
    expect(r.maxError).toBeGreaterThan(1e-3);
  });

  it('catches a missing gradient (an input the tape does not see)', async () => {
    const r = await gradcheck((p, q) => add(mul(p, 2), sum(square(q.detach()))), [
      { shape: [3], values: [0.5, -1, 2] },
      { shape: [2], values: [0.7, -0.3] },
    ]);
    expect(r.ok).toBe(false);
    expect(r.failures.map((f) => f.input)).toEqual([1, 1]);
  });

  it('passes the correct version of the same functions, and detects a 1e-4 error', async () => {
    const ok = await gradcheck((p) => exp(p), inputs());
    expect(ok.ok).toBe(true);
    expect(ok.maxError).toBeLessThan(1e-7);
    const off = await gradcheck((p) => sub(mul(exp(p), 1.0001), mul(exp(p.detach()), 0.0001)), inputs());
    expect(off.ok).toBe(false);
  });
});
