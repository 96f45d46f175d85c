/**
 * The host side of the float32 matmul, the reductions and BatchNorm2d on WebGPU
 * (src/backend/webgpu/{matmul,reduce,batchnorm2d}.ts): every refusal with its exact message, the
 * empty cases (no work encoded), the op name each dispatch is recorded under, dispatches split
 * over the device's per-axis limit, the plan of the BatchNorm2d passes. Values of every design are
 * compared with the CPU in webgpu-kernel-paths, webgpu-matmul-designs, webgpu-reduce-* and
 * webgpu-bn2d tests. Written against the mutants StrykerJS left alive there
 * (WEBGRAD_MUTATE_SCOPE=webgpu-kernels).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { matmul } from '../src/backend/webgpu/matmul.js';
import { columnPath, reduce, reducePath, reduceTuneKey, ruleReducePath } from '../src/backend/webgpu/reduce.js';
import { bn2dPlan } from '../src/backend/webgpu/batchnorm2d.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const f32 = (xs: ArrayLike<number>): Storage => gpu.upload(Float32Array.from(xs), 'float32');
const i32 = (xs: number[]): Storage => gpu.upload(Int32Array.from(xs), 'int32');
const read = async (s: Storage): Promise<number[]> => Array.from(await gpu.read(s));
const lastOp = (): string => (gpu as unknown as { health: { lastOp: string } }).health.lastOp;
const dispatches = (): number => gpu.stats().dispatches;
const args = (o: Partial<Parameters<WebGPUBackend['matmul']>[2]> = {}) => ({ batch: 1, m: 1, k: 2, n: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, ...o });

describe('webgpu matmul (float32): refusals, empty products, names, limits', () => {
  it('refuses other dtypes, short operands and a bias of the wrong length, with exact messages', () => {
    const a = f32([1, 2]);
    const b = f32([1, 2, 3, 4]);
    expect(() => gpu.matmul(i32([1, 2]), b, args())).toThrow('webgpu: matmul supports float32 tensors only, got int32');
    expect(() => gpu.matmul(a, i32([1, 2, 3, 4]), args())).toThrow('webgpu: matmul supports float32 tensors only, got int32');
    expect(() => gpu.matmul(a, b, args({ bias: i32([1, 2]) }))).toThrow('webgpu: matmul supports float32 tensors only, got int32');
    expect(() => gpu.matmul(a, b, args({ m: 2 }))).toThrow('webgpu: matmul: A has 2 elements, the arguments need 4');
    const ok = gpu.matmul(a, b, args({ batch: 2, aBatchStride: 1, k: 1, n: 1 }));
    expect(() => gpu.matmul(a, b, args({ batch: 3, aBatchStride: 1, k: 1, n: 1 }))).toThrow('webgpu: matmul: A has 2 elements, the arguments need 3');
    expect(() => gpu.matmul(a, b, args({ batch: 2, aBatchStride: 1, bBatchStride: 3, k: 1, n: 2 }))).toThrow('webgpu: matmul: B has 4 elements, the arguments need 5');
    expect(() => gpu.matmul(a, b, args({ n: 3 }))).toThrow('webgpu: matmul: B has 4 elements, the arguments need 6');
    expect(() => gpu.matmul(a, b, args({ bias: f32([1, 2, 3]) }))).toThrow('webgpu: matmul: bias has 3 elements, expected n = 2');
    // An empty row or column of A or B needs nothing even across batches.
    const z1 = gpu.matmul(f32([]), f32([]), args({ batch: 2, m: 3, k: 0, n: 2, aBatchStride: 5, bBatchStride: 5 }));
    expect(z1.length).toBe(12);
    gpu.release(z1);
    const d = dispatches();
    const noCols = gpu.matmul(f32([1, 2, 3, 4]), f32([]), args({ m: 2, k: 2, n: 0 }));
    const noRows = gpu.matmul(f32([]), f32([1, 2, 3, 4]), args({ m: 0, k: 2, n: 2 }));
    expect([noCols.length, noRows.length, dispatches() - d]).toEqual([0, 0, 0]);
    const none = gpu.matmul(f32([]), f32([]), args({ batch: 0, m: 4, k: 4, n: 4, aBatchStride: 16 }));
    const none2 = gpu.matmul(f32([]), f32([]), args({ m: 0, k: 0, n: 3 }));
    expect([none.length, none2.length, dispatches() - d]).toEqual([0, 0, 0]);
    for (const s of [a, b, ok, none, none2]) gpu.release(s);
  });

  it('records each dispatch under its name: matmul, +bias, +activation', () => {
    const a = f32([1, 2]);
    const b = f32([1, 2, 3, 4]);
    const outs = [gpu.matmul(a, b, args())];
    expect(lastOp()).toBe('matmul');
    outs.push(gpu.matmul(a, b, args({ bias: f32([1, 1]) })));
    expect(lastOp()).toBe('matmul+bias+none');
    outs.push(gpu.matmul(a, b, args({ activation: 'relu' })));
    expect(lastOp()).toBe('matmul+relu');
    outs.push(gpu.matmul(a, b, args({ bias: f32([1, 1]), activation: 'gelu' })));
    expect(lastOp()).toBe('matmul+bias+gelu');
    for (const s of [a, b, ...outs]) gpu.release(s);
  });

  it('a design the device cannot run is refused, naming what the device has', () => {
    const a = f32([1, 2]);
    const b = f32([1, 2, 3, 4]);
    const plain = Object.create(gpu, { subgroups: { value: null } }) as WebGPUBackend;
    const varying = Object.create(gpu, { subgroups: { value: { minSize: 4, maxSize: 32 } } }) as WebGPUBackend;
    expect(() => matmul(plain, a, b, args(), { design: 'subgroup', shape: [16, 4] })).toThrow("webgpu: matmul: design 'subgroup' cannot run on this device (no 'subgroups' feature)");
    expect(() => matmul(varying, a, b, args(), { design: 'subgroupBc', shape: [16, 4] })).toThrow("webgpu: matmul: design 'subgroupBc' cannot run on this device (subgroup sizes 4..32)");
    for (const s of [a, b]) gpu.release(s);
  });

  it('more columns than the device’s workgroups on x are refused; more rows and batches are split', async () => {
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    // blocked 4x4: 16 columns a workgroup.
    const restore = forceKernelChoice({ matmulDesign: 'blocked', matmulShape: [4, 4] });
    try {
      const n = max * 16 + 1;
      const a = f32([2]);
      const b = f32(new Float32Array(n).fill(1.5));
      expect(() => gpu.matmul(a, b, args({ k: 1, n }))).toThrow(`webgpu: matmul: n = ${n} needs ${max + 1} workgroups on x, more than the device's ${max}`);
      const edge = gpu.matmul(a, b, args({ k: 1, n: n - 1 }));
      expect(edge.length).toBe(n - 1);
      // Rows: 16 a workgroup; one more than max workgroups on y takes a second dispatch.
      const m = max * 16 + 1;
      const tall = f32(Float32Array.from({ length: m }, (_, i) => i % 5));
      const d = dispatches();
      const c = gpu.matmul(tall, f32([3]), args({ m, k: 1, n: 1 }));
      expect(dispatches() - d).toBe(2);
      const got = await read(c);
      expect(got.length).toBe(m);
      expect(got.findIndex((v, i) => v !== (i % 5) * 3)).toBe(-1);
      // Batches past max on z: a second dispatch, each at its offset.
      const batch = max + 3;
      const as = f32(Float32Array.from({ length: batch }, (_, z) => z % 3));
      const bs = f32(Float32Array.from({ length: batch }, (_, z) => (z % 2) + 1));
      const d2 = dispatches();
      const cz = gpu.matmul(as, bs, { batch, m: 1, k: 1, n: 1, transA: false, transB: false, aBatchStride: 1, bBatchStride: 1 });
      expect(dispatches() - d2).toBe(2);
      const gz = await read(cz);
      expect(gz.findIndex((v, z) => v !== (z % 3) * ((z % 2) + 1))).toBe(-1);
      for (const s of [a, b, edge, tall, c, as, bs, cz]) gpu.release(s);
    } finally {
      restore();
    }
  });
});

describe('webgpu reduce: refusals, empty cases, forced paths', () => {
  it('a shape that does not match x is refused; no outputs or an empty axis encode no reduction', async () => {
    const x = f32([1, 2, 3, 4, 5]);
    expect(() => gpu.reduce('sum', x, 2, 3, 1)).toThrow('webgpu: reduce sum: [outer 2, length 3, inner 1] does not match the 5 elements of x');
    expect(() => gpu.reduce('max', x, 1, 5, 2)).toThrow('webgpu: reduce max: [outer 1, length 5, inner 2] does not match the 5 elements of x');
    const none = f32([]);
    const d = dispatches();
    const r0 = gpu.reduce('sum', none, 0, 4, 1);
    expect([r0.length, r0.dtype, dispatches() - d]).toEqual([0, 'float32', 0]);
    const ri = gpu.reduce('sum', i32([]), 3, 0, 2);
    expect([ri.dtype, ...(await read(ri))]).toEqual(['int32', 0, 0, 0, 0, 0, 0]);
    expect(await read(gpu.reduce('max', none, 2, 0, 1))).toEqual([-Infinity, -Infinity]);
    expect(await read(gpu.reduce('max', i32([]), 1, 0, 3))).toEqual([-2147483648, -2147483648, -2147483648]);
    expect(await read(gpu.reduce('sum', none, 2, 0, 1))).toEqual([0, 0]);
  });

  it('a forced subgroup path without the feature is refused; the reduction is named by its op', () => {
    const restore = forceKernelChoice({ reducePath: 'subgroup' });
    try {
      expect(() => columnPath(1, 4, 2)).toThrow("webgpu: reduce: reducePath 'subgroup' was forced but the device has no 'subgroups' feature");
      const plain = Object.create(gpu, { subgroups: { value: null } }) as WebGPUBackend;
      expect(() => reduce(plain, 'sum', f32([1, 2, 3, 4]), 1, 4, 1)).toThrow("webgpu: reduce: reducePath 'subgroup' was forced but the device has no 'subgroups' feature");
    } finally {
      restore();
    }
    const out = gpu.reduce('max', f32([1, 2, 3, 4]), 1, 4, 1);
    expect(lastOp()).toBe('reduce max');
    gpu.release(out);
  });
});

describe('webgpu reduce: the tune buckets and the design rule', () => {
  it('row buckets from 128 (mid) and 2048 (long); column buckets from 64 rows, few up to 256 columns', () => {
    expect([127, 128, 2047, 2048].map((len) => reduceTuneKey(5, len, 1))).toEqual([null, 'reduce-row:mid', 'reduce-row:mid', 'reduce-row:long']);
    expect([63, 64].map((len) => reduceTuneKey(1, len, 2))).toEqual([null, 'reduce-col:few']);
    expect([[1, 256], [2, 128], [1, 257], [3, 100]].map(([o, i]) => reduceTuneKey(o!, 100, i!))).toEqual(['reduce-col:few', 'reduce-col:few', 'reduce-col:many', 'reduce-col:many']);
    expect([127, 128].map((len) => ruleReducePath(3, len, 1))).toEqual(['loop', 'tree']);
    expect([[1023, 1, 2], [1024, 1, 2], [1024, 2, 128], [1024, 1, 257]].map(([len, o, i]) => ruleReducePath(o!, len!, i!))).toEqual(['loop', 'tree', 'tree', 'loop']);
  });

  it('a tuned design replaces the rule in its bucket; subgroup only with the feature; no bucket: the rule', () => {
    const choices = new Map<string, 'loop' | 'tree' | 'subgroup'>([['reduce-row:mid', 'loop'], ['reduce-col:many', 'tree'], ['reduce-row:long', 'subgroup']]);
    const plain = { reduceChoices: choices, subgroups: null };
    const sg = { reduceChoices: choices, subgroups: { minSize: 4, maxSize: 64 } };
    expect(reducePath(plain, 2, 500, 1)).toBe('loop');
    expect(reducePath(plain, 1, 100, 300)).toBe('tree');
    expect(reducePath(plain, 1, 5000, 1)).toBe('tree'); // subgroup tuned, no feature: the rule
    expect(reducePath(sg, 1, 5000, 1)).toBe('subgroup');
    expect(reducePath(plain, 1, 100, 1)).toBe('loop'); // no bucket
    expect(reducePath({ subgroups: null }, 2, 500, 1)).toBe('tree');
    expect(reducePath(null, 2, 500, 1)).toBe('tree');
  });
});

describe('webgpu BatchNorm2d: empty cases', () => {
  it('no channels or no elements: no partial passes; statistics NaN, gradients 0', async () => {
    const d = dispatches();
    const s0 = gpu.routine('batchNorm2dStats', { x: f32([]) }, { n: 2, c: 0, hw: 3 });
    expect([s0.mean.length, s0.variance.length, dispatches() - d]).toEqual([0, 0, 0]);
    const s1 = gpu.routine('batchNorm2dStats', { x: f32([]) }, { n: 0, c: 2, hw: 3 });
    expect([await read(s1.mean), await read(s1.variance)]).toEqual([[NaN, NaN], [NaN, NaN]]);
    const m = f32([0, 0]);
    const v = f32([1, 1]);
    const d2 = dispatches();
    const y = gpu.routine('batchNorm2dApply', { x: f32([]), mean: m, variance: v, gamma: null, beta: null }, { n: 0, c: 2, hw: 3, eps: 1e-5 });
    expect([y.length, dispatches() - d2]).toEqual([0, 0]);
    const b = gpu.routine('batchNorm2dBackward', { x: f32([]), dy: f32([]), mean: m, variance: v, gamma: null }, { n: 2, c: 2, hw: 0, eps: 1e-5 });
    expect([b.dx.length, await read(b.dgamma), await read(b.dbeta)]).toEqual([0, [0, 0], [0, 0]]);
    const b0 = gpu.routine('batchNorm2dBackward', { x: f32([]), dy: f32([]), mean: f32([]), variance: f32([]), gamma: null }, { n: 2, c: 0, hw: 3, eps: 1e-5 });
    expect([b0.dx.length, b0.dgamma.length, b0.dbeta.length]).toEqual([0, 0, 0]);
  });
});

describe('webgpu BatchNorm2d: the plan of its passes', () => {
  it('lane chunks of 256; tree chunks of 64·8 or more; the combine spreads 256 lanes over chunks and channels', () => {
    // Lane form: chunks of 256 elements.
    expect(bn2dPlan(1000, 3, true)).toEqual({ lane: true, chunkRows: 256, chunks: 4, combineTc: 2, combineTiles: 2 });
    expect(bn2dPlan(256, 1, true)).toEqual({ lane: true, chunkRows: 256, chunks: 1, combineTc: 1, combineTiles: 1 });
    expect(bn2dPlan(257, 8, true)).toEqual({ lane: true, chunkRows: 256, chunks: 2, combineTc: 8, combineTiles: 1 });
    expect(bn2dPlan(256 * 100, 16, true)).toEqual({ lane: true, chunkRows: 256, chunks: 100, combineTc: 8, combineTiles: 2 });
    expect(bn2dPlan(256 * 1000, 5, true)).toEqual({ lane: true, chunkRows: 256, chunks: 1000, combineTc: 2, combineTiles: 3 });
    // Over 2048 chunks: all 256 combine lanes on one channel.
    expect(bn2dPlan(256 * 4096, 8, true)).toEqual({ lane: true, chunkRows: 256, chunks: 4096, combineTc: 1, combineTiles: 8 });
    // Tree form: 256 lanes × at least 8 elements, more once a channel would need over 1024 chunks.
    expect(bn2dPlan(5000, 3, false)).toEqual({ lane: false, chunkRows: 2048, chunks: 3, combineTc: 2, combineTiles: 2 });
    expect(bn2dPlan(262144 * 16, 4, false)).toEqual({ lane: false, chunkRows: 4096, chunks: 1024, combineTc: 2, combineTiles: 2 });
    expect(bn2dPlan(262144 * 8 + 1, 1, false)).toEqual({ lane: false, chunkRows: 2304, chunks: 911, combineTc: 1, combineTiles: 1 });
  });
});
