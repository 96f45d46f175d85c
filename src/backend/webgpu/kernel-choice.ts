/**
 * A test hook: forces which kernel design runs where the backend would otherwise choose by adapter
 * kind, by size or by a timing-based autotune. The tests use it to run every path and every
 * workgroup-shape candidate on whatever adapter they have (a software adapter would otherwise never
 * take the tiled batch-norm kernels, and the matmul shape would be whatever the autotune picked).
 *
 * Internal: not exported from src/index.ts. Results never depend on it (every path computes the
 * same values); only which kernel computes them.
 */
import type { MatmulDesign, WorkgroupShape } from './matmul.js';

export interface KernelChoice {
  /** The workgroup shape of every matmul, in place of the tuned or default one. */
  matmulShape?: WorkgroupShape;
  /** The design of every matmul (matmul.ts: MATMUL_DESIGNS; 'blocked' 4x4 register tiles, 'tiled' workgroup-memory tiles, the wide blocks). */
  matmulDesign?: MatmulDesign;
  /**
   * Batch-norm statistics and backward: 'column' runs the column-loop kernels at any n, 'tiled' the
   * (column tile × row chunk) partial pass + combine at any n; unset, the adapter and n decide.
   */
  batchNormPath?: 'column' | 'tiled';
  /** Columns per workgroup tile of the tiled partial pass (a power of two dividing BN_WG). */
  batchNormTile?: number;
  /**
   * Convolution design (conv.ts): 'direct' the per-output kernels, 'gemm' the implicit GEMMs,
   * 'matmul' the existing matmul (1×1, stride 1, no padding, one group only; elsewhere ignored),
   * 'window' the unrolled window kernels (forward and dx at stride 1, dilation 1, kernel ≤ 5;
   * elsewhere the shape rule decides).
   */
  convPath?: 'direct' | 'gemm' | 'matmul' | 'window';
  /** max-pool dx: 'gather' forces the per-input gather even where the windows tile the input. */
  maxPoolBackwardPath?: 'gather';
  /** Blocks of 4 outputs along a row per invocation of the window kernels (Infinity: the whole row). */
  convWindowSpan?: number;
  /** Output channels per invocation of the window kernels (4 or 8). */
  convWindowBlock?: 4 | 8;
  /**
   * Every pass of a reduce (reduce.ts), over the last axis or a middle one: 'loop' the loop, 'tree'
   * the tree in workgroup memory, 'subgroup' the one-barrier subgroup combine (a device without
   * 'subgroups' throws), at any shape; unset, the tune's choice or the documented shape rule.
   */
  reducePath?: 'loop' | 'tree' | 'subgroup';
  /**
   * The row kernels of softmax, its gradient and softmax cross-entropy (fused/softmax.ts): 'loop'
   * an invocation per row, 'tree' a workgroup per row with a tree, 'subgroup' a workgroup per row
   * with a subgroup combine (needs 'subgroups'); unset, the tune's choice or the shape rule.
   */
  softmaxPath?: 'loop' | 'tree' | 'subgroup';
  /** Workgroup shape of the implicit-GEMM convolution kernels. */
  convShape?: WorkgroupShape;
}

let forced: KernelChoice = {};

/** The choices forced now (empty when none). */
export function kernelChoice(): Readonly<KernelChoice> {
  return forced;
}

/** Forces `choice` until the returned function is called (which restores the previous choices). */
export function forceKernelChoice(choice: KernelChoice): () => void {
  const previous = forced;
  forced = { ...previous, ...choice };
  return () => {
    forced = previous;
  };
}
