/**
 * The design rules of the WebGPU convolutions (src/backend/webgpu/conv.ts), as pure functions of
 * the geometry: pointwise products through the matmul, the window kernels where they apply, the
 * direct kernels for fewer than 4 channels per group, the GEMMs elsewhere; forced designs where
 * they apply; the window block and span. Values of every design are compared with the CPU in
 * webgpu-conv-paths. Written against the mutants StrykerJS left alive (WEBGRAD_MUTATE_SCOPE=webgpu-fused).
 */
import { describe, expect, it } from 'vitest';
import type { Conv2dGeometry } from '../src/backend/types.js';
import { convPath, convWindowBlock, convWindowSpan, isPointwise, windowApplies } from '../src/backend/webgpu/conv.js';
import type { KernelContext } from '../src/backend/webgpu/context.js';
import { withKernelChoice } from './helpers/with-kernel-choice.js';

const base: Conv2dGeometry = {
  n: 2, cin: 8, h: 9, w: 9, cout: 8, kh: 3, kw: 3, hout: 9, wout: 9,
  strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1, groups: 1,
} as Conv2dGeometry;
const geo = (o: Partial<Conv2dGeometry>): Conv2dGeometry => ({ ...base, ...o });

const pw = geo({ kh: 1, kw: 1, padH: 0, padW: 0 });

describe('webgpu conv: design rules', () => {
  it('pointwise: 1x1, stride 1, no padding, one group; any one of those off is not', () => {
    expect(isPointwise(pw)).toBe(true);
    for (const o of [{ kh: 3 }, { kw: 3 }, { strideH: 2 }, { strideW: 2 }, { padH: 1 }, { padW: 1 }, { groups: 2 }]) expect(isPointwise({ ...pw, ...o })).toBe(false);
  });

  it('window kernels: forward and dx at stride 1, dilation 1, kernels up to 5; never dw', () => {
    expect(['fwd', 'dx', 'dw'].map((p) => windowApplies(base, p as 'fwd'))).toEqual([true, true, false]);
    expect(windowApplies(geo({ kh: 5, kw: 5 }), 'fwd')).toBe(true);
    for (const o of [{ strideH: 2 }, { strideW: 2 }, { dilationH: 2 }, { dilationW: 2 }, { kh: 6 }, { kw: 6 }]) expect(windowApplies(geo(o), 'dx')).toBe(false);
  });

  it('by shape: matmul for pointwise, direct below 4 channels per group (cin for dx, cout else), window where it applies, else GEMM', () => {
    expect(['fwd', 'dx', 'dw'].map((p) => convPath(pw, p as 'fwd'))).toEqual(['matmul', 'matmul', 'matmul']);
    expect(['fwd', 'dx', 'dw'].map((p) => convPath(base, p as 'fwd'))).toEqual(['window', 'window', 'gemm']);
    expect(['fwd', 'dx', 'dw'].map((p) => convPath(geo({ cin: 3 }), p as 'fwd'))).toEqual(['window', 'direct', 'gemm']);
    expect(['fwd', 'dx', 'dw'].map((p) => convPath(geo({ cout: 3 }), p as 'fwd'))).toEqual(['direct', 'window', 'direct']);
    expect(['fwd', 'dx', 'dw'].map((p) => convPath(geo({ cin: 4, cout: 4 }), p as 'fwd'))).toEqual(['window', 'window', 'gemm']);
    expect(['fwd', 'dx'].map((p) => convPath(geo({ cin: 8, cout: 8, groups: 4 }), p as 'fwd'))).toEqual(['direct', 'direct']);
    expect(['fwd', 'dx'].map((p) => convPath(geo({ strideH: 2, hout: 5 }), p as 'fwd'))).toEqual(['gemm', 'gemm']);
  });

  it('forced: direct and gemm always; window only where it applies; matmul only for pointwise (else the GEMM)', () => {
    expect(withKernelChoice({ convPath: 'direct' }, () => [convPath(pw, 'fwd'), convPath(base, 'dw')])).toEqual(['direct', 'direct']);
    expect(withKernelChoice({ convPath: 'gemm' }, () => [convPath(pw, 'dx'), convPath(geo({ cout: 1 }), 'fwd')])).toEqual(['gemm', 'gemm']);
    expect(withKernelChoice({ convPath: 'window' }, () => [convPath(pw, 'fwd'), convPath(base, 'dw'), convPath(geo({ cout: 1, strideW: 2, wout: 5 }), 'fwd'), convPath(geo({ cout: 1 }), 'fwd')]))
      .toEqual(['window', 'gemm', 'direct', 'window']);
    expect(withKernelChoice({ convPath: 'matmul' }, () => [convPath(pw, 'dw'), convPath(base, 'fwd'), convPath(geo({ cout: 1 }), 'fwd')])).toEqual(['matmul', 'gemm', 'gemm']);
  });

  it('window block: 8 for dx with at least 8 input channels per group, else 4; forced wins', () => {
    expect([convWindowBlock(base, 'dx'), convWindowBlock(base, 'fwd'), convWindowBlock(geo({ cin: 7 }), 'dx'), convWindowBlock(geo({ cin: 16, groups: 4 }), 'dx')]).toEqual([8, 4, 4, 4]);
    expect(withKernelChoice({ convWindowBlock: 8 }, () => convWindowBlock(base, 'fwd'))).toBe(8);
  });

  it('window span: the whole row on a software adapter for reductions up to 36, else one block; forced wins', () => {
    const sw = { softwareAdapter: true } as KernelContext;
    const hw = { softwareAdapter: false } as KernelContext;
    expect([convWindowSpan(sw, 36), convWindowSpan(sw, 37), convWindowSpan(hw, 1)]).toEqual([Infinity, 1, 1]);
    expect(withKernelChoice({ convWindowSpan: 3 }, () => convWindowSpan(hw, 1))).toBe(3);
    expect(withKernelChoice({ convWindowSpan: 0 }, () => convWindowSpan(sw, 1))).toBe(0);
  });
});
