/**
 * Every convolution design of the WebGPU backend (src/backend/webgpu/conv.ts), forced one at a time
 * through the test hook (kernel-choice.ts), against the CPU reference: the direct kernels, the
 * implicit GEMMs at every workgroup shape, and the 1×1-as-matmul path; forward (with and without
 * bias), input gradient and weight gradient, on awkward geometries (odd sizes, stride 2, dilation
 * 2, groups 3, padding larger than half the kernel, batch 1 and 5, channel counts that are not a
 * multiple of the 4-wide tile). Outputs land in a NaN-poisoned pool, so an element a kernel fails
 * to write shows. Also the single-pass max pool (values and indices, NaN inputs), the shape-based
 * choice itself, and taps in the padding never multiplying an infinite weight.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, Conv2dGeometry, Pool2dGeometry, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { convPath, maxPoolBackwardPath, type ConvPath } from '../src/backend/webgpu/conv.js';
import { forceKernelChoice, type KernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import type { WorkgroupShape } from '../src/backend/webgpu/matmul.js';
import { reductionTol, type Tol } from './helpers/compare.js';
import { compareOnBackends, f32, testData, type Input } from './helpers/kernel-harness.js';

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

const { rand } = testData(7321);

/** Both backends, the GPU pool poisoned first (test/helpers/kernel-harness.ts). */
const compare = (what: string, inputs: readonly Input[], run: (be: Backend, xs: Storage[]) => Storage[], tols: readonly Tol[]): Promise<void> =>
  compareOnBackends(cpu, gpu, what, inputs, run, tols);

interface Spec {
  name: string;
  n: number; cin: number; h: number; w: number; cout: number; kh: number; kw: number;
  stride?: [number, number]; pad?: [number, number]; dilation?: [number, number]; groups?: number;
}

function geometry(s: Spec): Conv2dGeometry {
  const [sh, sw] = s.stride ?? [1, 1];
  const [ph, pw] = s.pad ?? [0, 0];
  const [dh, dw] = s.dilation ?? [1, 1];
  const hout = Math.floor((s.h + 2 * ph - dh * (s.kh - 1) - 1) / sh) + 1;
  const wout = Math.floor((s.w + 2 * pw - dw * (s.kw - 1) - 1) / sw) + 1;
  return {
    n: s.n, cin: s.cin, h: s.h, w: s.w, cout: s.cout, kh: s.kh, kw: s.kw, hout, wout,
    strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw, groups: s.groups ?? 1,
  };
}

const SPECS: Spec[] = [
  { name: '3x3 pad 1, batch 5, odd sizes, cout 7', n: 5, cin: 3, h: 11, w: 13, cout: 7, kh: 3, kw: 3, pad: [1, 1] },
  { name: 'stride 2, batch 1, cout 9', n: 1, cin: 6, h: 9, w: 10, cout: 9, kh: 3, kw: 3, stride: [2, 2], pad: [1, 1] },
  { name: 'dilation 2, pad 2', n: 2, cin: 5, h: 12, w: 11, cout: 6, kh: 3, kw: 3, dilation: [2, 2], pad: [2, 2] },
  { name: 'groups 3, 3x2 kernel, stride (2, 1), pad (1, 0)', n: 2, cin: 6, h: 8, w: 9, cout: 15, kh: 3, kw: 2, stride: [2, 1], pad: [1, 0], groups: 3 },
  { name: 'groups 3, 5 channels per group both ways, pad 3 > k/2', n: 5, cin: 15, h: 6, w: 7, cout: 15, kh: 3, kw: 3, pad: [3, 2], groups: 3 },
  { name: 'depthwise', n: 5, cin: 6, h: 7, w: 9, cout: 6, kh: 3, kw: 3, pad: [1, 1], groups: 6 },
  { name: 'depthwise, multiplier 2, stride 2', n: 2, cin: 4, h: 9, w: 8, cout: 8, kh: 3, kw: 3, stride: [2, 2], pad: [1, 1], groups: 4 },
  { name: 'one input channel (first layer), cout 37', n: 3, cin: 1, h: 14, w: 15, cout: 37, kh: 3, kw: 3, pad: [1, 1] },
  { name: '1x1, batch 5, odd plane', n: 5, cin: 7, h: 5, w: 9, cout: 10, kh: 1, kw: 1 },
  { name: '1x1, batch 1, plane a multiple of 4', n: 1, cin: 8, h: 4, w: 6, cout: 12, kh: 1, kw: 1 },
  { name: '1x1 stride 2 (not a plain matmul)', n: 2, cin: 5, h: 7, w: 7, cout: 6, kh: 1, kw: 1, stride: [2, 2] },
  { name: 'kernel wider than the padded input row', n: 2, cin: 4, h: 3, w: 2, cout: 5, kh: 3, kw: 5, pad: [0, 2] },
];

/** Sum of K products of factors in [-1, 1]. */
const tolFor = (k: number): Tol => reductionTol(k, 1);

async function checkSpec(s: Spec, label: string): Promise<void> {
  const g = geometry(s);
  const cinG = g.cin / g.groups;
  const xs = rand(g.n * g.cin * g.h * g.w);
  const ws = rand(g.cout * cinG * g.kh * g.kw);
  const bs = rand(g.cout);
  const dys = rand(g.n * g.cout * g.hout * g.wout);
  const what = `${label} ${s.name}`;
  const kFwd = cinG * g.kh * g.kw + 1;
  await compare(`${what}: conv2d`, [f32(xs), f32(ws)], (be, [x, w]) => [be.routine('conv2d', { x: x!, weight: w!, bias: null }, g)], [tolFor(kFwd)]);
  await compare(`${what}: conv2d + bias`, [f32(xs), f32(ws), f32(bs)], (be, [x, w, b]) => [be.routine('conv2d', { x: x!, weight: w!, bias: b! }, g)], [tolFor(kFwd)]);
  await compare(`${what}: dx`, [f32(dys), f32(ws)], (be, [dy, w]) => [be.routine('conv2dBackwardInput', { dy: dy!, weight: w! }, g)], [tolFor((g.cout / g.groups) * g.kh * g.kw)]);
  await compare(`${what}: dw`, [f32(xs), f32(dys)], (be, [x, dy]) => [be.routine('conv2dBackwardWeight', { x: x!, dy: dy! }, g)], [tolFor(g.n * g.hout * g.wout)]);
}

/** Every shape the GEMMs may run with (the defaults included: 4×4 software, 8×8 GPU). */
const SHAPES: WorkgroupShape[] = [[4, 4], [8, 4], [16, 4], [8, 8], [4, 8], [1, 1]];

describe('conv2d: every design on awkward geometries, against the CPU reference', () => {
  it('direct kernels', async () => {
    force({ convPath: 'direct' });
    for (const s of SPECS) await checkSpec(s, 'direct');
  });

  for (const shape of SHAPES) {
    it(`implicit GEMM, workgroup ${shape[0]}x${shape[1]}`, async () => {
      force({ convPath: 'gemm', convShape: shape });
      for (const s of SPECS) await checkSpec(s, `gemm ${shape}`);
    });
  }

  // Channels per invocation × blocks of 4 along a row per invocation (3: chunks that end mid-row).
  for (const [cb, span] of [[4, 1], [8, 1], [4, 3], [8, Infinity]] as const) {
    // Each (kernel size, mode, channel block) is its own unrolled pipeline: slow to compile under load.
    it(`window kernels, ${cb} channels × ${span} blocks per invocation (forward and dx at stride 1, dilation 1; the others by shape)`, async () => {
      force({ convPath: 'window', convWindowBlock: cb, convWindowSpan: span });
      for (const s of SPECS) await checkSpec(s, `window cb${cb} span ${span}`);
    }, 600_000);
  }

  it('1x1 through matmul (the 1x1 geometries; the others fall back to the GEMM)', async () => {
    force({ convPath: 'matmul' });
    for (const s of SPECS) await checkSpec(s, 'matmul');
  });

  it('the choice by shape (nothing forced)', async () => {
    for (const s of SPECS) await checkSpec(s, 'by shape');
  });
});

describe('conv2d: GEMM dispatches past 65535 workgroups on x are split (P.xOff)', () => {
  it('forward and dx with 65538 workgroups of row blocks', async () => {
    force({ convPath: 'gemm', convShape: [4, 4] });
    // w = 4: one row block per image row; 65538 · 4 rows need 65538 workgroups of 4 on x.
    await checkSpec({ name: 'tall', n: 1, cin: 1, h: 65538 * 4, w: 4, cout: 2, kh: 3, kw: 3, pad: [1, 1] }, 'split');
  });
});

describe('conv2d: which design runs', () => {
  const pick = (s: Spec): ConvPath[] => (['fwd', 'dx', 'dw'] as const).map((p) => convPath(geometry(s), p));
  const byName = (name: string): Spec => SPECS.find((s) => s.name === name)!;
  it('chooses by shape', () => {
    // Stride 1, dilation 1, kernel ≤ 5, 4+ channels per group: the window kernels forward and dx.
    expect(pick(byName('groups 3, 5 channels per group both ways, pad 3 > k/2'))).toEqual(['window', 'window', 'gemm']);
    // cin = 3 input channels: the dx tile of 4 would idle; the direct dx.
    expect(pick(byName('3x3 pad 1, batch 5, odd sizes, cout 7'))).toEqual(['window', 'direct', 'gemm']);
    expect(pick(byName('stride 2, batch 1, cout 9'))).toEqual(['gemm', 'gemm', 'gemm']);
    expect(pick(byName('dilation 2, pad 2'))).toEqual(['gemm', 'gemm', 'gemm']);
    expect(pick(byName('depthwise'))).toEqual(['direct', 'direct', 'direct']);
    // cout/groups = 2 is below the tile; cin/groups = 1 too.
    expect(pick(byName('depthwise, multiplier 2, stride 2'))).toEqual(['direct', 'direct', 'direct']);
    // One input channel: the window forward, the GEMM dw (over output channels), the direct dx.
    expect(pick(byName('one input channel (first layer), cout 37'))).toEqual(['window', 'direct', 'gemm']);
    expect(pick(byName('1x1, batch 5, odd plane'))).toEqual(['matmul', 'matmul', 'matmul']);
    expect(pick(byName('1x1 stride 2 (not a plain matmul)'))).toEqual(['gemm', 'gemm', 'gemm']);
  });
  it('the hook forces a design, and matmul only where it applies', () => {
    force({ convPath: 'direct' });
    expect(pick(byName('1x1, batch 5, odd plane'))).toEqual(['direct', 'direct', 'direct']);
    force({ convPath: 'gemm' });
    expect(pick(byName('depthwise'))).toEqual(['gemm', 'gemm', 'gemm']);
    force({ convPath: 'matmul' });
    expect(pick(byName('depthwise'))).toEqual(['gemm', 'gemm', 'gemm']);
    force({ convPath: 'window' });
    expect(pick(byName('depthwise'))).toEqual(['window', 'window', 'direct']);
    expect(pick(byName('stride 2, batch 1, cout 9'))).toEqual(['gemm', 'gemm', 'gemm']);
  });
});

describe('conv2d: taps in the padding are skipped, not multiplied by zero', () => {
  // An infinite weight at tap (0, 0): outputs whose (0, 0) tap falls in the padding stay finite in
  // the reference (0 · ∞ would make them NaN).
  const s: Spec = { name: 'inf weight', n: 2, cin: 4, h: 5, w: 6, cout: 5, kh: 3, kw: 3, pad: [1, 1] };
  for (const path of ['direct', 'gemm', 'window'] as const) {
    it(path, async () => {
      force({ convPath: path });
      const g = geometry(s);
      const ws = rand(g.cout * g.cin * 9);
      ws[0] = Number.POSITIVE_INFINITY;
      const xs = rand(g.n * g.cin * g.h * g.w, 0.5, 1); // positive: the in-range taps give +∞, not NaN
      const dys = rand(g.n * g.cout * g.hout * g.wout, 0.5, 1);
      await compare(`${path} forward, inf weight`, [f32(xs), f32(ws)], (be, [x, w]) => [be.routine('conv2d', { x: x!, weight: w!, bias: null }, g)], [tolFor(37)]);
      await compare(`${path} dx, inf weight`, [f32(dys), f32(ws)], (be, [dy, w]) => [be.routine('conv2dBackwardInput', { dy: dy!, weight: w! }, g)], [tolFor(46)]);
    });
  }
});

describe('max pool: values and indices from one pass', () => {
  const pool = (planes: number, h: number, w: number, k: number, s: number, p: number): Pool2dGeometry => ({
    planes, h, w, hout: Math.floor((h + 2 * p - k) / s) + 1, wout: Math.floor((w + 2 * p - k) / s) + 1,
    kh: k, kw: k, strideH: s, strideW: s, padH: p, padW: p, adaptive: false, countIncludePad: false,
  });
  it('matches the reference with NaN, ±∞ and ties, overlapping and padded windows', async () => {
    for (const g of [pool(6, 9, 7, 2, 2, 0), pool(3, 8, 11, 3, 2, 1), pool(2, 5, 5, 3, 1, 1)]) {
      const x = rand(g.planes * g.h * g.w, -1, 1, [Number.NaN, 0.5, 0.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      x[x.length - 3] = Number.NaN;
      await compare(`maxPool2d ${JSON.stringify(g)}`, [f32(x)], (be, [xs]) => {
        const r = be.routine('maxPool2d', { x: xs! }, g);
        return [r.values, r.indices];
      }, [{ atol: 0, rtol: 0 }]);
    }
  });
});

describe('max pool backward: the tiled and the gather designs', () => {
  const pool = (planes: number, h: number, w: number, k: number, s: number, p: number): Pool2dGeometry => ({
    planes, h, w, hout: Math.floor((h + 2 * p - k) / s) + 1, wout: Math.floor((w + 2 * p - k) / s) + 1,
    kh: k, kw: k, strideH: s, strideW: s, padH: p, padW: p, adaptive: false, countIncludePad: false,
  });
  // Tiling exactly (2×2 on 8×6, 3×3 on 9×6), and not (odd sizes leave a trailing row and column,
  // overlapping or padded windows): the tiled design runs only on the first two.
  const geoms = [pool(5, 8, 6, 2, 2, 0), pool(3, 9, 6, 3, 3, 0), pool(6, 9, 7, 2, 2, 0), pool(3, 8, 11, 3, 2, 1), pool(2, 5, 5, 3, 1, 1)];
  it('the choice: tiled exactly where the windows tile the input', () => {
    expect(geoms.map(maxPoolBackwardPath)).toEqual(['tiled', 'tiled', 'gather', 'gather', 'gather']);
    force({ maxPoolBackwardPath: 'gather' });
    expect(maxPoolBackwardPath(geoms[0]!)).toBe('gather');
  });
  for (const forced of [false, true]) {
    it(forced ? 'gather forced everywhere' : 'by shape (tiled where it applies)', async () => {
      if (forced) force({ maxPoolBackwardPath: 'gather' });
      for (const g of geoms) {
        const x = rand(g.planes * g.h * g.w, -1, 1, [Number.NaN, 0.5, 0.5, Number.NEGATIVE_INFINITY]);
        const dy = rand(g.planes * g.hout * g.wout);
        // The indices come from each backend's own forward (identical: checked above), dx from them.
        await compare(`maxPool2dBackward ${JSON.stringify(g)}`, [f32(x), f32(dy)], (be, [xs, dys]) => {
          const r = be.routine('maxPool2d', { x: xs! }, g);
          return [be.routine('maxPool2dBackward', { dy: dys!, indices: r.indices }, g)];
        }, [g.strideH >= g.kh ? { atol: 0, rtol: 0 } : { atol: 1e-6, rtol: 1e-6 }]); // overlapping windows sum in float32
      }
    });
  }
});

describe('conv and pool kernels are declared once (shaders/program.ts)', () => {
  // The bindings and uniform struct come from defineKernel; the host passes buffers and uniforms by name.
  const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
  for (const path of ['shaders/conv2d.ts', 'shaders/conv-gemm.ts', 'shaders/pool.ts']) {
    it(`${path} writes no binding or uniform struct by hand`, () => {
      const src = read(path);
      expect(src).not.toMatch(/@binding|struct Params/);
      expect(src).toMatch(/defineKernel\(/);
    });
  }
  it('src/backend/webgpu/conv.ts dispatches through dispatchKernel only', () => {
    const src = read('src/backend/webgpu/conv.ts');
    expect(src).not.toMatch(/pipelines\.get|new Params|batcher\.dispatch/);
    expect(src).toMatch(/dispatchKernel\(/);
  });
});
