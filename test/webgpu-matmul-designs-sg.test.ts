/**
 * The matmul designs added beside webgpu-matmul-designs.test.ts, in their own file so vitest runs
 * the two in parallel (compiling pipelines is most of their time on a software driver): 'tiledDb'
 * (double-buffered workgroup tiles with vec4 loads), 'tiledDb8x8' (the same with 8x8 per invocation) and the subgroup-shuffle designs 'subgroup'
 * (any subgroup size) and 'subgroupBc' (unrolled over the adapter's fixed size). Each is forced
 * through the kernel-choice hook and compared with the float64 CPU backend on NaN-poisoned output
 * buffers: odd sizes (1, 3, 17, 63, 65, 129, 130: across tile, block, k-slab and k-chunk edges) with
 * no operand bound as vec4, multiples of 4 with every operand bound as vec4, a mixed case, every
 * transA × transB, batches with a broadcast operand and padded strides, the bias + activation
 * epilogue, NaN/±Inf inputs, and (subgroup designs) workgroups whose size is not a multiple of the
 * subgroup size (partial subgroups, lanes of one subgroup on different rows).
 *
 * To keep the fresh-compile time down (compiling is most of the time on a software driver), the
 * cases share pipelines: each design's first shape runs every pattern with two binding layouts that
 * between them take every load and store path, and the batch and NaN cases reuse those pipelines;
 * the other shapes (only index arithmetic differs) run one pattern and layout each; the epilogue two.
 *
 * No adapter is a FAILURE here (beforeAll throws), never a skip. The subgroup designs run where the
 * device has 'subgroups' (both software drivers do; webgpu-subgroups.test.ts checks that they are).
 */
import { describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { designAvailable, designBlock, type MatmulDesign } from '../src/backend/webgpu/matmul.js';
import { DESIGN_SHAPES, tuneCandidates } from '../src/backend/webgpu/matmul-tune.js';
import type { MatmulVariant } from '../shaders/matmul.js';
import { matmulTiledDbBiasKernel, matmulTiledDbKernel, tiledDbWorkgroupBytes } from '../shaders/matmul-tiled-db.js';
import { describeDesignCases } from './helpers/matmul-design-cases.js';

const NEW_DESIGNS: readonly MatmulDesign[] = ['tiledDb', 'tiledDb8x8', 'subgroup', 'subgroupBc'];
const device = describeDesignCases(NEW_DESIGNS, 1516);

describe('the new designs are offered where they can run', () => {
  it('subgroup designs need the feature; the unrolled one a fixed size of at most 16', () => {
    const gpu = device();
    const base = { limits: gpu.limits, softwareAdapter: true };
    const designs = (subgroups: { minSize: number; maxSize: number } | null) =>
      new Set(tuneCandidates({ ...base, subgroups }, { transA: false, transB: false }).map((c) => c.design));
    expect(designs(null).has('tiledDb')).toBe(true);
    expect(designs(null).has('subgroup')).toBe(false);
    expect(designs(null).has('subgroupBc')).toBe(false);
    expect(designs({ minSize: 8, maxSize: 8 }).has('subgroupBc')).toBe(true);
    expect(designs({ minSize: 4, maxSize: 64 }).has('subgroup')).toBe(true);
    expect(designs({ minSize: 4, maxSize: 64 }).has('subgroupBc')).toBe(false);
    expect(designs({ minSize: 32, maxSize: 32 }).has('subgroupBc')).toBe(false);
    // The device's own offer follows its feature.
    expect(designAvailable(device(), 'subgroup')).toBe(device().subgroups !== null);
  });

  it('forcing a subgroup design on a device without the feature is an error naming the design', async () => {
    const plain = await WebGPUBackend.create({ autotune: false, subgroups: false });
    const restore = forceKernelChoice({ matmulDesign: 'subgroup', matmulShape: [16, 4] });
    try {
      const a = plain.upload(new Float32Array(4), 'float32');
      expect(() => plain.matmul(a, a, { batch: 1, m: 2, k: 2, n: 2, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 })).toThrow(
        /matmul: design 'subgroup' cannot run on this device \(no 'subgroups' feature\)/,
      );
    } finally {
      restore();
      plain.destroy();
    }
  });
});


/**
 * Both block sizes compute the same values from either body when the grid is large enough (the 8x8
 * body on the 4x4 design's grid only recomputes tiles), so the values alone cannot tell which body a
 * block size emits: the generated WGSL is read here (no device needed).
 */
describe('the double-buffered tile kernels (tiledDb, tiledDb8x8) as generated', () => {
  it("cover the tile the host's workgroup count assumes, declare the workgroup memory the fit check counts, and name their variant's flags", () => {
    const v: MatmulVariant = { transA: true, transB: true, vecA: true, vecB: true, vecC: true, bias: false, activation: 'none' };
    for (const design of ['tiledDb', 'tiledDb8x8'] as const) {
      const block = design === 'tiledDb8x8' ? 8 : 4;
      const { rows, cols } = designBlock(design);
      for (const [wgX, wgY] of DESIGN_SHAPES[design]) {
        for (const bias of [false, true]) {
          const kernel = bias ? matmulTiledDbBiasKernel({ ...v, bias }, wgX, wgY, block) : matmulTiledDbKernel(v, wgX, wgY, block);
          const src = kernel.wgsl();
          const at = `${design} ${wgX}x${wgY} bias ${bias}`;
          expect(src, at).toContain(`let tileRow = (wid.y + P.yOff) * ${rows * wgY}u;`);
          expect(src, at).toContain(`let tileCol = wid.x * ${cols * wgX}u;`);
          const vec4s = [...src.matchAll(/var<workgroup> \w+: array<vec4<f32>, (\d+)>;/g)].map((m) => Number(m[1]));
          expect(vec4s.length, at).toBe(2);
          expect(16 * vec4s.reduce((s, x) => s + x, 0), at).toBe(tiledDbWorkgroupBytes(wgX, wgY, block));
          // <transA><transB><vecA><vecB><vecC><bias>, one digit 0 or 1 each, as every matmul kernel's name.
          expect(kernel.decl.name, at).toBe(`matmul-tiled-db${block === 8 ? '8' : ''}:11111${bias ? 1 : 0}:none`);
        }
      }
    }
  });
});
