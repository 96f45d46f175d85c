/**
 * Which kernel the host code of src/backend/webgpu/{matmul,reduce,batchnorm2d}.ts dispatches, not
 * only what it computes: every design computes the same values, so a branch that runs the wrong
 * design (or the right one with a wrong workgroup count, vec4 flag or chunk) is only visible in the
 * pipeline key, the workgroup counts and the uniforms handed to the batcher. The batcher's dispatch
 * is spied on (it still runs), and each case also checks its values against a float64 sum in JS.
 * The op names given to ctx.input/ctx.output (they appear in refusals) are read from a recording
 * context. Written against the mutants StrykerJS left alive (WEBGRAD_MUTATE_SCOPE=webgpu-kernels).
 * No adapter is a failure (beforeAll throws).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { recordDispatches, type DispatchRec } from './helpers/dispatch-recorder.js';
import type { Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import type { KernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { defaultMatmulChoice, defaultWorkgroupShape, designAvailable, LARGE_PRODUCT_OUTPUTS, matmul, MATMUL_DESIGNS, subgroupLanes, type MatmulChoice } from '../src/backend/webgpu/matmul.js';
import { patternDesigns, tuneKey, tunePatterns } from '../src/backend/webgpu/matmul-tune.js';
import { reduce } from '../src/backend/webgpu/reduce.js';
import { batchNorm2dApply, batchNorm2dBackward, batchNorm2dStats } from '../src/backend/webgpu/batchnorm2d.js';
import { MATMUL_WG_SOFTWARE, MATMUL_WG_X, MATMUL_WG_Y } from '../shaders/matmul.js';
import { withKernelChoice } from './helpers/with-kernel-choice.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

type Rec = DispatchRec;
/** What `f` dispatches (helpers/dispatch-recorder.ts); `dry`: compiled and run nothing. */
const record = <T>(f: () => T, dry = false): { out: T; recs: Rec[] } => recordDispatches(gpu, f, dry);

const f32 = (xs: ArrayLike<number>): Storage => gpu.upload(Float32Array.from(xs), 'float32');
const read = async (s: Storage): Promise<number[]> => Array.from(await gpu.read(s));
const seq = (len: number, f: (i: number) => number): number[] => Array.from({ length: len }, (_, i) => f(i));

/** C = A·B (+ bias) for row-major A [m, k] and B [k, n], in float64. */
function refMatmul(a: number[], b: number[], m: number, k: number, n: number, bias?: number[]): number[] {
  return seq(m * n, (i) => {
    const r = Math.floor(i / n);
    const c = i % n;
    let s = bias ? bias[c]! : 0;
    for (let p = 0; p < k; p++) s += a[r * k + p]! * b[p * n + c]!;
    return s;
  });
}

const near = (got: number[], want: number[]): void => {
  expect(got.length).toBe(want.length);
  const bad = got.findIndex((g, i) => !(Math.abs(g - want[i]!) <= 1e-4 * (1 + Math.abs(want[i]!))));
  expect(bad).toBe(-1);
};

const mmArgs = (m: number, k: number, n: number, o: Record<string, unknown> = {}) => ({ batch: 1, m, k, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0, ...o });

describe('webgpu matmul: the pipeline each design runs', () => {
  const NAMES: Record<(typeof MATMUL_DESIGNS)[number], string> = {
    blocked: 'matmul:', tiled: 'matmul-tiled:', wide8x4: 'matmul-wide8x4:', wide4x8: 'matmul-wide4x8:', wide8x8: 'matmul-wide8x8:',
    transA16x4: 'matmul-wide16x4:', tiledDb: 'matmul-tiled-db:', subgroup: 'matmul-sgn:', subgroupBc: 'matmul-sg8:',
    sgRows8x8: 'matmul-sgrows8x8s8:', sgRows16x4: 'matmul-sgrows16x4s8:', tiledDb8x8: 'matmul-tiled-db8:',
  };
  // Rows x columns of C per workgroup at shape [4, 4] (the wide blocks, 16x4, the sgRows blocks; 4x4 per invocation elsewhere).
  const PER_WG: Record<string, [number, number]> = {
    blocked: [16, 16], tiled: [16, 16], tiledDb: [16, 16], subgroup: [16, 16], subgroupBc: [16, 16],
    wide8x4: [32, 16], wide4x8: [16, 32], wide8x8: [32, 32], transA16x4: [64, 16], sgRows8x8: [32, 32], sgRows16x4: [64, 16], tiledDb8x8: [32, 32],
  };

  it('a forced design runs its own kernel, plain and with the bias, on a workgroup of the forced shape', () => {
    expect(gpu.subgroups).toEqual({ minSize: 8, maxSize: 8 }); // lavapipe; the names below carry the size
    const [m, k, n] = [40, 8, 36];
    const [a, b, bias] = [f32(new Float32Array(m * k)), f32(new Float32Array(k * n)), f32(new Float32Array(n))];
    for (const design of MATMUL_DESIGNS) {
      const { out: plain, recs: r1 } = record(() => withKernelChoice({ matmulDesign: design, matmulShape: [4, 4] }, () => gpu.matmul(a, b, mmArgs(m, k, n))), true);
      const { out: biased, recs: r2 } = record(() => withKernelChoice({ matmulDesign: design, matmulShape: [4, 4] }, () => gpu.matmul(a, b, mmArgs(m, k, n, { bias }))), true);
      const [rows, cols] = PER_WG[design];
      const groups = [Math.ceil(n / cols), Math.ceil(m / rows), 1];
      expect({ design, recs: [...r1, ...r2].map((r) => [r.op, r.name.startsWith(NAMES[design]), r.bias, r.wg, r.groups]) }).toEqual({
        design,
        recs: [['matmul', true, false, '4x4x1', groups], ['matmul+bias+none', true, true, '4x4x1', groups]],
      });
      gpu.release(plain);
      gpu.release(biased);
    }
    for (const s of [a, b, bias]) gpu.release(s);
  });

  it('vec4 bindings exactly where the row length and the batch stride are multiples of 4, per transposition', () => {
    const vec = (m: number, k: number, n: number, o: Record<string, unknown> = {}): string => {
      const { out, recs } = record(() => withKernelChoice({ matmulDesign: 'blocked' }, () => gpu.matmul(f32(new Float32Array(m * k + 8)), f32(new Float32Array(k * n + 8)), mmArgs(m, k, n, o))), true);
      gpu.release(out);
      return recs[0]!.name;
    };
    // matmul:<transA><transB><vecA><vecB><vecC><bias>:<activation>
    expect(vec(8, 8, 8)).toBe('matmul:001110:none');
    expect(vec(8, 6, 8)).toBe('matmul:000110:none');
    expect(vec(8, 8, 6)).toBe('matmul:001000:none');
    expect(vec(8, 8, 8, { aBatchStride: 2 })).toBe('matmul:000110:none');
    expect(vec(8, 8, 8, { bBatchStride: 6 })).toBe('matmul:001010:none');
    expect(vec(8, 6, 8, { transA: true })).toBe('matmul:101110:none');
    expect(vec(6, 8, 8, { transA: true })).toBe('matmul:100110:none');
    expect(vec(8, 8, 6, { transB: true })).toBe('matmul:011100:none');
    expect(vec(8, 6, 8, { transB: true })).toBe('matmul:010010:none');
    expect(vec(8, 8, 8, { transA: true, transB: true, aBatchStride: 4, bBatchStride: 12 })).toBe('matmul:111110:none');
  });

  it('unforced and untuned: the adapter default; a forced shape alone keeps the blocked kernel; a tuned choice per pattern', () => {
    const a = f32(new Float32Array(64));
    const run = (ctx: WebGPUBackend, o: Record<string, unknown> = {}): string => {
      const { out, recs } = record(() => matmul(ctx, a, a, mmArgs(8, 8, 8, o)), true);
      gpu.release(out);
      return `${recs[0]!.name.split(':')[0]} ${recs[0]!.wg}`;
    };
    // lavapipe: software, subgroups fixed at 8.
    expect(run(gpu)).toBe('matmul-sgrows16x4s8 8x2x1');
    expect(run(Object.create(gpu, { subgroups: { value: null } }) as WebGPUBackend)).toBe('matmul-wide8x8 4x4x1');
    expect(run(Object.create(gpu, { softwareAdapter: { value: false } }) as WebGPUBackend)).toBe(`matmul ${MATMUL_WG_X}x${MATMUL_WG_Y}x1`);
    expect(withKernelChoice({ matmulShape: [8, 4] }, () => run(gpu))).toBe('matmul 8x4x1');
    expect(withKernelChoice({ matmulDesign: 'tiled' }, () => run(gpu))).toBe('matmul-tiled 16x4x1'); // the software NN shape
    expect(withKernelChoice({ matmulDesign: 'tiled' }, () => run(gpu, { transB: true }))).toBe(`matmul-tiled ${MATMUL_WG_SOFTWARE}x${MATMUL_WG_SOFTWARE}x1`);
    const tuned = Object.create(gpu, { matmulChoices: { value: new Map<string, MatmulChoice>([['NT', { design: 'wide4x8', shape: [2, 8] }]]) } }) as WebGPUBackend;
    expect(run(tuned, { transB: true })).toBe('matmul-wide4x8 2x8x1');
    expect(run(tuned)).toBe('matmul-sgrows16x4s8 8x2x1'); // no NN entry: the default
    expect(withKernelChoice({ matmulShape: [2, 2] }, () => run(tuned, { transB: true }))).toBe('matmul-wide4x8 2x2x1'); // a forced shape, the tuned design
    // A choice passed in (the tune's) overrides a forced design.
    const { out, recs } = record(() => withKernelChoice({ matmulDesign: 'tiled' }, () => matmul(gpu, a, a, mmArgs(8, 8, 8), { design: 'wide8x4', shape: [2, 2] })), true);
    gpu.release(out);
    expect([recs[0]!.name.split(':')[0], recs[0]!.wg]).toEqual(['matmul-wide8x4', '2x2x1']);
  });

  it("products of at least 2048² outputs take the tune's large class where it has one; smaller ones, and untuned large ones, the pattern's choice", () => {
    const map = new Map<string, MatmulChoice>([['NN', { design: 'wide4x8', shape: [2, 8] }], ['NN:large', { design: 'tiledDb8x8', shape: [16, 16] }], ['TN', { design: 'tiled', shape: [8, 8] }]]);
    const tuned = Object.create(gpu, { matmulChoices: { value: map } }) as WebGPUBackend;
    const run = (m: number, n: number, o: Record<string, unknown> = {}): string => {
      const a = f32(new Float32Array(m * 4));
      const b = f32(new Float32Array(4 * n));
      const { out, recs } = record(() => matmul(tuned, a, b, mmArgs(m, 4, n, o)), true);
      for (const s of [out, a, b]) gpu.release(s);
      return `${recs[0]!.name.split(':')[0]} ${recs[0]!.wg} ${recs[0]!.groups.join('x')}`;
    };
    expect(LARGE_PRODUCT_OUTPUTS).toBe(2048 * 2048);
    expect(run(2048, 2048)).toBe('matmul-tiled-db8 16x16x1 16x16x1');
    expect(run(1024, 4096)).toBe('matmul-tiled-db8 16x16x1 32x8x1'); // m·n counts, not m or n alone
    expect(run(2047, 2048)).toBe('matmul-wide4x8 2x8x1 128x64x1');
    expect(run(4096, 1023)).toBe('matmul-wide4x8 2x8x1 64x128x1');
    expect(run(2048, 2048, { transA: true })).toBe('matmul-tiled 8x8x1 64x64x1'); // no TN:large entry
    // The large class is tuned on hardware adapters only, and only there is the 8x8 tile a candidate.
    expect(tunePatterns({ softwareAdapter: true }).map(tuneKey)).toEqual(['NT', 'NN', 'TN']);
    expect(tunePatterns({}).map(tuneKey)).toEqual(['NT', 'NN', 'TN']);
    expect(tunePatterns({ softwareAdapter: false }).map(tuneKey)).toEqual(['NT', 'NN', 'TN', 'NT:large', 'NN:large', 'TN:large']);
    expect(patternDesigns({ transA: false }, { softwareAdapter: false })).toContain('tiledDb8x8');
    expect(patternDesigns({ transA: false }, { softwareAdapter: true })).not.toContain('tiledDb8x8');
    expect(patternDesigns({ transA: false }, {})).not.toContain('tiledDb8x8');
  });

  it('defaultMatmulChoice: GPUs the blocked kernel; software by fixed subgroup size', () => {
    expect(defaultMatmulChoice(false, false, false, { minSize: 8, maxSize: 8 })).toEqual({ design: 'blocked', shape: [MATMUL_WG_X, MATMUL_WG_Y] });
    expect(defaultMatmulChoice(true, false, false, { minSize: 8, maxSize: 8 })).toEqual({ design: 'sgRows16x4', shape: [8, 2] });
    expect(defaultMatmulChoice(true, true, false, { minSize: 4, maxSize: 4 })).toEqual({ design: 'sgRows8x8', shape: [4, 4] });
    for (const sg of [null, undefined, { minSize: 16, maxSize: 16 }, { minSize: 4, maxSize: 8 }, { minSize: 32, maxSize: 32 }]) {
      expect(defaultMatmulChoice(true, false, true, sg)).toEqual({ design: 'wide8x8', shape: [4, 4] });
    }
    expect([defaultWorkgroupShape(true, false, false), defaultWorkgroupShape(true, true, false), defaultWorkgroupShape(true, false, true), defaultWorkgroupShape(false, true, true)])
      .toEqual([[16, 4], [MATMUL_WG_SOFTWARE, MATMUL_WG_SOFTWARE], [MATMUL_WG_SOFTWARE, MATMUL_WG_SOFTWARE], [MATMUL_WG_X, MATMUL_WG_Y]]);
  });

  it('subgroupLanes: 0 for the loop design; a fixed size up to 16 for the unrolled one, a multiple of 4 for the row-sharing ones', () => {
    const sizes = [[2, 2], [4, 4], [6, 6], [8, 8], [16, 16], [32, 32], [8, 16]] as const;
    const lanes = (d: 'subgroup' | 'subgroupBc' | 'sgRows8x8' | 'sgRows16x4') => sizes.map(([minSize, maxSize]) => subgroupLanes({ minSize, maxSize }, d));
    expect(lanes('subgroup')).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(lanes('subgroupBc')).toEqual([2, 4, 6, 8, 16, null, null]);
    expect(lanes('sgRows8x8')).toEqual([null, 4, null, 8, 16, null, null]);
    expect(lanes('sgRows16x4')).toEqual([null, 4, null, 8, 16, null, null]);
    expect([subgroupLanes(null, 'subgroup'), subgroupLanes(undefined, 'subgroupBc')]).toEqual([null, null]);
    expect(['blocked', 'subgroupBc', 'sgRows8x8'].map((d) => designAvailable({ subgroups: { minSize: 2, maxSize: 2 } }, d as 'blocked'))).toEqual([true, true, false]);
  });

  it('operands and outputs under the op name; empty products need no operand data, whatever the strides', () => {
    const names = new Set<string>();
    const ctx = Object.create(gpu, {
      output: { value: (len: number, dt: 'float32', op: string) => (names.add(`out ${op}`), gpu.output(len, dt, op)) },
      input: { value: (st: Storage, op: string) => (names.add(`in ${op}`), gpu.input(st, op)) },
    }) as WebGPUBackend;
    const a = f32([1, 2]);
    record(() => matmul(ctx, a, f32([1, 2, 3, 4]), mmArgs(1, 2, 2, { bias: f32([1, 1]) })), true);
    expect([...names]).toEqual(['in matmul', 'out matmul']);
    const gone = f32([1, 2]);
    gpu.release(gone);
    expect(() => gpu.matmul(gone, a, mmArgs(1, 2, 1))).toThrow('webgpu: matmul: this storage was released');
    expect(() => gpu.matmul(a, gone, mmArgs(1, 2, 1))).toThrow('webgpu: matmul: this storage was released');
    expect(() => gpu.matmul(a, a, mmArgs(1, 2, 1, { bias: gone }))).toThrow('webgpu: matmul: this storage was released');
    // No batches: A and B need nothing even with a stride of 0; no columns: B needs nothing across batches.
    const none = gpu.matmul(f32([]), f32([]), mmArgs(2, 2, 2, { batch: 0 }));
    const noCols = gpu.matmul(f32([1, 2, 3, 4, 5, 6, 7, 8]), f32([]), mmArgs(2, 2, 0, { batch: 2, aBatchStride: 4, bBatchStride: 5 }));
    // No rows: nothing dispatched, even where the columns would need more workgroups than the device has.
    const max = gpu.limits.maxComputeWorkgroupsPerDimension;
    const wide = record(() => withKernelChoice({ matmulDesign: 'blocked', matmulShape: [4, 4] }, () => gpu.matmul(f32([]), f32(new Float32Array(max * 16 + 1)), mmArgs(0, 1, max * 16 + 1))), true);
    expect([none.length, noCols.length, wide.out.length, wide.recs.length]).toEqual([0, 0, 0, 0]);
  });

  it('rows and batches that fill whole dispatches take no extra empty one', () => {
    const small = Object.create(gpu, { limits: { value: { maxComputeWorkgroupsPerDimension: 2 } } }) as WebGPUBackend;
    // 64 rows = 4 workgroups on y (2 + 2); 4 batches (2 + 2).
    const { recs } = record(() => withKernelChoice({ matmulDesign: 'blocked', matmulShape: [4, 4] }, () =>
      matmul(small, f32(new Float32Array(4 * 64)), f32(new Float32Array(4)), { batch: 4, m: 64, k: 1, n: 1, transA: false, transB: false, aBatchStride: 64, bBatchStride: 1 })), true);
    expect(recs.map((r) => r.groups)).toEqual([[1, 2, 2], [1, 2, 2], [1, 2, 2], [1, 2, 2]]);
  });

  it('rows and batches past the per-axis limit: dispatches of at most max workgroups, each at its offset', async () => {
    const small = Object.create(gpu, { limits: { value: { maxComputeWorkgroupsPerDimension: 2 } } }) as WebGPUBackend;
    // blocked 4x4: 16 rows a workgroup; 80 rows = 5 workgroups on y (2 + 2 + 1); 3 batches on z (2 + 1).
    const [batch, m, k, n] = [3, 80, 2, 3];
    const av = seq(batch * m * k, (i) => (i % 11) - 5);
    const bv = seq(batch * k * n, (i) => (i % 3) + 1);
    const { out, recs } = record(() => withKernelChoice({ matmulDesign: 'blocked', matmulShape: [4, 4] }, () =>
      matmul(small, f32(av), f32(bv), { batch, m, k, n, transA: false, transB: false, aBatchStride: m * k, bBatchStride: k * n })));
    expect(recs.map((r) => r.groups)).toEqual([[1, 2, 2], [1, 2, 2], [1, 1, 2], [1, 2, 1], [1, 2, 1], [1, 1, 1]]);
    const got = await read(out);
    const want = Array.from({ length: batch }, (_, z) => refMatmul(av.slice(z * m * k, (z + 1) * m * k), bv.slice(z * k * n, (z + 1) * k * n), m, k, n)).flat();
    near(got, want);
  });
});

describe('webgpu reduce: the kernel of each pass', () => {
  const X = (len: number) => seq(len, (i) => ((i * 7) % 13) - 6);
  const sums = (x: number[], outer: number, len: number, inner: number) =>
    seq(outer * inner, (j) => {
      const o = Math.floor(j / inner);
      let s = 0;
      for (let l = 0; l < len; l++) s += x[(o * len + l) * inner + (j % inner)]!;
      return s;
    });
  const passes = async (outer: number, len: number, inner: number, choice: KernelChoice, path?: 'loop' | 'tree' | 'subgroup') => {
    const xv = X(outer * len * inner);
    const x = f32(xv);
    const release = vi.spyOn(gpu, 'releaseStorage');
    const { out, recs } = record(() => withKernelChoice(choice, () => reduce(gpu, 'sum', x, outer, len, inner, path)));
    const releases = release.mock.calls.length;
    release.mockRestore();
    near(await read(out), sums(xv, outer, len, inner));
    gpu.release(x);
    gpu.release(out);
    return { kernels: recs.map((r) => `${r.op} ${r.name.split(':')[0]} ${r.groups.join('x')}`), u32: recs.map((r) => r.u32), releases };
  };

  it('rows: loop passes of 1024 at once, else chunks of max(256, √len); tree and subgroup chunks of 4096', async () => {
    expect((await passes(2, 1024, 1, { reducePath: 'loop' }))).toMatchObject({ kernels: ['reduce sum reduce-loop 1'], u32: [[2, 1024, 1, 1024, 1]], releases: 0 });
    expect((await passes(2, 1025, 1, { reducePath: 'loop' }))).toMatchObject({
      kernels: ['reduce sum reduce-loop 1', 'reduce sum reduce-loop 1'], u32: [[10, 1025, 1, 256, 5], [2, 5, 1, 5, 1]], releases: 1,
    });
    expect((await passes(1, 90000, 1, { reducePath: 'loop' }))).toMatchObject({ u32: [[300, 90000, 1, 300, 300], [1, 300, 1, 300, 1]] });
    expect((await passes(3, 4096, 1, { reducePath: 'tree' }))).toMatchObject({ kernels: ['reduce sum reduce-tree 3'], releases: 0 });
    expect((await passes(3, 8193, 1, { reducePath: 'tree' }))).toMatchObject({ kernels: ['reduce sum reduce-tree 9', 'reduce sum reduce-tree 3'], releases: 1 });
    expect((await passes(3, 8193, 1, { reducePath: 'subgroup' }))).toMatchObject({ kernels: ['reduce sum reduce-sgrow 9', 'reduce sum reduce-sgrow 3'], releases: 1 });
    // Unforced: the rule (tree from 128), then the short second pass by the rule (loop).
    expect((await passes(3, 8193, 1, {}))).toMatchObject({ kernels: ['reduce sum reduce-tree 9', 'reduce sum reduce-loop 1'], releases: 1 });
    expect((await passes(3, 127, 1, {})).kernels).toEqual(['reduce sum reduce-loop 1']);
  });

  it('columns: loop, column tree or subgroup columns, in chunks of 1024 rows and blocks of 16 columns', async () => {
    expect((await passes(1, 2048, 2, { reducePath: 'loop' }))).toMatchObject({ kernels: ['reduce sum reduce-loop 1', 'reduce sum reduce-loop 1'], u32: [[16, 2048, 2, 256, 8], [2, 8, 2, 8, 1]] });
    expect((await passes(1, 2048, 17, { reducePath: 'tree' })).kernels).toEqual(['reduce sum reduce-coltree 4', 'reduce sum reduce-coltree 2']);
    expect((await passes(2, 2048, 2, { reducePath: 'subgroup' })).kernels).toEqual(['reduce sum reduce-sgcol 4', 'reduce sum reduce-sgcol 2']);
    expect((await passes(1, 2048, 2, {})).kernels).toEqual(['reduce sum reduce-coltree 2', 'reduce sum reduce-loop 1']);
    expect((await passes(1, 1000, 2, {})).kernels).toEqual(['reduce sum reduce-loop 1']);
  });

  it("the tune's path applies to the first pass only; later passes follow the rule", async () => {
    expect((await passes(3, 8193, 1, {}, 'subgroup')).kernels).toEqual(['reduce sum reduce-sgrow 9', 'reduce sum reduce-loop 1']);
    expect((await passes(3, 8193, 1, {}, 'loop')).kernels).toEqual(['reduce sum reduce-loop 1', 'reduce sum reduce-loop 1']);
    expect((await passes(1, 4096, 2, {}, 'subgroup')).kernels).toEqual(['reduce sum reduce-sgcol 4', 'reduce sum reduce-loop 1']);
    expect((await passes(1, 4096, 2, { reducePath: 'loop' }, 'tree')).kernels).toEqual(['reduce sum reduce-coltree 4', 'reduce sum reduce-loop 1']);
  });
});

describe('webgpu BatchNorm2d: the lane or tree passes, their workgroups, names and refusals', () => {
  // n = 2, c = 3, hw = 300: 600 elements a channel; lane chunks of 256 -> 3 (9 lanes: one 64-lane
  // workgroup); tree chunks of 2048 -> 1 (3 workgroups); the combine: 2 channels a workgroup, 2 of them.
  const [n, c, hw] = [2, 3, 300];
  const xv = seq(n * c * hw, (i) => Math.sin(i) * 3 + (i % 7));
  const dyv = seq(n * c * hw, (i) => Math.cos(i * 0.3));
  const stats = () => {
    const mean = seq(c, (ch) => {
      let s = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) s += xv[(b * c + ch) * hw + i]!;
      return s / (n * hw);
    });
    const variance = seq(c, (ch) => {
      let s = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) s += (xv[(b * c + ch) * hw + i]! - mean[ch]!) ** 2;
      return s / (n * hw);
    });
    return { mean, variance };
  };
  const kernels = (recs: Rec[]) => recs.map((r) => `${r.op} ${r.name} ${r.groups.join('x')}`);

  it('lane passes on this software adapter, tree passes on a hardware one; forced either way', async () => {
    const want = stats();
    const hw0 = Object.create(gpu, { softwareAdapter: { value: false } }) as WebGPUBackend;
    const lane = ['batchNorm2dStats bn2d-stats-lane 1', 'batchNorm2dStats bn-stats-final:2 2'];
    const tree = ['batchNorm2dStats bn2d-stats-partial 3', 'batchNorm2dStats bn-stats-final:2 2'];
    for (const [ctx, choice, expected] of [[gpu, {}, lane], [hw0, {}, tree], [hw0, { batchNormPath: 'column' }, lane], [gpu, { batchNormPath: 'tiled' }, tree]] as const) {
      const x = f32(xv);
      const { out, recs } = record(() => withKernelChoice(choice, () => batchNorm2dStats(ctx, x, n, c, hw)));
      expect(kernels(recs)).toEqual(expected);
      near(await read(out.mean), want.mean);
      near(await read(out.variance), want.variance);
      for (const st of [x, out.mean, out.variance]) gpu.release(st);
    }
    // Many channels: lane workgroups of 64 (c·chunks / 64), tree a workgroup per (channel, chunk).
    const big = f32(new Float32Array(2 * 100 * 300));
    const laneBig = record(() => batchNorm2dStats(gpu, big, 2, 100, 300), true).recs;
    const treeBig = record(() => batchNorm2dStats(hw0, big, 2, 100, 300), true).recs;
    expect([laneBig[0]!.groups, treeBig[0]!.groups, laneBig[1]!.groups, laneBig[1]!.name]).toEqual([[5], [100], [13], 'bn-stats-final:8']);
    gpu.release(big);
  });

  it('backward: the lane or tree partials, the combine, then dx; named batchNorm2dBackward', async () => {
    const { mean, variance } = stats();
    const hw0 = Object.create(gpu, { softwareAdapter: { value: false } }) as WebGPUBackend;
    const results: number[][][] = [];
    for (const [ctx, first] of [[gpu, 'bn2d-backward-lane'], [hw0, 'bn2d-backward-partial']] as const) {
      const ins = [f32(xv), f32(dyv), f32(mean), f32(variance), f32([1, 2, 3])];
      const { out, recs } = record(() => batchNorm2dBackward(ctx, ins[0]!, ins[1]!, ins[2]!, ins[3]!, ins[4]!, n, c, hw, 1e-5));
      expect(recs.map((r) => r.op)).toEqual(['batchNorm2dBackward', 'batchNorm2dBackward', 'batchNorm2dBackward']);
      expect(recs[0]!.name).toBe(first);
      expect(recs[0]!.groups).toEqual(ctx === gpu ? [1] : [3]);
      expect(recs[2]!.groups).toEqual([Math.ceil((n * c * hw) / 256)]);
      results.push([await read(out.dx), await read(out.dgamma), await read(out.dbeta)]);
      for (const st of [...ins, out.dx, out.dgamma, out.dbeta]) gpu.release(st);
    }
    // Both forms agree, and dbeta is the channel sum of dy.
    near(results[0]!.flat(), results[1]!.flat());
    near(results[0]![2]!, seq(c, (ch) => {
      let s = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) s += dyv[(b * c + ch) * hw + i]!;
      return s;
    }));
  });

  it('no elements per channel: fills, not the statistics passes; no channels: nothing', () => {
    const m = f32([0, 0]);
    const v = f32([1, 1]);
    const s = record(() => batchNorm2dStats(gpu, f32([]), 0, 2, 5), true).recs;
    expect(s.some((r) => r.op === 'batchNorm2dStats')).toBe(false);
    expect(s.length).toBe(2);
    const b = record(() => batchNorm2dBackward(gpu, f32([]), f32([]), m, v, null, 2, 2, 0, 1e-5), true).recs;
    expect([b.length, b.some((r) => r.op === 'batchNorm2dBackward')]).toEqual([2, false]);
    const e0 = record(() => batchNorm2dStats(gpu, f32([]), 2, 0, 5), true).out;
    const eb = record(() => batchNorm2dBackward(gpu, f32([]), f32([]), m, v, null, 0, 2, 3, 1e-5), true).out;
    expect([e0.mean.dtype, e0.variance.dtype, eb.dx.dtype]).toEqual(['float32', 'float32', 'float32']);
    const b0 = record(() => batchNorm2dBackward(gpu, f32([]), f32([]), f32([]), f32([]), null, 2, 0, 3, 1e-5), true).recs;
    expect(b0.some((r) => r.op === 'batchNorm2dBackward')).toBe(false);
    const a = record(() => batchNorm2dApply(gpu, f32(new Float32Array(4)), m, v, null, null, 1, 2, 2, 1e-5), true).recs;
    expect(a.map((r) => `${r.op} ${r.groups.join('x')}`)).toEqual(['batchNorm2dApply 1']);
  });

  it('every refusal names the op and the argument', () => {
    const x6 = f32(new Float32Array(6));
    const two = f32([0, 1]);
    const i2 = gpu.upload(Int32Array.from([0, 1]), 'int32');
    const ops = [
      ['batchNorm2dStats', (nn: number, cc: number, hh: number) => batchNorm2dStats(gpu, x6, nn, cc, hh)],
      ['batchNorm2dApply', (nn: number, cc: number, hh: number) => batchNorm2dApply(gpu, x6, two, two, null, null, nn, cc, hh, 1e-5)],
      ['batchNorm2dBackward', (nn: number, cc: number, hh: number) => batchNorm2dBackward(gpu, x6, x6, two, two, null, nn, cc, hh, 1e-5)],
    ] as const;
    for (const [op, f] of ops) {
      expect(() => f(-1, 2, 3)).toThrow(`webgpu: ${op}: n must be a non-negative integer, got -1`);
      expect(() => f(1, 1.5, 3)).toThrow(`webgpu: ${op}: c must be a non-negative integer, got 1.5`);
      expect(() => f(1, 2, -3)).toThrow(`webgpu: ${op}: hw must be a non-negative integer, got -3`);
      expect(() => f(1, 2, 4)).toThrow(`webgpu: ${op}: x has 6 elements, expected 8`);
    }
    const ap = (mean: Storage, variance: Storage, gamma: Storage | null, beta: Storage | null) => () => batchNorm2dApply(gpu, x6, mean, variance, gamma, beta, 1, 2, 3, 1e-5);
    expect(ap(x6, two, null, null)).toThrow('webgpu: batchNorm2dApply: mean has 6 elements, expected 2');
    expect(ap(two, x6, null, null)).toThrow('webgpu: batchNorm2dApply: variance has 6 elements, expected 2');
    expect(ap(two, two, x6, null)).toThrow('webgpu: batchNorm2dApply: gamma has 6 elements, expected 2');
    expect(ap(two, two, null, i2)).toThrow('webgpu: batchNorm2dApply: beta must be float32');
    const bw = (dy: Storage, mean: Storage, variance: Storage, gamma: Storage | null) => () => batchNorm2dBackward(gpu, x6, dy, mean, variance, gamma, 1, 2, 3, 1e-5);
    expect(bw(two, two, two, null)).toThrow('webgpu: batchNorm2dBackward: dy has 2 elements, expected 6');
    expect(bw(x6, i2, two, null)).toThrow('webgpu: batchNorm2dBackward: mean must be float32');
    expect(bw(x6, two, x6, null)).toThrow('webgpu: batchNorm2dBackward: variance has 6 elements, expected 2');
    expect(bw(x6, two, two, x6)).toThrow('webgpu: batchNorm2dBackward: gamma has 6 elements, expected 2');
    expect(() => batchNorm2dStats(gpu, i2, 1, 2, 1)).toThrow('webgpu: batchNorm2dStats: x must be float32');
  });

  it('outputs are requested under the op name (it names the op in an allocation refusal)', () => {
    const names = new Set<string>();
    const ctx = Object.create(gpu, { output: { value: (len: number, dt: 'float32', op: string) => (names.add(op), gpu.output(len, dt, op)) } }) as WebGPUBackend;
    const x = f32(xv);
    const m = f32([0, 0, 0]);
    const v = f32([1, 1, 1]);
    record(() => batchNorm2dStats(ctx, x, n, c, hw), true);
    record(() => batchNorm2dStats(ctx, f32([]), n, 0, hw), true);
    expect([...names]).toEqual(['batchNorm2dStats']);
    names.clear();
    record(() => batchNorm2dApply(ctx, x, m, v, null, null, n, c, hw, 1e-5), true);
    expect([...names]).toEqual(['batchNorm2dApply']);
    names.clear();
    record(() => batchNorm2dBackward(ctx, x, x, m, v, null, n, c, hw, 1e-5), true);
    const empty = f32([]);
    record(() => batchNorm2dBackward(ctx, empty, empty, m, v, null, 0, c, hw, 1e-5), true);
    expect([...names]).toEqual(['batchNorm2dBackward', 'fill']); // the empty case's dx, then its fills
  });
});
