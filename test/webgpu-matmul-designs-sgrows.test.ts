/**
 * The matmul blocks whose subgroup lanes share their loads of A ('sgRows8x8', 'sgRows16x4';
 * shaders/matmul-sgrows.ts), in their own file so vitest runs it beside the other design files:
 * the forced-design cases of every design (helpers/matmul-design-cases.ts), where they are offered,
 * and the software default that uses them.
 *
 * Both paths of the kernel run here: on lavapipe (8 lanes) the workgroups 8 wide share A, those
 * 4 wide (subgroups spanning two rows) and the partial-subgroup cases walk k with their own loads;
 * on SwiftShader (4 lanes) every listed shape shares.
 */
import { describe, expect, it } from 'vitest';
import { defaultMatmulChoice, designAvailable, subgroupLanes } from '../src/backend/webgpu/matmul.js';
import { DESIGN_SHAPES, tuneCandidates } from '../src/backend/webgpu/matmul-tune.js';
import { describeDesignCases } from './helpers/matmul-design-cases.js';

const SGROWS = ['sgRows8x8', 'sgRows16x4'] as const;
const device = describeDesignCases(SGROWS, 2905);

describe('where the row-sharing blocks are offered', () => {
  it('only with a fixed subgroup size that is a multiple of 4 and at most 16', () => {
    const at = (minSize: number, maxSize: number) => ({ subgroups: { minSize, maxSize } });
    for (const d of SGROWS) {
      expect(designAvailable({ subgroups: null }, d)).toBe(false);
      expect(designAvailable(at(4, 4), d)).toBe(true);
      expect(designAvailable(at(8, 8), d)).toBe(true);
      expect(designAvailable(at(16, 16), d)).toBe(true);
      expect(designAvailable(at(4, 64), d)).toBe(false);
      expect(designAvailable(at(32, 32), d)).toBe(false);
      expect(designAvailable(at(2, 2), d)).toBe(false);
      expect(designAvailable(at(12, 12), d)).toBe(true);
      expect(subgroupLanes(at(8, 8).subgroups, d)).toBe(8);
    }
    // The unrolled shuffle design keeps its own rule (any fixed size up to 16).
    expect(subgroupLanes({ minSize: 2, maxSize: 2 }, 'subgroupBc')).toBe(2);
  });

  it('are tune candidates wherever they can run, each with its listed shapes', () => {
    const gpu = device();
    for (const subgroups of [{ minSize: 4, maxSize: 4 }, { minSize: 8, maxSize: 8 }, null]) {
      const cands = tuneCandidates({ limits: gpu.limits, softwareAdapter: true, subgroups }, { transA: true, transB: false });
      for (const d of SGROWS) {
        const shapes = cands.filter((c) => c.design === d).map((c) => c.shape);
        expect(shapes).toEqual(subgroups ? DESIGN_SHAPES[d] : []);
      }
    }
  });

  it('are the software default where the subgroup size is fixed at 4 or 8; else wide8x8, and blocked on GPUs', () => {
    for (const [transA, transB] of [[false, false], [false, true], [true, false]] as const) {
      expect(defaultMatmulChoice(true, transA, transB, { minSize: 8, maxSize: 8 })).toEqual({ design: 'sgRows16x4', shape: [8, 2] });
      expect(defaultMatmulChoice(true, transA, transB, { minSize: 4, maxSize: 4 })).toEqual({ design: 'sgRows8x8', shape: [4, 4] });
      expect(defaultMatmulChoice(true, transA, transB, { minSize: 16, maxSize: 16 })).toEqual({ design: 'wide8x8', shape: [4, 4] });
      expect(defaultMatmulChoice(true, transA, transB, { minSize: 4, maxSize: 64 })).toEqual({ design: 'wide8x8', shape: [4, 4] });
      expect(defaultMatmulChoice(true, transA, transB, null)).toEqual({ design: 'wide8x8', shape: [4, 4] });
      expect(defaultMatmulChoice(false, transA, transB, { minSize: 8, maxSize: 8 })).toEqual({ design: 'blocked', shape: [8, 8] });
    }
  });
});
