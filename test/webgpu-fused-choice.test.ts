/**
 * The host side of the fused kernels on WebGPU (src/backend/webgpu/fused/*.ts): which kernel each
 * op dispatches (column loop or tiled batch norm, vec4 or scalar forms, softmax's row mode), the
 * workgroup counts and uniforms it passes, the op name it is recorded under, the empty cases, and
 * every refusal with its exact message. Values of every path are compared with the CPU in
 * webgpu-training, webgpu-bn-apply-vec4, webgpu-sgd-vec4, webgpu-step-fusion and the planted
 * suites; here a few values are checked where a choice could change them. Written against the
 * mutants StrykerJS left alive (WEBGRAD_MUTATE_SCOPE=webgpu-fused). No adapter is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { batchNormApply, batchNormBackward, batchNormRunningStats, batchNormStats, batchNormTuneKey, columnPlan } from '../src/backend/webgpu/fused/batchnorm.js';
import { rowMode, softmax, softmaxCrossEntropy, softmaxCrossEntropyGrad, softmaxGrad, softmaxTuneKey } from '../src/backend/webgpu/fused/softmax.js';
import { dropout, dropoutApplyMask, dropoutWithMask } from '../src/backend/webgpu/fused/dropout.js';
import { activationGradFromOutput } from '../src/backend/webgpu/fused/activation-output.js';
import { recordDispatches, type DispatchRec } from './helpers/dispatch-recorder.js';
import { withKernelChoice } from './helpers/with-kernel-choice.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const f32 = (xs: ArrayLike<number>): Storage => gpu.upload(Float32Array.from(xs), 'float32');
const i32 = (xs: ArrayLike<number>): Storage => gpu.upload(Int32Array.from(xs), 'int32');
const zeros = (n: number): Storage => f32(new Float32Array(n));
const dry = <T>(f: () => T): DispatchRec[] => recordDispatches(gpu, f, true).recs;
const kinds = (recs: DispatchRec[]): string[] => recs.map((r) => `${r.op} ${r.name} ${r.groups.join('x')}`);

const hardware = (): WebGPUBackend => Object.create(gpu, { softwareAdapter: { value: false } }) as WebGPUBackend;

describe('webgpu batch norm [n, c]: column loop or tiled passes', () => {
  it('software: the column loop up to 4096 rows, tiled above; hardware: tiled; forced and tuned choices win', () => {
    const c = 70;
    const stats = (ctx: WebGPUBackend, n: number) => dry(() => batchNormStats(ctx, zeros(n * c), n, c));
    expect(kinds(stats(gpu, 4096))).toEqual(['batchNormStats bn-stats-column 2']);
    // 4097 rows, 70 columns: tiles of 64 columns (2), 4 rows a lane, chunks of 32 rows -> 129.
    const p = columnPlan(4097, c);
    expect(p).toMatchObject({ tc: 64, colTiles: 2, chunkRows: 32, chunks: 129 });
    expect(kinds(stats(gpu, 4097))).toEqual([`batchNormStats bn-stats-partial:64 ${2 * 129}`, `batchNormStats bn-stats-final:${p.combineTc} ${p.combineTiles}`]);
    // 100 rows: chunks of 32 rows -> 4, times 2 column tiles.
    expect(kinds(stats(hardware(), 100))).toEqual(['batchNormStats bn-stats-partial:64 8', 'batchNormStats bn-stats-final:64 2']);
    expect(kinds(withKernelChoice({ batchNormPath: 'column' }, () => stats(hardware(), 5000)))).toEqual(['batchNormStats bn-stats-column 2']);
    expect(kinds(withKernelChoice({ batchNormPath: 'tiled', batchNormTile: 16 }, () => stats(gpu, 100)))[0]).toBe('batchNormStats bn-stats-partial:16 5');
    const tuned = Object.create(gpu, { batchNormChoices: { value: new Map([[batchNormTuneKey('stats', 100), 'tiled'], [batchNormTuneKey('backward', 5000), 'column']]) } }) as WebGPUBackend;
    expect(stats(tuned, 100)[0]!.name).toBe('bn-stats-partial:64');
    expect(stats(tuned, 2000)[0]!.name).toBe('bn-stats-column'); // no tall stats entry: the rule
    const bwd = (ctx: WebGPUBackend, n: number, gamma: boolean) => dry(() => batchNormBackward(ctx, zeros(n * c), zeros(n * c), zeros(c), zeros(c), gamma ? zeros(c) : null, n, c, 1e-5));
    expect(kinds(bwd(tuned, 5000, true))).toEqual(['batchNormBackward bn-backward-column:g 2']);
    expect(kinds(bwd(gpu, 4096, false))).toEqual(['batchNormBackward bn-backward-column:- 2']);
    const q = columnPlan(5000, c);
    expect(kinds(bwd(gpu, 5000, true))).toEqual([
      `batchNormBackward bn-backward-partial:64 ${q.colTiles * q.chunks}`,
      `batchNormBackward bn-backward-final:${q.combineTc} ${q.combineTiles}`,
      `batchNormBackward bn-backward-dx:g ${Math.ceil((5000 * c) / 256)}`,
    ]);
    expect(bwd(hardware(), 8, false).map((r) => r.name)).toEqual(['bn-backward-partial:64', 'bn-backward-final:64', 'bn-backward-dx:-']);
    expect(['stats', 'backward'].flatMap((op) => [1024, 1025].map((n) => batchNormTuneKey(op as 'stats', n)))).toEqual(['bn-stats:short', 'bn-stats:tall', 'bn-backward:short', 'bn-backward:tall']);
  });

  it('column plan: the tile width from c, chunks of at least 8 rows a lane, the combine tile', () => {
    expect([1, 3, 4, 15, 16, 63, 64, 1000].map((c) => columnPlan(10, c).tc)).toEqual([1, 1, 4, 4, 16, 16, 64, 64]);
    expect(columnPlan(100, 8)).toEqual({ tc: 4, colTiles: 2, chunkRows: 512, chunks: 1, combineTc: 4, combineTiles: 2 });
    // 1024 chunks: 128 combine lanes a column, so 2 columns a tile, raised to 8.
    expect(columnPlan(1 << 20, 64)).toEqual({ tc: 64, colTiles: 1, chunkRows: 1024, chunks: 1024, combineTc: 8, combineTiles: 8 });
    expect(columnPlan(1 << 22, 64)).toEqual({ tc: 64, colTiles: 1, chunkRows: 4096, chunks: 1024, combineTc: 8, combineTiles: 8 });
    expect(columnPlan(50000, 100, 16)).toEqual({ tc: 16, colTiles: 7, chunkRows: 128, chunks: 391, combineTc: 8, combineTiles: 13 });
    expect(columnPlan(2000, 256)).toMatchObject({ tc: 64, chunkRows: 32, chunks: 63, combineTc: 32, combineTiles: 8 });
  });

  it('apply: vec4 where c is a multiple of 4, with gamma/beta bound as given; empty: nothing dispatched', async () => {
    expect(kinds(dry(() => batchNormApply(gpu, zeros(4096), zeros(8), zeros(8), zeros(8), null, 512, 8, 1e-5)))).toEqual(['batchNormApply bn-apply-v4:g- 4']);
    expect(kinds(dry(() => batchNormApply(gpu, zeros(3 * 513), zeros(3), zeros(3), null, zeros(3), 513, 3, 1e-5)))).toEqual(['batchNormApply bn-apply:-b 7']);
    expect(dry(() => batchNormApply(gpu, zeros(0), zeros(3), zeros(3), null, null, 0, 3, 1e-5))).toEqual([]);
    // Values of the vec4 form: (x - mean) / sqrt(var + eps) * gamma + beta per column.
    const y = batchNormApply(gpu, f32([1, 2, 3, 4, 5, 6, 7, 8]), f32([1, 1, 1, 1]), f32([4, 4, 4, 4]), f32([1, 2, 1, 2]), f32([0, 0, 1, 1]), 2, 4, 0);
    expect(Array.from(await gpu.read(y))).toEqual([0, 1, 2, 4, 2, 5, 4, 8]);
  });

  it('no rows: statistics NaN by fills, gradients 0; no columns: empty', async () => {
    const s = recordDispatches(gpu, () => batchNormStats(gpu, zeros(0), 0, 3));
    expect(s.recs.map((r) => r.op)).toEqual(['fill', 'fill']);
    expect(Array.from(await gpu.read(s.out.mean))).toEqual([NaN, NaN, NaN]);
    const s0 = dry(() => batchNormStats(gpu, zeros(0), 5, 0));
    expect(s0).toEqual([]);
    const b = recordDispatches(gpu, () => batchNormBackward(gpu, zeros(0), zeros(0), zeros(2), zeros(2), null, 0, 2, 1e-5));
    expect([b.recs.map((r) => r.op), b.out.dx.length, Array.from(await gpu.read(b.out.dgamma))]).toEqual([['fill', 'fill'], 0, [0, 0]]);
    const b0 = recordDispatches(gpu, () => batchNormBackward(gpu, zeros(0), zeros(0), zeros(0), zeros(0), null, 4, 0, 1e-5), true);
    expect([b0.recs.map((r) => r.op), b0.out.dgamma.length]).toEqual([[], 0]);
  });

  it('running statistics: one dispatch over c, none for c = 0; distinct operands', () => {
    const o = { c: 300, keep: 0.9, momentum: 0.1, varScale: 1 };
    expect(kinds(dry(() => batchNormRunningStats(gpu, zeros(300), zeros(300), zeros(300), zeros(300), o)))).toEqual(['batchNormRunningStats bn-running 2']);
    expect(dry(() => batchNormRunningStats(gpu, zeros(0), zeros(0), zeros(0), zeros(0), { ...o, c: 0 }))).toEqual([]);
    const a = zeros(2);
    expect(() => batchNormRunningStats(gpu, a, a, zeros(2), zeros(2), { ...o, c: 2 })).toThrow('webgpu: batchNormRunningStats: runningMean and runningVar must be different storages');
    expect(() => batchNormRunningStats(gpu, zeros(2), zeros(2), zeros(3), zeros(2), { ...o, c: 2 })).toThrow('webgpu: batchNormRunningStats: mean has 3 elements, expected 2');
    expect(() => batchNormRunningStats(gpu, zeros(2), zeros(2), zeros(2), zeros(3), { ...o, c: 2 })).toThrow('webgpu: batchNormRunningStats: variance has 3 elements, expected 2');
    expect(() => batchNormRunningStats(gpu, zeros(3), zeros(2), zeros(2), zeros(2), { ...o, c: 2 })).toThrow('webgpu: batchNormRunningStats: runningMean has 3 elements, expected 2');
    expect(() => batchNormRunningStats(gpu, zeros(2), zeros(3), zeros(2), zeros(2), { ...o, c: 2 })).toThrow('webgpu: batchNormRunningStats: runningVar has 3 elements, expected 2');
    expect(() => batchNormRunningStats(gpu, zeros(2), zeros(2), zeros(2), zeros(2), { ...o, c: -1 })).toThrow('webgpu: batchNormRunningStats: c must be a non-negative integer, got -1');
  });

  it('refusals name the op and the argument', () => {
    const x6 = zeros(6);
    const two = zeros(2);
    for (const [op, f] of [
      ['batchNormStats', (n: number, c: number) => batchNormStats(gpu, x6, n, c)],
      ['batchNormApply', (n: number, c: number) => batchNormApply(gpu, x6, two, two, null, null, n, c, 1e-5)],
      ['batchNormBackward', (n: number, c: number) => batchNormBackward(gpu, x6, x6, two, two, null, n, c, 1e-5)],
    ] as const) {
      expect(() => f(-1, 2)).toThrow(`webgpu: ${op}: n must be a non-negative integer, got -1`);
      expect(() => f(3, 0.5)).toThrow(`webgpu: ${op}: c must be a non-negative integer, got 0.5`);
      expect(() => f(2, 2)).toThrow(`webgpu: ${op}: x has 6 elements, expected 4`);
    }
    const ap = (m: Storage, v: Storage, g: Storage | null, b: Storage | null) => () => batchNormApply(gpu, x6, m, v, g, b, 3, 2, 1e-5);
    expect(ap(x6, two, null, null)).toThrow('webgpu: batchNormApply: mean has 6 elements, expected 2');
    expect(ap(two, x6, null, null)).toThrow('webgpu: batchNormApply: variance has 6 elements, expected 2');
    expect(ap(two, two, x6, null)).toThrow('webgpu: batchNormApply: gamma has 6 elements, expected 2');
    expect(ap(two, two, null, x6)).toThrow('webgpu: batchNormApply: beta has 6 elements, expected 2');
    const bw = (dy: Storage, m: Storage, v: Storage, g: Storage | null) => () => batchNormBackward(gpu, x6, dy, m, v, g, 3, 2, 1e-5);
    expect(bw(two, two, two, null)).toThrow('webgpu: batchNormBackward: dy has 2 elements, expected 6');
    expect(bw(x6, x6, two, null)).toThrow('webgpu: batchNormBackward: mean has 6 elements, expected 2');
    expect(bw(x6, two, x6, null)).toThrow('webgpu: batchNormBackward: variance has 6 elements, expected 2');
    expect(bw(x6, two, two, x6)).toThrow('webgpu: batchNormBackward: gamma has 6 elements, expected 2');
  });
});

describe('webgpu softmax rows: the row mode, workgroups, names and refusals', () => {
  it('the shape rule: the loop below 64 columns, workgroups of 64, of 256 from 1024; forced modes fit short rows', () => {
    expect([1, 63, 64, 1023, 1024, 5000].map((c) => rowMode(c, gpu))).toEqual([
      { kind: 'loop' }, { kind: 'loop' }, { kind: 'tree', wg: 64 }, { kind: 'tree', wg: 64 }, { kind: 'tree', wg: 256 }, { kind: 'tree', wg: 256 },
    ]);
    expect(withKernelChoice({ softmaxPath: 'tree' }, () => [1, 2, 5, 63, 64].map((c) => rowMode(c, gpu)))).toEqual([
      { kind: 'loop' }, { kind: 'tree', wg: 2 }, { kind: 'tree', wg: 4 }, { kind: 'tree', wg: 32 }, { kind: 'tree', wg: 64 },
    ]);
    expect(withKernelChoice({ softmaxPath: 'loop' }, () => rowMode(2000, gpu))).toEqual({ kind: 'loop' });
    expect(rowMode(100, gpu, 'subgroup')).toEqual({ kind: 'subgroup', wg: 64 });
    expect(() => rowMode(100, { reduceChoices: new Map(), subgroups: null }, 'subgroup')).toThrow("webgpu: softmax: softmaxPath 'subgroup' was forced but the device has no 'subgroups' feature");
    expect(() => withKernelChoice({ softmaxPath: 'subgroup' }, () => rowMode(100))).toThrow("webgpu: softmax: softmaxPath 'subgroup' was forced but the device has no 'subgroups' feature");
    const choices = new Map<string, 'loop' | 'tree' | 'subgroup'>([['softmax:mid', 'loop'], ['softmax:long', 'subgroup']]);
    expect(rowMode(100, { reduceChoices: choices, subgroups: null })).toEqual({ kind: 'loop' });
    expect(rowMode(2000, { reduceChoices: choices, subgroups: null })).toEqual({ kind: 'tree', wg: 256 });
    expect(rowMode(2000, { reduceChoices: choices, subgroups: { minSize: 8, maxSize: 8 } })).toEqual({ kind: 'subgroup', wg: 256 });
    expect(rowMode(10, { reduceChoices: new Map([['softmax:mid', 'tree']]), subgroups: null })).toEqual({ kind: 'loop' });
    expect([63, 64, 1023, 1024].map(softmaxTuneKey)).toEqual([null, 'softmax:mid', 'softmax:mid', 'softmax:long']);
  });

  it('each op under its name with its kernel: a workgroup per row, or rows / 256 for the loop', () => {
    const [r, c] = [300, 70];
    const labels = i32(new Int32Array(r));
    expect(kinds(dry(() => softmax(gpu, zeros(r * c), r, c, false)))).toEqual(['softmax softmax:exp:tree64 300']);
    expect(kinds(dry(() => softmax(gpu, zeros(r * 8), r, 8, true)))).toEqual(['logSoftmax softmax:log:loop 2']);
    expect(kinds(dry(() => softmaxGrad(gpu, zeros(r * c), zeros(r * c), r, c, true)))).toEqual(['logSoftmaxGrad softmax-grad:log:tree64 300']);
    expect(kinds(dry(() => softmaxGrad(gpu, zeros(r * 8), zeros(r * 8), r, 8, false)))).toEqual(['softmaxGrad softmax-grad:exp:loop 2']);
    expect(kinds(dry(() => softmaxCrossEntropy(gpu, zeros(r * c), labels, r, c))).at(-1)).toBe('softmaxCrossEntropy sce:tree64 300');
    expect(kinds(dry(() => softmaxCrossEntropyGrad(gpu, zeros(r * c), labels, zeros(r), r, c)))).toEqual(['softmaxCrossEntropyGrad sce-grad:tree64 300']);
    expect(kinds(dry(() => softmax(gpu, zeros(r * c), r, c, false, 'loop')))).toEqual(['softmax softmax:exp:loop 2']);
    // Empty: nothing dispatched; no classes: NaN rows by a fill.
    expect(dry(() => softmax(gpu, zeros(0), 0, 5, false))).toEqual([]);
    expect(dry(() => softmaxGrad(gpu, zeros(0), zeros(0), 3, 0, false))).toEqual([]);
    expect(dry(() => softmaxCrossEntropyGrad(gpu, zeros(0), i32([0, 0]), zeros(2), 2, 0))).toEqual([]);
    expect(dry(() => softmaxCrossEntropy(gpu, zeros(0), i32([]), 0, 4))).toEqual([]);
    expect(dry(() => softmaxCrossEntropy(gpu, zeros(0), i32([0, 0]), 2, 0)).map((r) => r.op).at(-1)).toBe('fill');
  });

  it('refusals name the op and the argument', () => {
    const x6 = zeros(6);
    expect(() => softmax(gpu, x6, -1, 6, false)).toThrow('webgpu: softmax: rows must be a non-negative integer, got -1');
    expect(() => softmax(gpu, x6, 1, 1.5, true)).toThrow('webgpu: logSoftmax: cols must be a non-negative integer, got 1.5');
    expect(() => softmax(gpu, x6, 2, 2, false)).toThrow('webgpu: softmax: x has 6 elements, expected 4');
    expect(() => softmaxGrad(gpu, x6, zeros(4), 2, 3, false)).toThrow('webgpu: softmaxGrad: dy has 4 elements, expected 6');
    expect(() => softmaxGrad(gpu, zeros(4), x6, 2, 3, true)).toThrow('webgpu: logSoftmaxGrad: y has 4 elements, expected 6');
    expect(() => softmaxCrossEntropy(gpu, x6, i32([0]), 2, 3)).toThrow('webgpu: softmaxCrossEntropy: labels must be 2 int32 values, got 1 int32');
    expect(() => softmaxCrossEntropy(gpu, x6, zeros(2), 2, 3)).toThrow('webgpu: softmaxCrossEntropy: labels must be 2 int32 values, got 2 float32');
    expect(() => softmaxCrossEntropy(gpu, zeros(4), i32([0, 0]), 2, 3)).toThrow('webgpu: softmaxCrossEntropy: logits has 4 elements, expected 6');
    expect(() => softmaxCrossEntropy(gpu, x6, i32([0, 0]), 2, -3)).toThrow('webgpu: softmaxCrossEntropy: cols must be a non-negative integer, got -3');
    expect(() => softmaxCrossEntropyGrad(gpu, x6, i32([0, 0]), zeros(3), 2, 3)).toThrow('webgpu: softmaxCrossEntropyGrad: dLoss has 3 elements, expected 2');
    expect(() => softmaxCrossEntropyGrad(gpu, x6, i32([0]), zeros(2), 2, 3)).toThrow('webgpu: softmaxCrossEntropyGrad: labels must be 2 int32 values, got 1 int32');
    expect(() => softmaxCrossEntropyGrad(gpu, zeros(5), i32([0, 0]), zeros(2), 2, 3)).toThrow('webgpu: softmaxCrossEntropyGrad: logits has 5 elements, expected 6');
    expect(() => softmaxCrossEntropyGrad(gpu, x6, i32([0, 0]), zeros(2), -2, 3)).toThrow('webgpu: softmaxCrossEntropyGrad: rows must be a non-negative integer, got -2');
  });
});

describe('webgpu dropout: kernels, uniforms and refusals', () => {
  it('vec4 forms where n is a multiple of 4; a thread per 32-element mask word, 64 a workgroup; the counter split', () => {
    const r = dry(() => dropout(gpu, zeros(4096), 0.25, 2 ** 32 + 7, 2 ** 34 + 6));
    // n, threads (words), q0lo, q0hi, skip: offset 2^34 + 6 = 4·(2^32 + 1) + 2.
    expect(r.map((x) => [x.op, x.name, x.groups, x.u32])).toEqual([['dropout', 'dropout:v4', [2], [4096, 128, 1, 1, 2]]]);
    const m = dry(() => dropoutWithMask(gpu, zeros(4097), 0.5, 3, 0));
    expect(m.map((x) => [x.op, x.name, x.groups, x.u32])).toEqual([['dropoutWithMask', 'dropout:mask', [3], [4097, 129, 0, 0, 0]]]);
    const a = dry(() => dropoutApplyMask(gpu, zeros(4096), i32(new Int32Array(128)), 0.5));
    expect(a.map((x) => [x.op, x.name, x.groups, x.u32[0]])).toEqual([['dropoutApplyMask', 'dropout-apply:v4', [4], 1024]]);
    const s = dry(() => dropoutApplyMask(gpu, zeros(513), i32(new Int32Array(17)), 0.5));
    expect(s.map((x) => [x.name, x.groups, x.u32[0]])).toEqual([['dropout-apply', [3], 513]]);
    expect(dry(() => dropoutApplyMask(gpu, zeros(0), i32([]), 0.5))).toEqual([]);
    const e = recordDispatches(gpu, () => dropoutWithMask(gpu, zeros(0), 0.5, 1, 0), true);
    expect([e.recs, e.out.out.length, e.out.mask.length, e.out.mask.dtype]).toEqual([[], 0, 0, 'int32']);
  });

  it('refusals with exact messages', () => {
    const x = zeros(8);
    for (const p of [-0.1, 1, NaN]) expect(() => dropout(gpu, x, p, 1, 0)).toThrow(`webgpu: dropout: p must be in [0, 1), got ${p}`);
    expect(() => dropoutApplyMask(gpu, x, i32([0]), 1)).toThrow('webgpu: dropoutApplyMask: p must be in [0, 1), got 1');
    expect(() => dropoutApplyMask(gpu, x, i32([0, 0]), 0.5)).toThrow('webgpu: dropoutApplyMask: mask must be 1 int32 words for 8 elements, got 2 int32');
    expect(() => dropoutApplyMask(gpu, x, zeros(1), 0.5)).toThrow('webgpu: dropoutApplyMask: mask must be 1 int32 words for 8 elements, got 1 float32');
    expect(() => dropoutApplyMask(gpu, i32([1]), i32([0]), 0.5)).toThrow('webgpu: dropoutApplyMask: dy must be float32');
    expect(() => dropoutWithMask(gpu, x, 0.5, -1, 0)).toThrow(/^webgpu: dropoutWithMask: seed /);
    expect(() => dropout(gpu, x, 0.5, 1, 1.5)).toThrow(/^webgpu: dropout: offset /);
    expect(() => dropout(gpu, x, 0.5, 1, 2 ** 53 - 4)).toThrow(`webgpu: dropout: offset + length must be at most 2^53, got ${2 ** 53 - 4} + 8`);
    expect(dry(() => dropout(gpu, x, 0.5, 1, 2 ** 53 - 8)).length).toBe(1);
    expect(() => dropout(gpu, i32([1]), 0.5, 1, 0)).toThrow('webgpu: dropout: x must be float32');
  });
});

describe('webgpu activation gradient from the output', () => {
  it('named per activation; unknown activations refused', () => {
    const r = dry(() => activationGradFromOutput(gpu, 'sigmoid', zeros(300), zeros(300), 0));
    expect(r.map((x) => [x.op, x.groups])).toEqual([['activationGradFromOutput sigmoid', [2]]]);
    expect(dry(() => activationGradFromOutput(gpu, 'tanh', zeros(0), zeros(0), 0))).toEqual([]);
    expect(() => activationGradFromOutput(gpu, 'gelu' as 'tanh', zeros(1), zeros(1), 0)).toThrow("webgpu: activationGradFromOutput: unknown activation 'gelu'");
    expect(() => activationGradFromOutput(gpu, 'tanh', zeros(2), zeros(3), 0)).toThrow('webgpu: activationGradFromOutput tanh: dy has 3 elements, expected 2');
    expect(() => activationGradFromOutput(gpu, 'tanh', i32([1, 2]), zeros(2), 0)).toThrow('webgpu: activationGradFromOutput tanh: y must be float32 (the webgpu backend\'s fused kernels are float32 only), got int32');
  });
});
